"""Call for solutions: challenges, one ballot per panel member within the voting phase, allocation by
two rules, the manager's choice with a reason, publication with the tally."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
import time_machine

from calls.models import Challenge, Panel
from calls.services import (
    challenge_moderate,
    challenge_propose,
    challenge_record,
    panel_add_member,
    panel_configure,
)
from core.errors import DomainError, PermissionDenied, TransitionNotAllowed
from core.models import AuditLog
from grants.models import AllocationRun, Application, Ballot, BallotChoice
from grants.models import ApplicationState as S
from grants.solutions import services as svc

from .. import factories as f

pytestmark = pytest.mark.django_db

T0 = datetime.datetime(2026, 4, 1, 9, tzinfo=datetime.UTC)


@pytest.fixture
def setup(manager):
    """An appel à solutions of 10 000 €, four actions, a panel of 5 with quorum 3, voting 1–8 April."""
    call = f.solutions_call(envelope=Decimal("10000.00"))
    qpv = f.QPVFactory()
    challenge = challenge_record(
        actor=manager,
        call=call,
        qpv=qpv,
        title="Réussite scolaire",
        description="Même accès aux grandes écoles",
    )
    panel = panel_configure(
        actor=manager,
        call=call,
        quorum=3,
        voting_opens_at=T0,
        voting_closes_at=T0 + datetime.timedelta(days=7),
    )
    members = [f.UserFactory() for _ in range(5)]
    for user in members:
        panel_add_member(actor=manager, panel=panel, user=user, college="citizen_council")
    costs = {"A": "6000.00", "B": "4000.00", "C": "5000.00", "D": "5000.00"}
    apps = {}
    for name, cost in costs.items():
        app = f.ApplicationFactory(
            call=call, title=f"Action {name}", requested_amount=Decimal(cost)
        )
        Application.objects.filter(pk=app.pk).update(state=S.IN_COMMITTEE, challenge=challenge)
        apps[name] = Application.objects.get(pk=app.pk)
    return {"call": call, "panel": panel, "members": members, "apps": apps, "challenge": challenge}


def vote(setup, who: int, names: str):
    return svc.ballot_cast(
        actor=setup["members"][who],
        call=setup["call"],
        approvals=[setup["apps"][n].pk for n in names],
    )


def test_challenges_from_the_public_wait_for_moderation(setup, manager, applicant):
    call = setup["call"]
    with pytest.raises(DomainError) as exc:
        challenge_propose(
            call=call, qpv=f.QPVFactory(), title="", description="", name="", email=""
        )
    assert {"title", "description", "name"} <= set(exc.value.errors)
    proposed = challenge_propose(
        call=call,
        qpv=f.QPVFactory(),
        title="Plus de cafards",
        description="Traitement des immeubles",
        name="Mme Benali",
        email="",
    )
    assert proposed.state == Challenge.State.PROPOSED
    with pytest.raises(PermissionDenied):
        challenge_moderate(actor=applicant, challenge=proposed, approve=True)
    with pytest.raises(DomainError):
        challenge_moderate(actor=setup["members"][0], challenge=proposed, approve=False, note="")
    moderated = challenge_moderate(actor=setup["members"][0], challenge=proposed, approve=True)
    assert moderated.state == Challenge.State.APPROVED


def test_one_ballot_per_member_and_only_during_the_phase(setup, applicant):
    with (
        time_machine.travel(T0 - datetime.timedelta(minutes=1)),
        pytest.raises(TransitionNotAllowed),
    ):
        vote(setup, 0, "A")
    with time_machine.travel(T0 + datetime.timedelta(days=1)):
        with pytest.raises(PermissionDenied):
            svc.ballot_cast(actor=applicant, call=setup["call"], approvals=[])
        vote(setup, 0, "AB")
        with pytest.raises(DomainError) as exc:
            vote(setup, 0, "C")
        assert exc.value.code == "already_voted"
        with pytest.raises(DomainError):
            svc.ballot_cast(actor=setup["members"][1], call=setup["call"], approvals=[999999])
    with time_machine.travel(T0 + datetime.timedelta(days=7)), pytest.raises(TransitionNotAllowed):
        vote(setup, 1, "A")
    assert Ballot.objects.count() == 1 and BallotChoice.objects.count() == 2


def test_secret_ballot_keeps_no_link_between_voter_and_choices(setup):
    with time_machine.travel(T0 + datetime.timedelta(days=1)):
        vote(setup, 0, "A")
    assert BallotChoice.objects.filter(ballot__isnull=False).count() == 0
    row = AuditLog.objects.get(action="grants.ballot.cast")
    assert row.payload == {}


def test_allocation_side_by_side_choice_and_publication(setup, manager):
    # Votes: A 3, B 2, C 2, D 2 (voters 0-1 want A+C, voter 2 only A, voters 3-4 want B+D). Budget 10 000.
    with time_machine.travel(T0 + datetime.timedelta(days=1)):
        for who in (0, 1):
            vote(setup, who, "AC")
        vote(setup, 2, "A")
        for who in (3, 4):
            vote(setup, who, "BD")
        with pytest.raises(TransitionNotAllowed):
            svc.allocation_compute(actor=manager, call=setup["call"])
    apps = setup["apps"]
    with time_machine.travel(T0 + datetime.timedelta(days=8)):
        run = svc.allocation_compute(actor=manager, call=setup["call"])
        # Greedy by votes: A (3 votes, 6 000); then the 2-vote tie goes to the cheapest, B (4 000): A + B.
        assert run.greedy_selection == [str(apps["A"].pk), str(apps["B"].pk)]
        # Equal shares: each voter holds 2 000; voters 0-2 (6 000) buy A, voters 3-4 (4 000) buy B, and
        # C cannot be afforded by its two supporters' 4 000.
        assert set(run.equal_shares_selection) == {str(apps["A"].pk), str(apps["B"].pk)}
        assert run.tally["voters"] == 5 and run.tally["votes"][str(apps["A"].pk)] == 3
        with pytest.raises(DomainError):
            svc.allocation_decide(actor=manager, run=run, rule="equal_shares", reason="")
        with pytest.raises(DomainError):  # an override over the envelope is refused
            svc.allocation_decide(
                actor=manager,
                run=run,
                rule="override",
                reason="x",
                selection=[apps["A"].pk, apps["C"].pk],
            )
        run = svc.allocation_decide(
            actor=manager, run=run, rule="equal_shares", reason="Règle votée par le panel"
        )
        svc.allocation_publish(actor=manager, run=run)
    states = {n: Application.objects.get(pk=a.pk).state for n, a in apps.items()}
    assert states == {"A": S.APPROVED, "B": S.APPROVED, "C": S.REJECTED, "D": S.REJECTED}
    assert Application.objects.get(pk=apps["A"].pk).approved_amount == Decimal("6000.00")
    assert AuditLog.objects.filter(
        action="grants.solutions.allocation.decided", reason="Règle votée par le panel"
    ).exists()


def test_quorum_is_required(setup, manager):
    with time_machine.travel(T0 + datetime.timedelta(days=1)):
        vote(setup, 0, "A")
    with time_machine.travel(T0 + datetime.timedelta(days=8)), pytest.raises(DomainError) as exc:
        svc.allocation_compute(actor=manager, call=setup["call"])
    assert exc.value.code == "quorum"
    assert not AllocationRun.objects.exists()


def test_panel_assessment_only_by_the_calls_panel(setup, applicant):
    app = setup["apps"]["A"]
    Application.objects.filter(pk=app.pk).update(state=S.APPROVED, approved_amount=Decimal("6000"))
    app = Application.objects.get(pk=app.pk)
    with pytest.raises(PermissionDenied):
        svc.panel_assessment_record(
            actor=applicant, application=app, fiscal_year=2026, rating="meets"
        )
    row = svc.panel_assessment_record(
        actor=setup["members"][0],
        application=app,
        fiscal_year=2026,
        rating="exceeds",
        comment="Les jeunes ont trouvé des stages",
    )
    assert row.member.user == setup["members"][0]


def test_panel_rules_are_validated(manager):
    call = f.solutions_call()
    with pytest.raises(DomainError):
        panel_configure(actor=manager, call=call, quorum=3, voting_opens_at=T0, voting_closes_at=T0)
    with pytest.raises(DomainError):
        panel_configure(
            actor=manager,
            call=call,
            quorum=3,
            voting_opens_at=T0,
            voting_closes_at=T0 + datetime.timedelta(days=1),
            ballot_kind=Panel.BallotKind.SCORE,
        )
    with pytest.raises(DomainError):
        panel_configure(
            actor=manager,
            call=f.CallFactory(),
            quorum=3,
            voting_opens_at=T0,
            voting_closes_at=T0 + datetime.timedelta(days=1),
        )


def test_invited_resident_is_seated_when_accepting(setup, manager):
    from calls.models import PanelMember
    from calls.services import panel_invite_member
    from core.services import invitation_accept

    row = panel_invite_member(
        actor=manager,
        panel=setup["panel"],
        email="nouvelle@quartier.example.org",
        college="parents",
    )
    assert not PanelMember.objects.filter(user__email="nouvelle@quartier.example.org").exists()
    user = invitation_accept(
        token=row.invitation.token,
        user_or_new_user_data={
            "first_name": "Awa",
            "last_name": "Diallo",
            "password": "Quartier-Nord-2026!",
        },
    )
    seat = PanelMember.objects.get(user=user, panel=setup["panel"])
    assert seat.college == "parents"
    row.refresh_from_db()
    assert row.seated_at is not None
