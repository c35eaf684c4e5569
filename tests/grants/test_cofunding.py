"""Co-funded files (issue 15): one part per funder asked, each decided by its own funder, the file
following its parts; a file with one part decided as before."""

from __future__ import annotations

import importlib
from decimal import Decimal

import pytest
from django.apps import apps as django_apps

from core.errors import DomainError, PermissionDenied, TransitionNotAllowed
from core.models import AuditLog, Funder, Role
from grants import services
from grants.models import (
    Application,
    ApplicationState,
    BudgetRevision,
    FunderPart,
    FunderPartState,
)
from grants.services.cofunding import (
    may_decide_part,
    may_read_private_note,
    may_review_part,
)

from .. import factories as f

pytestmark = pytest.mark.django_db

FP = FunderPartState
S = ApplicationState


def budget(state_funder: Funder, commune: Funder, *, state_amount="6000", commune_amount="4000"):
    """A balanced CERFA budget asking the State and the commune (account 74), 20 000 € in all."""
    asked = Decimal(state_amount) + Decimal(commune_amount)
    return [
        {"account": "60", "label": "Fournitures", "amount": "5000"},
        {"account": "64", "label": "Salaires", "amount": "15000"},
        {
            "account": "74",
            "subsidy_source": "state",
            "funder": state_funder.pk,
            "amount": state_amount,
        },
        {
            "account": "74",
            "subsidy_source": "municipality",
            "funder": commune.pk,
            "amount": commune_amount,
        },
        {"account": "75", "label": "Cotisations", "amount": str(Decimal("20000") - asked)},
    ]


@pytest.fixture
def world(db, organisation, applicant):
    """A call of the State's programme; the commune funds from its own programme."""
    state_funder = f.FunderFactory(name="État — ANCT", kind=Funder.Kind.STATE)
    commune = f.FunderFactory(name="Ville d'Aix", kind=Funder.Kind.MUNICIPALITY)
    programme = f.ProgrammeFactory(funders=[state_funder], envelope=Decimal("500000"))
    commune_programme = f.ProgrammeFactory(
        name="Politique de la ville — Aix", funders=[commune], envelope=Decimal("50000")
    )
    call = f.CallFactory(programme=programme)
    state_agent = f.UserFactory(email="agent@prefecture.example.org")
    f.give_role(state_agent, Role.COMMITTEE_MEMBER, funder=state_funder)
    commune_agent = f.UserFactory(email="agent@aix.example.org")
    f.give_role(commune_agent, Role.COMMITTEE_MEMBER, funder=commune)
    commune_instructor = f.UserFactory(email="instruction@aix.example.org")
    f.give_role(commune_instructor, Role.INSTRUCTOR, funder=commune)
    return {
        "state": state_funder,
        "commune": commune,
        "programme": programme,
        "commune_programme": commune_programme,
        "call": call,
        "state_agent": state_agent,
        "commune_agent": commune_agent,
        "commune_instructor": commune_instructor,
        "organisation": organisation,
        "applicant": applicant,
    }


def cofunded_file(world, *, state=S.IN_COMMITTEE, **amounts) -> Application:
    application = f.ApplicationFactory(
        call=world["call"], organisation=world["organisation"], state=state, complete=False
    )
    services.application_set_budget_rows(
        application, budget(world["state"], world["commune"], **amounts)
    )
    application = type(application).objects.get(pk=application.pk)
    return application


def part_of(application: Application, funder: Funder) -> FunderPart:
    return FunderPart.objects.get(application=application, funder=funder)


def proposed(world, application, manager, *, state_amount="6000", commune_amount="4000"):
    services.funder_part_propose(
        actor=manager, part=part_of(application, world["state"]), amount=state_amount
    )
    services.funder_part_propose(
        actor=manager, part=part_of(application, world["commune"]), amount=commune_amount
    )


# --------------------------------------------------------------------------- the parts


