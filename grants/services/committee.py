"""Committee sessions: creating, opening (attendance and quorum), recording decisions, closing.

A session is planned, then opened on its day by its chair or a programme manager, who records
the members present — at least the programme's quorum (`Programme.committee_quorum`). While it
is open, its decisions are recorded, all or nothing: by the chair, or, where the programme
decides by vote (`Programme.committee_decision_mode`), as the outcome of the present members'
votes — the majority of votes cast for or against, a tie settled by the chair's vote. Every
decision then goes through the one decision path (`application_approve` / `application_reject`,
grants.services.approval). Closing the session ends its decisions and keeps its minutes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from calls.models import Call, CommitteeDecisionMode, Programme
from core.audit import audit_log
from core.clock import today
from core.errors import DomainError, PermissionDenied
from core.fsm import apply_transition, lock
from core.models import Role, User
from core.permissions import has_role

from ..models import Application, CommitteeSession, CommitteeSessionState, CommitteeVote
from .decision import (
    application_approve,
    application_reject,
    check_session_open,
    may_record_decisions,
)
from .workflow import S

MEMBER_ROLES = (Role.COMMITTEE_MEMBER, Role.PROGRAMME_MANAGER)
Choice = CommitteeVote.Choice


def committee_session_create(
    *,
    actor: User,
    programme: Programme,
    title: str,
    date: date,
    call: Call | None = None,
    chair: User | None = None,
) -> CommitteeSession:
    if not has_role(actor, Role.PROGRAMME_MANAGER, Role.INSTRUCTOR):
        raise PermissionDenied(_("Vous ne pouvez pas créer de séance de comité."))
    if not (title or "").strip():
        raise DomainError(_("Donnez un intitulé à la séance."), field="title")
    _check_member(chair, field="chair")
    with transaction.atomic():
        session = CommitteeSession.objects.create(
            programme=programme, call=call, title=title.strip(), date=date, chair=chair
        )
        audit_log(
            actor=actor,
            obj=session,
            action="grants.committee.created",
            payload={"chair": chair.pk if chair else None},
        )
    return session


def _check_member(user: User | None, *, field: str) -> None:
    if user is not None and not has_role(user, *MEMBER_ROLES):
        raise DomainError(
            _("%(name)s n'est pas membre du comité.")
            % {"name": user.get_full_name() or user.email},
            field=field,
        )


def _check_opener(actor: User, session: CommitteeSession) -> None:
    if not may_record_decisions(actor, session):
        raise PermissionDenied(
            _(
                "Seul le ou la président·e de séance ou un·e responsable de programme ouvre et "
                "clôt la séance."
            )
        )


def committee_session_open(
    *,
    actor: User,
    session: CommitteeSession,
    present: Iterable[User],
    chair: User | None = None,
) -> CommitteeSession:
    """Open the session on its day with the attendance: the chair present, at least the
    programme's quorum of members present. Audited with the list of those present."""
    present = list(dict.fromkeys(present))
    with transaction.atomic():
        session = lock(session)
        if session.state == CommitteeSessionState.OPEN:
            return session
        _check_opener(actor, session)
        chair = chair or session.chair
        if session.state == CommitteeSessionState.PLANNED and session.date > today():
            raise DomainError(
                _("La séance est prévue le %(date)s : elle ne peut pas être ouverte avant.")
                % {"date": date_format(session.date, "SHORT_DATE_FORMAT")},
                code="session_not_yet",
            )
        if chair is None:
            raise DomainError(_("Désignez le ou la président·e de séance."), field="chair")
        _check_member(chair, field="chair")
        for user in present:
            _check_member(user, field="present")
        if chair not in present:
            raise DomainError(
                _("Le ou la président·e de séance doit figurer parmi les membres présents."),
                field="present",
            )
        quorum = session.programme.committee_quorum
        if len(present) < quorum:
            raise DomainError(
                _(
                    "Quorum non atteint : %(present)d membre(s) présent(s) pour %(quorum)d "
                    "requis. La séance ne peut pas être ouverte."
                )
                % {"present": len(present), "quorum": quorum},
                field="present",
                code="quorum_not_reached",
            )
        session.chair = chair
        session.present.set(present)
        return apply_transition(
            session,
            "open",
            actor=actor,
            action="grants.committee.opened",
            payload={"chair": chair.pk, "present": [u.pk for u in present], "quorum": quorum},
            update_fields=["chair", "opened_at"],
        )


def committee_session_close(
    *, actor: User, session: CommitteeSession, minutes: str = ""
) -> CommitteeSession:
    """Close the open session (its chair or a programme manager): no decision afterwards. Files
    of its agenda not decided stay « en comité » for a later session."""
    with transaction.atomic():
        session = lock(session)
        if session.state == CommitteeSessionState.CLOSED:
            return session
        _check_opener(actor, session)
        if minutes.strip():
            session.minutes = minutes.strip()
        decided = session.applications.exclude(state=S.IN_COMMITTEE).count()
        return apply_transition(
            session,
            "close",
            actor=actor,
            action="grants.committee.closed",
            payload={"decisions": decided},
            update_fields=["minutes", "closed_at"],
        )


