"""Personal data pages: « Vos données » (public: what Pluriel keeps, why, how long; the register of
processing), a person's own data export, who downloaded an organisation's documents."""

from __future__ import annotations

from typing import cast

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from .errors import DomainError
from .models import Membership, Organisation, User
from .privacy.export import personal_data_export_start
from .privacy.register import register_rows
from .privacy.retention import rules
from .selectors_privacy import document_downloads
from .tabular.writer import csv_bytes, csv_dialect, csv_file_name


def your_data(request: HttpRequest) -> HttpResponse:
    return render(request, "core/privacy/your_data.html", {"rules": rules()})


def processing_register(request: HttpRequest) -> HttpResponse:
    """The register of processing (RGPD art. 30) generated from the declared rules, as CSV:
    « Excel (France) » by default, `?format=csv` for tools (core.tabular.writer)."""
    try:
        dialect = csv_dialect(request.GET.get("format"))
    except DomainError as exc:
        return HttpResponse(str(exc.message), status=400, content_type="text/plain; charset=utf-8")
    rows = register_rows()
    data = csv_bytes(list(rows[0].keys()), [list(r.values()) for r in rows], dialect)
    response = HttpResponse(data, content_type=dialect.content_type)
    name = csv_file_name("registre-des-traitements", dialect)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@login_required
def my_data(request: HttpRequest) -> HttpResponse:
    return render(request, "core/privacy/my_data.html", {"rules": rules()})


@login_required
@require_POST
def my_data_export(request: HttpRequest) -> HttpResponse:
    user = cast(User, request.user)
    job = personal_data_export_start(actor=user, person=user)
    return redirect("core:job_detail", job.pk)


@login_required
def organisation_downloads(request: HttpRequest, pk: int) -> HttpResponse:
    """Who downloaded the organisation's documents: its administrators only (404 otherwise)."""
    organisation = get_object_or_404(Organisation, pk=pk)
    if not Membership.objects.filter(
        user=cast(User, request.user), organisation=organisation, is_admin=True
    ).exists():
        raise Http404
    return render(
        request,
        "core/privacy/downloads.html",
        {
            "organisation": organisation,
            "rows": document_downloads(organisation)[:500],
            "title": _("Consultations des documents"),
        },
    )
