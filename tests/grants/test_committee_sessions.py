"""Committee sessions (issue #16): planned → open → closed, quorum and attendance at opening,
decisions only during the open session, by the chair or by a vote of the members present."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.apps import apps as django_apps
from django.urls import reverse

from calls.models import CommitteeDecisionMode
from core.clock import today
from core.errors import DomainError, PermissionDenied, TransitionNotAllowed
from core.models import AuditLog, Role
from grants import services
from grants.models import Application, CommitteeSession, CommitteeVote
from grants.models import ApplicationState as S

from .. import factories as f
from .test_transitions import put

pytestmark = pytest.mark.django_db


def _member(role: str = Role.COMMITTEE_MEMBER):
    user = f.UserFactory()
    f.give_role(user, role)
    return user


@pytest.fixture
def setting(call, organisation, committee_member, manager):
    """A session of today chaired by `committee_member`, with one file on its agenda."""
    app = put(f.ApplicationFactory(call=call, organisation=organisation), S.IN_COMMITTEE)
    Application.objects.filter(pk=app.pk).update(proposed_amount=Decimal("8000.00"))
    session = services.committee_session_create(
        actor=manager,
        programme=call.programme,
        call=call,
        title="Comité de programmation",
        date=today(),
        chair=committee_member,
    )
    Application.objects.filter(pk=app.pk).update(committee_session=session)
    return session, Application.objects.get(pk=app.pk)


def _fresh(session):
    return CommitteeSession.objects.get(pk=session.pk)


def test_a_member_cannot_decide_while_the_session_is_planned(setting, committee_member):
    session, app = setting
    with pytest.raises(TransitionNotAllowed) as exc:
        services.application_approve(
            actor=committee_member, application=app, amount=Decimal("8000.00")
        )
    assert "n'est pas encore ouverte" in str(exc.value.message)
    with pytest.raises(TransitionNotAllowed):
        services.committee_record_decisions(
            actor=committee_member,
            session=session,
            decisions=[{"application": app.pk, "decision": "approve", "amount": Decimal("8000")}],
        )
    assert Application.objects.get(pk=app.pk).state == S.IN_COMMITTEE


def test_the_api_refuses_a_decision_outside_an_open_session_with_409_in_french(setting, client):
    session, app = setting
    client.force_login(session.chair)
    response = client.post(
        f"/api/applications/{app.pk}/transitions/approve/",
        {"amount": "8000.00"},
        content_type="application/json",
    )
    assert response.status_code == 409
    assert "n'est pas encore ouverte" in response.json()["detail"]
    assert Application.objects.get(pk=app.pk).state == S.IN_COMMITTEE


def test_a_file_waiting_without_a_session_is_not_decided_alone(call, organisation, manager):
    app = put(f.ApplicationFactory(call=call, organisation=organisation), S.IN_COMMITTEE)
    with pytest.raises(TransitionNotAllowed) as exc:
        services.application_reject(actor=manager, application=app, reason="Hors critères")
    assert "aucune séance" in str(exc.value.message)


def test_opening_records_attendance_checks_quorum_and_is_audited(
    setting, committee_member, manager
):
    session, _app = setting
    programme = session.programme
    programme.committee_quorum = 2
    programme.save(update_fields=["committee_quorum"])
    with pytest.raises(DomainError) as exc:
        services.committee_session_open(
            actor=committee_member, session=session, present=[committee_member]
        )
    assert exc.value.code == "quorum_not_reached"
    assert "1 membre(s) présent(s) pour 2 requis" in str(exc.value.message)
    assert _fresh(session).state == CommitteeSession.State.PLANNED
    other = _member()
    opened = services.committee_session_open(
        actor=committee_member, session=session, present=[committee_member, other]
    )
    assert opened.state == CommitteeSession.State.OPEN and opened.opened_at is not None
    assert set(_fresh(session).present.all()) == {committee_member, other}
    row = AuditLog.objects.get(action="grants.committee.opened", object_id=str(session.pk))
    assert (row.source_state, row.target_state) == ("planned", "open")
    assert sorted(row.payload["present"]) == sorted([committee_member.pk, other.pk])


def test_opening_rules(setting, committee_member, manager, instructor):
    session, _app = setting
    member = _member()
    with pytest.raises(PermissionDenied):  # not the chair, not a programme manager
        services.committee_session_open(actor=member, session=session, present=[member])
    with pytest.raises(DomainError) as exc:  # the chair must be present
        services.committee_session_open(actor=manager, session=session, present=[member])
    assert exc.value.field == "present"
    with pytest.raises(DomainError) as exc:  # only committee members sit
        services.committee_session_open(
            actor=manager, session=session, present=[committee_member, instructor]
        )
    assert "n'est pas membre du comité" in str(exc.value.message)
    CommitteeSession.objects.filter(pk=session.pk).update(date=today() + datetime.timedelta(days=3))
    with pytest.raises(DomainError) as exc:  # not before its day
        services.committee_session_open(
            actor=manager, session=_fresh(session), present=[committee_member]
        )
    assert exc.value.code == "session_not_yet"


def test_chair_decides_in_the_open_session_others_cannot_then_closed_takes_nothing(
    setting, committee_member, manager
):
    session, app = setting
    other = _member()
    session = services.committee_session_open(
        actor=manager, session=session, present=[committee_member, other]
    )
    with pytest.raises(PermissionDenied):  # a member alone does not decide
        services.application_approve(actor=other, application=app, amount=Decimal("8000"))
    [done] = services.committee_record_decisions(
        actor=committee_member,
        session=session,
        decisions=[{"application": app.pk, "decision": "approve", "amount": Decimal("8000")}],
    )
    assert done.state == S.APPROVED and done.committee_session_id == session.pk
    with pytest.raises(PermissionDenied):
        services.committee_session_close(actor=other, session=session)
    closed = services.committee_session_close(
        actor=committee_member, session=session, minutes="Un dossier accordé."
    )
    assert closed.state == CommitteeSession.State.CLOSED and closed.minutes == "Un dossier accordé."
    assert AuditLog.objects.filter(
        action="grants.committee.closed", object_id=str(session.pk), target_state="closed"
    ).exists()
    late = put(f.ApplicationFactory(call=app.call), S.IN_COMMITTEE)
    Application.objects.filter(pk=late.pk).update(committee_session=session)
    with pytest.raises(TransitionNotAllowed) as exc:
        services.application_reject(
            actor=committee_member, application=Application.objects.get(pk=late.pk), reason="Non"
        )
    assert "est close" in str(exc.value.message)


def test_vote_outcome_majority_and_tie_broken_by_the_chair():
    approve, reject, abstain = "approve", "reject", "abstain"
    assert services.vote_outcome({1: approve, 2: approve, 3: reject}, chair_id=3)[0] == approve
    assert services.vote_outcome({1: reject, 2: abstain, 3: approve}, chair_id=3)[0] == approve
    outcome, counts = services.vote_outcome({1: approve, 2: reject, 3: abstain}, chair_id=2)
    assert outcome == reject and counts == {"approve": 1, "reject": 1, "abstain": 1}
    with pytest.raises(DomainError) as exc:
        services.vote_outcome({1: approve, 2: reject, 3: abstain}, chair_id=3)
    assert exc.value.code == "vote_tie"


def test_a_programme_deciding_by_vote(setting, committee_member, manager):
    session, app = setting
    programme = session.programme
    programme.committee_decision_mode = CommitteeDecisionMode.VOTE
    programme.save(update_fields=["committee_decision_mode"])
    a, b = _member(), _member()
    session = services.committee_session_open(
        actor=committee_member, session=session, present=[committee_member, a, b]
    )
    # The chair alone cannot decide: the members present vote.
    with pytest.raises(TransitionNotAllowed) as exc:
        services.application_approve(
            actor=committee_member, application=app, amount=Decimal("8000")
        )
    assert "vote" in str(exc.value.message)
    with pytest.raises(DomainError) as exc:  # every member present votes
        services.committee_record_decisions(
            actor=committee_member,
            session=session,
            decisions=[{"application": app.pk, "decision": "vote", "votes": {a.pk: "approve"}}],
        )
    assert exc.value.field == "votes"
    # 1 for, 1 against, 1 abstention… the chair voted against: refused.
    [done] = services.committee_record_decisions(
        actor=committee_member,
        session=session,
        decisions=[
            {
                "application": app.pk,
                "decision": "vote",
                "reason": "Le comité n'a pas retenu l'action.",
                "votes": {committee_member.pk: "reject", a.pk: "approve", b.pk: "abstain"},
            }
        ],
    )
    assert done.state == S.REJECTED
    assert CommitteeVote.objects.filter(session=session, application=app).count() == 3
    row = AuditLog.objects.get(action="grants.committee.vote_recorded", object_id=str(app.pk))
    assert row.payload["outcome"] == "reject" and row.payload["approve"] == 1


def test_existing_sessions_migrate_past_closed_future_planned(call):
    from importlib import import_module

    migration = import_module("grants.migrations.0010_committee_session_states")
    held = CommitteeSession.objects.create(
        programme=call.programme, title="Tenue", date=today() - datetime.timedelta(days=30)
    )
    CommitteeSession.objects.create(
        programme=call.programme, title="Passée", date=today() - datetime.timedelta(days=1)
    )
    CommitteeSession.objects.create(
        programme=call.programme, title="À venir", date=today() + datetime.timedelta(days=9)
    )
    CommitteeSession.objects.filter(pk=held.pk).update(state="held")
    migration.close_past_sessions(django_apps, None)
    states = dict(CommitteeSession.objects.values_list("title", "state"))
    assert states == {"Tenue": "closed", "Passée": "closed", "À venir": "planned"}


def test_session_page_open_decide_by_vote_and_errors(client, setting, committee_member):
    session, app = setting
    programme = session.programme
    programme.committee_decision_mode = CommitteeDecisionMode.VOTE
    programme.committee_quorum = 2
    programme.save(update_fields=["committee_decision_mode", "committee_quorum"])
    other = _member()
    client.force_login(committee_member)
    url = reverse("grants:committee_detail", args=[session.pk])
    page = client.get(url).content.decode()
    assert 'id="session-open-form"' in page and "Enregistrer les décisions" not in page
    refused = client.post(
        url,
        {
            "action": "open",
            "open-chair": committee_member.pk,
            "open-present": [committee_member.pk],
        },
    )
    assert refused.status_code == 400
    assert "Quorum non atteint" in refused.content.decode()
    assert _fresh(session).state == CommitteeSession.State.PLANNED
    opened = client.post(
        url,
        {
            "action": "open",
            "open-chair": committee_member.pk,
            "open-present": [committee_member.pk, other.pk],
        },
    )
    assert opened.status_code == 302
    page = client.get(url).content.decode()
    assert f'name="app-{app.pk}-vote_{other.pk}"' in page
    decided = client.post(
        url,
        {
            "action": "decide",
            f"app-{app.pk}-decision": "vote",
            f"app-{app.pk}-amount": "8000",
            f"app-{app.pk}-vote_{committee_member.pk}": "approve",
            f"app-{app.pk}-vote_{other.pk}": "reject",
        },
    )
    assert decided.status_code == 302  # a tie, settled by the chair's vote
    assert Application.objects.get(pk=app.pk).state == S.APPROVED
