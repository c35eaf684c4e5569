"""The finance workspace (« Finances », /finances/): the dashboard and the instalment list from
which runs are made. Runs and confirmation files are in `runs.py`, fiscal years and
recoveries in `years.py`; shared checks in `common.py`.

Every write is a service call (finance.services); a refusal re-renders the page with the
service's message and its status (400, 403, 409), never a 500."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

from calls.models import Programme
from core.clock import today
from core.data_version import cached_at, current_version, version_key
from core.errors import DomainError
from core.forms import add_domain_error, forms_fingerprint
from core.http import AuthenticatedHttpRequest
from finance import services as services_finance
from finance.forms import DEFAULT_STATE, InstalmentFilterForm, RunCreateForm
from finance.selectors import (
    Cursor,
    commitments_by_programme,
    cp_forecast,
    dashboard_cards,
    filter_instalments,
    instalment_page,
    on_hold_by_reason,
    paid_in_year,
    payable_criteria,
    unsigned_agreements,
)
from finance.views.common import base_context, error_message, finance_page, query_without

RUN_ACTIONS = ("run_selected", "run_all", "approve")


# --------------------------------------------------------------------------- dashboard


def _year(value: str | None, default: int) -> int:
    if value and value.isdigit() and 2000 <= int(value) <= 2100:
        return int(value)
    return default


@finance_page
def dashboard(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Cards (due this month, late, on hold and why, runs in progress, paid this year), CP paid by
    programme, funder and budget line, AE against envelopes, and the CP forecast per fiscal year
    with the what-if of unsigned agreements (`?simuler=<id>` repeated)."""
    day = today()
    year = _year(request.GET.get("exercice"), day.year)
    what_if = [int(v) for v in request.GET.getlist("simuler") if v.isdigit()]
    years = sorted(
        set(Programme.objects.values_list("fiscal_year", flat=True)) | {day.year, year},
        reverse=True,
    )
    return render(
        request,
        "finance/dashboard.html",
        {
            **base_context(request, "dashboard"),
            "day": day,
            "year": year,
            "years": years,
            "cards": dashboard_cards(day=day),
            "on_hold": on_hold_by_reason(),
            "paid": paid_in_year(year),
            "commitments": commitments_by_programme(year),
            "forecast": cp_forecast(what_if_ids=what_if),
            "unsigned": unsigned_agreements(),
        },
    )


# --------------------------------------------------------------------------- instalments


