"""Staff open-data page (/pilotage/donnees-ouvertes/): what the public dataset holds, the
threshold, the downloads, and the publication deadline of every agreement the law obliges to
publish (décret n° 2017-779: within 3 months of signature), late ones first with what is missing.

For programme managers, auditors and the finance team; anyone else gets a 403."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from core.clock import today
from core.models import Role
from core.permissions import has_role

from . import opendata

PAGE_SIZE = 50
READERS = (Role.PROGRAMME_MANAGER, Role.AUDITOR, Role.FINANCE_OFFICER)


@login_required
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    if not has_role(request.user, *READERS):
        raise PermissionDenied
    day = today()
    status = request.GET.get("etat", "")
    if status not in opendata.STATUS_LABELS:
        status = ""
    qs = opendata.deadline_tracking(day=day)
    if status:
        qs = qs.filter(publication=status)
    page = Paginator(opendata.with_rows_data(qs), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        {
            "agreement": agreement,
            "deadline": opendata.publication_deadline(agreement.signed_on),
            "status": agreement.publication,
            "status_label": opendata.status_label(agreement.publication),
            "problems": opendata.publication_problems(agreement),
            "warnings": opendata.publication_warnings(agreement),
        }
        for agreement in page.object_list
    ]
    return render(
        request,
        "reporting/opendata_overview.html",
        {
            "summary": opendata.publication_summary(day=day),
            "page": page,
            "rows": rows,
            "status": status,
            "status_choices": [(s, opendata.status_label(s)) for s in opendata.STATUS_LABELS],
            "query": f"etat={status}" if status else "",
            "today": day,
            "schema_version": opendata.SCHEMA_VERSION,
            "schema_url": opendata.SCHEMA_URL,
            "deadline_months": opendata.DEADLINE_MONTHS,
        },
    )
