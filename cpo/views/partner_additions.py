"""« Ajouter un partenaire par avenant » (docs/domain.md §9, issue 18): the lead or the instruction
proposes from the agreement's page; the proposed organisation accepts or declines on the
proposal's page, where the instruction then signs the amendment. The rules live in
cpo.services_changes.partner_addition."""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from core.errors import DomainError, PermissionDenied
from core.http import AuthenticatedHttpRequest
from core.permissions import has_role, is_member

from .. import services_changes
from ..selectors import is_agreement_staff
from ..selectors_partner_additions import additions_visible_to, organisation_by_siret
from ..services_changes.common import MANAGERS
from .common import get_visible


def _date(value: str) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(value or "")
    except ValueError:
        return None


@login_required
def partner_addition_propose(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    agreement = get_visible(request, pk)
    try:
        services_changes.partner_addition_check_permission(request.user, agreement)
    except PermissionDenied:
        raise Http404 from None
    years = list(agreement.years.order_by("fiscal_year").values_list("fiscal_year", flat=True))
    errors: dict[str, list[str]] = {}
    error = ""
    if request.method == "POST":
        post = request.POST
        try:
            effective_on = _date(post.get("effective_on", ""))
            if effective_on is None:
                raise DomainError(_("La date d'effet doit être une date."), field="effective_on")
            addition = services_changes.partner_addition_propose(
                actor=request.user,
                agreement=agreement,
                organisation=organisation_by_siret(post.get("siret", "")),
                role=post.get("role", "")[:200],
                actions=post.get("actions", "")[:5000],
                parts={y: post.get(f"part_{y}", "").strip() for y in years},
                from_lead=post.get("from_lead") == "on",
                reason=post.get("reason", "")[:5000],
                effective_on=effective_on,
            )
        except DomainError as exc:
            error = str(exc.message)
            errors = {str(field): [error] for field in (exc.errors or {})}
        else:
            messages.success(
                request,
                _("La proposition est envoyée à %(org)s, qui doit l'accepter.")
                % {"org": addition.organisation.name},
            )
            return redirect("cpo:partner_addition", pk=addition.pk)
    return render(
        request,
        "cpo/partner_addition_propose.html",
        {
            "agreement": agreement,
            "years": [{"year": y, "value": request.POST.get(f"part_{y}", "")} for y in years],
            "values": request.POST,
            "error": error,
            "errors": errors,
        },
        status=400 if error else 200,
    )


@login_required
def partner_addition_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    addition = get_object_or_404(additions_visible_to(request.user), pk=pk)
    user = request.user
    is_partner = is_member(user, addition.organisation)
    is_lead = is_member(user, addition.agreement.organisation)
    is_staff = is_agreement_staff(user, addition.agreement) and has_role(user, *MANAGERS)
    return render(
        request,
        "cpo/partner_addition_detail.html",
        {
            "addition": addition,
            "agreement": addition.agreement,
            "parts": sorted(addition.parts.items()),
            "can_answer": is_partner and addition.state == "proposed",
            "can_apply": is_staff and addition.state == "accepted",
            "can_withdraw": (is_staff or is_lead) and addition.state in ("proposed", "accepted"),
            "agreement_visible": is_lead or is_staff,
        },
    )


@login_required
@require_POST
def partner_addition_action(request: AuthenticatedHttpRequest, pk: int, op: str) -> HttpResponse:
    addition = get_object_or_404(additions_visible_to(request.user), pk=pk)
    try:
        if op in ("accept", "decline"):
            services_changes.partner_addition_answer(
                actor=request.user, addition=addition, accept=op == "accept"
            )
        elif op == "apply":
            services_changes.partner_addition_apply(actor=request.user, addition=addition)
        elif op == "withdraw":
            services_changes.partner_addition_withdraw(actor=request.user, addition=addition)
        else:
            raise Http404
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, str(DONE[op]))
    return redirect("cpo:partner_addition", pk=pk)


DONE = {
    "accept": gettext_lazy("Vous avez accepté : l'instruction signera l'avenant."),
    "decline": gettext_lazy("Vous avez refusé de rejoindre la convention."),
    "apply": gettext_lazy("L'avenant est signé : le partenaire est ajouté à la convention."),
    "withdraw": gettext_lazy("La proposition est retirée."),
}
