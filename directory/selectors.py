"""Reads of the directory: who sees which sheet, the listed actors, what an actor's funded actions
say about its themes and neighbourhoods.

The public sees listed actors and published sheets only; a sheet in any other state answers 404
to anyone outside its organisation and the staff."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from core.models import QPV, Organisation, Pillar, Role, TransitionTheme, User
from core.permissions import has_role, is_staff_member, organisation_ids_of
from cpo.models import Agreement, AgreementState, Evaluation, EvaluationState
from grants.models import ApplicationPartner, PartnerState

from .models import ActorProfile, ExperienceSheet, SheetState

#: Agreements that show what an actor did: signed and running or finished.
FUNDED = (
    AgreementState.SIGNED,
    AgreementState.ACTIVE,
    AgreementState.SUSPENDED,
    AgreementState.COMPLETED,
)
EVALUATED = (EvaluationState.ACCEPTED, EvaluationState.ACCEPTED_WITH_RESERVATIONS)
#: Staff who review and publish sheets.
REVIEW_ROLES = (Role.INSTRUCTOR, Role.PROGRAMME_MANAGER)


def can_review_sheets(user: User) -> bool:
    return has_role(user, *REVIEW_ROLES)


def published_sheets() -> QuerySet[ExperienceSheet]:
    return ExperienceSheet.objects.filter(state=SheetState.PUBLISHED)


def sheets_visible_to(user: User) -> QuerySet[ExperienceSheet]:
    """Published sheets for everyone; every sheet of their organisations for members; every sheet
    for staff."""
    published = Q(state=SheetState.PUBLISHED)
    if not user.is_authenticated:
        return published_sheets()
    if is_staff_member(user):
        return ExperienceSheet.objects.all()
    return ExperienceSheet.objects.filter(
        published | Q(organisation_id__in=organisation_ids_of(user))
    )


def can_edit_sheet(user: User, sheet: ExperienceSheet) -> bool:
    """The organisation's members while it is theirs to write (draft, returned); reviewing staff
    until it is published."""
    if can_review_sheets(user):
        return sheet.state != SheetState.PUBLISHED
    return sheet.organisation_id in organisation_ids_of(user) and sheet.state in (
        SheetState.DRAFT,
        SheetState.RETURNED,
    )


def evaluations_to_share(user: User) -> QuerySet[Evaluation]:
    """Accepted evaluations without a sheet yet, that this user may turn into one."""
    qs = Evaluation.objects.filter(
        state__in=EVALUATED, experience_sheet__isnull=True, agreement__state__in=FUNDED
    ).select_related("agreement__organisation")
    if can_review_sheets(user):
        return qs.order_by("-fiscal_year", "agreement__reference")
    return qs.filter(agreement__organisation_id__in=organisation_ids_of(user)).order_by(
        "-fiscal_year", "agreement__reference"
    )


def review_queue() -> QuerySet[ExperienceSheet]:
    return (
        ExperienceSheet.objects.filter(state=SheetState.SUBMITTED)
        .select_related("organisation")
        .order_by("updated_at", "pk")
    )


# --------------------------------------------------------------------------- actors


def listed_actors() -> QuerySet[Organisation]:
    """Organisations whose administrator opted in."""
    return Organisation.objects.filter(public_profile__is_listed=True).select_related(
        "public_profile"
    )


def funded_agreements(organisation: Organisation) -> QuerySet[Agreement]:
    return Agreement.objects.filter(organisation=organisation, state__in=FUNDED)


def actor_qpvs(organisation: Organisation) -> QuerySet[QPV]:
    """The neighbourhoods of its funded actions (the applications behind its agreements)."""
    return (
        QPV.objects.filter(
            applications__agreement__organisation=organisation,
            applications__agreement__state__in=FUNDED,
        )
        .distinct()
        .order_by("name")
    )


def actor_pillars(organisation: Organisation) -> QuerySet[Pillar]:
    return (
        Pillar.objects.filter(
            applications__agreement__organisation=organisation,
            applications__agreement__state__in=FUNDED,
        )
        .distinct()
        .order_by("label")
    )


def actor_themes(organisation: Organisation) -> QuerySet[TransitionTheme]:
    return (
        TransitionTheme.objects.filter(
            applications__agreement__organisation=organisation,
            applications__agreement__state__in=FUNDED,
        )
        .distinct()
        .order_by("label")
    )


def search_actors(
    *,
    text: str = "",
    qpv: QPV | None = None,
    pillar: Pillar | None = None,
    theme: TransitionTheme | None = None,
) -> QuerySet[Organisation]:
    """Listed actors, filtered on their funded actions' neighbourhood, pillar and theme."""
    qs = listed_actors()
    funded = Agreement.objects.filter(state__in=FUNDED)
    if qpv is not None:
        qs = qs.filter(pk__in=funded.filter(application__qpvs=qpv).values("organisation_id"))
    if pillar is not None:
        qs = qs.filter(pk__in=funded.filter(application__pillar=pillar).values("organisation_id"))
    if theme is not None:
        qs = qs.filter(pk__in=funded.filter(application__themes=theme).values("organisation_id"))
    if text.strip():
        words = text.strip()
        qs = qs.filter(
            Q(name__icontains=words)
            | Q(city__icontains=words)
            | Q(public_profile__presentation__icontains=words)
        )
    return qs.order_by("name", "pk")


