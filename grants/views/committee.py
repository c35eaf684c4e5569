"""Committee sessions: the list (and a new session); a session's page: opening it with the
attendance, the agenda with proposals and ONE form that records every decision of the open session
(grants.services.committee_record_decisions), closing it."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from calls.models import CommitteeDecisionMode
from core.errors import DomainError
from core.models import Role
from core.permissions import has_role

from .. import services
from ..forms import (
    DecisionForm,
    MinutesForm,
    SessionCreateForm,
    SessionOpenForm,
    VoteDecisionForm,
    add_domain_error,
)
from ..models import CommitteeSession
from ..selectors import applications_visible_to, committee_agenda, committee_envelope
from ..services.decision import may_record_decisions
from .common import error_message

READERS = (Role.COMMITTEE_MEMBER, Role.PROGRAMME_MANAGER, Role.INSTRUCTOR, Role.AUDITOR)


def _require_reader(request: HttpRequest) -> None:
    if not has_role(request.user, *READERS):
        raise PermissionDenied


@login_required
def committee_list(request: HttpRequest) -> HttpResponse:
    _require_reader(request)
    can_create = has_role(request.user, Role.PROGRAMME_MANAGER, Role.INSTRUCTOR)
    form = SessionCreateForm(request.POST or None) if can_create else None
    status = 200
    if request.method == "POST":
        if form is None:
            raise PermissionDenied
        if form.is_valid():
            data = form.cleaned_data
            try:
                session = services.committee_session_create(
                    actor=request.user,
                    programme=data["programme"],
                    call=data["call"],
                    title=data["title"],
                    date=data["date"],
                    chair=data.get("chair"),
                )
            except DomainError as exc:
                add_domain_error(form, exc)
                status = exc.status_code
            else:
                messages.success(
                    request, _("La séance « %(title)s » est créée.") % {"title": session.title}
                )
                return redirect("grants:committee_detail", pk=session.pk)
        else:
            status = 400
    sessions = CommitteeSession.objects.select_related("programme", "call").order_by("-date", "-id")
    return render(
        request, "grants/committee_list.html", {"sessions": sessions, "form": form}, status=status
    )


def _agenda(request: HttpRequest, session: CommitteeSession) -> list:
    visible = applications_visible_to(request.user).values("pk")
    return list(committee_agenda(session).filter(pk__in=visible))


@login_required
def committee_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The session's page: opening it (chair, members present, quorum) while planned; the agenda
    and ONE form recording its decisions (by the chair, or the members' votes) while open; its
    closing with the minutes. Only its chair or a programme manager acts; the others read."""
    _require_reader(request)
    session = get_object_or_404(
        CommitteeSession.objects.select_related("programme", "call", "chair"), pk=pk
    )
    agenda = _agenda(request, session)
    can_act = may_record_decisions(request.user, session)
    action = request.POST.get("action", "decide") if request.method == "POST" else None
    if action is not None and not can_act:
        raise PermissionDenied
    by_vote = session.programme.committee_decision_mode == CommitteeDecisionMode.VOTE
    present = list(session.present.order_by("last_name", "first_name", "email"))
    is_open = session.state == CommitteeSession.State.OPEN
    data = request.POST if action == "decide" else None
    rows = [{"application": a, "form": _decision_form(data, a, by_vote, present)} for a in agenda]
    minutes_form = MinutesForm(
        request.POST if action in ("decide", "close") else None,
        initial={"minutes": session.minutes},
        prefix="session",
    )
    open_form = SessionOpenForm(request.POST if action == "open" else None, session=session)
    status, error = 200, ""
    try:
        if action == "open":
            if not open_form.is_valid():
                raise _Invalid
            services.committee_session_open(
                actor=request.user,
                session=session,
                chair=open_form.cleaned_data["chair"],
                present=open_form.cleaned_data["present"],
            )
            messages.success(
                request, _("La séance est ouverte : les décisions peuvent être prises.")
            )
            return redirect("grants:committee_detail", pk=session.pk)
        if action == "close":
            if not minutes_form.is_valid():
                raise _Invalid
            services.committee_session_close(
                actor=request.user, session=session, minutes=minutes_form.cleaned_data["minutes"]
            )
            messages.success(request, _("La séance est close."))
            return redirect("grants:committee_detail", pk=session.pk)
        if action == "decide":
            valid = [row["form"].is_valid() for row in rows] + [minutes_form.is_valid()]
            if not all(valid):  # every error shown
                raise _Invalid
            decisions = [
                row["form"].service_row()
                for row in rows
                if row["form"].cleaned_data["decision"] != "defer"
            ]
            try:
                with transaction.atomic():
                    done = services.committee_record_decisions(
                        actor=request.user,
                        session=session,
                        decisions=decisions,
                        minutes=minutes_form.cleaned_data["minutes"],
                    )
            except DomainError as exc:
                failing = getattr(exc, "application_id", None)
                target = next((row for row in rows if row["application"].pk == failing), None)
                status, error = exc.status_code, error_message(exc)
                if target is not None:
                    add_domain_error(target["form"], exc)
                    error = f"{target['application'].reference} : {error}"
            else:
                messages.success(
                    request,
                    ngettext(
                        "%(n)d décision enregistrée.", "%(n)d décisions enregistrées.", len(done)
                    )
                    % {"n": len(done)},
                )
                return redirect("grants:committee_detail", pk=session.pk)
    except _Invalid:
        status, error = 400, _("Le formulaire contient des erreurs.")
    except DomainError as exc:
        form = open_form if action == "open" else None
        if form is not None:
            add_domain_error(form, exc)
        status, error = exc.status_code, error_message(exc)
    return render(
        request,
        "grants/committee_detail.html",
        {
            **_context(session, rows, minutes_form, can_act and is_open, error),
            "can_act": can_act,
            "open_form": open_form,
            "present": present,
            "by_vote": by_vote,
        },
        status=status,
    )


class _Invalid(Exception):
    """A form of the page did not validate (its errors are shown next to the fields)."""


def _decision_form(data: Any, application: Any, by_vote: bool, present: list) -> DecisionForm:
    if by_vote:
        return VoteDecisionForm(data, application=application, members=present)
    return DecisionForm(data, application=application)


def _context(
    session: CommitteeSession, rows: list, minutes_form: MinutesForm, can_decide: bool, error: str
) -> dict[str, Any]:
    return {
        "session": session,
        "rows": rows,
        "minutes_form": minutes_form,
        "can_decide": can_decide and bool(rows),
        "envelope": committee_envelope(session, [row["application"] for row in rows]),
        "decided": session.applications.exclude(state="in_committee").select_related(
            "organisation"
        ),
        "error": error,
    }
