"""Recoveries (titres de recette): issue, collect, offset against a later instalment, cancel
(docs/domain.md §4)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.db.models import Sum
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from core.audit import audit_log
from core.clock import now
from core.errors import DomainError, TransitionNotAllowed
from core.fsm import apply_transition, lock
from core.models import User
from core.money import CENT
from core.notifications import Euros, Msg, notify

from ..models import (
    Agreement,
    AgreementState,
    Instalment,
    InstalmentState,
    Recovery,
    RecoveryState,
)
from .common import (
    AMENDABLE,
    FINANCE,
    HUNDRED,
    OFFSETTABLE,
    RECOVERABLE,
    _eur,
    _money,
    _staff,
)

A, I, R = AgreementState, InstalmentState, RecoveryState  # noqa: E741


# =========================================================================== recoveries


def _check_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Un motif est obligatoire."), field="reason")
    return reason


def recovery_issue(
    *, actor: User, agreement: Agreement, fiscal_year: int, unspent: Decimal, reason: str
) -> Recovery:
    """Issue a recovery order (titre de recette) for the unspent or misused money of a fiscal year,
    less the reasonable surplus the agreement lets the association keep
    (`surplus_allowance_percent` of that year's amount, rounded half up to the cent): amount =
    unspent − surplus kept, refused when nothing is left. The allowance is per year: a second
    recovery of the same year keeps only what the first left of it. The unspent amounts declared
    for a year (recoveries not cancelled) cannot exceed what was granted for that year. The
    association's members are notified."""
    _staff(actor)
    reason = _check_reason(reason)
    unspent = _money(unspent, "unspent", _("Le montant non consommé"))
    if isinstance(fiscal_year, bool) or not isinstance(fiscal_year, int):
        raise DomainError(_("L'exercice doit être une année (ex. 2027)."), field="fiscal_year")
    with transaction.atomic():
        agreement = lock(agreement)
        if agreement.state not in RECOVERABLE:
            raise TransitionNotAllowed(
                _("Aucun reversement ne peut être émis sur une convention « %(state)s ».")
                % {"state": agreement.get_state_display()},
                allowed=[],
            )
        year = agreement.years.filter(fiscal_year=fiscal_year).first()
        if year is None:
            raise DomainError(
                _("L'exercice %(year)s ne fait pas partie de la convention.")
                % {"year": fiscal_year},
                field="fiscal_year",
            )
        if unspent > year.amount:
            raise DomainError(
                _(
                    "Le montant non consommé (%(unspent)s) dépasse la subvention de l'exercice %(year)s (%(amount)s)."
                )
                % {"unspent": _eur(unspent), "year": fiscal_year, "amount": _eur(year.amount)},
                field="unspent",
            )
        earlier = Recovery.objects.filter(agreement=agreement, fiscal_year=fiscal_year).exclude(
            state=R.CANCELLED
        )
        totals = earlier.aggregate(unspent=Sum("unspent"), kept=Sum("surplus_kept"))
        declared = totals["unspent"] or Decimal("0")
        if declared + unspent > year.amount:
            raise DomainError(
                _(
                    "Avec les reversements déjà émis sur %(year)s (%(declared)s non consommés), le total dépasserait la subvention de l'exercice (%(amount)s)."
                )
                % {"year": fiscal_year, "declared": _eur(declared), "amount": _eur(year.amount)},
                field="unspent",
            )
        # The allowance is per year: what earlier recoveries of the year kept is deducted.
        allowance = (year.amount * Decimal(agreement.surplus_allowance_percent) / HUNDRED).quantize(
            CENT, rounding=ROUND_HALF_UP
        )
        surplus = max(Decimal("0"), min(unspent, allowance - (totals["kept"] or Decimal("0"))))
        amount = unspent - surplus
        if amount <= 0:
            raise DomainError(
                _(
                    "L'excédent raisonnable que la convention laisse à l'association (%(percent)s %% de l'exercice, soit %(surplus)s) couvre le montant non consommé : aucun reversement n'est dû."
                )
                % {
                    "percent": agreement.surplus_allowance_percent,
                    "surplus": _eur(allowance),
                },
                field="unspent",
            )
        recovery = Recovery.objects.create(
            agreement=agreement,
            fiscal_year=fiscal_year,
            reason=reason,
            unspent=unspent,
            surplus_kept=surplus,
            amount=amount,
            issued_by=actor,
        )
        audit_log(
            actor=actor,
            obj=recovery,
            action="cpo.recovery.issued",
            target=R.ISSUED,
            reason=reason,
            payload={
                "agreement": agreement.reference,
                "fiscal_year": fiscal_year,
                "unspent": unspent,
                "surplus_kept": surplus,
                "amount": amount,
            },
        )
        notify(
            users=agreement.organisation.members.all(),
            title=Msg(
                gettext_noop("Convention %(ref)s : reversement de %(amount)s demandé sur %(year)s"),
                ref=agreement.reference,
                amount=Euros(amount),
                year=fiscal_year,
            ),
            url=reverse("cpo:agreement_detail", args=[agreement.pk]),
            body=reason,
        )
    return recovery


def recovery_collect(*, actor: User, recovery: Recovery) -> Recovery:
    """The money came back (the titre de recette is paid). Instruction, programme managers and the
    finance team."""
    _staff(actor, FINANCE)
    with transaction.atomic():
        recovery = lock(recovery)
        if recovery.state == R.COLLECTED:
            return recovery
        recovery.closed_at = now()
        return apply_transition(
            recovery,
            "collect",
            actor=actor,
            action="cpo.recovery.collected",
            payload={"amount": recovery.amount},
            update_fields=["closed_at"],
        )


def recovery_offset(*, actor: User, recovery: Recovery, instalment: Instalment) -> Recovery:
    """Offset the recovery against a later instalment of the same agreement (a later fiscal year,
    still planned, on hold or due): the instalment is reduced by the recovery's amount and must
    stay above zero. Audited on both the recovery and the instalment."""
    _staff(actor, FINANCE)
    with transaction.atomic():
        recovery = lock(recovery)
        if recovery.state == R.OFFSET and recovery.offset_instalment_id == instalment.pk:
            return recovery
        if recovery.state != R.ISSUED:
            # The transition check gives the 409 with the allowed transitions.
            apply_transition(recovery, "offset", actor=actor, action="cpo.recovery.offset")
        instalment = lock(instalment)
        if instalment.agreement_id != recovery.agreement_id:
            raise DomainError(
                _("L'échéance n'appartient pas à la même convention."), field="instalment"
            )
        if instalment.state not in OFFSETTABLE:
            raise DomainError(
                _(
                    "Seule une échéance prévue, suspendue ou exigible peut être réduite (« %(state)s »)."
                )
                % {"state": instalment.get_state_display()},
                field="instalment",
            )
        fiscal_year = instalment.year.fiscal_year
        if fiscal_year <= recovery.fiscal_year:
            raise DomainError(
                _(
                    "Le reversement de %(year)s se compense sur une échéance d'un exercice ultérieur."
                )
                % {"year": recovery.fiscal_year},
                field="instalment",
            )
        if instalment.agreement.state not in AMENDABLE:
            raise DomainError(
                _("La convention n'est plus en cours : le reversement doit être recouvré."),
                field="instalment",
            )
        before = instalment.amount
        after = before - recovery.amount
        if after <= 0:
            raise DomainError(
                _(
                    "L'échéance (%(amount)s) est inférieure ou égale au reversement (%(recovery)s) : choisissez une autre échéance ou recouvrez le reversement."
                )
                % {"amount": _eur(before), "recovery": _eur(recovery.amount)},
                field="instalment",
            )
        instalment.amount = after
        instalment.save(update_fields=["amount"])
        recovery.offset_instalment = instalment
        recovery.closed_at = now()
        recovery = apply_transition(
            recovery,
            "offset",
            actor=actor,
            action="cpo.recovery.offset",
            payload={"instalment": instalment.pk, "before": before, "after": after},
            update_fields=["offset_instalment", "closed_at"],
        )
        audit_log(
            actor=actor,
            obj=instalment,
            action="cpo.instalment.offset",
            reason=recovery.reason,
            payload={"recovery": recovery.pk, "before": before, "after": after},
        )
    return recovery


def recovery_cancel(*, actor: User, recovery: Recovery, reason: str) -> Recovery:
    """Cancel an issued recovery (wrongly issued, remission granted), with a reason."""
    _staff(actor)
    reason = _check_reason(reason)
    with transaction.atomic():
        recovery = lock(recovery)
        if recovery.state == R.CANCELLED:
            return recovery
        recovery.closed_at = now()
        return apply_transition(
            recovery,
            "cancel",
            actor=actor,
            action="cpo.recovery.cancelled",
            reason=reason,
            update_fields=["closed_at"],
        )
