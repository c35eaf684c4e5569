"""« Avenant sur les parts des partenaires » on the page of an agreement paid to each partner
(docs/domain.md §9): one amount per payee and fiscal year, a reason and an effective date; the
service (cpo.services_changes.amendment_partner_parts) checks and writes."""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.errors import DomainError
from core.http import AuthenticatedHttpRequest
from core.models import Organisation

from .. import services_changes
from ..models import Amendment
from .agreements import _managed, _render
from .common import get_visible


@login_required
@require_POST
def agreement_amend_parts(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    agreement = _managed(request, pk)
    parts: dict[int | None, dict[int, str]] = {}
    for row in services_changes.payee_parts(agreement):
        for cell in row["years"]:
            value = request.POST.get(f"part_{row['key']}_{cell['year']}", "").strip()
            if value:
                parts.setdefault(None if row["is_lead"] else row["key"], {})[cell["year"]] = value
    effective_on: datetime.date | None
    try:
        effective_on = datetime.date.fromisoformat(request.POST.get("effective_on", ""))
    except ValueError:
        effective_on = None
    try:
        if effective_on is None:
            raise DomainError(_("La date d'effet doit être une date."), field="effective_on")
        amendment = services_changes.amendment_partner_parts(
            actor=request.user,
            agreement=agreement,
            reason=request.POST.get("reason", "")[:5000],
            effective_on=effective_on,
            parts=parts,
        )
    except DomainError as exc:
        return _refused(request, pk, exc)
    return _recorded(
        request,
        pk,
        _("L'avenant est enregistré : la convention passe en version %(v)s."),
        amendment,
    )


@login_required
@require_POST
def agreement_remove_partner(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """« Retirer un partenaire par avenant »: the service (amendment_partner_remove) checks."""
    agreement = _managed(request, pk)
    partners = {
        str(row["key"]): row["key"]
        for row in services_changes.payee_parts(agreement)
        if not row["is_lead"]
    }
    effective_on: datetime.date | None
    try:
        effective_on = datetime.date.fromisoformat(request.POST.get("effective_on", ""))
    except ValueError:
        effective_on = None
    try:
        organisation = Organisation.objects.filter(
            pk=partners.get(request.POST.get("organisation", ""), 0)
        ).first()
        if organisation is None:
            raise DomainError(_("Choisissez le partenaire à retirer."), field="organisation")
        if effective_on is None:
            raise DomainError(_("La date d'effet doit être une date."), field="effective_on")
        amendment = services_changes.amendment_partner_remove(
            actor=request.user,
            agreement=agreement,
            organisation=organisation,
            reason=request.POST.get("reason", "")[:5000],
            effective_on=effective_on,
            reallocate=request.POST.get("reallocate") == "lead",
        )
    except DomainError as exc:
        return _refused(request, pk, exc)
    return _recorded(
        request,
        pk,
        _("Le partenaire est retiré : la convention passe en version %(v)s."),
        amendment,
    )


def _refused(request: AuthenticatedHttpRequest, pk: int, exc: DomainError) -> HttpResponse:
    """The agreement's page again, with the service's reason and its status."""
    return _render(
        request,
        get_visible(request, pk, detail=True),
        status=exc.status_code,
        error=str(exc.message),
    )


def _recorded(
    request: AuthenticatedHttpRequest, pk: int, message: str, amendment: Amendment
) -> HttpResponse:
    """Back to the agreement, saying which version the amendment made."""
    messages.success(request, message % {"v": amendment.version})
    return redirect("cpo:agreement_detail", pk=pk)
