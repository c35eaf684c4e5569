"""Decisions on an application: approval (amount, years, envelope guard), refusal, reopening."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from calls.models import CommitteeDecisionMode
from core.clock import now
from core.errors import PermissionDenied, TransitionNotAllowed
from core.fsm import lock
from core.models import Role, User
from core.notifications import Msg
from core.permissions import has_role

from ..models import (
    Application,
    CommitteeSession,
    CommitteeSessionState,
)
from ..selectors import (
    pending_completion_request,
)
from .approval import COMMITTEE, Approval, application_grant, check_amount
from .workflow import (
    S,
    _check,
    _notify_applicants,
    _transition,
)

# --------------------------------------------------------------------------- the session rule


def may_record_decisions(actor: User, session: CommitteeSession) -> bool:
    """The chair of the session, or a programme manager (who may also open and close it)."""
    return (session.chair_id is not None and actor.pk == session.chair_id) or has_role(
        actor, Role.PROGRAMME_MANAGER
    )


def check_open_session(
    *,
    actor: User,
    application: Application,
    session: CommitteeSession | None,
    vote_counted: bool = False,
) -> CommitteeSession | None:
    """A committee decision is recorded only during the open session the file is on, by its
    chair (or a programme manager), with the programme's quorum present; where the programme
    decides by vote, only as the counted outcome of the members' votes
    (grants.services.committee.committee_record_decisions). Issue #16: a member alone could decide
    a file while its session was still planned.

    A file not « en comité » is left to the transition, which refuses it with the actions
    allowed now."""
    if application.state != S.IN_COMMITTEE:
        return session
    if session is None and application.committee_session_id is not None:
        session = (
            CommitteeSession.objects.select_related("programme")
            .filter(pk=application.committee_session_id)
            .first()
        )
    if session is None or application.committee_session_id != session.pk:
        raise TransitionNotAllowed(
            _(
                "Ce dossier n'est inscrit à aucune séance de comité : il se décide pendant une "
                "séance ouverte."
            )
        )
    check_session_open(session)
    if not may_record_decisions(actor, session):
        raise PermissionDenied(
            _(
                "Seul le ou la président·e de séance (ou un·e responsable de programme) "
                "enregistre les décisions du comité."
            )
        )
    quorum = session.programme.committee_quorum
    present = session.present.count()
    if present < quorum:
        raise TransitionNotAllowed(
            _("Quorum non atteint : %(present)d membre(s) présent(s) pour %(quorum)d requis.")
            % {"present": present, "quorum": quorum}
        )
    if session.programme.committee_decision_mode == CommitteeDecisionMode.VOTE and not vote_counted:
        raise TransitionNotAllowed(
            _(
                "Ce programme décide par un vote des membres présents : enregistrez les voix "
                "sur la page de la séance."
            )
        )
    return session


def check_session_open(session: CommitteeSession) -> None:
    """TransitionNotAllowed, saying why, unless the session is open."""
    labels = {"title": session.title, "date": date_format(session.date, "SHORT_DATE_FORMAT")}
    if session.state == CommitteeSessionState.PLANNED:
        raise TransitionNotAllowed(
            _(
                "La séance « %(title)s » du %(date)s n'est pas encore ouverte : aucune décision "
                "ne peut y être enregistrée."
            )
            % labels
        )
    if session.state != CommitteeSessionState.OPEN:
        raise TransitionNotAllowed(
            _("La séance « %(title)s » du %(date)s est close : elle ne prend plus de décision.")
            % labels
        )


# --------------------------------------------------------------------------- decisions


def _refuse_if_cofunded(application: Application) -> None:
    """A co-funded file is decided part by part, by each funder (grants.services.cofunding); the
    file follows once every part is decided."""
    if application.funder_parts.count() > 1:
        raise TransitionNotAllowed(
            _(
                "Ce dossier est cofinancé : chaque financeur décide sa part (tableau des "
                "financeurs), et le dossier suit leurs décisions."
            ),
            allowed=[],
        )


def _part_follows(actor: User, application: Application) -> None:
    """A file with one funder's part: the part follows the decision (grants.services.cofunding;
    imported here, as it builds on this module)."""
    from .cofunding import part_follow_file

    part_follow_file(actor=actor, application=application)


def application_approve(
    *,
    actor: User,
    application: Application,
    amount: Decimal,
    conditions: str = "",
    is_multi_year: bool = False,
    envelope_override_reason: str = "",
    reason: str = "",
    yearly_amounts: dict[int, Decimal] | None = None,
    payment_flow: str = "",
    session: CommitteeSession | None = None,
    vote_counted: bool = False,
) -> Application:
    """The committee grants the subsidy, under the rules every approval shares
    (grants.services.approval): amount ≤ requested, no pending completion request, years, the
    envelope guard with an audited override, one audit row, the notification — and only during
    the open session the file is on (`check_open_session`)."""
    check_amount(amount, amount)  # positive, to the cent; ≤ requested once the row is read
    with transaction.atomic():
        application = lock(application)
        if application.state == S.APPROVED:
            return application
        _check(actor, application, "approve")
        _refuse_if_cofunded(application)
        check_open_session(
            actor=actor, application=application, session=session, vote_counted=vote_counted
        )
        return application_grant(
            actor=actor,
            application=application,
            path=COMMITTEE,
            approval=Approval(
                amount=amount,
                reason=reason,
                conditions=conditions,
                is_multi_year=is_multi_year,
                yearly_amounts=yearly_amounts,
                envelope_override_reason=envelope_override_reason,
                payment_flow=payment_flow or None,
            ),
        )


def application_reject(
    *,
    actor: User,
    application: Application,
    reason: str,
    session: CommitteeSession | None = None,
    vote_counted: bool = False,
) -> Application:
    """The committee refuses the subsidy, with a reason, during the open session the file is on."""
    with transaction.atomic():
        application = lock(application)
        if application.state == S.REJECTED:
            return application
        _check(actor, application, "reject")
        _refuse_if_cofunded(application)
        check_open_session(
            actor=actor, application=application, session=session, vote_counted=vote_counted
        )
        if pending_completion_request(application) is not None:
            raise TransitionNotAllowed(
                _(
                    "Une demande de compléments est en attente : le dossier ne peut pas "
                    "être décidé."
                ),
                allowed=[],
            )
        application.decision_reason = (reason or "").strip()
        application.decided_at = now()
        application.decided_by = actor
        application = _transition(
            application,
            "reject",
            actor=actor,
            reason=reason,
            update_fields=["decision_reason", "decided_at", "decided_by"],
        )
        _part_follows(actor, application)
        _notify_applicants(
            application,
            Msg(gettext_noop("Subvention refusée : dossier %(ref)s"), ref=application.reference),
            reason,
        )
    return application


def application_reopen(*, actor: User, application: Application, reason: str) -> Application:
    """A programme manager reopens a decided file (back to instruction), with a reason."""
    with transaction.atomic():
        application = lock(application)
        if application.state == S.UNDER_REVIEW:
            return application
        before = {"approved_amount": application.approved_amount, "state": application.state}
        application = _transition(
            application,
            "reopen",
            actor=actor,
            reason=reason,
            payload=before,
            update_fields=["approved_amount", "decided_at", "decided_by"],
        )
        _part_follows(actor, application)
    return application
