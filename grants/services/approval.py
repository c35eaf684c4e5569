"""The one way an application becomes « approved », whatever its funding mode.

Four writers reach « approved »: the committee (`application_approve`), the publication of a call
for solutions' allocation (`allocation_publish`), a direct award (`direct_award_decide`) and the
funding of an anti-call prototype (`candidacy_fund`). Each checks who may decide and gathers its
inputs, then calls `application_grant`, which applies the same rules to all of them:

1. the amount is positive, to the cent, and at most the amount asked;
2. no completion request is pending on the file;
3. a multi-year grant needs a call that allows it (except a funded prototype, see
   `ApprovalPath.call_limits_multi_year`); a file with requested years gets each year's
   approved amount (pro rata of the request unless typed), summing to the total;
4. the envelope guard: beyond the call's envelope (outside any call, the programme's) only with an
   explicit reason, audited in its own row (a co-funder paying from its own fund is outside it);
5. one audit row for the decision, with the mode's action, then the applicants' notification.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from calls.models import Call, Programme
from core.audit import audit_log
from core.clock import now
from core.errors import DomainError, TransitionNotAllowed
from core.fsm import apply_transition
from core.models import User
from core.money import split_exact
from core.notifications import Euros, Msg, Text, notify

from ..eligibility import euros
from ..models import (
    Application,
    ApplicationPartner,
    ApplicationState,
    ApplicationYear,
    PartnerState,
    PaymentFlow,
)
from ..selectors import (
    approved_total_for_call,
    approved_total_for_programme,
    file_members,
    pending_completion_request,
)


@dataclass(frozen=True)
class ApprovalPath:
    """How one funding mode reaches « approved »: the file's FSM transition (None when the file is
    created already decided, as for a funded prototype) and the action of its audit row.

    `call_limits_multi_year`: whether the call's « pluriannuel possible » governs a multi-year
    grant. It does for files an applicant filed under the call's rules; a funded prototype's
    duration is the programme manager's own decision at funding, whatever the anti-call says."""

    mode: str
    transition: str | None
    action: str
    call_limits_multi_year: bool = True


COMMITTEE = ApprovalPath("committee", "approve", "grants.application.approved")
ALLOCATION = ApprovalPath("solutions", "approve", "grants.application.approved")
DIRECT_AWARD = ApprovalPath("direct", "award_directly", "grants.application.awarded_directly")
PROTOTYPE = ApprovalPath(
    "anticall", None, "grants.application.created_from_candidacy", call_limits_multi_year=False
)
APPROVAL_PATHS = (COMMITTEE, ALLOCATION, DIRECT_AWARD, PROTOTYPE)


@dataclass(frozen=True)
class Notice:
    """The message the applicants receive (url: the file's page unless given)."""

    title: Text
    body: Text = ""
    url: str | None = None


@dataclass(frozen=True)
class Approval:
    """What is decided. `reason` is stored on the file; `audit_reason` goes on the audit row when it
    differs (a published allocation records the run's reason)."""

    amount: Decimal
    reason: str = ""
    audit_reason: str | None = None
    conditions: str = ""
    is_multi_year: bool = False
    yearly_amounts: Mapping[int, Decimal] | None = None
    envelope_override_reason: str = ""
    counts_against_envelope: bool = True
    payload: Mapping[str, Any] = field(default_factory=dict)
    notice: Notice | None = None
    #: A collective file: how the money flows (None or "": as the file says).
    payment_flow: str | None = None


def check_amount(amount: Decimal | None, requested: Decimal) -> Decimal:
    """Rule 1: positive, to the cent, at most the amount asked (DomainError on `amount`)."""
    if amount is None or amount <= 0:
        raise DomainError(_("Le montant accordé doit être supérieur à zéro."), field="amount")
    if amount != amount.quantize(Decimal("0.01")):
        raise DomainError(_("Le montant accordé s'exprime au centime près."), field="amount")
    if amount > requested:
        raise DomainError(
            _("Le montant accordé ne peut pas dépasser le montant demandé (%(r)s).")
            % {"r": euros(requested)},
            field="amount",
        )
    return amount


def check_no_pending_completion(application: Application) -> None:
    """Rule 2: a file waiting for the applicant's completion cannot be decided."""
    if application.pk is not None and pending_completion_request(application) is not None:
        raise TransitionNotAllowed(
            _("Une demande de compléments est en attente : le dossier ne peut pas être décidé."),
            allowed=[],
        )