def test_parts_come_from_the_account_74_lines(world):
    application = cofunded_file(world, state=S.DRAFT)
    state_part = part_of(application, world["state"])
    commune_part = part_of(application, world["commune"])
    assert (state_part.requested_amount, commune_part.requested_amount) == (
        Decimal("6000.00"),
        Decimal("4000.00"),
    )
    assert state_part.state == commune_part.state == FP.ASKED
    # Each part draws on its funder's programme: the file's own, or the commune's.
    assert state_part.programme == world["programme"]
    assert commune_part.programme == world["commune_programme"]
    # Not typed twice: the file asks the sum of its parts.
    assert application.requested_amount == Decimal("10000.00")

    services.application_set_budget_rows(
        application, budget(world["state"], world["commune"], commune_amount="5000")
    )
    application = type(application).objects.get(pk=application.pk)
    assert part_of(application, world["commune"]).requested_amount == Decimal("5000.00")
    assert application.requested_amount == Decimal("11000.00")

    rows = [
        r
        for r in budget(world["state"], world["commune"])
        if r.get("funder") != world["commune"].pk
    ]
    rows[-1]["amount"] = "14000"
    services.application_set_budget_rows(application, rows)
    assert list(application.funder_parts.values_list("funder", flat=True)) == [world["state"].pk]
    # One part left: the part asks what the file asks.
    application = type(application).objects.get(pk=application.pk)
    assert part_of(application, world["state"]).requested_amount == application.requested_amount


def test_a_part_is_proposed_then_decided_and_every_step_is_audited(world, manager):
    application = cofunded_file(world)
    part = part_of(application, world["commune"])
    with pytest.raises(TransitionNotAllowed):  # asked → decided: not without a proposal
        services.funder_part_decide(
            actor=manager, part=part, decision="approve", amount="4000", reference="Délib. 12"
        )
    part = services.funder_part_start_review(actor=manager, part=part)
    assert part.state == FP.UNDER_REVIEW
    with pytest.raises(DomainError) as exc:
        services.funder_part_propose(actor=manager, part=part, amount="4000.01")
    assert exc.value.field == "amount"
    part = services.funder_part_propose(actor=manager, part=part, amount="3000", note="Réduire")
    assert (part.state, part.proposed_amount) == (FP.PROPOSED, Decimal("3000"))
    with pytest.raises(DomainError) as exc:  # the reference of the deliberation is required
        services.funder_part_decide(actor=manager, part=part, decision="approve")
    assert exc.value.field == "reference"
    part = services.funder_part_decide(
        actor=manager, part=part, decision="approve", reference="Délibération 2026-041"
    )
    assert (part.state, part.decided_amount) == (FP.CUT, Decimal("3000.00"))
    assert part.reference == "Délibération 2026-041" and part.decided_by == manager
    actions = list(
        AuditLog.objects.filter(object_id=str(part.pk), action__startswith="grants.funder_part")
        .order_by("pk")
        .values_list("action", "target_state")
    )
    assert actions == [
        ("grants.funder_part.review_started", FP.UNDER_REVIEW),
        ("grants.funder_part.proposed", FP.PROPOSED),
        ("grants.funder_part.decided", FP.CUT),
    ]


def test_refusal_needs_a_reason_and_decision_needs_the_file_in_committee(world, manager):
    application = cofunded_file(world, state=S.UNDER_REVIEW)
    proposed(world, application, manager)
    part = part_of(application, world["state"])
    with pytest.raises(TransitionNotAllowed):
        services.funder_part_decide(
            actor=manager, part=part, decision="refuse", reason="x", reference="Comité"
        )
    Application.objects.filter(pk=application.pk).update(state=S.IN_COMMITTEE)
    with pytest.raises(DomainError) as exc:
        services.funder_part_decide(actor=manager, part=part, decision="refuse", reference="C")
    assert exc.value.field == "reason"
    part = type(part).objects.get(pk=part.pk)
    assert part.state == FP.PROPOSED


def test_envelope_guard_on_the_funders_programme(world, manager):
    world["commune_programme"].envelope = Decimal("5000")
    world["commune_programme"].save()
    first = cofunded_file(world)
    services.funder_part_propose(
        actor=manager, part=part_of(first, world["commune"]), amount="4000"
    )
    second = cofunded_file(world)
    with pytest.raises(DomainError) as exc:  # 4 000 proposed + 4 000 > 5 000
        services.funder_part_propose(
            actor=manager, part=part_of(second, world["commune"]), amount="4000"
        )
    assert exc.value.code == "envelope_exceeded"
    assert part_of(second, world["commune"]).state == FP.ASKED
    part = services.funder_part_propose(
        actor=manager,
        part=part_of(second, world["commune"]),
        amount="4000",
        envelope_override_reason="Crédits supplémentaires votés au budget supplémentaire",
    )
    assert part.state == FP.PROPOSED
    assert (
        AuditLog.objects.get(object_id=str(part.pk), action="grants.funder_part.proposed").payload[
            "overrun"
        ]
        == "3000.00"
    )


