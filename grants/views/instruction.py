"""The instruction queue: filters, counts per state, search, 50 files a page.

The number of SQL queries does not depend on the number of files: the selector joins what a row
shows (organisation, call, assignee, pillar) and rows never touch many-to-many relations."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from core.permissions import is_staff_member

from ..forms import QueueFilterForm
from ..forms_bulk import BulkActionForm
from ..models import ApplicationState
from ..selectors import instructor_queue, queue_counts

PAGE_SIZE = 50


@login_required
def queue(request: HttpRequest) -> HttpResponse:
    if not is_staff_member(request.user):
        raise PermissionDenied
    form = QueueFilterForm(request.GET or None)
    filters = form.filters() if request.GET else {}
    state = form.cleaned_data.get("state", "") if form.is_bound and form.is_valid() else ""
    qs = instructor_queue(request.user, filters=filters)
    counts = queue_counts(qs, user=request.user, filters=filters)
    if state:
        qs = qs.filter(state=state)
    paginator = Paginator(qs, PAGE_SIZE)
    # The tab counts already hold the total: no second COUNT over every file.
    paginator.count = counts.get(state, 0) if state else sum(counts.values())
    page = paginator.get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    tab_params = params.copy()
    tab_params.pop("state", None)
    tabs = [
        {"state": value, "label": label, "count": counts.get(value, 0)}
        for value, label in ApplicationState.choices
        if value != ApplicationState.DRAFT
    ]
    return render(
        request,
        "grants/queue.html",
        {
            "form": form,
            "page": page,
            "tabs": tabs,
            "total": sum(counts.values()),
            "current_state": state,
            "query_string": params.urlencode(),
            "tab_query_string": tab_params.urlencode(),
            "full_query_string": params.urlencode(),
            "bulk_form": BulkActionForm(auto_id="bulk_%s"),
        },
    )
