"""The association's payments: every instalment of its agreements, planned, due, on hold (and
why), in payment, paid (and when)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from core.permissions import organisation_ids_of

from ..models import Instalment, InstalmentState


@login_required
def my_payments(request: HttpRequest) -> HttpResponse:
    ids = organisation_ids_of(request.user)
    if not ids:
        raise Http404
    instalments = (
        Instalment.objects.filter(agreement__organisation_id__in=ids)
        .exclude(state=InstalmentState.CANCELLED)
        .select_related("agreement", "agreement__organisation", "year", "funder__funder")
        .order_by("agreement__reference", "year__fiscal_year", "earliest_date", "number")
    )
    totals = dict(
        Instalment.objects.filter(agreement__organisation_id__in=ids)
        .exclude(state=InstalmentState.CANCELLED)
        .values_list("state")
        .annotate(s=Sum("amount"))
    )
    paid = totals.pop(InstalmentState.PAID, None) or 0
    return render(
        request,
        "cpo/my_payments.html",
        {"instalments": instalments, "paid": paid, "remaining": sum(totals.values(), 0)},
    )