def application_grant(
    *, actor: User, application: Application, path: ApprovalPath, approval: Approval
) -> Application:
    """Approve `application` through `path` under the shared rules (module docstring).

    The caller has checked the actor's right and holds the row locked, or, for a path without a
    transition (a funded prototype), passes a new, unsaved file built in the approved state, saved
    here. All or nothing."""
    amount = check_amount(
        approval.amount,
        application.requested_amount if application.pk is not None else approval.amount,
    )
    with transaction.atomic():
        check_no_pending_completion(application)
        has_years = application.pk is not None and application.years.exists()
        is_multi_year = application.years.count() > 1 if has_years else approval.is_multi_year
        call = application.call if path.call_limits_multi_year else None
        if is_multi_year and call is not None and not call.multi_year_allowed:
            raise DomainError(
                _("Cet appel ne permet pas de financement pluriannuel."), field="is_multi_year"
            )
        override = (approval.envelope_override_reason or "").strip()
        over = (
            envelope_guard(
                call_id=application.call_id,
                programme_id=application.programme_id,
                amount=amount,
                override=override,
                exclude_pk=application.pk,
            )
            if approval.counts_against_envelope
            else None
        )
        application.approved_amount = amount
        application.decision_conditions = (approval.conditions or "").strip()
        application.decision_reason = (approval.reason or "").strip()
        application.is_multi_year = is_multi_year
        application.decided_at = now()
        application.decided_by = actor
        application.envelope_override_reason = override if over is not None else ""
        parts = _split_between_partners(application, amount, approval.payment_flow)
        if has_years:
            # Multi-year request: each year's approved amount, summing to the total (the CPO's input).
            _approve_years(
                application, approval.yearly_amounts or _years_pro_rata(application, amount)
            )
        payload = {
            "amount": amount,
            "requested": application.requested_amount,
            "multi_year": is_multi_year,
            "conditions": application.decision_conditions,
            "years": {str(y.fiscal_year): y.approved_amount for y in application.years.all()}
            if has_years
            else {},
            **({"payment_flow": application.payment_flow, "parts": parts} if parts else {}),
            **approval.payload,
        }
        reason = approval.reason if approval.audit_reason is None else approval.audit_reason
        if path.transition is None:
            # A new file built in its decided state (the state field only moves by transition).
            if application.pk is not None or application.state != ApplicationState.APPROVED:
                raise TransitionNotAllowed(
                    _("Ce dossier ne peut pas être accordé de cette façon."), allowed=[]
                )
            application.save()
            audit_log(
                actor=actor,
                obj=application,
                action=path.action,
                target=ApplicationState.APPROVED,
                reason=reason,
                payload=payload,
            )
        else:
            application = apply_transition(
                application,
                path.transition,
                actor=actor,
                action=path.action,
                reason=reason,
                payload=payload,
                update_fields=[
                    "approved_amount",
                    "decision_conditions",
                    "decision_reason",
                    "is_multi_year",
                    "decided_at",
                    "decided_by",
                    "envelope_override_reason",
                    "payment_flow",
                    "updated_at",
                ],
            )
        audit_envelope_override(
            actor=actor, application=application, over=over, override=override, amount=amount
        )
        if path.mode != "cofunded":
            # A file with one funder's part: the part follows the decision (issue 15).
            from .cofunding import part_follow_file

            part_follow_file(actor=actor, application=application)
        notice = approval.notice or Notice(
            Msg(gettext_noop("Subvention accordée : dossier %(ref)s"), ref=application.reference),
            Msg(gettext_noop("Montant accordé : %(amount)s."), amount=Euros(amount)),
        )
        notify(
            users=file_members(application)
            if application.pk is not None
            else application.organisation.members.all(),
            title=notice.title,
            body=notice.body,
            url=notice.url or f"/dossiers/{application.pk}/",
        )
    return application


