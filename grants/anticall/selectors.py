"""Reads of the anti-call: who sees which anti-calls, needs and candidacies (docs/domain.md §2.2).

Staff of the city policy (instructors, partners on the committee, programme managers, auditors
read-only) see every anti-call page. A structure sees only its own candidacies, once invited: the
sourcing itself stays internal. Everyone else sees nothing (the pages answer 404)."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db.models import CharField, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Cast

from calls.models import Call, CallMode, Need
from calls.selectors import calls_readable_by
from core.models import AuditLog, Organisation, Role, User
from core.permissions import has_role, organisation_ids_of
from core.selectors import organisations_visible_to

from ..models import Candidacy, CandidacyState

C = CandidacyState
READER_ROLES = (Role.INSTRUCTOR, Role.COMMITTEE_MEMBER, Role.PROGRAMME_MANAGER, Role.AUDITOR)
# Coaching notes and their cost are the funder's working notes: never shown to the structure.
INTERNAL_CANDIDACY_ACTIONS = {"grants.candidacy.coaching_logged", "grants.candidacy.sourced"}
SEARCH_LIMIT = 20


def is_anticall_reader(user: User) -> bool:
    """Staff who read the anti-call pages (auditors read only)."""
    return has_role(user, *READER_ROLES)


def anti_calls_visible_to(user: User) -> QuerySet[Call]:
    if not is_anticall_reader(user):
        return Call.objects.none()
    return calls_readable_by(user).filter(mode=CallMode.ANTI_CALL).select_related("programme")


def needs_visible_to(user: User) -> QuerySet[Need]:
    """Every need of the anti-calls the user reads (staff only)."""
    return Need.objects.filter(call__in=anti_calls_visible_to(user)).select_related(
        "call", "call__programme", "qpv", "recorded_by"
    )


def _was_invited() -> Exists:
    return Exists(
        AuditLog.objects.filter(
            content_type=ContentType.objects.get_for_model(Candidacy),
            object_id=Cast(OuterRef("pk"), CharField()),
            action="grants.candidacy.invited",
        )
    )


def structure_filter(user: User) -> Q:
    """The candidacies a structure's member sees: those of their organisations and those addressed to
    their email or their organisations' SIRET, once invited (a candidacy only sourced, or abandoned
    before any invitation, stays internal)."""
    org_ids = organisation_ids_of(user)
    sirets = list(Organisation.objects.filter(pk__in=org_ids).values_list("siret", flat=True))
    addressed = Q(organisation__isnull=True) & (
        Q(prospect_email=(user.email or "").lower()) & ~Q(prospect_email="")
        | Q(prospect_siret__in=sirets) & ~Q(prospect_siret="")
    )
    return (
        (Q(organisation_id__in=org_ids) | addressed)
        & ~Q(state=C.SOURCED)
        & (~Q(state=C.ABANDONED) | Q(invited=True))
    )


def candidacies_visible_to(user: User) -> QuerySet[Candidacy]:
    """Staff readers: every candidacy of the anti-calls they read; a structure: its own (see
    structure_filter); anyone else: none."""
    if not user.is_authenticated:
        return Candidacy.objects.none()
    qs = Candidacy.objects.select_related(
        "need", "need__qpv", "need__call", "organisation", "cofunder", "application", "sourced_by"
    )
    if is_anticall_reader(user):
        return qs.filter(need__call__in=anti_calls_visible_to(user))
    return qs.annotate(invited=_was_invited()).filter(structure_filter(user))


def structure_invitations(user: User) -> QuerySet[Candidacy]:
    """« Mes invitations »: the candidacies the user's structures see, newest first (staff included:
    a partner may also be a member of an association)."""
    if not user.is_authenticated:
        return Candidacy.objects.none()
    return (
        Candidacy.objects.select_related(
            "need", "need__qpv", "need__call", "organisation", "application"
        )
        .annotate(invited=_was_invited())
        .filter(structure_filter(user))
        .order_by("-created_at", "-id")
    )


def is_structure_member(user: User, candidacy: Candidacy) -> bool:
    return (
        candidacy.organisation_id is not None
        and candidacy.organisation_id in organisation_ids_of(user)
    )


def organisations_matching(user: User, text: str) -> QuerySet[Organisation]:
    """Organisations to source from, by name or SIRET (digits, spaces ignored); at most 20."""
    text = (text or "").strip()
    if not text:
        return Organisation.objects.none()
    digits = text.replace(" ", "")
    cond = Q(name__icontains=text)
    if digits.isdigit():
        cond |= Q(siret__startswith=digits)
    return organisations_visible_to(user).filter(cond).order_by("name")[:SEARCH_LIMIT]


def candidacies_of_need(need: Need) -> QuerySet[Candidacy]:
    return need.candidacies.select_related("organisation", "application").order_by(
        "-created_at", "-id"
    )