@dataclass(frozen=True)
class Neighbour:
    organisation: Organisation
    shared_qpvs: int


def actors_nearby(organisation: Organisation, *, limit: int = 6) -> list[Neighbour]:
    """Other listed actors whose funded actions reached the same neighbourhoods, most shared
    first: « also active here », never presented as a partnership (that is `worked_with`)."""
    qpv_ids = list(actor_qpvs(organisation).values_list("pk", flat=True))
    if not qpv_ids:
        return []
    rows = (
        Agreement.objects.filter(
            state__in=FUNDED,
            application__qpvs__in=qpv_ids,
            organisation__public_profile__is_listed=True,
        )
        .exclude(organisation=organisation)
        .values("organisation_id")
        .annotate(shared=Count("application__qpvs", distinct=True))
        .order_by("-shared", "organisation_id")[:limit]
    )
    shared = {row["organisation_id"]: row["shared"] for row in rows}
    orgs = Organisation.objects.in_bulk(list(shared))
    return [Neighbour(orgs[pk], shared[pk]) for pk in shared if pk in orgs]


@dataclass(frozen=True)
class CoWorker:
    organisation: Organisation
    titles: list[str]


def worked_with(organisation: Organisation) -> list[CoWorker]:
    """Other listed actors that carried a funded collective file with this one — as lead or as
    accepted partner (docs/domain.md §9) —, with the titles of those files, most shared first.
    Only signed agreements count (what was funded is public; a draft partnership is not)."""
    funded = Agreement.objects.filter(state__in=FUNDED, application__isnull=False)
    partners = ApplicationPartner.objects.filter(
        state=PartnerState.ACCEPTED, application_id__in=funded.values("application_id")
    )
    files = set(
        funded.filter(organisation=organisation).values_list("application_id", flat=True)
    ) | set(partners.filter(organisation=organisation).values_list("application_id", flat=True))
    if not files:
        return []
    titles = dict(funded.filter(application_id__in=files).values_list("application_id", "title"))
    members: dict[int, set[int]] = {}
    for application_id, lead_id in funded.filter(application_id__in=files).values_list(
        "application_id", "organisation_id"
    ):
        members.setdefault(lead_id, set()).add(application_id)
    for application_id, partner_id in partners.filter(application_id__in=files).values_list(
        "application_id", "organisation_id"
    ):
        if partner_id is not None:
            members.setdefault(partner_id, set()).add(application_id)
    members.pop(organisation.pk, None)
    listed = listed_actors().in_bulk(list(members))
    ranked = sorted(
        (pk for pk in members if pk in listed),
        key=lambda pk: (-len(members[pk]), listed[pk].name.casefold(), pk),
    )
    return [
        CoWorker(listed[pk], sorted(titles[a] for a in members[pk] if a in titles)) for pk in ranked
    ]


def profile_of(organisation: Organisation) -> ActorProfile | None:
    return ActorProfile.objects.filter(organisation=organisation).first()


def search_sheets(
    qs: QuerySet[ExperienceSheet],
    *,
    text: str = "",
    qpv: QPV | None = None,
    pillar: Pillar | None = None,
    theme: TransitionTheme | None = None,
    funding_kind: str = "",
) -> QuerySet[ExperienceSheet]:
    if qpv is not None:
        qs = qs.filter(qpvs=qpv)
    if pillar is not None:
        qs = qs.filter(pillar=pillar)
    if theme is not None:
        qs = qs.filter(themes=theme)
    if funding_kind:
        qs = qs.filter(funding_kind=funding_kind)
    if text.strip():
        words = text.strip()
        qs = qs.filter(
            Q(title__icontains=words)
            | Q(what__icontains=words)
            | Q(results__icontains=words)
            | Q(organisation__name__icontains=words)
        )
    return qs.distinct()
