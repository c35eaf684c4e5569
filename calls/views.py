"""Pages of calls: the public list and detail, and the programme manager's state buttons.

Views read, call one service and render; the rules live in calls.services.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from core.audit import history_for
from core.errors import DomainError
from core.forms import transition_error_message
from core.models import Role
from core.permissions import has_role, is_staff_member, organisation_ids_of

from .models import Call, CallState
from .selectors import PUBLIC_STATES, calls_readable_by
from .services import CALL_TRANSITION_ACTIONS
from .services import call_transition as call_transition_service

TRANSITION_LABELS = {
    "publish": gettext_lazy("Publier l'appel"),
    "open": gettext_lazy("Ouvrir les candidatures"),
    "close": gettext_lazy("Clore les candidatures"),
    "deliberate": gettext_lazy("Passer en délibération"),
    "decide": gettext_lazy("Marquer comme décidé"),
    "archive": gettext_lazy("Archiver l'appel"),
}


def _with_rules(qs: QuerySet[Call]) -> QuerySet[Call]:
    return qs.select_related("programme").prefetch_related("eligible_qpvs", "eligible_pillars")


def _readable_calls(request: HttpRequest) -> QuerySet[Call]:
    return calls_readable_by(request.user)


def call_list(request: HttpRequest) -> HttpResponse:
    """Open and published calls for everyone; programme managers also see the others."""
    calls = _with_rules(Call.objects.filter(state__in=PUBLIC_STATES)).order_by("closes_at", "pk")
    other_calls = None
    if has_role(request.user, Role.PROGRAMME_MANAGER):
        other_calls = Call.objects.exclude(state__in=PUBLIC_STATES).select_related("programme")
    return render(request, "calls/call_list.html", {"calls": calls, "other_calls": other_calls})


def _detail_context(request: HttpRequest, call: Call) -> dict:
    is_manager = has_role(request.user, Role.PROGRAMME_MANAGER)
    transitions = []
    if is_manager:
        transitions = [
            {"name": t.name, "label": TRANSITION_LABELS.get(t.name, t.name)}
            for t in call.get_available_state_transitions()
            if t.name in CALL_TRANSITION_ACTIONS
        ]
    return {
        "call": call,
        "can_apply": call.state == CallState.OPEN and bool(organisation_ids_of(request.user)),
        "is_manager": is_manager,
        "transitions": transitions,
        "criteria": call.criteria.all(),
        # The call's own history (publication, opening, closing…) for the staff who run it.
        "history": history_for(call) if is_staff_member(request.user) else None,
    }


def call_detail(request: HttpRequest, pk: int) -> HttpResponse:
    call = get_object_or_404(_with_rules(_readable_calls(request)), pk=pk)
    return render(request, "calls/call_detail.html", _detail_context(request, call))


def _error_message(exc: DomainError) -> str:
    return transition_error_message(exc, TRANSITION_LABELS)


@login_required
@require_POST
def call_transition(request: HttpRequest, pk: int, name: str) -> HttpResponse:
    """Run one state transition of a call (programme managers; the service checks)."""
    call = get_object_or_404(_readable_calls(request), pk=pk)
    if not has_role(request.user, Role.PROGRAMME_MANAGER):
        raise Http404
    try:
        call_transition_service(
            call=call, name=name, actor=request.user, reason=request.POST.get("reason", "")
        )
    except DomainError as exc:
        context = _detail_context(request, _with_rules(Call.objects).get(pk=call.pk))
        context["error"] = _error_message(exc)
        return render(request, "calls/call_detail.html", context, status=exc.status_code)
    messages.success(request, _("L'état de l'appel est mis à jour."))
    return redirect("calls:call_detail", pk=call.pk)
