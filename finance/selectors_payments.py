"""The fiscal years' overview read by the API (/api/finance/fiscal-years/): each year with its
closing, what remains unpaid, what was paid and its runs not settled yet. Moved out of
cpo/selectors_payments.py with the payment side; nothing here writes."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.db.models import Count, Sum
from django.db.models.functions import Coalesce

from cpo.models import Instalment, InstalmentState

from .models import FiscalYear, PaymentRun, PaymentRunState

I = InstalmentState  # noqa: E741


def fiscal_years_overview(year: int | None = None) -> list[dict[str, Any]]:
    """Each fiscal year with its closing, what remains unpaid on it, what was paid on it and its
    runs not settled yet: a handful of grouped queries whatever the number of instalments."""
    effective = Coalesce("charged_year", "year__fiscal_year")
    instalments = Instalment.objects.annotate(fy=effective)
    runs = PaymentRun.objects.filter(
        state__in=[PaymentRunState.DRAFT, PaymentRunState.APPROVED, PaymentRunState.EXPORTED]
    )
    closings = FiscalYear.objects.select_related("closed_by")
    if year is not None:
        instalments = instalments.filter(fy=year)
        runs = runs.filter(fiscal_year=year)
        closings = closings.filter(year=year)
    remaining: dict[int, Mapping[str, Any]] = {
        r["fy"]: r
        for r in instalments.exclude(state__in=[I.PAID, I.CANCELLED])
        .values("fy")
        .annotate(n=Count("pk"), s=Sum("amount"))
        .order_by()
    }
    paid = dict(
        instalments.filter(state=I.PAID)
        .values("fy")
        .annotate(s=Sum("amount"))
        .order_by()
        .values_list("fy", "s")
    )
    open_runs: dict[int, list[str]] = {}
    for fiscal_year, reference in runs.order_by("reference").values_list(
        "fiscal_year", "reference"
    ):
        open_runs.setdefault(fiscal_year, []).append(reference)
    closed = {fy.year: fy for fy in closings}
    years = set(remaining) | set(paid) | set(open_runs) | set(closed)
    if year is not None:
        years.add(year)
    rows = []
    for y in sorted(years, reverse=True):
        fy = closed.get(y)
        rows.append(
            {
                "year": y,
                "is_closed": bool(fy and fy.is_closed),
                "closed_at": fy.closed_at if fy else None,
                "closed_by": fy.closed_by if fy else None,
                "closing_note": fy.closing_note if fy else "",
                "remaining_count": remaining.get(y, {}).get("n", 0),
                "remaining_amount": remaining.get(y, {}).get("s") or Decimal("0.00"),
                "paid_amount": paid.get(y) or Decimal("0.00"),
                "open_runs": open_runs.get(y, []),
            }
        )
    return rows