# --------------------------------------------------------------------------- the file follows


def test_file_approved_when_every_part_is_granted(world, manager):
    application = cofunded_file(world)
    proposed(world, application, manager)
    services.funder_part_decide(
        actor=manager,
        part=part_of(application, world["state"]),
        decision="approve",
        reference="Arrêté préfectoral 2026-12",
    )
    application = type(application).objects.get(pk=application.pk)
    assert application.state == S.IN_COMMITTEE  # the commune has not decided yet
    services.funder_part_decide(
        actor=manager,
        part=part_of(application, world["commune"]),
        decision="approve",
        reference="Délibération 2026-041",
    )
    application = type(application).objects.get(pk=application.pk)
    assert application.state == S.APPROVED
    assert application.approved_amount == Decimal("10000.00")
    row = AuditLog.objects.get(object_id=str(application.pk), action="grants.application.approved")
    assert row.payload["parts"] == {"État — ANCT": "6000.00", "Ville d'Aix": "4000.00"}
    assert not BudgetRevision.objects.filter(application=application).exists()


def test_a_refused_part_asks_the_applicant_to_revise_its_budget(world, manager, applicant):
    application = cofunded_file(world)
    proposed(world, application, manager, state_amount="5000")
    services.funder_part_decide(
        actor=manager,
        part=part_of(application, world["state"]),
        decision="approve",
        amount="5000",
        reference="Arrêté 2026-12",
    )
    services.funder_part_decide(
        actor=manager,
        part=part_of(application, world["commune"]),
        decision="refuse",
        reason="Action déjà financée par ailleurs",
        reference="Délibération 2026-041",
    )
    application = type(application).objects.get(pk=application.pk)
    assert (application.state, application.approved_amount) == (S.APPROVED, Decimal("5000.00"))
    assert part_of(application, world["state"]).state == FP.CUT
    revision = BudgetRevision.objects.get(application=application)
    assert revision.state == BudgetRevision.State.REQUESTED
    assert (revision.granted_total, revision.asked_total) == (Decimal("5000"), Decimal("10000"))

    # The plan must match the decisions: 5 000 from the State, nothing from the commune, balanced.
    bad = budget(world["state"], world["commune"], state_amount="5000", commune_amount="4000")
    with pytest.raises(DomainError) as exc:
        services.budget_revision_submit(actor=applicant, revision=revision, rows=bad)
    assert "Ville d'Aix" in exc.value.message
    assert application.budget_items.filter(account="74", funder=world["state"]).get().amount == 6000
    revised = [
        {"account": "60", "label": "Fournitures", "amount": "4000"},
        {"account": "64", "label": "Salaires", "amount": "11000"},
        {"account": "74", "subsidy_source": "state", "funder": world["state"].pk, "amount": "5000"},
        {"account": "75", "label": "Cotisations", "amount": "10000"},
    ]
    revision = services.budget_revision_submit(
        actor=applicant, revision=revision, rows=revised, comment="Un atelier de moins"
    )
    assert revision.state == BudgetRevision.State.REVISED and revision.answered_by == applicant
    # The amounts asked stay as decided.
    assert part_of(application, world["commune"]).requested_amount == Decimal("4000")
    assert AuditLog.objects.filter(
        object_id=str(revision.pk), action="grants.budget_revision.revised"
    ).exists()


