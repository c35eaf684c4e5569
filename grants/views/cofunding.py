"""The funders' parts on the file's page (issue 15): the table every reader of the file sees, the
forms of the part's own funder's agents (propose, decide, private note), and the applicant's
answer to a budget revision (confirmed as is, or revised line by line on its own page). Every write
goes through grants.services."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.errors import DomainError
from core.forms import error_summary
from core.http import AuthenticatedHttpRequest
from core.permissions import is_staff_member

from .. import services
from ..budget import SUBSIDIES
from ..eligibility import euros
from ..forms import ChargeFormSet, budget_formset
from ..forms_revision import RevisionProductFormSet, revision_initial
from ..models import Application, FunderPart, FunderPartState
from ..selectors import budget_totals
from ..services.cofunding import (
    may_decide_part,
    may_read_private_note,
    may_review_part,
    pending_budget_revision,
)
from ..services.workflow import S, applicant_of
from .common import error_message, get_visible

FP = FunderPartState
PART_ACTIONS = ("start_review", "propose", "decide", "note")


def funder_parts_of(application: Application) -> list[FunderPart]:
    """The file's funder parts with their funders and programmes, in order."""
    return list(application.funder_parts.select_related("funder", "programme").order_by("pk"))


def funder_parts_context(
    user: Any, application: Application, parts: list[FunderPart] | None = None
) -> dict[str, Any]:
    """The rows of the parts table, with what this user may see and do on each (`parts`: as
    `funder_parts_of` returns them, when the caller read them already)."""
    if parts is None:
        parts = funder_parts_of(application)
    staff = is_staff_member(user)
    cofunded = len(parts) > 1
    rows = []
    for part in parts:
        review = may_review_part(user, part)
        decide = may_decide_part(user, part)
        rows.append(
            {
                "part": part,
                "show_proposal": staff,
                "show_note": may_read_private_note(user, part),
                "can_start": review
                and part.state == FP.ASKED
                and application.state in (S.UNDER_REVIEW, S.IN_COMMITTEE),
                "can_propose": review
                and part.state in (FP.ASKED, FP.UNDER_REVIEW, FP.PROPOSED)
                and application.state in (S.UNDER_REVIEW, S.IN_COMMITTEE),
                "can_decide": decide
                and cofunded
                and part.state == FP.PROPOSED
                and application.state == S.IN_COMMITTEE,
                "can_note": review or decide,
            }
        )
    revision = pending_budget_revision(application)
    return {
        "funder_parts": rows,
        "cofunded": cofunded,
        "budget_revision": revision,
        "can_answer_revision": revision is not None and applicant_of(user, application),
    }


@login_required
@require_POST
def part_action(
    request: AuthenticatedHttpRequest, pk: int, part_pk: int, name: str
) -> HttpResponse:
    """One step on one part, from the file's page. Refused: back to the page with the reason."""
    application = get_visible(request, pk)
    if name not in PART_ACTIONS:
        raise Http404
    part = get_object_or_404(FunderPart, pk=part_pk, application=application)
    post = request.POST
    try:
        if name == "start_review":
            services.funder_part_start_review(actor=request.user, part=part)
        elif name == "propose":
            services.funder_part_propose(
                actor=request.user,
                part=part,
                amount=post.get("amount", "").replace(",", ".").strip(),
                note=post.get("note", "")[:5000],
                envelope_override_reason=post.get("envelope_override_reason", "")[:5000],
            )
        elif name == "decide":
            services.funder_part_decide(
                actor=request.user,
                part=part,
                decision=post.get("decision", ""),
                amount=post.get("amount", "").replace(",", ".").strip() or None,
                conditions=post.get("conditions", "")[:5000],
                reason=post.get("reason", "")[:5000],
                reference=post.get("reference", "")[:200],
                envelope_override_reason=post.get("envelope_override_reason", "")[:5000],
            )
        else:
            services.funder_part_set_note(
                actor=request.user, part=part, text=post.get("text", "")[:20000]
            )
    except DomainError as exc:
        return _refused(request, application, exc)
    messages.success(request, _("Part de %(funder)s enregistrée.") % {"funder": part.funder.name})
    return redirect("grants:application_detail", pk=application.pk)


