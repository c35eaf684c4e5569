"""One decision path (grants.services.approval): each funding mode, through its own entry point,
meets the same rules when a file becomes « approved ».

The modes: the committee (`application_approve`), the publication of a call for solutions'
allocation (`allocation_publish`), a direct award (`direct_award_decide`) and the funding of an
anti-call prototype (`candidacy_fund`).

Two rules cannot be broken through some entry points, by construction, and are only tested where
they can: a published allocation and a funded prototype grant exactly the amount asked (the
allocation grants the request; a prototype's file is created asking what is funded), and a funded
prototype's file is new, so no completion request can be pending on it.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from calls.services import panel_configure
from core.errors import DomainError, TransitionNotAllowed
from core.models import AuditLog, Notification
from grants.anticall import services as anticall
from grants.direct import services as direct
from grants.models import (
    AllocationRun,
    Application,
    ApplicationState,
    ApplicationYear,
    Candidacy,
    CandidacyState,
    CompletionRequest,
)
from grants.services import application_approve
from grants.services.approval import ALLOCATION, COMMITTEE, DIRECT_AWARD, PROTOTYPE
from grants.solutions import services as solutions

from .. import factories as f

pytestmark = pytest.mark.django_db

ASKED = Decimal("8000.00")
ROOMY = Decimal("100000.00")
TIGHT = Decimal("5000.00")


@dataclass
class Case:
    """A file of one mode, ready to be decided, and how to decide it."""

    mode: str
    people: dict[str, Any]
    application: Application | None = None
    candidacy: Candidacy | None = None
    run: AllocationRun | None = None

    def decide(
        self, *, amount: Decimal = ASKED, override: str = "", is_multi_year: bool = False
    ) -> Application:
        manager = self.people["manager"]
        if self.mode == "committee":
            return application_approve(
                actor=manager,
                application=self.application,
                amount=amount,
                is_multi_year=is_multi_year,
                envelope_override_reason=override,
            )
        if self.mode == "solutions":
            solutions.allocation_publish(
                actor=manager, run=self.run, envelope_override_reason=override
            )
            return Application.objects.get(pk=self.application.pk)
        if self.mode == "direct":
            return direct.direct_award_decide(
                actor=manager,
                application=self.application,
                approve=True,
                amount=amount,
                reason="Urgence estivale",
                envelope_override_reason=override,
            )
        funded = anticall.candidacy_fund(
            actor=manager,
            candidacy=self.candidacy,
            amount=amount,
            is_multi_year=is_multi_year,
            duration_years=2 if is_multi_year else 1,
            envelope_override_reason=override,
        )
        return funded.application

    def file(self) -> Application | None:
        """The file as stored now (a prototype's file exists only once funded)."""
        if self.mode == "anticall":
            candidacy = Candidacy.objects.get(pk=self.candidacy.pk)
            return candidacy.application
        return Application.objects.get(pk=self.application.pk)


def make_case(mode: str, people: dict[str, Any], envelope: Decimal, multi_year_call=False) -> Case:
    organisation = people["organisation"]
    if mode == "committee":
        call = f.CallFactory(envelope=envelope, multi_year_allowed=multi_year_call)
        app = f.ApplicationFactory(call=call, organisation=organisation, requested_amount=ASKED)
        Application.objects.filter(pk=app.pk).update(state=ApplicationState.IN_COMMITTEE)
        f.open_session_for(app, chair=people["manager"])  # decided during an open session
        return Case(mode, people, application=Application.objects.get(pk=app.pk))
    if mode == "solutions":
        call = f.solutions_call(envelope=envelope, multi_year_allowed=multi_year_call)
        start = datetime.datetime(2026, 4, 1, 9, tzinfo=datetime.UTC)
        panel_configure(
            actor=people["manager"],
            call=call,
            quorum=1,
            voting_opens_at=start,
            voting_closes_at=start + datetime.timedelta(days=7),
        )
        app = f.ApplicationFactory(call=call, organisation=organisation, requested_amount=ASKED)
        Application.objects.filter(pk=app.pk).update(state=ApplicationState.IN_COMMITTEE)
        # The vote is counted and the manager has chosen a rule (tested in test_solutions.py).
        run = AllocationRun.objects.create(
            call=call,
            budget=envelope,
            tally={"voters": 3, "votes": {str(app.pk): 3}},
            greedy_selection=[str(app.pk)],
            equal_shares_selection=[str(app.pk)],
            chosen_rule=AllocationRun.Rule.GREEDY,
            chosen_selection=[str(app.pk)],
            reason="Règle votée par le panel",
            computed_by=people["manager"],
            decided_by=people["manager"],
        )
        return Case(mode, people, application=Application.objects.get(pk=app.pk), run=run)
    if mode == "direct":
        programme = f.ProgrammeFactory(envelope=envelope)
        app = direct.direct_award_open(
            actor=people["instructor"],
            organisation=organisation,
            programme=programme,
            title="Été solidaire",
            summary="Sorties pour les enfants restés au quartier",
            requested_amount=ASKED,
            urgency_reason="Programme d'été",
            data={"qpvs": [f.QPVFactory()]},
        )
        return Case(mode, people, application=app)
    need = f.published_need(call=f.anti_call(envelope=envelope))
    candidacy = anticall.candidacy_source(
        actor=people["instructor"], need=need, organisation=organisation, why="Déjà active le soir"
    )
    Candidacy.objects.filter(pk=candidacy.pk).update(state=CandidacyState.PRESENTED)
    return Case(mode, people, candidacy=Candidacy.objects.get(pk=candidacy.pk))


MODES = ["committee", "solutions", "direct", "anticall"]
ACTIONS = {
    "committee": COMMITTEE.action,
    "solutions": ALLOCATION.action,
    "direct": DIRECT_AWARD.action,
    "anticall": PROTOTYPE.action,
}


@pytest.fixture
def people(manager, instructor, organisation, applicant):
    return {
        "manager": manager,
        "instructor": instructor,
        "organisation": organisation,
        "applicant": applicant,
    }


def approvals_of(app: Application) -> list[AuditLog]:
    return list(
        AuditLog.objects.filter(
            object_id=str(app.pk),
            content_type__model="application",
            target_state=ApplicationState.APPROVED,
        )
    )


@pytest.mark.parametrize("mode", MODES)
def test_approval_writes_one_audit_row_and_notifies_the_applicants(mode, people):
    case = make_case(mode, people, ROOMY)
    before = Notification.objects.filter(user=people["applicant"]).count()
    app = Application.objects.get(pk=case.decide().pk)
    assert app.state == ApplicationState.APPROVED
    assert app.approved_amount == ASKED
    assert app.decided_by == people["manager"] and app.decided_at is not None
    rows = approvals_of(app)
    assert [row.action for row in rows] == [ACTIONS[mode]]
    assert rows[0].payload["amount"] == "8000.00"
    assert Notification.objects.filter(user=people["applicant"]).count() == before + 1


@pytest.mark.parametrize("mode", MODES)
def test_beyond_the_envelope_without_a_reason_nothing_is_approved(mode, people):
    case = make_case(mode, people, TIGHT)
    with pytest.raises(DomainError) as exc:
        case.decide()
    assert exc.value.code == "envelope_exceeded"
    assert exc.value.field == "envelope_override_reason"
    stored = case.file()
    assert stored is None or stored.state != ApplicationState.APPROVED
    assert not AuditLog.objects.filter(target_state=ApplicationState.APPROVED).exists()


@pytest.mark.parametrize("mode", MODES)
def test_beyond_the_envelope_with_a_reason_is_approved_and_audited(mode, people):
    case = make_case(mode, people, TIGHT)
    app = Application.objects.get(pk=case.decide(override="Urgence sociale reconnue").pk)
    assert app.state == ApplicationState.APPROVED
    assert app.envelope_override_reason == "Urgence sociale reconnue"
    row = AuditLog.objects.get(action="grants.application.envelope_overridden")
    assert (row.object_id, row.reason, row.payload["overrun"]) == (
        str(app.pk),
        "Urgence sociale reconnue",
        "3000.00",
    )
    assert len(approvals_of(app)) == 1


@pytest.mark.parametrize("mode", ["committee", "solutions", "direct"])
def test_a_pending_completion_request_blocks_the_approval(mode, people):
    case = make_case(mode, people, ROOMY)
    CompletionRequest.objects.create(
        application=case.application,
        message="Il manque le budget signé",
        deadline=datetime.date(2099, 1, 1),
        requested_by=people["instructor"],
    )
    with pytest.raises(TransitionNotAllowed):
        case.decide()
    assert case.file().state != ApplicationState.APPROVED
    assert not approvals_of(case.application)


@pytest.mark.parametrize("mode", ["committee", "direct"])
def test_more_than_the_amount_asked_is_refused(mode, people):
    case = make_case(mode, people, ROOMY)
    with pytest.raises(DomainError) as exc:
        case.decide(amount=ASKED + Decimal("0.01"))
    assert exc.value.field == "amount"
    assert case.file().state != ApplicationState.APPROVED


@pytest.mark.parametrize("mode", MODES)
def test_a_zero_amount_is_refused(mode, people):
    if mode == "solutions":  # the allocation grants the request: make the request itself zero
        case = make_case(mode, people, ROOMY)
        Application.objects.filter(pk=case.application.pk).update(requested_amount=0)
    else:
        case = make_case(mode, people, ROOMY)
    with pytest.raises(DomainError) as exc:
        case.decide(amount=Decimal("0"))
    assert exc.value.field == "amount"
    stored = case.file()
    assert stored is None or stored.state != ApplicationState.APPROVED


@pytest.mark.parametrize("mode", ["committee", "solutions", "direct"])
def test_requested_years_get_their_approved_amounts(mode, people):
    case = make_case(mode, people, ROOMY, multi_year_call=True)
    ApplicationYear.objects.bulk_create(
        [
            ApplicationYear(
                application=case.application, fiscal_year=2026, requested_amount=Decimal("3000")
            ),
            ApplicationYear(
                application=case.application, fiscal_year=2027, requested_amount=Decimal("5000")
            ),
        ]
    )
    app = Application.objects.get(pk=case.decide().pk)
    assert app.is_multi_year
    years = {y.fiscal_year: y.approved_amount for y in app.years.all()}
    assert years == {2026: Decimal("3000.00"), 2027: Decimal("5000.00")}
    assert approvals_of(app)[0].payload["years"] == {"2026": "3000.00", "2027": "5000.00"}


@pytest.mark.parametrize("mode", ["committee", "solutions"])
def test_years_need_a_call_that_allows_several(mode, people):
    case = make_case(mode, people, ROOMY, multi_year_call=False)
    ApplicationYear.objects.bulk_create(
        [
            ApplicationYear(application=case.application, fiscal_year=y, requested_amount=ASKED / 2)
            for y in (2026, 2027)
        ]
    )
    with pytest.raises(DomainError) as exc:
        case.decide()
    assert exc.value.field == "is_multi_year"
    assert case.file().state != ApplicationState.APPROVED


def test_a_funded_prototype_is_multi_year_by_the_managers_decision(people):
    """The anti-call's duration is decided at funding (ApprovalPath.call_limits_multi_year)."""
    case = make_case("anticall", people, ROOMY, multi_year_call=False)
    app = case.decide(is_multi_year=True)
    assert app.is_multi_year and app.duration_years == 2
    assert approvals_of(app)[0].payload["multi_year"] is True
