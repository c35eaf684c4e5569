"""The funders' parts on the file's page (issue 15): the table every reader of the file sees, the
forms of the part's own funder's agents (propose, decide, private note), and the applicant's
answer to a budget revision. Every write goes through grants.services.cofunding."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.errors import DomainError
from core.http import AuthenticatedHttpRequest
from core.permissions import is_staff_member

from .. import services
from ..models import Application, FunderPart, FunderPartState
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


def funder_parts_context(user: Any, application: Application) -> dict[str, Any]:
    """The rows of the parts table, with what this user may see and do on each."""
    parts = list(application.funder_parts.select_related("funder", "programme").order_by("pk"))
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
    """The applicant confirms its budget as it is (a revision of the lines goes through the
    file's budget API, `/api/budget-revisions/<id>/revise/`)."""
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


def _refused(request: HttpRequest, application: Application, exc: DomainError) -> HttpResponse:
    from .detail import _render

    return _render(request, application, status=exc.status_code, error=error_message(exc))
