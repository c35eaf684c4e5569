"""The association's payments: every instalment of its agreements by agreement and fiscal year —
planned, due, on hold (and why), in payment, paid (and when) — with totals. Only the user's own
organisations; one query for the instalments whatever their number."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render

from core.http import AuthenticatedHttpRequest
from core.permissions import organisation_ids_of

from ..selectors_payments import PaymentStage, group_payments, my_instalments

#: The order of the summary, from money received to money still to come.
SUMMARY_ORDER = [
    PaymentStage.PAID,
    PaymentStage.IN_PAYMENT,
    PaymentStage.DUE,
    PaymentStage.ON_HOLD,
    PaymentStage.PLANNED,
]


@login_required
def my_payments(request: AuthenticatedHttpRequest) -> HttpResponse:
    ids = organisation_ids_of(request.user)
    if not ids:
        raise Http404
    grouped = group_payments(my_instalments(request.user))
    summary = [
        {"stage": stage, "label": stage.label, "amount": grouped["by_stage"][stage]}
        for stage in SUMMARY_ORDER
    ]
    return render(
        request,
        "cpo/my_payments.html",
        {
            **grouped,
            "summary": summary,
            "several_organisations": len(ids) > 1,
            "stages": PaymentStage,
        },
    )
