"""Contract pages (/contrats/): the list, one contract with its parts, signatories, commitments
against what was committed and paid, the representatives' reports and the conseils citoyens'
opinions. Anyone without a role on the contract (or a staff role) gets a 404."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from contracts import services as cs
from contracts.models import Commitment, Opinion
from contracts.selectors import (
    can_manage_contracts,
    can_steer,
    citizen_qpvs,
    contracts_readable_by,
    represented_signatories,
)
from core.audit import history_for
from core.clock import today
from core.errors import DomainError
from core.forms import add_domain_error

from . import selectors as follow
from .common import get_contract, user_of
from .forms import CommitmentReportForm, OpinionForm

COMMITMENTS_PER_PAGE = 50
CONTRACTS_PER_PAGE = 50


@login_required
def contract_list(request: HttpRequest) -> HttpResponse:
    contracts = contracts_readable_by(user_of(request)).prefetch_related("qpvs")
    page = Paginator(contracts, CONTRACTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "contracts/contract_list.html",
        {"contracts": page, "can_manage": can_manage_contracts(user_of(request))},
    )


@login_required
def contract_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = user_of(request)
    contract = get_contract(request, pk)
    year_param = request.GET.get("annee", "")
    year = int(year_param) if year_param.isdigit() and int(year_param) in contract.years else None
    mine = {s.pk for s in represented_signatories(user, contract)}
    commitments = contract.commitments.select_related("signatory", "part").order_by(
        "year", "signatory_id", "part__position"
    )
    if year:
        commitments = commitments.filter(year=year)
    opinions = Opinion.objects.filter(contract=contract).select_related("qpv", "part")
    reports = {r.year: r for r in contract.reports.all()}
    context = {
        "contract": contract,
        "parts": contract.parts.prefetch_related("programmes"),
        "signatories": contract.signatories.select_related("funder"),
        "commitments": Paginator(commitments, COMMITMENTS_PER_PAGE).get_page(
            request.GET.get("page")
        ),
        "mine": mine,
        "follow": follow.follow_up(contract, year=year),
        "year": year,
        "opinions": opinions,
        "versions": contract.versions.all(),
        "report_years": [(y, reports.get(y)) for y in contract.years],
        "meetings": contract.meetings.all(),
        "can_manage": can_manage_contracts(user),
        "can_steer": can_steer(user, contract),
        "is_citizen": bool(citizen_qpvs(user, contract)),
        "history": history_for(contract) if can_manage_contracts(user) else [],
    }
    return render(request, "contracts/contract_detail.html", context)


@login_required
def commitment_report(request: HttpRequest, pk: int, commitment_pk: int) -> HttpResponse:
    user = user_of(request)
    contract = get_contract(request, pk)
    commitment = get_object_or_404(Commitment, pk=commitment_pk, contract=contract)
    form = CommitmentReportForm(
        request.POST or None,
        initial={
            "note": commitment.realised_note,
            "realised_amount": commitment.realised_amount,
            "realised_value": commitment.realised_value,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            cs.commitment_report(actor=user, commitment=commitment, **form.cleaned_data)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, _("Réalisation enregistrée."))
            return redirect("contracts:detail", pk=contract.pk)
    return render(
        request,
        "contracts/commitment_report.html",
        {"contract": contract, "commitment": commitment, "form": form},
        status=400 if form.errors else 200,
    )


@login_required
def opinion_form(request: HttpRequest, pk: int) -> HttpResponse:
    """A conseil citoyen member gives the council's opinion on one part for one year."""
    user = user_of(request)
    contract = get_contract(request, pk)
    qpvs = citizen_qpvs(user, contract)
    if not qpvs:
        return render(
            request, "contracts/opinion_form.html", {"contract": contract, "form": None}, status=403
        )
    form = OpinionForm(request.POST or None, contract=contract, qpvs=qpvs)
    if request.method == "POST" and form.is_valid():
        try:
            cs.opinion_give(actor=user, contract=contract, **form.cleaned_data)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, _("L'avis du conseil citoyen est enregistré."))
            return redirect("contracts:detail", pk=contract.pk)
    mine = Opinion.objects.filter(contract=contract, qpv__in=qpvs).select_related("qpv", "part")
    return render(
        request,
        "contracts/opinion_form.html",
        {"contract": contract, "form": form, "opinions": mine},
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def contract_sign(request: HttpRequest, pk: int) -> HttpResponse:
    contract = get_contract(request, pk)
    try:
        cs.contract_sign(actor=user_of(request), contract=contract, signed_on=today())
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("Signature enregistrée."))
    return redirect("contracts:detail", pk=contract.pk)
