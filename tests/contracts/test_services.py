"""The contract's life, its commitments, steering decisions and opinions, through the services."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from contracts import services as cs
from contracts.models import Commitment, Contract, ContractVersion, Decision, Opinion
from core.errors import DomainError, PermissionDenied, TransitionNotAllowed
from core.models import AuditLog

from .. import factories as f


def _actions(obj_or_none=None):
    return list(AuditLog.objects.order_by("id").values_list("action", flat=True))


def test_contract_create_refuses_bad_period(manager, qpvs):
    with pytest.raises(DomainError) as err:
        cs.contract_create(
            actor=manager, name="X", epci_name="EPCI", first_year=2030, last_year=2024, qpvs=qpvs
        )
    assert err.value.field == "last_year"


def test_only_programme_managers_create_contracts(instructor, qpvs):
    with pytest.raises(PermissionDenied):
        cs.contract_create(
            actor=instructor, name="X", epci_name="E", first_year=2024, last_year=2030, qpvs=qpvs
        )


def test_signature_needs_signatories_and_parts(manager, contract):
    with pytest.raises(DomainError, match="signataires"):
        cs.contract_sign(actor=manager, contract=contract, signed_on=datetime.date(2024, 3, 1))
    contract = Contract.objects.get(pk=contract.pk)
    assert contract.state == "draft"


def test_sign_then_amend_keeps_versions_and_audits(manager, signed, qpvs):
    assert signed.state == "signed"
    assert signed.version == 1
    version = cs.contract_amend(
        actor=manager,
        contract=signed,
        reason="Avenant n° 1 : prolongation",
        effective_on=datetime.date(2026, 1, 1),
        changes={"last_year": 2031},
        qpvs=qpvs[:1],
    )
    signed = Contract.objects.get(pk=signed.pk)
    assert (signed.state, signed.version, signed.last_year) == ("amended", 2, 2031)
    assert version.before["last_year"] == 2030
    assert version.after["last_year"] == 2031
    assert version.before["qpvs"] == ["QN01301M", "QN01302M"]
    assert version.after["qpvs"] == ["QN01301M"]
    assert list(
        ContractVersion.objects.filter(contract=signed).values_list("number", flat=True)
    ) == [1, 2]
    actions = _actions()
    assert "contracts.contract.signed" in actions
    assert "contracts.contract.amended" in actions
    row = AuditLog.objects.get(action="contracts.contract.amended")
    assert (row.source_state, row.target_state) == ("signed", "amended")


def test_amend_refuses_unknown_fields_and_draft_contracts(manager, contract, signed):
    with pytest.raises(DomainError):
        cs.contract_amend(
            actor=manager,
            contract=signed,
            reason="r",
            effective_on=datetime.date(2026, 1, 1),
            changes={"state": "ended"},
        )


def test_amend_a_draft_is_a_409(manager, contract):
    with pytest.raises(TransitionNotAllowed) as err:
        cs.contract_amend(
            actor=manager,
            contract=contract,
            reason="r",
            effective_on=datetime.date(2026, 1, 1),
            changes={"summary": "x"},
        )
    assert "sign" in err.value.allowed


def test_shortening_below_existing_commitments_is_refused(manager, signed, commitments):
    with pytest.raises(DomainError) as err:
        cs.contract_amend(
            actor=manager,
            contract=signed,
            reason="r",
            effective_on=datetime.date(2026, 1, 1),
            changes={"last_year": 2025},
        )
    assert err.value.field == "last_year"
    signed = Contract.objects.get(pk=signed.pk)
    assert (signed.last_year, signed.version) == (2030, 1)


def test_ended_contract_takes_no_more_commitments(manager, signed, parts, signatories):
    cs.contract_end(actor=manager, contract=signed, reason="Fin de période")
    with pytest.raises(DomainError, match="échu"):
        cs.commitment_record(
            actor=manager,
            contract=signed,
            signatory=signatories[0],
            part=parts[0],
            year=2026,
            kind="specific",
            amount=Decimal("1"),
        )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"kind": "specific", "amount": None}, "amount"),
        ({"kind": "specific", "amount": Decimal("-5")}, "amount"),
        ({"kind": "action", "action": "", "indicator": "i", "target": Decimal(1)}, "action"),
        ({"kind": "action", "action": "a", "indicator": "", "target": Decimal(1)}, "indicator"),
        ({"kind": "action", "action": "a", "indicator": "i", "target": None}, "target"),
        ({"kind": "specific", "amount": Decimal("5"), "year": 2031}, "year"),
    ],
)
def test_commitment_validation(manager, signed, parts, signatories, kwargs, field):
    args = {"year": 2026, **kwargs}
    with pytest.raises(DomainError) as err:
        cs.commitment_record(
            actor=manager, contract=signed, signatory=signatories[0], part=parts[0], **args
        )
    assert err.value.field == field
    assert not Commitment.objects.exists()


def test_commitment_amounts_are_rounded_to_cents(commitments):
    assert commitments[0].amount == Decimal("100000.00")
    assert commitments[2].amount is None
    assert commitments[2].target == Decimal("48")


def test_representative_reports_only_their_signatory(representative, commitments, manager):
    caf_action = commitments[2]
    done = cs.commitment_report(
        actor=representative,
        commitment=caf_action,
        note="44 permanences tenues",
        realised_value=Decimal("44"),
    )
    assert done.realised_value == Decimal("44")
    assert done.reported_at is not None
    with pytest.raises(PermissionDenied):
        cs.commitment_report(actor=representative, commitment=commitments[0], note="x")
    outsider = f.UserFactory(email="x@example.org")
    with pytest.raises(DomainError) as err:
        cs.commitment_report(actor=outsider, commitment=commitments[0], note="x")
    assert err.value.code == "not_found"


def test_member_grant_checks_scope(manager, signed, qpvs):
    other_qpv = f.QPVFactory(code="QN01399M", name="Ailleurs")
    user = f.UserFactory(email="c@example.org")
    with pytest.raises(DomainError) as err:
        cs.member_grant(actor=manager, contract=signed, user=user, role="citizen", qpv=other_qpv)
    assert err.value.field == "qpv"
    cs.member_grant(actor=manager, contract=signed, user=user, role="citizen", qpv=qpvs[0])
    with pytest.raises(DomainError):
        cs.member_grant(actor=manager, contract=signed, user=user, role="citizen", qpv=qpvs[0])


def test_programme_attached_once_and_within_period(manager, signed, parts):
    p2026 = f.ProgrammeFactory(fiscal_year=2026)
    cs.part_attach_programme(actor=manager, part=parts[0], programme=p2026)
    with pytest.raises(DomainError, match="déjà rattaché"):
        cs.part_attach_programme(actor=manager, part=parts[1], programme=p2026)
    with pytest.raises(DomainError, match="hors de la période"):
        cs.part_attach_programme(
            actor=manager, part=parts[0], programme=f.ProgrammeFactory(fiscal_year=2035)
        )


def test_reorientation_moves_envelope_with_before_after(manager, steering_member, signed, parts):
    manager_programme = f.ProgrammeFactory(fiscal_year=2026, envelope=Decimal("300000"))
    other = f.ProgrammeFactory(fiscal_year=2026, envelope=Decimal("50000"))
    cs.part_attach_programme(actor=manager, part=parts[0], programme=manager_programme)
    cs.part_attach_programme(actor=manager, part=parts[1], programme=other)
    meeting = cs.meeting_plan(
        actor=manager, contract=signed, kind="steering", held_on=datetime.date(2026, 6, 15)
    )
    decision = cs.decision_reorient(
        actor=manager,
        meeting=meeting,
        from_programme=manager_programme,
        to_programme=other,
        amount=Decimal("25000"),
        text="Sous-consommation du volet cohésion",
    )
    manager_programme.refresh_from_db()
    other.refresh_from_db()
    assert manager_programme.envelope == Decimal("275000.00")
    assert other.envelope == Decimal("75000.00")
    assert decision.before == {str(manager_programme.pk): "300000.00", str(other.pk): "50000.00"}
    assert decision.after == {str(manager_programme.pk): "275000.00", str(other.pk): "75000.00"}
    assert AuditLog.objects.filter(action="calls.programme.envelope_changed").count() == 2
    row = AuditLog.objects.get(action="contracts.decision.reoriented")
    assert row.payload["amount"] == "25000.00"


def test_reorientation_refuses_too_much_and_outside_programmes(manager, signed, parts):
    a = f.ProgrammeFactory(fiscal_year=2026, envelope=Decimal("1000"))
    b = f.ProgrammeFactory(fiscal_year=2026, envelope=Decimal("0"))
    outside = f.ProgrammeFactory(fiscal_year=2026)
    cs.part_attach_programme(actor=manager, part=parts[0], programme=a)
    cs.part_attach_programme(actor=manager, part=parts[1], programme=b)
    meeting = cs.meeting_plan(
        actor=manager, contract=signed, kind="technical", held_on=datetime.date(2026, 6, 15)
    )
    with pytest.raises(DomainError) as err:
        cs.decision_reorient(
            actor=manager,
            meeting=meeting,
            from_programme=a,
            to_programme=b,
            amount=Decimal("1000.01"),
            text="t",
        )
    assert err.value.field == "amount"
    with pytest.raises(DomainError) as err:
        cs.decision_reorient(
            actor=manager,
            meeting=meeting,
            from_programme=outside,
            to_programme=b,
            amount=Decimal("1"),
            text="t",
        )
    assert err.value.field == "from_programme"
    a.refresh_from_db()
    assert a.envelope == Decimal("1000.00")
    assert not Decision.objects.exists()


def test_steering_member_without_programme_right_cannot_move_money(
    manager, steering_member, signed, parts
):
    a = f.ProgrammeFactory(fiscal_year=2026, envelope=Decimal("1000"))
    b = f.ProgrammeFactory(fiscal_year=2026, envelope=Decimal("0"))
    cs.part_attach_programme(actor=manager, part=parts[0], programme=a)
    cs.part_attach_programme(actor=manager, part=parts[1], programme=b)
    meeting = cs.meeting_plan(
        actor=steering_member, contract=signed, kind="steering", held_on=datetime.date(2026, 6, 15)
    )
    cs.decision_record(actor=steering_member, meeting=meeting, text="Relancer la CAF")
    with pytest.raises(PermissionDenied):
        cs.decision_reorient(
            actor=steering_member,
            meeting=meeting,
            from_programme=a,
            to_programme=b,
            amount=Decimal("1"),
            text="t",
        )
    a.refresh_from_db()
    assert a.envelope == Decimal("1000.00")
    assert not Decision.objects.filter(kind="reorientation").exists()


def test_meeting_held_once(manager, signed):
    meeting = cs.meeting_plan(
        actor=manager, contract=signed, kind="steering", held_on=datetime.date(2026, 6, 15)
    )
    cs.meeting_hold(actor=manager, meeting=meeting, attendees=[manager], minutes="Relevé")
    with pytest.raises(TransitionNotAllowed):
        cs.meeting_hold(actor=manager, meeting=meeting, attendees=[manager])


def test_citizen_gives_and_revises_an_opinion(citizen, signed, parts, qpvs):
    cs.opinion_give(
        actor=citizen,
        contract=signed,
        qpv=qpvs[0],
        part=parts[0],
        year=2026,
        assessment="reserved",
        text="Les actions jeunesse manquent le samedi.",
    )
    cs.opinion_give(
        actor=citizen,
        contract=signed,
        qpv=qpvs[0],
        part=parts[0],
        year=2026,
        assessment="favourable",
        text="Après le comité, c'est mieux.",
    )
    opinion = Opinion.objects.get()
    assert opinion.assessment == "favourable"
    rows = AuditLog.objects.filter(action="contracts.opinion.given").order_by("id")
    assert rows.count() == 2
    assert rows.last().payload["before"]["assessment"] == "reserved"


def test_citizen_speaks_only_for_their_qpv(citizen, signed, parts, qpvs):
    with pytest.raises(PermissionDenied):
        cs.opinion_give(
            actor=citizen,
            contract=signed,
            qpv=qpvs[1],
            part=parts[0],
            year=2026,
            assessment="favourable",
            text="x",
        )
    with pytest.raises(DomainError) as err:
        cs.opinion_give(
            actor=citizen,
            contract=signed,
            qpv=qpvs[0],
            part=parts[0],
            year=2026,
            assessment="maybe",
            text="x",
        )
    assert err.value.field == "assessment"
    assert not Opinion.objects.exists()
