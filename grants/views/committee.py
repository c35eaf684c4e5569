"""Committee sessions: the list (and a new session), the agenda with proposals and ONE form that
records every decision of the session (grants.services.committee_record_decisions)."""

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

from core.errors import DomainError
from core.models import Role
from core.permissions import has_role

from .. import services
from ..forms import DecisionForm, MinutesForm, SessionCreateForm, add_domain_error
from ..models import CommitteeSession
from ..selectors import applications_visible_to, committee_agenda, committee_envelope
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
    """The agenda and the session's decisions form; only deciders (committee, managers) record."""
    _require_reader(request)
    session = get_object_or_404(CommitteeSession.objects.select_related("programme", "call"), pk=pk)
    agenda = _agenda(request, session)
    can_decide = has_role(request.user, Role.COMMITTEE_MEMBER, Role.PROGRAMME_MANAGER)
    data = request.POST if request.method == "POST" else None
    if data is not None and not can_decide:
        raise PermissionDenied
    rows = [{"application": a, "form": DecisionForm(data, application=a)} for a in agenda]
    minutes_form = MinutesForm(data, initial={"minutes": session.minutes}, prefix="session")
    status, error = 200, ""
    if data is not None:
        valid = [row["form"].is_valid() for row in rows] + [
            minutes_form.is_valid()
        ]  # every error shown
        if all(valid):
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
                error = error_message(exc)
                if target is not None:
                    add_domain_error(target["form"], exc)
                    error = f"{target['application'].reference} : {error}"
                status = exc.status_code
            else:
                messages.success(
                    request,
                    ngettext(
                        "%(n)d décision enregistrée. La séance est tenue.",
                        "%(n)d décisions enregistrées. La séance est tenue.",
                        len(done),
                    )
                    % {"n": len(done)},
                )
                return redirect("grants:committee_detail", pk=session.pk)
        else:
            status, error = 400, _("Le formulaire contient des erreurs.")
    return render(
        request,
        "grants/committee_detail.html",
        _context(session, rows, minutes_form, can_decide, error),
        status=status,
    )


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
