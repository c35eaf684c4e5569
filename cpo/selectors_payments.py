"""Reads of payments for the association's page (cpo:my_payments) and the API (/api/my-payments/,
/api/finance/fiscal-years/ reads finance.selectors_payments): the instalments of the user's organisations, the stage an association
sees for each (the finance team's inner steps folded into « en cours de paiement »), their grouping
by agreement and fiscal year with totals; and the fiscal years' overview. Nothing here writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet, TextChoices
from django.utils.translation import gettext_lazy as _

from core.models import User
from core.permissions import organisation_ids_of
from cpo.models import Agreement, Instalment, InstalmentState

I = InstalmentState  # noqa: E741


class PaymentStage(TextChoices):
    """What an association needs to know of an instalment. Liquidation, the payment run and the
    transfer to the accounting system are the finance team's business: one stage for the three."""

    PLANNED = "planned", _("Prévu")
    DUE = "due", _("Exigible")
    ON_HOLD = "on_hold", _("Suspendu")
    IN_PAYMENT = "in_payment", _("En cours de paiement")
    PAID = "paid", _("Payé")


STAGE_OF_STATE: dict[str, str] = {
    I.PLANNED: PaymentStage.PLANNED,
    I.DUE: PaymentStage.DUE,
    I.ON_HOLD: PaymentStage.ON_HOLD,
    I.APPROVED: PaymentStage.IN_PAYMENT,
    I.IN_RUN: PaymentStage.IN_PAYMENT,
    I.EXPORTED: PaymentStage.IN_PAYMENT,
    I.PAID: PaymentStage.PAID,
}
STATES_OF_STAGE: dict[str, list[str]] = {
    stage: [state for state, s in STAGE_OF_STATE.items() if s == stage]
    for stage in PaymentStage.values
}


def payment_stage(state: str) -> str:
    """The association's stage of an instalment state (cancelled ones are never shown)."""
    return STAGE_OF_STATE[state]


def my_instalments(user: User) -> QuerySet[Instalment]:
    """Instalments of the agreements of the user's organisations, cancelled ones left out, with
    what the page and the API show joined in (one query whatever their number)."""
    ids = organisation_ids_of(user)
    if not ids:
        return Instalment.objects.none()
    return (
        Instalment.objects.filter(agreement__organisation_id__in=ids)
        .exclude(state=I.CANCELLED)
        .select_related("agreement__organisation", "year", "funder__funder")
        .order_by("agreement__reference", "year__fiscal_year", "earliest_date", "number", "pk")
    )


def _zero() -> dict[str, Decimal]:
    return {stage: Decimal("0.00") for stage in PaymentStage.values}


@dataclass
class YearPayments:
    fiscal_year: int
    instalments: list[Instalment] = field(default_factory=list)
    total: Decimal = Decimal("0.00")


@dataclass
class AgreementPayments:
    """One agreement's instalments by fiscal year, with its totals by stage."""

    agreement: Agreement
    years: list[YearPayments] = field(default_factory=list)
    by_stage: dict[str, Decimal] = field(default_factory=_zero)
    total: Decimal = Decimal("0.00")

    @property
    def to_come(self) -> Decimal:
        """Planned, due or on hold: not yet on its way."""
        s = self.by_stage
        return s[PaymentStage.PLANNED] + s[PaymentStage.DUE] + s[PaymentStage.ON_HOLD]


def group_payments(instalments: QuerySet[Instalment] | list[Instalment]) -> dict[str, Any]:
    """Group instalments (ordered by agreement, year) by agreement then fiscal year. Each instalment
    gets `stage` set. Returns {"agreements": [...], "by_stage": totals, "total": total,
    "missing_bank_details": organisations with a payment waiting for their IBAN (a run never takes
    an instalment without one)}."""
    agreements: list[AgreementPayments] = []
    by_stage = _zero()
    total = Decimal("0.00")
    missing: dict[int, object] = {}
    current: AgreementPayments | None = None
    for instalment in instalments:
        stage = payment_stage(instalment.state)
        instalment.stage = stage  # type: ignore[attr-defined]
        if current is None or current.agreement.pk != instalment.agreement_id:
            current = AgreementPayments(agreement=instalment.agreement)
            agreements.append(current)
        fiscal_year = instalment.year.fiscal_year
        if not current.years or current.years[-1].fiscal_year != fiscal_year:
            current.years.append(YearPayments(fiscal_year=fiscal_year))
        year = current.years[-1]
        year.instalments.append(instalment)
        year.total += instalment.amount
        current.by_stage[stage] += instalment.amount
        current.total += instalment.amount
        by_stage[stage] += instalment.amount
        total += instalment.amount
        organisation = instalment.agreement.organisation
        if instalment.state in (I.DUE, I.APPROVED) and not organisation.iban:
            missing[organisation.pk] = organisation
    return {
        "agreements": agreements,
        "by_stage": by_stage,
        "total": total,
        "missing_bank_details": list(missing.values()),
    }
