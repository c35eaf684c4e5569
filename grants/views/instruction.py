"""The instruction queue: filters, counts per state, search, 50 files a page.

The number of SQL queries does not depend on the number of files: the selector joins what a row
shows (organisation, call, assignee, pillar) and rows never touch many-to-many relations.

What a page costs is mostly rendering (issue 17). The page below its title is cached under the
files' data version (core.data_version), the language, the query and who looks (`scope_fingerprint`),
so a page seen again renders no table. When it must be rendered, each row is computed once here as
plain strings (`queue_rows`) and printed by `table_rows` (one str.format a line), and the filter
and bulk forms, whose HTML only changes with the language, the query and their choices, are a
template fragment cached under a digest of exactly that (`forms_key`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.defaultfilters import floatformat
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from core.choices import choice_label
from core.data_version import cached_under, current_version, version_key
from core.forms import forms_fingerprint
from core.links import per_pk
from core.permissions import is_staff_member

from ..apps import FILE_LISTS, list_counters
from ..forms import QueueFilterForm
from ..forms_bulk import BulkActionForm
from ..models import ApplicationState
from ..selectors import instructor_queue, queue_counts, scope_fingerprint
from .table_rows import queue_rows_html

PAGE_SIZE = 50
ROW_FIELDS = (
    *("pk", "reference", "title", "state", "submitted_at", "requested_amount"),
    *("organisation__name", "organisation__siret", "call__title", "pillar__label"),
    *("assigned_to__first_name", "assigned_to__last_name", "assigned_to__email"),
)


def queue_rows(applications: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The cells of each line of the queue (rows of ROW_FIELDS values), as strings to print."""
    select = _("Sélectionner le dossier %(ref)s")
    no_call = _("Hors appel")
    detail_url = per_pk("grants:application_detail")
    rows = []
    for a in applications:
        # The assignee's name as User.get_full_name() gives it, else their e-mail address.
        email, submitted_at = a["assigned_to__email"], a["submitted_at"]
        name = f"{a['assigned_to__first_name']} {a['assigned_to__last_name']}".strip()
        rows.append(
            {
                "pk": str(a["pk"]),
                "url": detail_url(a["pk"]),
                "select_label": select % {"ref": a["reference"]},
                "reference": a["reference"],
                "title": a["title"],
                "organisation": a["organisation__name"],
                "siret": a["organisation__siret"],
                "call": a["call__title"] or no_call,
                "pillar": a["pillar__label"] or "—",
                "state": a["state"],
                "state_label": choice_label(ApplicationState, a["state"]),
                "assignee": (name or email) if email is not None else "—",
                "submitted": (
                    timezone.localtime(submitted_at).strftime("%d/%m/%Y") if submitted_at else "—"
                ),
                "amount": floatformat(a["requested_amount"], "2g"),
            }
        )
    return rows


@login_required
def queue(request: HttpRequest) -> HttpResponse:
    if not is_staff_member(request.user):
        raise PermissionDenied
    # Everything below the title but the CSRF token, cached under the filed files' counter and
    # the shared tables' (grants.apps.list_counters): a page seen again before any filed file,
    # call, organisation or role changes renders no table; a draft saved moves neither.
    parts = cached_under(
        list_counters((), filed=True),
        (
            "grants.queue",
            get_language(),
            scope_fingerprint(request.user),
            sorted(request.GET.lists()),
        ),
        lambda: queue_parts(request),
    )
    # The parts are HTML rendered (and escaped) by the templates of queue_parts.
    safe = {name: mark_safe(html) for name, html in parts.items()}  # noqa: S308
    return render(request, "grants/queue.html", {"parts": safe})


def forms_key(*forms_: Any) -> str:
    """The key of the filter and bulk forms' fragments. Their choices (calls, pillars, quarters,
    instructors, committee sessions) are all tables of the group "file_lists": under its version
    (with the digest of the rest: language, bound data, labels), a queue re-rendered because a
    filed file moved reads none of them. Inside a transaction (no version), the whole digest."""
    version = current_version(FILE_LISTS)
    # The rest of the forms (classes, labels, bound data, language) still by their digest.
    parts = ("grants.queue_forms", forms_fingerprint(*forms_, choices=False))
    return version_key(FILE_LISTS, version, parts) or forms_fingerprint(*forms_)


def queue_parts(request: HttpRequest) -> dict[str, str]:
    """The queue's filters, tabs, table with its bulk form, and pagination, as HTML."""
    form = QueueFilterForm(request.GET or None)
    filters = form.filters() if request.GET else {}
    state = form.cleaned_data.get("state", "") if form.is_bound and form.is_valid() else ""
    qs = instructor_queue(request.user, filters=filters)
    counts = queue_counts(qs, user=request.user, filters=filters)
    if state:
        qs = qs.filter(state=state)
    # Only the columns a line shows, as values: whole rows of five tables cost twice as much to
    # read, and model instances of them as much again.
    qs = qs.values(*ROW_FIELDS)
    paginator = Paginator(qs, PAGE_SIZE)
    # The tab counts already hold the total: no second COUNT over every file.
    paginator.count = counts.get(state, 0) if state else sum(counts.values())
    page = paginator.get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    tab_params = params.copy()
    tab_params.pop("state", None)
    bulk_form = BulkActionForm(auto_id="bulk_%s")
    tabs = [
        {"state": value, "label": label, "count": counts.get(value, 0)}
        for value, label in ApplicationState.choices
        if value != ApplicationState.DRAFT
    ]
    context = {
        "form": form,
        "page": page,
        "rows_html": queue_rows_html(queue_rows(page.object_list)),
        "tabs": tabs,
        "total": sum(counts.values()),
        "current_state": state,
        "query_string": params.urlencode(),
        "tab_query_string": tab_params.urlencode(),
        "full_query_string": params.urlencode(),
        "bulk_form": bulk_form,
        "forms_key": forms_key(form, bulk_form),
    }
    return {
        "head": render_to_string("grants/_queue_head.html", context),
        "table": render_to_string("grants/_queue_table.html", context) if page.object_list else "",
        "pages": render_to_string("grants/_queue_pages.html", context),
    }