def test_budget_revision_confirmed_only_by_the_applicant(
    world, manager, applicant, other_applicant
):
    application = cofunded_file(world)
    proposed(world, application, manager)
    for funder, amount in ((world["state"], "3000"), (world["commune"], "4000")):
        services.funder_part_decide(
            actor=manager,
            part=part_of(application, funder),
            decision="approve",
            amount=amount,
            reference="Comité des financeurs",
        )
    revision = BudgetRevision.objects.get(application=application)
    with pytest.raises(PermissionDenied):
        services.budget_revision_confirm(actor=other_applicant, revision=revision)
    revision = services.budget_revision_confirm(
        actor=applicant, revision=revision, comment="La fondation complète"
    )
    assert revision.state == BudgetRevision.State.CONFIRMED
    assert AuditLog.objects.filter(
        object_id=str(revision.pk), action="grants.budget_revision.confirmed"
    ).exists()


def test_file_refused_when_every_part_is_refused(world, manager):
    application = cofunded_file(world)
    proposed(world, application, manager)
    for funder in (world["state"], world["commune"]):
        services.funder_part_decide(
            actor=manager,
            part=part_of(application, funder),
            decision="refuse",
            reason="Hors priorités",
            reference="Comité",
        )
    application = type(application).objects.get(pk=application.pk)
    assert application.state == S.REJECTED
    assert "Ville d'Aix : Hors priorités" in application.decision_reason
    assert not BudgetRevision.objects.filter(application=application).exists()


def test_reopening_a_cofunded_file_reopens_its_parts(world, manager):
    application = cofunded_file(world)
    proposed(world, application, manager)
    for funder in (world["state"], world["commune"]):
        services.funder_part_decide(
            actor=manager, part=part_of(application, funder), decision="approve", reference="C"
        )
    services.application_reopen(actor=manager, application=application, reason="Erreur")
    assert {p.state for p in application.funder_parts.all()} == {FP.UNDER_REVIEW}
    assert all(p.decided_amount is None for p in application.funder_parts.all())


# --------------------------------------------------------------------------- who decides


def test_each_funder_agent_decides_only_its_own_part(world):
    application = cofunded_file(world)
    state_part = part_of(application, world["state"])
    commune_part = part_of(application, world["commune"])
    commune_agent, state_agent = world["commune_agent"], world["state_agent"]
    assert may_decide_part(commune_agent, commune_part)
    assert not may_decide_part(commune_agent, state_part)
    assert may_decide_part(state_agent, state_part)
    assert not may_review_part(commune_agent, commune_part)  # a committee member does not instruct
    assert may_review_part(world["commune_instructor"], commune_part)
    assert not may_review_part(world["commune_instructor"], state_part)

    services.funder_part_propose(
        actor=world["commune_instructor"], part=commune_part, amount="4000"
    )
    with pytest.raises(PermissionDenied):
        services.funder_part_propose(actor=world["commune_instructor"], part=state_part, amount="1")
    services.funder_part_set_note(
        actor=world["commune_instructor"], part=commune_part, text="Association fragile"
    )
    with pytest.raises(PermissionDenied):
        services.funder_part_decide(
            actor=commune_agent, part=state_part, decision="refuse", reason="x", reference="C"
        )
    part = services.funder_part_decide(
        actor=commune_agent, part=commune_part, decision="approve", reference="Délibération 41"
    )
    assert part.state == FP.APPROVED
    # The State's agent sees the commune's decision, not its private note.
    assert not may_read_private_note(state_agent, part)
    assert may_read_private_note(commune_agent, part)


def test_staff_without_a_funder_keep_their_rights_over_every_part(
    world, committee_member, instructor, manager, applicant
):
    application = cofunded_file(world)
    for part in application.funder_parts.all():
        assert may_decide_part(committee_member, part)
        assert may_review_part(instructor, part)
        assert may_decide_part(manager, part)
        assert may_read_private_note(committee_member, part)
        assert not may_read_private_note(applicant, part)
        assert not may_decide_part(applicant, part)