@login_required
@require_POST
def budget_revision_answer(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The applicant confirms its budget as it is (revising its lines is `budget_revision_edit`)."""
    application = get_visible(request, pk)
    revision = pending_budget_revision(application)
    if revision is None:
        raise Http404
    try:
        services.budget_revision_confirm(
            actor=request.user, revision=revision, comment=request.POST.get("comment", "")[:5000]
        )
    except DomainError as exc:
        return _refused(request, application, exc)
    messages.success(request, _("Votre plan de financement est confirmé."))
    return redirect("grants:application_detail", pk=application.pk)


def _revision_forms(application: Application, data: Any = None) -> dict[str, Any]:
    parts = list(application.funder_parts.select_related("funder").order_by("pk"))
    form_kwargs: dict[str, Any] = {"parts": parts}
    if data is not None:
        return {
            "charges": ChargeFormSet(data, prefix="charges"),
            "products": RevisionProductFormSet(data, prefix="products", form_kwargs=form_kwargs),
            "parts": parts,
        }
    charges, products = revision_initial(application)
    product_forms = RevisionProductFormSet(
        prefix="products", initial=products, form_kwargs=form_kwargs
    )
    product_forms.extra = 1
    return {
        "charges": budget_formset(ChargeFormSet, "charges", charges),
        "products": product_forms,
        "parts": parts,
    }


def _mark_funder_lines(products: Any, parts: list[FunderPart]) -> None:
    """Each subsidy line of a funder whose lines do not add up to what it granted gets the amount
    granted next to its field."""
    named: dict[int, Decimal] = defaultdict(Decimal)
    kept = [f for f in products.forms if f.is_kept() and f.cleaned_data.get("account") == SUBSIDIES]
    for form in kept:
        if form.cleaned_data.get("funder"):
            named[form.cleaned_data["funder"]] += form.cleaned_data.get("amount") or Decimal("0")
    granted = {p.funder_id: p for p in parts}
    for form in kept:
        part = granted.get(form.cleaned_data.get("funder") or 0)
        if part is not None and named[part.funder_id] != part.granted_amount:
            form.add_error(
                "amount",
                _("%(funder)s a accordé %(granted)s : indiquez ce montant au compte 74.")
                % {"funder": part.funder.name, "granted": euros(part.granted_amount)},
            )


@login_required
def budget_revision_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The applicant revises its own budget lines so that the plan balances with the amounts
    granted (docs/domain.md §9): each subsidy line names its funder and must carry what that
    funder granted. Nothing is saved unless the whole plan matches (the service checks it in one
    transaction); the errors come back next to their line and in the summary at the top.
    « Ajouter une ligne » works without JavaScript (the form comes back with one more line)."""
    from .applicant import BUDGET_SIDES, _with_one_more_line  # the draft's form, same rules

    application = get_visible(request, pk)
    revision = pending_budget_revision(application)
    if revision is None or not applicant_of(request.user, application):
        raise Http404
    status = 200
    error = ""
    budget_errors: list[str] = []
    forms: dict[str, Any]
    if request.method == "POST":
        data = request.POST
        action = data.get("action", "save")
        added = action.removeprefix("add-") if action.startswith("add-") else ""
        if added in BUDGET_SIDES:
            data = _with_one_more_line(data, added)
        forms = _revision_forms(application, data)
        charges, products = forms["charges"], forms["products"]
        valid = charges.is_valid() and products.is_valid()
        if valid and not added:
            rows = [f.row() for f in [*charges.forms, *products.forms] if f.is_kept()]
            try:
                services.budget_revision_submit(
                    actor=request.user,
                    revision=revision,
                    rows=rows,
                    comment=data.get("comment", "")[:5000],
                )
            except DomainError as exc:
                budget_errors = [str(m) for m in exc.errors.get("budget", [exc.message])]
                _mark_funder_lines(products, forms["parts"])
                status = exc.status_code
                error = error_message(exc) if exc.status_code != 400 else ""
            else:
                messages.success(request, _("Votre budget révisé est enregistré."))
                return redirect("grants:application_detail", pk=application.pk)
        elif not valid:
            status = 400
        if added and forms[added].forms:
            forms[added].forms[-1].fields["account"].widget.attrs["autofocus"] = True
    else:
        forms = _revision_forms(application)
    errors = (
        [{"message": m, "href": "#budget"} for m in budget_errors]
        + error_summary(forms["charges"], forms["products"])
        if request.method == "POST"
        else []
    )
    if errors and not error:
        error = _("Le budget révisé n'est pas enregistré : corrigez les points ci-dessous.")
    return render(
        request,
        "grants/budget_revision.html",
        {
            **forms,
            "application": application,
            "revision": revision,
            "error": error,
            "errors": errors,
            "budget_errors": budget_errors,
            "comment": request.POST.get("comment", "") if request.method == "POST" else "",
            "totals": budget_totals(application),
        },
        status=status,
    )


def _refused(request: HttpRequest, application: Application, exc: DomainError) -> HttpResponse:
    from .detail import _render

    return _render(request, application, status=exc.status_code, error=error_message(exc))
