"""The annual report's approval cycle on the contract page (programme managers): submit a year's
report for opinions, then record the council's approval, which freezes it
(contracts.services_report)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from contracts import services_report as sr
from contracts.models import AnnualReport, Meeting
from contracts.selectors import can_manage_contracts
from core.errors import DomainError
from core.forms import DateInput

from .common import get_contract, user_of
from .documents import doc_to_json
from .report import annual_report


class SubmitForm(forms.Form):
    submitted_on = forms.DateField(label=gettext_lazy("Soumis le"), widget=DateInput())
    meeting = forms.ModelChoiceField(
        label=gettext_lazy("Comité de pilotage"), queryset=Meeting.objects.none(), required=False
    )


class ApproveForm(forms.Form):
    approved_on = forms.DateField(label=gettext_lazy("Approuvé le"), widget=DateInput())
    deliberation_ref = forms.CharField(
        label=gettext_lazy("Référence de la délibération"), max_length=100
    )


def build_report(contract, year: int) -> dict:  # type: ignore[no-untyped-def]
    """Registered with contracts.services_report at startup: the report as frozen JSON."""
    return doc_to_json(annual_report(contract, year))


def _errors(form: forms.Form) -> str:
    return " ".join(str(e) for errors in form.errors.values() for e in errors)


@login_required
@require_POST
def report_submit(request: HttpRequest, pk: int, year: int) -> HttpResponse:
    contract = get_contract(request, pk)
    if not can_manage_contracts(user_of(request)):
        raise Http404
    form = SubmitForm(request.POST)
    form.fields["meeting"].queryset = contract.meetings.all()  # type: ignore[attr-defined]
    if not form.is_valid():
        messages.error(request, _errors(form))
    else:
        try:
            sr.annual_report_submit(
                actor=user_of(request), contract=contract, year=year, **form.cleaned_data
            )
        except DomainError as exc:
            messages.error(request, str(exc.message))
        else:
            messages.success(request, _("Rapport %(year)s soumis pour avis.") % {"year": year})
    return redirect("contracts:detail", pk=contract.pk)


@login_required
@require_POST
def report_approve(request: HttpRequest, pk: int, year: int) -> HttpResponse:
    contract = get_contract(request, pk)
    if not can_manage_contracts(user_of(request)):
        raise Http404
    report = get_object_or_404(AnnualReport, contract=contract, year=year)
    form = ApproveForm(request.POST)
    if not form.is_valid():
        messages.error(request, _errors(form))
    else:
        try:
            sr.annual_report_approve(actor=user_of(request), report=report, **form.cleaned_data)
        except DomainError as exc:
            messages.error(request, str(exc.message))
        else:
            messages.success(request, _("Rapport %(year)s approuvé et figé.") % {"year": year})
    return redirect("contracts:detail", pk=contract.pk)