def test_joint_committee_each_member_decides_for_its_funder(world, manager):
    application = cofunded_file(world)
    proposed(world, application, manager)
    session = f.open_session_for(
        application, chair=manager, present=[world["state_agent"], world["commune_agent"]]
    )
    state_part = part_of(application, world["state"])
    commune_part = part_of(application, world["commune"])
    with pytest.raises(PermissionDenied):  # all or nothing: the State's agent decides its own only
        services.committee_record_part_decisions(
            actor=world["state_agent"],
            session=session,
            decisions=[
                {"part": state_part.pk, "decision": "approve"},
                {"part": commune_part.pk, "decision": "approve"},
            ],
        )
    assert part_of(application, world["state"]).state == FP.PROPOSED
    services.committee_record_part_decisions(
        actor=world["state_agent"],
        session=session,
        decisions=[{"part": state_part.pk, "decision": "approve", "amount": "5500"}],
    )
    services.committee_record_part_decisions(
        actor=world["commune_agent"],
        session=session,
        decisions=[{"part": commune_part.pk, "decision": "refuse", "reason": "Hors priorités"}],
    )
    state_part = type(state_part).objects.get(pk=state_part.pk)
    assert state_part.committee_session == session and state_part.reference == str(session)
    application = type(application).objects.get(pk=application.pk)
    assert (application.state, application.approved_amount) == (S.APPROVED, Decimal("5500.00"))


# --------------------------------------------------------------------------- one part: as before


def test_a_file_with_one_part_is_decided_as_before_and_its_part_follows(world, manager, call):
    application = f.ApplicationFactory(call=call, state=S.IN_COMMITTEE)
    funder = call.programme.funders.get()
    rows = [
        {"account": "64", "amount": "20000"},
        {"account": "74", "subsidy_source": "state", "funder": funder.pk, "amount": "10000"},
        {"account": "75", "amount": "10000"},
    ]
    services.application_set_budget_rows(application, rows)
    part = application.funder_parts.get()
    with pytest.raises(TransitionNotAllowed):  # decided by the file's committee, not part by part
        services.funder_part_decide(
            actor=manager, part=part, decision="approve", amount="1", reference="C"
        )
    f.open_session_for(application, chair=manager)
    application = services.application_approve(
        actor=manager, application=application, amount=Decimal("8000")
    )
    part = type(part).objects.get(pk=part.pk)
    assert (part.state, part.decided_amount) == (FP.CUT, Decimal("8000.00"))
    assert part.committee_session_id == application.committee_session_id
    assert part.reference.startswith("Comité du jour")
    services.application_reopen(actor=manager, application=application, reason="Erreur")
    part = type(part).objects.get(pk=part.pk)
    assert part.state == FP.UNDER_REVIEW and part.decided_amount is None


# --------------------------------------------------------------------------- migration


def test_migration_makes_one_part_of_each_existing_file(call, manager):
    migration = importlib.import_module("grants.migrations.0015_one_part_per_existing_file")
    approved = f.ApplicationFactory(call=call, state=S.IN_COMMITTEE)
    f.open_session_for(approved, chair=manager)
    services.application_approve(actor=manager, application=approved, amount=Decimal("7000"))
    rejected = f.ApplicationFactory(call=call, state=S.REJECTED)
    Application.objects.filter(pk=rejected.pk).update(decision_reason="Hors champ")
    draft = f.ApplicationFactory(call=call)
    FunderPart.objects.all().delete()

    migration.forwards(django_apps, None)
    migration.forwards(django_apps, None)  # run twice: still one part each

    funder = call.programme.budget_line.funder
    parts = {p.application_id: p for p in FunderPart.objects.all()}
    assert len(parts) == 3
    assert {p.funder_id for p in parts.values()} == {funder.pk}
    assert (parts[approved.pk].state, parts[approved.pk].decided_amount) == (
        FP.CUT,
        Decimal("7000.00"),
    )
    assert parts[approved.pk].requested_amount == Decimal("10000.00")
    assert parts[approved.pk].programme_id == call.programme_id
    assert (parts[rejected.pk].state, parts[rejected.pk].refusal_reason) == (
        FP.REFUSED,
        "Hors champ",
    )
    assert parts[draft.pk].state == FP.ASKED


def test_a_cofunded_file_is_not_decided_as_a_whole(world, manager):
    application = cofunded_file(world)
    f.open_session_for(application, chair=manager)
    with pytest.raises(TransitionNotAllowed) as exc:
        services.application_approve(actor=manager, application=application, amount=Decimal("1000"))
    assert "chaque financeur décide sa part" in exc.value.message
    with pytest.raises(TransitionNotAllowed):
        services.application_reject(actor=manager, application=application, reason="Non")
    assert Application.objects.get(pk=application.pk).state == S.IN_COMMITTEE
