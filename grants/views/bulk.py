"""Bulk actions from the instruction queue: pick files and an action, confirm the count, follow the
result file by file (grants.services.bulk does the work)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.errors import DomainError
from core.http import AuthenticatedHttpRequest
from core.permissions import is_staff_member
from core.tabular.writer import csv_dialect, csv_file_name

from ..forms import QueueFilterForm
from ..forms_bulk import BulkActionForm
from ..models import BulkAction, BulkActionItem
from ..services.bulk import (
    ACTIONS,
    bulk_action_retry_skipped,
    bulk_action_start,
    bulk_counts,
    bulk_export_csv,
    bulk_is_running,
    bulk_params_clean,
    bulk_selection,
)
from .common import error_message


def _queue_filters(query: str) -> dict[str, Any]:
    """The queue's filters (same form, same selector) from its query string."""
    params = QueryDict(query or "")
    form = QueueFilterForm(params)
    filters = form.filters() if params else {}
    if form.is_valid() and form.cleaned_data.get("state"):
        filters["state"] = form.cleaned_data["state"]
    return {k: v for k, v in filters.items() if v not in (None, "")}


def _ids(request: HttpRequest) -> list[int]:
    return [int(v) for v in request.POST.getlist("ids") if v.isdigit()]


@login_required
@require_POST
def bulk_new(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Step 1 (from the queue): check the inputs, show the count; step 2 (`confirmed`): run."""
    if not is_staff_member(request.user):
        raise PermissionDenied
    form = BulkActionForm(request.POST)
    query = request.POST.get("query", "")
    back = redirect_to_queue(query)
    if not form.is_valid():
        messages.error(request, _("Choisissez une action."))
        return back
    all_matching = form.cleaned_data["all_matching"]
    ids = None if all_matching else _ids(request)
    filters = _queue_filters(query) if all_matching else None
    action = form.cleaned_data["action"]
    try:
        bulk_params_clean(actor=request.user, action=action, params=form.params())
        if ids is not None and not ids:
            raise DomainError(_("Sélectionnez au moins un dossier."), field="ids")
        if request.POST.get("confirmed"):
            bulk = bulk_action_start(
                actor=request.user, action=action, params=form.params(), ids=ids, filters=filters
            )
            return redirect("grants:bulk_detail", pk=bulk.pk)
    except DomainError as exc:
        messages.error(request, error_message(exc))
        return back
    count = len(bulk_selection(actor=request.user, ids=ids, filters=filters))
    return render(
        request,
        "grants/bulk_confirm.html",
        {
            "form": form,
            "action_label": ACTIONS[action].label,
            "count": count,
            "hidden": [
                (name, value)
                for name, values in request.POST.lists()
                if name not in ("csrfmiddlewaretoken", "confirmed")
                for value in values
            ],
            "all_matching": all_matching,
            "query": query,
        },
    )


def redirect_to_queue(query: str) -> HttpResponse:
    response = redirect("grants:queue")
    if query:
        response["Location"] += f"?{query}"
    return response


def _own(request: AuthenticatedHttpRequest, pk: int) -> BulkAction:
    if not is_staff_member(request.user):
        raise Http404
    return get_object_or_404(BulkAction, pk=pk, actor=request.user)


@login_required
def bulk_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    bulk = _own(request, pk)
    counts = bulk_counts(bulk)
    total = sum(counts.values())
    running = bulk_is_running(bulk)
    items = bulk.items.select_related("application").order_by(
        # skipped first: what needs attention
        "-status",
        "id",
    )
    return render(
        request,
        "grants/bulk_detail.html",
        {
            "bulk": bulk,
            "action_label": ACTIONS[bulk.action].label,
            "counts": counts,
            "total": total,
            "processed": total - counts[BulkActionItem.Status.PENDING],
            "running": running,
            "items": items,
            "is_export": bulk.action == "export",
        },
    )


@login_required
@require_POST
def bulk_retry(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    bulk = _own(request, pk)
    try:
        bulk_action_retry_skipped(actor=request.user, bulk=bulk)
    except DomainError as exc:
        messages.error(request, error_message(exc))
    return redirect("grants:bulk_detail", pk=bulk.pk)


@login_required
def bulk_export(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    bulk = _own(request, pk)
    if bulk.action != "export":
        raise Http404
    try:
        dialect = csv_dialect(request.GET.get("format"))
    except DomainError as exc:
        return HttpResponse(
            error_message(exc), status=400, content_type="text/plain; charset=utf-8"
        )
    response = HttpResponse(bulk_export_csv(bulk, dialect), content_type=dialect.content_type)
    name = csv_file_name(f"selection-{bulk.pk}", dialect)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
