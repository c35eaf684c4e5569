"""Retention rule of the agreement side (registered with core.privacy in CpoConfig.ready): the
contacts of organisations no longer funded (docs/domain.md §10)."""

from __future__ import annotations

import datetime

from django.db.models import F, Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.audit import audit_log_many
from core.models import Membership, Organisation, User
from core.privacy.retention import RetentionRule, register_rule
from grants.models import OPEN_STATES, Application

from .models import Agreement, AgreementState

A = AgreementState
#: An agreement in one of these states still binds the organisation (reports, payments, recovery).
RUNNING_STATES = [A.DRAFT, A.SENT_FOR_SIGNATURE, A.SIGNED, A.ACTIVE, A.SUSPENDED]
#: The organisation's contact persons. Its legal identity (name, SIRET, RNA, legal form, registered
#: address) is not personal data of anyone and is kept with the decisions and amounts.
CONTACT_FIELDS = ("email", "phone", "legal_rep_name", "legal_rep_role")
CONTACTS_RULE = "cpo.organisation_contacts"


def unfunded_organisations(cutoff: datetime.datetime) -> QuerySet[Organisation]:
    """Organisations no longer funded since before `cutoff`: no running agreement, none whose last
    fiscal year ended on or after the cutoff's year, no file under instruction nor changed since
    the cutoff, and still holding a contact to forget."""
    recent_agreements = Agreement.objects.filter(
        Q(state__in=RUNNING_STATES) | Q(first_year__gt=cutoff.year - F("duration_years"))
    ).values("organisation_id")
    recent_files = Application.objects.filter(
        Q(state__in=OPEN_STATES) | Q(updated_at__gte=cutoff)
    ).values("organisation_id")
    has_contact = Q()
    for name in CONTACT_FIELDS:
        has_contact |= ~Q(**{name: ""})
    return (
        Organisation.objects.filter(has_contact, created_at__lt=cutoff)
        .exclude(pk__in=recent_agreements)
        .exclude(pk__in=recent_files)
    )


def _forget_contacts(organisations: QuerySet[Organisation], *, reason: str) -> int:
    """Blank the contact fields of these organisations, one audit row each (which fields, never
    their values)."""
    rows = list(organisations.values("pk", "name", *CONTACT_FIELDS))
    if not rows:
        return 0
    Organisation.objects.filter(pk__in=[r["pk"] for r in rows]).update(
        **dict.fromkeys(CONTACT_FIELDS, "")
    )
    audit_log_many(
        actor=None,
        model=Organisation,
        action="core.retention.anonymised",
        entries=[
            {
                "object_id": r["pk"],
                "object_repr": r["name"],
                "reason": reason,
                "payload": {
                    "rule": CONTACTS_RULE,
                    "fields": [name for name in CONTACT_FIELDS if r[name]],
                },
            }
            for r in rows
        ],
    )
    return len(rows)


def contacts_apply(cutoff: datetime.datetime) -> int:
    return _forget_contacts(
        unfunded_organisations(cutoff), reason=str(_("Organisation qui n'est plus financée"))
    )


def _contact_of(user: User) -> Q:
    """The organisations whose recorded contact is this person (their e-mail or their name as
    legal representative)."""
    match = Q(email__iexact=user.email) if user.email else Q(pk__in=[])
    full_name = user.get_full_name().strip()
    if full_name:
        match |= Q(legal_rep_name__iexact=full_name)
    return match


def contacts_erase(user: User) -> int:
    """A person's erasure: the organisations' contact fields that name them are blanked (only
    reached when no hold applies: none of these organisations is under a running agreement)."""
    return _forget_contacts(
        Organisation.objects.filter(_contact_of(user)), reason=str(_("Demande d'effacement"))
    )


def contacts_hold(user: User) -> str | None:
    """A member or the recorded contact of an organisation under a running agreement stays its
    contact until the agreement ends: the financial report and any recovery are addressed to them
    (loi n° 2000-321 art. 10; docs/domain.md §4)."""
    organisations = Organisation.objects.filter(
        Q(pk__in=Membership.objects.filter(user=user).values("organisation_id")) | _contact_of(user)
    )
    running = Agreement.objects.filter(organisation__in=organisations, state__in=RUNNING_STATES)
    if not running.exists():
        return None
    refs = ", ".join(running.order_by("reference").values_list("reference", flat=True)[:5])
    return _(
        "Contact d'une organisation sous convention en cours (%(refs)s) : conservé jusqu'à la fin "
        "de la convention, à qui le compte rendu financier et un éventuel reversement sont "
        "demandés (loi n° 2000-321 du 12 avril 2000, art. 10)."
    ) % {"refs": refs}


def register() -> None:
    register_rule(
        RetentionRule(
            code=CONTACTS_RULE,
            data=gettext_lazy(
                "Contacts des organisations qui ne sont plus financées (e-mail, téléphone, "
                "nom et qualité du représentant·e légal·e)"
            ),
            duration=gettext_lazy(
                "5 ans après la fin de la dernière convention ou la dernière activité d'un dossier"
            ),
            days=5 * 365,
            legal_basis=gettext_lazy(
                "Mission d'intérêt public : contrôle de l'emploi des subventions versées "
                "(loi n° 2000-321 art. 10) pendant la prescription de l'action en reversement "
                "(code civil art. 2224 : 5 ans)"
            ),
            action="anonymise",
            kept=gettext_lazy(
                "L'identité légale de l'organisation (nom, SIRET, RNA, forme, siège), "
                "ses dossiers, décisions, conventions et montants"
            ),
            app="cpo",
            apply=contacts_apply,
            erase=contacts_erase,
            hold=contacts_hold,
        )
    )