def _split_between_partners(
    application: Application, amount: Decimal, payment_flow: str | None
) -> dict[str, Decimal]:
    """A collective file (docs/domain.md §9): each accepted partner's part of the approved amount,
    in proportion to the part it asked (the lead keeps the rest of the request), exact to the cent.
    Refused while an invited partner has not answered: a partner who has not accepted cannot be
    funded. Returns {organisation name: part}, empty for a file without partners."""
    if application.pk is None:
        return {}
    if payment_flow:
        if payment_flow not in PaymentFlow.values:
            raise DomainError(_("Mode de versement inconnu."), field="payment_flow")
        application.payment_flow = payment_flow
    partners = list(
        application.partners.filter(
            state__in=[PartnerState.INVITED, PartnerState.ACCEPTED]
        ).select_related("organisation")
    )
    waiting = [p for p in partners if p.state == PartnerState.INVITED]
    if waiting:
        raise DomainError(
            _(
                "%(org)s n'a pas accepté l'invitation : un partenaire non engagé ne peut être financé."
            )
            % {"org": str(waiting[0])},
            field="partners",
            code="partner_not_accepted",
        )
    if not partners:
        return {}
    asked = [p.requested_amount for p in partners]
    lead_asked = max(application.requested_amount - sum(asked, Decimal("0")), Decimal("0"))
    weights = [lead_asked, *asked]
    if sum(weights) == 0:
        weights = [Decimal("1")] + [Decimal("0")] * len(partners)
    shares = split_exact(amount, weights)
    for partner, share in zip(partners, shares[1:], strict=True):
        partner.approved_amount = share
    ApplicationPartner.objects.bulk_update(partners, ["approved_amount"])
    return {
        application.organisation.name: shares[0],
        **{str(p): share for p, share in zip(partners, shares[1:], strict=True)},
    }


def _years_pro_rata(application: Application, amount: Decimal) -> dict[int, Decimal]:
    """Approved amount spread over the requested years in proportion to the request (exact cents)."""
    years = list(application.years.order_by("fiscal_year"))
    parts = split_exact(amount, [y.requested_amount for y in years])
    return {y.fiscal_year: part for y, part in zip(years, parts, strict=True)}


def _approve_years(application: Application, amounts: Mapping[int, Decimal]) -> None:
    years = {y.fiscal_year: y for y in application.years.all()}
    amounts = {int(k): Decimal(str(v)) for k, v in amounts.items()}
    if set(amounts) != set(years):
        raise DomainError(
            _("Indiquez un montant accordé pour chaque exercice demandé."), field="years"
        )
    if sum(amounts.values(), Decimal("0")) != application.approved_amount:
        raise DomainError(
            _("Les montants annuels doivent totaliser le montant accordé."), field="years"
        )
    for fiscal_year, value in amounts.items():
        if value < 0 or value > years[fiscal_year].requested_amount:
            raise DomainError(
                _(
                    "Exercice %(y)d : le montant accordé doit être compris entre 0 et le montant "
                    "demandé."
                )
                % {"y": fiscal_year},
                field="years",
            )
        years[fiscal_year].approved_amount = value
    ApplicationYear.objects.bulk_update(list(years.values()), ["approved_amount"])


def envelope_guard(
    *,
    call_id: int | None,
    programme_id: int,
    amount: Decimal,
    override: str,
    exclude_pk: int | None = None,
) -> Decimal | None:
    """How far granting `amount` goes beyond the call's envelope (outside any call, the
    programme's), or None. Beyond it, an explicit reason is required (DomainError otherwise).

    The call (or programme) row is locked so two approvals cannot both squeeze under the limit."""
    if call_id:
        call = Call.objects.select_for_update().get(pk=call_id)
        used, limit = approved_total_for_call(call.pk, exclude_pk=exclude_pk), call.envelope
    else:
        programme = Programme.objects.select_for_update().get(pk=programme_id)
        used = approved_total_for_programme(programme.pk, exclude_pk=exclude_pk)
        limit = programme.envelope
    over = used + amount - limit
    if over <= 0:
        return None
    if not override:
        raise DomainError(
            _("Cette décision dépasse l'enveloppe de %(over)s. Un dépassement doit être motivé.")
            % {"over": euros(over)},
            field="envelope_override_reason",
            code="envelope_exceeded",
        )
    return over


def audit_envelope_override(
    *, actor: User, application: Application, over: Decimal | None, override: str, amount: Decimal
) -> None:
    """The audit row of an approval beyond the envelope, with its reason (nothing if within)."""
    if over is not None:
        audit_log(
            actor=actor,
            obj=application,
            action="grants.application.envelope_overridden",
            reason=override,
            payload={"overrun": over, "amount": amount},
        )
