"""`manage.py demo`: idempotent, every state and role present, real audit rows, working logins."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import call_command
from stdnum.fr import siret

from calls.models import Call, CallMode, CallState
from core.identifiers import RNA_RE
from core.models import AuditLog, Organisation, Role, User
from core.permissions import roles_of
from grants.models import (
    AllocationRun,
    Application,
    ApplicationKind,
    ApplicationState,
    Candidacy,
    CandidacyState,
    CommitteeSession,
    CompletionRequest,
)
from grants.selectors import budget_totals

pytestmark = pytest.mark.django_db

# Files of the other modes: 2 funded anti-call structures, 4 + 4 operators' actions, 3 structural
# support files, 3 direct awards.
OTHER_MODES_FILES = 16
# Two collective files in the call for projects (demo/collective.py): one submitted, one funded
# and paid per partner.
COLLECTIVE_FILES = 2
# Co-funded files, one per stage of their parts, in the call for projects (demo/cofunded.py).
COFUNDED_FILES = 9

LOGINS = [
    "porteur@demo.pluriel.fr",
    "instructeur@demo.pluriel.fr",
    "comite@demo.pluriel.fr",
    "habitant@demo.pluriel.fr",
    "finances@demo.pluriel.fr",
    "responsable@demo.pluriel.fr",
    "audit@demo.pluriel.fr",
    "admin@demo.pluriel.fr",
]


def snapshot() -> list[tuple]:
    return sorted(
        Application.objects.values_list(
            "reference", "title", "state", "requested_amount", "approved_amount"
        )
    )


@pytest.fixture
def demo(db):
    call_command("demo", stdout=open("/dev/null", "w"))  # noqa: SIM115


def test_running_twice_adds_nothing_and_does_not_fail(demo):
    before = (
        snapshot(),
        AuditLog.objects.count(),
        User.objects.count(),
        Organisation.objects.count(),
        Call.objects.count(),
        CommitteeSession.objects.count(),
    )
    call_command("demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    after = (
        snapshot(),
        AuditLog.objects.count(),
        User.objects.count(),
        Organisation.objects.count(),
        Call.objects.count(),
        CommitteeSession.objects.count(),
    )
    assert after == before
    assert len(before[0]) == 40 + OTHER_MODES_FILES + COLLECTIVE_FILES + COFUNDED_FILES
    assert (
        Application.objects.filter(call__mode=CallMode.PROJECT_CALL).count()
        == 40 + COLLECTIVE_FILES + COFUNDED_FILES
    )


def test_collective_files_with_two_accepted_partners(demo):
    collective = Application.objects.filter(partners__state="accepted").distinct()
    assert collective.count() == COLLECTIVE_FILES
    app = collective.get(state=ApplicationState.SUBMITTED)
    assert app.partners.count() == 2
    assert budget_totals(app)["balance"] == 0


def test_a_collective_agreement_paid_per_partner_with_the_partners_reports(demo):
    from cpo.models import Agreement, EvaluationState, InstalmentState
    from cpo.models_partner_reports import PartnerReportState
    from grants.models import PaymentFlow

    app = (
        Application.objects.filter(
            partners__state="accepted", state=ApplicationState.APPROVED, payment_flow="partners"
        )
        .distinct()
        .get()
    )
    assert app.payment_flow == PaymentFlow.PARTNERS
    assert app.committee_session.state == CommitteeSession.State.CLOSED
    agreement = Agreement.objects.get(application=app)
    live = agreement.instalments.exclude(state=InstalmentState.CANCELLED)
    payees = set(live.values_list("beneficiary_id", flat=True))
    partners = set(app.partners.values_list("organisation_id", flat=True))
    assert payees == {None, *partners}
    assert sum(i.amount for i in live) == agreement.total_amount == app.approved_amount
    evaluation = agreement.evaluations.get(fiscal_year=agreement.first_year)
    assert evaluation.state == EvaluationState.ACCEPTED
    reports = evaluation.partner_reports.all()
    assert {r.organisation_id for r in reports} == partners
    assert {r.state for r in reports} == {PartnerReportState.FILED}
    assert (
        AuditLog.objects.filter(
            object_id=str(evaluation.pk), action="cpo.evaluation.partner_report_filed"
        ).count()
        >= 2
    )


def test_reset_rebuilds_the_same_data(demo):
    before = snapshot()
    call_command("demo", "--reset", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert snapshot() == before


def test_every_application_state_is_present(demo):
    present = set(Application.objects.values_list("state", flat=True))
    assert present == set(ApplicationState.values)


def test_states_are_real_ones_with_their_audit_trail(demo):
    # Each file's history ends in its current state: it got there through the services.
    for app in Application.objects.exclude(state=ApplicationState.DRAFT):
        last = (
            AuditLog.objects.filter(object_id=str(app.pk), content_type__model="application")
            .exclude(target_state="")
            .order_by("-created_at", "-id")
            .first()
        )
        assert last is not None and last.target_state == app.state, app.reference
        assert last.actor is not None
    returned = Application.objects.filter(state=ApplicationState.RETURNED)
    assert all(
        CompletionRequest.objects.filter(application=a, answered_at__isnull=True).exists()
        for a in returned
    )
    reviewed = Application.objects.filter(state=ApplicationState.UNDER_REVIEW)
    assert all(a.scores.exists() and a.notes.exists() and a.opinions.exists() for a in reviewed)
    in_committee = Application.objects.filter(state=ApplicationState.IN_COMMITTEE)
    # Operators' actions of a call for solutions are put to the panel's vote, not on a committee agenda.
    assert all(a.proposed_amount for a in in_committee)
    assert all(
        a.committee_session_id for a in in_committee.exclude(kind=ApplicationKind.SOLUTIONS_CALL)
    )
    for app in Application.objects.filter(state=ApplicationState.APPROVED):
        assert Decimal("0") < app.approved_amount <= app.requested_amount
    # The co-funded files are decided part by part, each funder in its own committee.
    classic = Application.objects.filter(call__mode=CallMode.PROJECT_CALL).exclude(
        title__startswith="Cofinancé — "
    )
    for app in classic.filter(state=ApplicationState.APPROVED):
        assert app.committee_session.state == CommitteeSession.State.CLOSED
        assert app.committee_session.present.count() >= app.programme.committee_quorum
    # A session in each state: decided and closed, open today, planned ahead.
    assert set(CommitteeSession.objects.values_list("state", flat=True)) == {
        CommitteeSession.State.PLANNED,
        CommitteeSession.State.OPEN,
        CommitteeSession.State.CLOSED,
    }
    classic_ids = [str(pk) for pk in classic.values_list("pk", flat=True)]
    assert (
        AuditLog.objects.filter(
            action="grants.application.approved", object_id__in=classic_ids
        ).count()
        == 6 + 1  # the collective file paid per partner, in its own session (demo/collective.py)
    )


def test_submitted_budgets_are_balanced_cerfa_budgets(demo):
    # Anti-call files are created from the prototype when funded: no budget is typed again.
    for app in Application.objects.exclude(state=ApplicationState.DRAFT).exclude(
        kind=ApplicationKind.ANTI_CALL
    ):
        totals = budget_totals(app)
        assert totals["balance"] == 0, app.reference
        assert totals["charges"] > 0
        assert totals["in_kind_charges"] == totals["in_kind_products"]
        assert app.requested_amount <= totals["subsidies"]


def test_reference_data(demo):
    assert Organisation.objects.count() >= 15
    for org in Organisation.objects.all():
        siret.validate(org.siret)
        assert RNA_RE.match(org.rna)
    assert {c.mode for c in Call.objects.all()} == set(CallMode.values)
    classic = Call.objects.get(mode=CallMode.PROJECT_CALL)
    assert classic.state == CallState.OPEN and classic.criteria.count() >= 3
    assert all(
        c.state in (CallState.PUBLISHED, CallState.OPEN)
        for c in Call.objects.exclude(state=CallState.DECIDED)
    )
    assert Call.objects.filter(mode=CallMode.SOLUTIONS_CALL, state=CallState.DECIDED).count() == 1


def test_every_role_has_a_user(demo):
    held = set()
    for user in User.objects.filter(email__endswith="@demo.pluriel.fr"):
        held |= {str(r) for r in roles_of(user)}
    assert held >= set(Role.values)
    assert User.objects.get(email="admin@demo.pluriel.fr").is_superuser


def test_audit_log_has_rows(demo):
    assert AuditLog.objects.filter(action="grants.application.submitted").count() >= 30
    assert AuditLog.objects.filter(action__startswith="calls.call.").exists()


def test_demo_logins_work(demo, client):
    for email in LOGINS:
        assert client.login(email=email, password="demo1234"), email
        client.logout()
    assert not client.login(email="porteur@demo.pluriel.fr", password="wrong-password")


# --------------------------------------------------------------------------- the other modes


def test_anti_call_needs_and_every_candidacy_state(demo):
    from calls.models import Need

    anti = Call.objects.get(mode=CallMode.ANTI_CALL)
    needs = Need.objects.filter(call=anti, state=Need.State.PUBLISHED)
    assert 4 <= needs.count() <= 5
    assert needs.values("qpv").distinct().count() == 3
    assert set(Candidacy.objects.values_list("state", flat=True)) == set(CandidacyState.values)
    prototyping = Candidacy.objects.filter(state=CandidacyState.PROTOTYPING)
    assert all(c.coaching.exists() and c.deliverables.exists() for c in prototyping)
    from core.clock import today

    deadlines = {(c.prototype_deadline - today()).days: c for c in prototyping}
    assert (
        2 in deadlines and deadlines[2].reminder_sent_at is not None and not deadlines[2].is_overdue
    )
    assert any(c.is_overdue and c.prototype_deadline < today() for c in prototyping)
    funded = Candidacy.objects.filter(state=CandidacyState.FUNDED).select_related(
        "application", "cofunder"
    )
    assert {c.cofunder.name if c.cofunder else None for c in funded} == {
        None,
        "Fondation Quartiers Solidaires",
    }
    assert all(c.application.state == ApplicationState.APPROVED for c in funded)


def test_a_published_allocation_and_a_vote_open_for_the_demo_resident(demo):
    from calls.models import Challenge
    from grants.solutions.services import ballot_candidates, voting_is_open

    run = AllocationRun.objects.get(published_at__isnull=False)
    assert run.chosen_rule and run.chosen_selection and run.tally["voters"] >= run.tally["quorum"]
    decided = Application.objects.filter(call=run.call)
    assert {a.state for a in decided} == {ApplicationState.APPROVED, ApplicationState.REJECTED}
    assert sum(a.approved_amount for a in decided if a.approved_amount) <= run.budget
    assert run.call.state == CallState.DECIDED

    resident = User.objects.get(email="habitant@demo.pluriel.fr")
    open_call = Call.objects.get(mode=CallMode.SOLUTIONS_CALL, state=CallState.OPEN)
    seat = open_call.panel.members.get(user=resident)
    assert voting_is_open(open_call.panel) and not seat.ballots.exists()
    assert ballot_candidates(open_call).count() >= 3
    members = open_call.panel.members.all()
    assert 6 <= members.count() <= 8 and {m.college for m in members} == {
        "parents",
        "citizen_council",
        "residents",
    }
    states = set(Challenge.objects.filter(call=open_call).values_list("state", flat=True))
    assert {Challenge.State.APPROVED, Challenge.State.PROPOSED} <= states


def test_structural_support_years_and_direct_awards(demo):
    structural = Application.objects.filter(kind=ApplicationKind.STRUCTURAL_SUPPORT)
    assert sorted(a.years.count() for a in structural) == [3, 4, 5]
    assert {a.state for a in structural} == {
        ApplicationState.SUBMITTED,
        ApplicationState.IN_COMMITTEE,
        ApplicationState.APPROVED,
    }
    approved = structural.get(state=ApplicationState.APPROVED)
    assert approved.is_multi_year
    assert sum(y.approved_amount for y in approved.years.all()) == approved.approved_amount
    direct = Application.objects.filter(kind=ApplicationKind.DIRECT_AWARD)
    assert sorted(direct.values_list("state", flat=True)) == sorted(
        [ApplicationState.SUBMITTED, ApplicationState.APPROVED, ApplicationState.REJECTED]
    )
    assert all(a.urgency_reason and a.call_id is None for a in direct)


def test_demo_resident_can_vote_through_the_service(demo):
    from grants.solutions.services import ballot_candidates, ballot_cast

    resident = User.objects.get(email="habitant@demo.pluriel.fr")
    open_call = Call.objects.get(mode=CallMode.SOLUTIONS_CALL, state=CallState.OPEN)
    first = ballot_candidates(open_call).first()
    assert ballot_cast(actor=resident, call=open_call, approvals=[first.pk]).member.user == resident


def test_agreements_in_every_state_with_evaluations_amendment_and_recovery(demo):
    from cpo.models import (
        Agreement,
        AgreementState,
        Amendment,
        Evaluation,
        EvaluationState,
        Instalment,
        InstalmentState,
        Recovery,
    )

    assert set(Agreement.objects.values_list("state", flat=True)) == set(AgreementState.values)
    assert {"flat", "progressive_rate", "degressive_step", "custom"} <= set(
        Agreement.objects.values_list("profile", flat=True)
    )
    outcomes = set(Evaluation.objects.values_list("state", flat=True))
    assert {EvaluationState.ACCEPTED, EvaluationState.REJECTED} <= outcomes
    accepted = Evaluation.objects.filter(state=EvaluationState.ACCEPTED).first()
    assert accepted.budget_lines.exists() and accepted.approved_accounts is not None
    assert AuditLog.objects.filter(action="cpo.evaluation.accepted").exists()
    instalments = Instalment.objects.all()
    assert instalments.filter(state=InstalmentState.DUE).exists()
    assert instalments.filter(state=InstalmentState.ON_HOLD).exists()
    assert instalments.filter(is_late=True).exists()
    assert Amendment.objects.exists() and Recovery.objects.exists()


def test_agreements_are_idempotent_and_rebuilt_identically(demo):
    from cpo.models import Agreement

    def agreements():
        return sorted(
            Agreement.objects.values_list("reference", "state", "total_amount", "profile")
        )

    before = agreements()
    call_command("demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert agreements() == before
    call_command("demo", "--reset", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert agreements() == before


def test_electronic_signature_is_ready_to_try(demo):
    """Every funder has a certificate from the demo's throwaway PKI, and each association's member
    and each funder's committee member may sign (demo/signatures.py)."""
    from pathlib import Path

    from core.models import Funder, Membership, RoleAssignment
    from cpo.models import FunderCertificate

    certificates = FunderCertificate.objects.all()
    assert certificates.count() == Funder.objects.count() > 0
    assert all(Path(c.pkcs12_path).is_file() for c in certificates)
    assert Membership.objects.filter(can_sign=True).exists()
    assert RoleAssignment.objects.filter(funder__isnull=False, can_sign=True).exists()


