"""Committee sessions: creating one and recording its decisions, all or nothing."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from calls.models import Call, Programme
from core.audit import audit_log
from core.errors import DomainError, PermissionDenied
from core.fsm import lock
from core.models import Role, User
from core.permissions import has_role

from ..models import (
    Application,
    CommitteeSession,
)
from .decision import application_approve, application_reject
from .workflow import (
    S,
)


def committee_session_create(
    *, actor: User, programme: Programme, title: str, date: date, call: Call | None = None
) -> CommitteeSession:
    if not has_role(actor, Role.PROGRAMME_MANAGER, Role.INSTRUCTOR):
        raise PermissionDenied(_("Vous ne pouvez pas créer de séance de comité."))
    if not (title or "").strip():
        raise DomainError(_("Donnez un intitulé à la séance."), field="title")
    with transaction.atomic():
        session = CommitteeSession.objects.create(
            programme=programme, call=call, title=title.strip(), date=date
        )
        audit_log(actor=actor, obj=session, action="grants.committee.created")
    return session


def committee_record_decisions(
    *, actor: User, session: CommitteeSession, decisions: list[dict[str, Any]], minutes: str = ""
) -> list[Application]:
    """Record the session's decisions in one place, all or nothing.

    Each decision: {"application": id, "decision": "approve"|"reject"|"defer", "amount", "conditions",
    "is_multi_year", "reason", "envelope_override_reason"}."""
    done: list[Application] = []
    with transaction.atomic():
        session = lock(session)
        for row in decisions:
            # The agenda: files of this session, or of its programme still waiting for a session.
            application = Application.objects.filter(
                Q(committee_session=session)
                | Q(
                    committee_session__isnull=True,
                    programme_id=session.programme_id,
                    state=S.IN_COMMITTEE,
                )
            ).get(pk=row["application"])
            kind = row.get("decision")
            try:
                if kind in ("approve", "reject") and application.committee_session_id is None:
                    application.committee_session = session
                    application.save(update_fields=["committee_session", "updated_at"])
                if kind == "approve":
                    done.append(
                        application_approve(
                            actor=actor,
                            application=application,
                            amount=row.get("amount"),
                            conditions=row.get("conditions", ""),
                            is_multi_year=bool(row.get("is_multi_year")),
                            envelope_override_reason=row.get("envelope_override_reason", ""),
                            reason=row.get("reason", ""),
                        )
                    )
                elif kind == "reject":
                    done.append(
                        application_reject(
                            actor=actor, application=application, reason=row.get("reason", "")
                        )
                    )
            except DomainError as exc:
                exc.application_id = (
                    application.pk
                )  # lets the session form show the error on its row
                raise
        if minutes.strip():
            session.minutes = minutes.strip()
        session.state = CommitteeSession.State.HELD
        session.save(update_fields=["minutes", "state"])
        audit_log(
            actor=actor,
            obj=session,
            action="grants.committee.held",
            payload={"decisions": len(done)},
        )
    return done
