"""A partner added to an agreement paid to each partner, after the decision, by amendment
(docs/domain.md §9, issue 18). Three steps, each audited on the agreement:

1. the lead (a member of its organisation) or the instruction proposes an organisation known to
   Pluriel, its role, its actions and its amount per fiscal year from the effective date, taken
   from the lead's part or added to the agreement;
2. the organisation accepts (or declines) from its own account: a partner who has not accepted is
   never funded (the same rule as for a draft's partners);
3. the instruction signs the amendment: `amendment_partner_parts` plans the partner's instalments
   (and the lead's new ones when the part is taken from it), the organisation becomes an accepted
   partner of the file with its approved part, and it owes its report from the effective year on
   (`cpo.selectors_partner_reports`).

The lead or the instruction may withdraw the proposal until it is signed."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from core.audit import audit_log
from core.clock import now
from core.errors import DomainError, PermissionDenied, TransitionNotAllowed
from core.fsm import apply_transition, lock
from core.limits import LONG_TEXT, SHORT_TEXT
from core.models import Organisation, User
from core.notifications import Msg, notify
from core.permissions import has_role, is_member
from grants.models import ApplicationPartner, PartnerState

from ..models import Agreement, Amendment, InstalmentState
from ..models_partner_additions import OPEN_ADDITION_STATES, PartnerAddition
from .common import MANAGERS, _staff, amendment_reason, check_effective_on, lock_amendable
from .partner_parts import _amount, amendment_partner_parts, payee_parts


def partner_addition_check_permission(actor: User, agreement: Agreement) -> None:
    """The instruction, or a member of the lead organisation, proposes and withdraws."""
    if has_role(actor, *MANAGERS) or is_member(actor, agreement.organisation):
        return
    raise PermissionDenied(
        _("Seuls le chef de file et l'instruction proposent l'ajout d'un partenaire.")
    )


def _url(addition: PartnerAddition) -> str:
    from django.urls import reverse

    return reverse("cpo:partner_addition", args=[addition.pk])


def _audit(actor: User, addition: PartnerAddition, action: str, **payload: Any) -> None:
    audit_log(
        actor=actor,
        obj=addition.agreement,
        action=action,
        target=addition.state,
        reason=addition.reason,
        payload={
            "addition": addition.pk,
            "organisation": addition.organisation_id,
            "parts": addition.parts,
            "from_lead": addition.from_lead,
            **payload,
        },
    )


def _clean_parts(
    agreement: Agreement, parts: dict[Any, Any], effective_on: datetime.date
) -> dict[str, str]:
    years = set(agreement.years.values_list("fiscal_year", flat=True))
    cleaned: dict[str, str] = {}
    for key, value in (parts or {}).items():
        if value in (None, ""):
            continue
        try:
            year = int(key)
        except (TypeError, ValueError):
            raise DomainError(_("Exercice invalide : %(year)s.") % {"year": key}, field="parts")
        if year not in years:
            raise DomainError(
                _("L'exercice %(year)s est hors de la convention.") % {"year": year},
                field="parts",
            )
        if year < effective_on.year:
            raise DomainError(
                _("L'exercice %(year)s précède la date d'effet de l'avenant.") % {"year": year},
                field="parts",
            )
        amount = _amount(value, str(year))
        if amount > 0:
            cleaned[str(year)] = str(amount)
    if not cleaned:
        raise DomainError(
            _("Indiquez la part du partenaire pour au moins un exercice."), field="parts"
        )
    return dict(sorted(cleaned.items()))


def partner_addition_propose(
    *,
    actor: User,
    agreement: Agreement,
    organisation: Organisation,
    role: str,
    actions: str,
    parts: dict[Any, Any],
    from_lead: bool,
    reason: str,
    effective_on: datetime.date,
) -> PartnerAddition:
    """Propose adding `organisation` as a partner paid by the agreement (step 1)."""
    partner_addition_check_permission(actor, agreement)
    reason = amendment_reason(reason)
    if len(reason) > SHORT_TEXT or len(actions or "") > LONG_TEXT or len(role or "") > 200:
        raise DomainError(_("Un des textes est trop long."), field="reason")
    check_effective_on(effective_on)
    with transaction.atomic():
        agreement = lock_amendable(agreement)
        if not payee_parts(agreement):
            raise DomainError(
                _(
                    "Cette convention verse tout au chef de file : un partenaire ne peut y être "
                    "ajouté que si elle verse à chaque partenaire sa part."
                ),
                field="organisation",
            )
        if organisation.pk == agreement.organisation_id:
            raise DomainError(
                _("Le chef de file est déjà dans la convention."), field="organisation"
            )
        already = ApplicationPartner.objects.filter(
            application_id=agreement.application_id or 0,
            organisation=organisation,
            state__in=[PartnerState.INVITED, PartnerState.ACCEPTED],
        ).exists()
        pending = agreement.partner_additions.filter(
            organisation=organisation, state__in=OPEN_ADDITION_STATES
        ).exists()
        if already or pending:
            raise DomainError(
                _("Cette organisation est déjà partenaire, ou son ajout est déjà proposé."),
                field="organisation",
            )
        addition = PartnerAddition.objects.create(
            agreement=agreement,
            organisation=organisation,
            role=(role or "").strip(),
            actions=(actions or "").strip(),
            parts=_clean_parts(agreement, parts, effective_on),
            from_lead=bool(from_lead),
            reason=reason,
            effective_on=effective_on,
            proposed_by=actor,
        )
        _audit(actor, addition, "cpo.partner_addition.proposed")
        notify(
            users=organisation.members.all(),
            title=Msg(
                gettext_noop("Proposition de rejoindre la convention %(ref)s"),
                ref=agreement.reference,
            ),
            body=Msg(
                gettext_noop(
                    "%(org)s vous propose de devenir partenaire de la convention « %(title)s » "
                    "par avenant. Acceptez ou refusez depuis votre compte Pluriel."
                ),
                org=agreement.organisation.name,
                title=agreement.title,
            ),
            url=_url(addition),
        )
    return addition


def partner_addition_answer(
    *, actor: User, addition: PartnerAddition, accept: bool
) -> PartnerAddition:
    """The proposed organisation accepts or declines, from its own account (step 2)."""
    if not is_member(actor, addition.organisation):
        raise PermissionDenied(_("Seule l'organisation proposée peut répondre."))
    with transaction.atomic():
        addition = lock(addition)
        addition.answered_by, addition.answered_at = actor, now()
        apply_transition(
            addition,
            "accept" if accept else "decline",
            actor=actor,
            action="cpo.partner_addition.accepted" if accept else "cpo.partner_addition.declined",
            update_fields=["state", "answered_by", "answered_at"],
            payload={"organisation": addition.organisation_id},
        )
        notify(
            users=addition.agreement.organisation.members.all(),
            title=Msg(
                gettext_noop("%(org)s a accepté de rejoindre la convention %(ref)s")
                if accept
                else gettext_noop("%(org)s a refusé de rejoindre la convention %(ref)s"),
                org=addition.organisation.name,
                ref=addition.agreement.reference,
            ),
            url=_url(addition),
        )
    return addition


def partner_addition_withdraw(*, actor: User, addition: PartnerAddition) -> PartnerAddition:
    """The lead or the instruction gives the proposal up before it is signed."""
    partner_addition_check_permission(actor, addition.agreement)
    with transaction.atomic():
        addition = lock(addition)
        apply_transition(addition, "withdraw", actor=actor, action="cpo.partner_addition.withdrawn")
    return addition


def partner_addition_apply(*, actor: User, addition: PartnerAddition) -> PartnerAddition:
    """The instruction signs the amendment (step 3): instalments planned for the partner (and
    the lead re-planned if the part is taken from it), the partner added to the file, audited."""
    _staff(actor)
    with transaction.atomic():
        addition = lock(addition)
        if addition.state != "accepted":
            raise TransitionNotAllowed(
                _("L'organisation doit d'abord accepter de rejoindre la convention."),
                allowed=[],
            )
        agreement = addition.agreement
        organisation = addition.organisation
        years = {int(y): Decimal(v) for y, v in addition.parts.items()}
        parts: dict[int | None, dict[int, Decimal]] = {organisation.pk: years}
        if addition.from_lead:
            lead = next((row for row in payee_parts(agreement) if row["is_lead"]), None)
            current = {c["year"]: c["amount"] for c in lead["years"]} if lead else {}
            parts[None] = {}
            for year, amount in years.items():
                if current.get(year, Decimal(0)) < amount:
                    raise DomainError(
                        _(
                            "Exercice %(year)s : la part du chef de file ne suffit pas à "
                            "financer celle du partenaire."
                        )
                        % {"year": year},
                        field="parts",
                    )
                parts[None][year] = current[year] - amount
        amendment: Amendment = amendment_partner_parts(
            actor=actor,
            agreement=agreement,
            reason=addition.reason,
            effective_on=addition.effective_on,
            parts=parts,
            new_payees=frozenset({organisation.pk}),
        )
        approved = sum(
            (
                i.amount
                for i in agreement.instalments.filter(beneficiary=organisation).exclude(
                    state=InstalmentState.CANCELLED
                )
            ),
            Decimal(0),
        )
        if agreement.application_id is None:  # an imported agreement: no file, no payee parts
            raise DomainError(_("Cette convention n'a pas de dossier collectif."))
        partner = ApplicationPartner.objects.create(
            application_id=agreement.application_id,
            organisation=organisation,
            state=PartnerState.ACCEPTED,
            role=addition.role,
            actions=addition.actions,
            approved_amount=approved,
            invited_by=addition.proposed_by,
            answered_by=addition.answered_by,
            answered_at=addition.answered_at,
        )
        addition.amendment = amendment
        apply_transition(
            addition,
            "apply",
            actor=actor,
            action="cpo.partner_addition.applied",
            update_fields=["state", "amendment"],
        )
        audit_log(
            actor=actor,
            obj=partner.application,
            action="cpo.agreement.partner_added",
            target=partner.state,
            reason=addition.reason,
            payload={
                "partner": partner.pk,
                "organisation": organisation.pk,
                "agreement": agreement.pk,
                "amendment_version": amendment.version,
                "parts": addition.parts,
                "from_lead": addition.from_lead,
            },
        )
        notify(
            users=organisation.members.all(),
            title=Msg(
                gettext_noop("Vous êtes partenaire de la convention %(ref)s"),
                ref=agreement.reference,
            ),
            body=Msg(
                gettext_noop(
                    "L'avenant est signé : vos échéances sont planifiées et votre part de "
                    "l'évaluation annuelle vous sera demandée."
                )
            ),
            url=_url(addition),
        )
    return addition