def vote_outcome(votes: Mapping[int, str], *, chair_id: int | None) -> tuple[str, dict[str, int]]:
    """The outcome of a vote: « approve » or « reject » by the majority of the votes cast for or
    against (abstentions not counted); a tie is settled by the chair's vote. DomainError if the
    tie cannot be settled (the chair abstained)."""
    tally = Counter(votes.values())
    counts = {c.value: tally.get(c.value, 0) for c in Choice}
    if counts[Choice.APPROVE] > counts[Choice.REJECT]:
        return Choice.APPROVE.value, counts
    if counts[Choice.REJECT] > counts[Choice.APPROVE]:
        return Choice.REJECT.value, counts
    chair_vote = votes.get(chair_id) if chair_id is not None else None
    if chair_vote in (Choice.APPROVE, Choice.REJECT):
        return str(chair_vote), counts
    raise DomainError(
        _(
            "Égalité des voix : le ou la président·e de séance doit voter pour ou contre pour "
            "départager."
        ),
        field="votes",
        code="vote_tie",
    )


def _count_votes(
    *, session: CommitteeSession, application: Application, votes: Mapping[Any, Any] | None
) -> tuple[str, dict[str, int]]:
    present = {u.pk for u in session.present.all()}
    given = {int(k): str(v) for k, v in (votes or {}).items() if v}
    if set(given) - present:
        raise DomainError(_("Seuls les membres présents votent."), field="votes")
    if set(given) != present:
        raise DomainError(
            _("Indiquez le vote de chaque membre présent (pour, contre ou abstention)."),
            field="votes",
        )
    if any(v not in Choice.values for v in given.values()):
        raise DomainError(_("Vote inconnu."), field="votes")
    outcome, counts = vote_outcome(given, chair_id=session.chair_id)
    CommitteeVote.objects.filter(session=session, application=application).delete()
    CommitteeVote.objects.bulk_create(
        CommitteeVote(session=session, application=application, member_id=pk, choice=choice)
        for pk, choice in given.items()
    )
    return outcome, counts


def committee_record_decisions(
    *, actor: User, session: CommitteeSession, decisions: list[dict[str, Any]], minutes: str = ""
) -> list[Application]:
    """Record decisions of the open session, all or nothing.

    Each decision: {"application": id, "decision": "approve"|"reject"|"defer", "amount",
    "conditions", "is_multi_year", "reason", "envelope_override_reason"}; where the programme
    decides by vote, "votes": {member id: "approve"|"reject"|"abstain"} for every member present,
    and the decision is the vote's outcome ("decision": "vote"; "defer" leaves the file for a
    later session). The session stays open until it is closed (`committee_session_close`)."""
    done: list[Application] = []
    with transaction.atomic():
        session = lock(session)
        by_vote = session.programme.committee_decision_mode == CommitteeDecisionMode.VOTE
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
                if kind == "defer":
                    continue
                check_session_open(session)
                counts: dict[str, int] = {}
                if by_vote:
                    kind, counts = _count_votes(
                        session=session, application=application, votes=row.get("votes")
                    )
                if kind in ("approve", "reject") and application.committee_session_id is None:
                    application.committee_session = session
                    application.save(update_fields=["committee_session", "updated_at"])
                if kind == "approve":
                    decided = application_approve(
                        actor=actor,
                        application=application,
                        amount=row.get("amount") or application.proposed_amount,
                        conditions=row.get("conditions", ""),
                        is_multi_year=bool(row.get("is_multi_year")),
                        envelope_override_reason=row.get("envelope_override_reason", ""),
                        reason=row.get("reason", ""),
                        session=session,
                        vote_counted=by_vote,
                    )
                elif kind == "reject":
                    decided = application_reject(
                        actor=actor,
                        application=application,
                        reason=row.get("reason", ""),
                        session=session,
                        vote_counted=by_vote,
                    )
                else:
                    raise DomainError(_("Décision inconnue."), field="decision")
                if by_vote:
                    audit_log(
                        actor=actor,
                        obj=decided,
                        action="grants.committee.vote_recorded",
                        payload={"session": session.pk, "outcome": kind, **counts},
                    )
                done.append(decided)
            except DomainError as exc:
                exc.application_id = (  # type: ignore[attr-defined]
                    application.pk
                )  # lets the session form show the error on its row
                raise
        if minutes.strip() and minutes.strip() != session.minutes:
            session.minutes = minutes.strip()
            session.save(update_fields=["minutes"])
        if done:
            audit_log(
                actor=actor,
                obj=session,
                action="grants.committee.decisions_recorded",
                payload={"decisions": len(done)},
            )
    return done