def test_cofunded_files_in_every_state_of_their_parts(demo):
    from grants.models import BudgetRevision, FunderPart, FunderPartState

    parts = FunderPart.objects.filter(application__title__startswith="Cofinancé — ")
    assert set(parts.values_list("state", flat=True)) == set(FunderPartState.values)
    assert parts.values("application").distinct().count() == COFUNDED_FILES
    assert set(
        BudgetRevision.objects.filter(application__in=parts.values("application")).values_list(
            "state", flat=True
        )
    ) == {BudgetRevision.State.REQUESTED, BudgetRevision.State.CONFIRMED}
    for part in parts.filter(state__in=["approved", "cut", "refused"]):
        assert part.reference and part.decided_by is not None


def test_a_cofunded_file_with_an_agreement_of_its_own_for_one_funder(demo):
    from cpo.models import AgreementState
    from demo.cofunded import SEPARATE_TITLE

    app = Application.objects.get(title=SEPARATE_TITLE)
    agreements = {a.funder.name if a.funder else "": a for a in app.agreements.all()}
    assert set(agreements) == {"", "Métropole Aix-Marseille-Provence"}
    joint, own = agreements[""], agreements["Métropole Aix-Marseille-Provence"]
    assert joint.state == AgreementState.DRAFT and own.state == AgreementState.SIGNED
    assert (joint.total_amount, own.total_amount) == (Decimal("20000.00"), Decimal("12000.00"))
    assert [link.funder.name for link in own.funders.all()] == ["Métropole Aix-Marseille-Provence"]
    assert app.agreement == joint