@finance_page
def instalments(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The instalments with filters, keyset-paginated on (earliest_date, pk) so a page costs the
    same at a million rows (no COUNT, no OFFSET). A finance officer selects rows and makes a run
    of them (or of everything payable matching the filters), or certifies the service done."""
    filter_form = InstalmentFilterForm(request.GET or None)
    filters = filter_form.cleaned_data if filter_form.is_valid() else {"state": DEFAULT_STATE}
    run_form = RunCreateForm(request.POST or None)
    selected = _selected_ids(request)

    def page(status: int = 200, error: str | None = None) -> HttpResponse:
        return _render_list(request, filter_form, filters, run_form, selected, status, error)

    if request.method != "POST":
        return page()
    action = request.POST.get("action")
    if action not in RUN_ACTIONS:
        return page(400, _("Action inconnue."))
    # Certifying needs no run: the run's fields are not checked then.
    makes_run = action != "approve"
    if makes_run and not run_form.is_valid():
        return page(400, _("Le formulaire contient des erreurs."))
    try:
        return _act(request, action, filters, run_form.cleaned_data if makes_run else {}, selected)
    except DomainError as exc:
        if makes_run:
            add_domain_error(run_form, exc)
        return page(exc.status_code, error_message(exc))


def _selected_ids(request: AuthenticatedHttpRequest) -> list[int]:
    return sorted({int(v) for v in request.POST.getlist("instalment") if v.isdigit()})


def _act(
    request: AuthenticatedHttpRequest,
    action: str,
    filters: dict[str, Any],
    data: dict[str, Any],
    selected: list[int],
) -> HttpResponse:
    if action == "run_all":
        if (filters.get("q") or "").strip():
            raise DomainError(
                _(
                    "La recherche ne s'applique pas à « tout ce qui correspond » : cochez les "
                    "échéances voulues ou retirez la recherche."
                )
            )
        run = services_finance.payment_run_create(
            actor=request.user,
            criteria=payable_criteria(filters),
            fiscal_year=data["fiscal_year"],
            label=data["label"],
        )
        skipped = 0
    else:
        if not selected:
            raise DomainError(_("Cochez au moins une échéance."))
        if action == "approve":
            done = services_finance.instalments_approve(
                actor=request.user,
                instalment_ids=selected,
                note=request.POST.get("note", "").strip()[:500],
            )
            messages.success(
                request,
                ngettext(
                    "%(n)d échéance certifiée (service fait).",
                    "%(n)d échéances certifiées (service fait).",
                    done,
                )
                % {"n": done},
            )
            return redirect(f"{request.path}?{request.GET.urlencode()}")
        run = services_finance.payment_run_create(
            actor=request.user,
            instalment_ids=selected,
            fiscal_year=data["fiscal_year"],
            label=data["label"],
        )
        skipped = len(selected) - run.item_count - run.without_bank_details
    messages.success(
        request,
        ngettext(
            "Lot %(ref)s préparé : %(n)d paiement.",
            "Lot %(ref)s préparé : %(n)d paiements.",
            run.item_count,
        )
        % {"ref": run.reference, "n": run.item_count},
    )
    if run.without_bank_details:
        messages.warning(
            request,
            ngettext(
                "%(n)d échéance laissée de côté : l'organisation n'a pas de coordonnées bancaires.",
                "%(n)d échéances laissées de côté : les organisations n'ont pas de coordonnées "
                "bancaires.",
                run.without_bank_details,
            )
            % {"n": run.without_bank_details},
        )
    if skipped > 0:
        messages.warning(
            request,
            ngettext(
                "%(n)d échéance cochée n'était pas payable (état, convention ou exercice clos).",
                "%(n)d échéances cochées n'étaient pas payables (état, convention ou exercice "
                "clos).",
                skipped,
            )
            % {"n": skipped},
        )
    return redirect("finance:run_detail", pk=run.pk)


def _render_list(
    request: AuthenticatedHttpRequest,
    filter_form: InstalmentFilterForm,
    filters: dict[str, Any],
    run_form: RunCreateForm,
    selected: list[int],
    status: int = 200,
    error: str | None = None,
) -> HttpResponse:
    context = base_context(request, "instalments")

    def table() -> str:
        page = instalment_page(
            filter_instalments(filters),
            after=Cursor.decode(request.GET.get("apres")),
            before=Cursor.decode(request.GET.get("avant")),
        )
        return render_to_string(
            "finance/_instalment_table.html",
            {
                **context,
                "page": page,
                "selected": set(selected),
                "query": query_without(request, "apres", "avant"),
            },
        )

    forms_key = None
    if request.method == "GET":
        # Cached under the instalments' data version (core.data_version, issue 17); lateness is
        # counted from today. A re-shown POST keeps its checked boxes: rendered each time.
        version = current_version("instalments")
        query = sorted(request.GET.lists())
        parts = ("finance.instalments", get_language(), context["can_act"], today(), query)
        html = cached_at("instalments", version, parts, table)
        # The forms' choices (programmes, funders, budget lines) are tracked tables too: under
        # the version, a repeated view reads none of them. Their initial year counts from today.
        forms_key = version_key(
            "instalments", version, ("finance.instalment_forms", get_language(), today(), query)
        )
    else:
        html = table()
    return render(
        request,
        "finance/instalments.html",
        {
            **context,
            "filter_form": filter_form,
            "run_form": run_form,
            # The forms' HTML is a cached fragment under this key; without a version (a POST, a
            # transaction), under the digest of their content (core.forms, issue 17).
            "forms_key": forms_key or forms_fingerprint(filter_form, run_form),
            "table": mark_safe(html),  # noqa: S308 (rendered and escaped by its template)
            "full_query": request.GET.urlencode(),
            "has_search": bool((filters.get("q") or "").strip()),
            "error": error,
        },
        status=status,
    )
