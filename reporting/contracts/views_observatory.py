"""The observatory page (charts per QPV against the EPCI, values against targets, indicator
import with a dry run) and the annual report downloads."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from contracts.models import AnnualReport, AnnualReportState
from contracts.selectors import can_manage_contracts
from contracts.services_observatory import indicator_values_import
from core.errors import DomainError
from core.forms import add_domain_error

from .common import get_contract, user_of
from .documents import doc_from_json, render_docx, render_odt, render_pdf
from .forms import IndicatorImportForm
from .observatory import charts_for
from .report import annual_report

MAX_IMPORT_BYTES = 5 * 1024 * 1024


@login_required
def observatory(request: HttpRequest, pk: int) -> HttpResponse:
    user = user_of(request)
    contract = get_contract(request, pk)
    manage = can_manage_contracts(user)
    form = IndicatorImportForm(request.POST or None, request.FILES or None) if manage else None
    report = None
    status = 200
    if request.method == "POST":
        if form is None:
            raise Http404
        if form.is_valid():
            upload = form.cleaned_data["file"]
            if upload.size > MAX_IMPORT_BYTES:
                form.add_error("file", _("Fichier trop volumineux (5 Mo au plus)."))
            else:
                try:
                    report = indicator_values_import(
                        actor=user,
                        contract=contract,
                        name=upload.name,
                        content=upload.read(),
                        apply=form.cleaned_data["apply"],
                    )
                except DomainError as exc:
                    add_domain_error(form, exc)
        if form.errors or (report and report.errors):
            status = 400
    return render(
        request,
        "contracts/observatory.html",
        {"contract": contract, "charts": charts_for(contract), "form": form, "report": report},
        status=status,
    )


REPORT_FORMATS = {
    "pdf": (render_pdf, "application/pdf"),
    "odt": (render_odt, "application/vnd.oasis.opendocument.text"),
    "docx": (
        render_docx,
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
}


@login_required
def annual_report_download(request: HttpRequest, pk: int, year: int, fmt: str) -> HttpResponse:
    contract = get_contract(request, pk)
    if year not in contract.years or fmt not in REPORT_FORMATS:
        raise Http404
    render, content_type = REPORT_FORMATS[fmt]
    approved = AnnualReport.objects.filter(
        contract=contract, year=year, state=AnnualReportState.APPROVED
    ).first()
    # Once approved, the report is the frozen version, whatever the data says since.
    doc = doc_from_json(approved.frozen) if approved else annual_report(contract, year)
    response = HttpResponse(render(doc), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="rapport-annuel-{year}.{fmt}"'
    return response
