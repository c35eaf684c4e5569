"""Staff pages to build a contract (programme managers only; anyone else gets a 404): create it,
add its parts, attach programmes, add signatories and record commitments. Each page calls one
contracts service; a broken rule shows next to its field (HTTP 400), nothing half-written."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contracts import services as cs
from contracts.models import Contract
from contracts.selectors import can_manage_contracts
from core.errors import DomainError
from core.forms import add_domain_error

from .common import get_contract, user_of
from .forms_manage import (
    AttachProgrammeForm,
    CommitmentForm,
    ContractForm,
    PartForm,
    SignatoryForm,
)


def _require_manager(request: HttpRequest) -> None:
    if not can_manage_contracts(user_of(request)):
        raise Http404


def _form_page(
    request: HttpRequest, form: forms.Form, *, title: Any, contract: Contract | None
) -> HttpResponse:
    return render(
        request,
        "contracts/manage_form.html",
        {"form": form, "title": title, "contract": contract},
        status=400 if form.errors else 200,
    )


@login_required
def contract_new(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    form = ContractForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            contract = cs.contract_create(
                actor=user_of(request), **{**data, "qpvs": list(data["qpvs"])}
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, _("Contrat créé : ajoutez ses volets et ses signataires."))
            return redirect("contracts:detail", pk=contract.pk)
    return _form_page(request, form, title=gettext_lazy("Nouveau contrat de ville"), contract=None)


def _contract_form(
    request: HttpRequest,
    pk: int,
    form_class: type[forms.Form],
    title: Any,
    save: Any,
    done: Any,
    *,
    form_kwargs: Callable[[Contract], dict[str, Any]],
) -> HttpResponse:
    _require_manager(request)
    contract = get_contract(request, pk)
    form = form_class(request.POST or None, **form_kwargs(contract))
    if request.method == "POST" and form.is_valid():
        try:
            save(actor=user_of(request), contract=contract, **form.cleaned_data)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, done)
            if request.POST.get("again"):
                return redirect(request.path)
            return redirect("contracts:detail", pk=contract.pk)
    return _form_page(request, form, title=title, contract=contract)


def _no_kwargs(contract: Contract) -> dict[str, Any]:
    return {}


def _with_contract(contract: Contract) -> dict[str, Any]:
    return {"contract": contract}


@login_required
def part_new(request: HttpRequest, pk: int) -> HttpResponse:
    return _contract_form(
        request,
        pk,
        PartForm,
        gettext_lazy("Ajouter un volet"),
        cs.part_add,
        _("Volet ajouté."),
        form_kwargs=_no_kwargs,
    )


def _attach(*, actor: Any, contract: Contract, part: Any, programme: Any) -> Any:
    return cs.part_attach_programme(actor=actor, part=part, programme=programme)


@login_required
def programme_attach(request: HttpRequest, pk: int) -> HttpResponse:
    return _contract_form(
        request,
        pk,
        AttachProgrammeForm,
        gettext_lazy("Rattacher un programme à un volet"),
        _attach,
        _("Programme rattaché."),
        form_kwargs=_with_contract,
    )


@login_required
def signatory_new(request: HttpRequest, pk: int) -> HttpResponse:
    return _contract_form(
        request,
        pk,
        SignatoryForm,
        gettext_lazy("Ajouter un signataire"),
        cs.signatory_add,
        _("Signataire ajouté."),
        form_kwargs=_no_kwargs,
    )


@login_required
def commitment_new(request: HttpRequest, pk: int) -> HttpResponse:
    return _contract_form(
        request,
        pk,
        CommitmentForm,
        gettext_lazy("Enregistrer un engagement"),
        cs.commitment_record,
        _("Engagement enregistré."),
        form_kwargs=_with_contract,
    )
