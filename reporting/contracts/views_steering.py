"""Steering pages: plan a comité, see its agenda built from the follow-up, record its decisions
(including a reorientation of envelopes between the contract's programmes), close it and download
its minutes as PDF."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from contracts import services as cs
from contracts.models import Meeting
from contracts.selectors import can_steer
from core.errors import DomainError
from core.forms import add_domain_error

from .common import get_contract, user_of
from .documents import render_pdf
from .forms import DecisionForm, MeetingForm, MeetingHoldForm, ReorientForm
from .report import minutes
from .selectors import steering_agenda


@login_required
def meeting_new(request: HttpRequest, pk: int) -> HttpResponse:
    user = user_of(request)
    contract = get_contract(request, pk)
    if not can_steer(user, contract):
        raise Http404
    agenda = steering_agenda(contract)
    form = MeetingForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            meeting = cs.meeting_plan(
                actor=user,
                contract=contract,
                agenda="\n".join(f"- {i.label}" for i in agenda),
                **form.cleaned_data,
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            return redirect("contracts:meeting", pk=contract.pk, meeting_pk=meeting.pk)
    return render(
        request,
        "contracts/meeting_new.html",
        {"contract": contract, "form": form, "agenda": agenda},
        status=400 if form.errors else 200,
    )


@login_required
def meeting_detail(request: HttpRequest, pk: int, meeting_pk: int) -> HttpResponse:
    user = user_of(request)
    contract = get_contract(request, pk)
    meeting = get_object_or_404(Meeting, pk=meeting_pk, contract=contract)
    steer = can_steer(user, contract)
    programmes = cs.contract_programmes(contract)
    forms: dict[str, Form] = {
        "decision": DecisionForm(contract=contract, prefix="decision"),
        "reorient": ReorientForm(programmes=programmes, prefix="reorient"),
        "hold": MeetingHoldForm(prefix="hold"),
    }
    status = 200
    action = request.POST.get("action", "")
    if request.method == "POST":
        if not steer:
            raise Http404
        try:
            if action == "decision":
                form: Form = DecisionForm(request.POST, contract=contract, prefix="decision")
                forms["decision"] = form
                if form.is_valid():
                    cs.decision_record(actor=user, meeting=meeting, **form.cleaned_data)
                    messages.success(request, _("Décision enregistrée."))
                    return redirect("contracts:meeting", pk=pk, meeting_pk=meeting.pk)
            elif action == "reorient":
                form = forms["reorient"] = ReorientForm(
                    request.POST, programmes=programmes, prefix="reorient"
                )
                if form.is_valid():
                    cs.decision_reorient(actor=user, meeting=meeting, **form.cleaned_data)
                    messages.success(
                        request, _("Réorientation enregistrée : enveloppes modifiées.")
                    )
                    return redirect("contracts:meeting", pk=pk, meeting_pk=meeting.pk)
            elif action == "hold":
                form = forms["hold"] = MeetingHoldForm(request.POST, prefix="hold")
                if form.is_valid():
                    cs.meeting_hold(
                        actor=user, meeting=meeting, attendees=[user], **form.cleaned_data
                    )
                    messages.success(request, _("Instance close : le relevé est disponible."))
                    return redirect("contracts:meeting", pk=pk, meeting_pk=meeting.pk)
            else:
                messages.error(request, _("Action inconnue."))
        except DomainError as exc:
            add_domain_error(forms[action], exc)
        status = 400
    context = {
        "contract": contract,
        "meeting": meeting,
        "decisions": meeting.decisions.select_related("part", "from_programme", "to_programme"),
        "programmes": programmes,
        "can_steer": steer,
        **{f"{k}_form": v for k, v in forms.items()},
    }
    return render(request, "contracts/meeting_detail.html", context, status=status)


@login_required
def meeting_minutes_pdf(request: HttpRequest, pk: int, meeting_pk: int) -> HttpResponse:
    contract = get_contract(request, pk)
    meeting = get_object_or_404(Meeting, pk=meeting_pk, contract=contract)
    response = HttpResponse(render_pdf(minutes(meeting)), content_type="application/pdf")
    response["Content-Disposition"] = (
        f'attachment; filename="releve-{meeting.kind}-{meeting.held_on:%Y-%m-%d}.pdf"'
    )
    return response
