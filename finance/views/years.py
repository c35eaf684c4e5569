"""Fiscal years and recoveries in the finance workspace.

Closing a year: every instalment still unpaid and charged to it is carried to the next year or
cancelled, explicitly — line by line, or with one choice for all the others (« tout reporter »,
« tout annuler ») — then `services_finance.fiscal_year_close` does it all or nothing.

Recoveries (titres de recette): issued ones are collected or offset against a later instalment of
the same agreement (cpo.services_changes), collected and offset ones are listed with their totals."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, OuterRef, Subquery, Sum
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.clock import today
from core.errors import DomainError
from core.http import AuthenticatedHttpRequest
from cpo import services_changes
from cpo.models import Instalment, Recovery, RecoveryState
from finance import services as services_finance
from finance.forms import CANCEL, CARRY, FiscalYearCloseForm, OffsetForm
from finance.models import FiscalYear, PaymentRun, PaymentRunItem, PaymentRunState
from finance.selectors import (
    OFFSETTABLE,
    RUNNING_AGREEMENTS,
    fiscal_years_overview,
    offset_candidates,
    recoveries_list,
    recovery_totals,
    remaining_for_year,
)
from finance.views.common import base_context, error_message, finance_page, query_without

#: Rows shown with their own choice on the closing page; the others take the common choice.
SHOWN_ROWS = 500
CANCELLABLE = set(services_finance.CANCELLABLE)


# --------------------------------------------------------------------------- fiscal years


@finance_page
def fiscal_years(request: AuthenticatedHttpRequest) -> HttpResponse:
    return render(
        request,
        "finance/fiscal_years.html",
        {
            **base_context(request, "years"),
            "years": fiscal_years_overview(day=today()),
            "current": today().year,
        },
    )


@finance_page
def fiscal_year_close(request: AuthenticatedHttpRequest, year: int) -> HttpResponse:
    """The closing page of one year: what remains charged to it, a choice for each, a note."""
    if not 2000 <= year <= 2100:
        raise Http404
    record = FiscalYear.objects.select_related("closed_by").filter(year=year).first()
    preset = request.GET.get("preset")
    if preset not in (CARRY, CANCEL):
        preset = ""
    form = FiscalYearCloseForm(request.POST or None, initial={"default": preset})
    choices: dict[int, str] = {}
    status, error = 200, None
    if request.method == "POST":
        choices = {
            int(key[4:]): value
            for key, value in request.POST.items()
            if key.startswith("row-") and key[4:].isdigit() and value in (CARRY, CANCEL)
        }
        if record is not None and record.is_closed:
            status, error = 409, _("L'exercice %(year)d est déjà clos.") % {"year": year}
        elif form.is_valid():
            default = form.cleaned_data["default"]
            ids = remaining_for_year(year).values_list("pk", flat=True)
            carry, cancel = [], []
            for pk in ids:
                choice = choices.get(pk) or default
                if choice == CARRY:
                    carry.append(pk)
                elif choice == CANCEL:
                    cancel.append(pk)
            try:
                services_finance.fiscal_year_close(
                    actor=request.user,
                    year=year,
                    carry_ids=carry,
                    cancel_ids=cancel,
                    note=form.cleaned_data["note"],
                )
            except DomainError as exc:
                status, error = exc.status_code, error_message(exc)
            else:
                messages.success(
                    request,
                    _(
                        "Exercice %(year)d clos : %(carried)d échéance(s) reportée(s) sur "
                        "%(next)d, %(cancelled)d annulée(s)."
                    )
                    % {
                        "year": year,
                        "next": year + 1,
                        "carried": len(carry),
                        "cancelled": len(cancel),
                    },
                )
                return redirect("finance:fiscal_years")
        else:
            status, error = 400, _("Le formulaire contient des erreurs.")
    remaining = remaining_for_year(year)
    summary = remaining.order_by().aggregate(count=Count("pk"), amount=Sum("amount"))
    rows: list[dict[str, Any]] = [
        {
            "instalment": i,
            "choice": choices.get(i.pk) or preset,
            "cancellable": i.state in CANCELLABLE,
        }
        for i in remaining[:SHOWN_ROWS]
    ]
    if preset == CANCEL:
        for row in rows:
            if not row["cancellable"] and not choices.get(row["instalment"].pk):
                row["choice"] = CARRY
    return render(
        request,
        "finance/fiscal_year_close.html",
        {
            **base_context(request, "years"),
            "year": year,
            "record": record,
            "form": form,
            "rows": rows,
            "summary": summary,
            "hidden_count": max(0, (summary["count"] or 0) - len(rows)),
            "open_runs": PaymentRun.objects.filter(
                fiscal_year=year,
                state__in=[
                    PaymentRunState.DRAFT,
                    PaymentRunState.APPROVED,
                    PaymentRunState.EXPORTED,
                ],
            ).order_by("reference"),
            "error": error,
        },
        status=status,
    )


# --------------------------------------------------------------------------- recoveries


def _recoveries_context(request: AuthenticatedHttpRequest, state: str) -> dict[str, Any]:
    run_item = (
        PaymentRunItem.objects.filter(instalment=OuterRef("offset_instalment_id"))
        .exclude(status=PaymentRunItem.Status.REMOVED)
        .order_by("-pk")
    )
    qs = recoveries_list(state).annotate(
        run_id=Subquery(run_item.values("run_id")[:1]),
        run_reference=Subquery(run_item.values("run__reference")[:1]),
    )
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    recoveries = list(page.object_list)
    totals = recovery_totals()
    candidates = offset_candidates(recoveries) if state == RecoveryState.ISSUED else {}
    return {
        **base_context(request, "recoveries"),
        "state": state,
        "state_label": RecoveryState(state).label,
        "totals": [
            {"state": value, "label": label, **totals[value]}
            for value, label in RecoveryState.choices
        ],
        "page": page,
        "rows": [{"recovery": r, "candidates": candidates.get(r.pk, [])} for r in recoveries],
        "query": query_without(request, "page"),
    }


def _state(request: AuthenticatedHttpRequest) -> str:
    state = request.GET.get("etat") or RecoveryState.ISSUED
    return state if state in RecoveryState.values else RecoveryState.ISSUED


@finance_page
def recoveries(request: AuthenticatedHttpRequest) -> HttpResponse:
    return render(request, "finance/recoveries.html", _recoveries_context(request, _state(request)))


@finance_page
@require_POST
def recovery_action(request: AuthenticatedHttpRequest, pk: int, op: str) -> HttpResponse:
    """Collect an issued recovery, or offset it against a later instalment."""
    if op not in ("collect", "offset"):
        raise Http404
    recovery = get_object_or_404(Recovery, pk=pk)
    try:
        if op == "collect":
            services_changes.recovery_collect(actor=request.user, recovery=recovery)
            message = _("Reversement de %(ref)s recouvré.")
        else:
            form = OffsetForm(
                request.POST,
                prefix=f"offset-{recovery.pk}",
                instalments=Instalment.objects.filter(
                    agreement_id=recovery.agreement_id,
                    state__in=OFFSETTABLE,
                    agreement__state__in=RUNNING_AGREEMENTS,
                ),
            )
            if not form.is_valid():
                raise DomainError(_("Choisissez l'échéance sur laquelle compenser."))
            services_changes.recovery_offset(
                actor=request.user, recovery=recovery, instalment=form.cleaned_data["instalment"]
            )
            message = _("Reversement de %(ref)s compensé sur l'échéance choisie.")
    except DomainError as exc:
        context = _recoveries_context(request, RecoveryState.ISSUED)
        context["error"] = error_message(exc)
        return render(request, "finance/recoveries.html", context, status=exc.status_code)
    messages.success(request, message % {"ref": recovery.agreement.reference})
    return redirect(f"{reverse('finance:recoveries')}?etat={RecoveryState.ISSUED}")
