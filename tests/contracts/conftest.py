"""A signed contract over 2024–2030 with two QPVs, two parts, three signatories, and a person
for each contract role."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from contracts import services as cs
from contracts.models import Commitment, Contract, MemberRole

from .. import factories as f


@pytest.fixture
def qpvs(db):
    return [
        f.QPVFactory(code="QN01301M", name="Jas de Bouffan"),
        f.QPVFactory(code="QN01302M", name="Encagnane"),
    ]


@pytest.fixture
def contract(manager, qpvs):
    c = cs.contract_create(
        actor=manager,
        name="Engagements Quartiers 2030 du Pays d'Aix",
        epci_name="Métropole Aix-Marseille-Provence",
        epci_siren="200054807",
        first_year=2024,
        last_year=2030,
        qpvs=qpvs,
        communes="Aix-en-Provence\nGardanne",
    )
    return c


@pytest.fixture
def parts(manager, contract):
    return [
        cs.part_add(
            actor=manager,
            contract=contract,
            kind="pillar",
            title="Cohésion sociale",
            pillar=f.PillarFactory(code="cohesion", label="Cohésion sociale"),
            position=1,
        ),
        cs.part_add(
            actor=manager,
            contract=contract,
            kind="local",
            title="Emploi des jeunes",
            position=2,
        ),
    ]


@pytest.fixture
def state_funder(db):
    return f.FunderFactory(name="État — ANCT")


@pytest.fixture
def signatories(manager, contract, state_funder):
    return [
        cs.signatory_add(
            actor=manager, contract=contract, name="État", role="state", funder=state_funder
        ),
        cs.signatory_add(
            actor=manager,
            contract=contract,
            name="Métropole",
            role="epci",
            funder=f.FunderFactory(name="Métropole AMP"),
        ),
        cs.signatory_add(actor=manager, contract=contract, name="CAF 13", role="caf"),
    ]


@pytest.fixture
def signed(manager, contract, parts, signatories):
    cs.contract_sign(actor=manager, contract=contract, signed_on=datetime.date(2024, 3, 1))
    contract = Contract.objects.get(pk=contract.pk)
    return contract


@pytest.fixture
def commitments(manager, signed, parts, signatories):
    state, metro, caf = signatories
    return [
        cs.commitment_record(
            actor=manager,
            contract=signed,
            signatory=state,
            part=parts[0],
            year=2026,
            kind=Commitment.Kind.SPECIFIC,
            amount=Decimal("100000"),
        ),
        cs.commitment_record(
            actor=manager,
            contract=signed,
            signatory=metro,
            part=parts[0],
            year=2026,
            kind=Commitment.Kind.COMMON_LAW,
            amount=Decimal("40000"),
        ),
        cs.commitment_record(
            actor=manager,
            contract=signed,
            signatory=caf,
            part=parts[1],
            year=2026,
            kind=Commitment.Kind.ACTION,
            action="Permanences d'accès aux droits",
            indicator="Permanences tenues",
            target=Decimal("48"),
        ),
    ]


def _member(manager, contract, email, role, **kwargs):
    user = f.UserFactory(email=email)
    cs.member_grant(actor=manager, contract=contract, user=user, role=role, **kwargs)
    return user


@pytest.fixture
def representative(manager, signed, signatories):
    return _member(
        manager, signed, "rep@caf.example.org", MemberRole.SIGNATORY_REP, signatory=signatories[2]
    )


@pytest.fixture
def steering_member(manager, signed):
    return _member(manager, signed, "copil@prefecture.example.org", MemberRole.STEERING)


@pytest.fixture
def citizen(manager, signed, qpvs):
    return _member(manager, signed, "conseil@jas.example.org", MemberRole.CITIZEN, qpv=qpvs[0])
