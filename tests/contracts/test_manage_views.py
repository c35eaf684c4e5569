"""Staff pages that build a contract: a programme manager creates it, adds parts, signatories,
attaches a programme and records commitments; anyone else gets a 404; bad input is a 400 with
the reason next to the field, nothing written."""

from __future__ import annotations

from decimal import Decimal

import pytest

from contracts.models import Commitment, Contract, Part, Signatory
from core.models import AuditLog

from .. import factories as f

pytestmark = pytest.mark.django_db


def test_only_programme_managers_build_contracts(client, instructor, contract, representative):
    for user in (instructor, representative):
        client.force_login(user)
        assert client.get("/contrats/nouveau/").status_code == 404
        assert client.get(f"/contrats/{contract.pk}/volets/nouveau/").status_code == 404
    client.logout()
    assert client.get("/contrats/nouveau/").status_code == 302  # to the login page


def test_manager_creates_a_contract_then_its_parts_and_signatories(client, manager, qpvs):
    client.force_login(manager)
    assert "Nouveau contrat de ville" in client.get("/contrats/").content.decode()
    bad = client.post(
        "/contrats/nouveau/",
        {
            "name": "Contrat de ville de Gardanne",
            "epci_name": "Métropole",
            "epci_siren": "12",
            "first_year": 2030,
            "last_year": 2024,
            "qpvs": [qpvs[0].pk],
        },
    )
    assert bad.status_code == 400 and not Contract.objects.exists()
    response = client.post(
        "/contrats/nouveau/",
        {
            "name": "Contrat de ville de Gardanne",
            "epci_name": "Métropole Aix-Marseille-Provence",
            "first_year": 2024,
            "last_year": 2030,
            "qpvs": [q.pk for q in qpvs],
            "communes": "Gardanne",
        },
    )
    contract = Contract.objects.get()
    assert response.url == f"/contrats/{contract.pk}/"
    assert AuditLog.objects.filter(action="contracts.contract.created").count() == 1

    url = f"/contrats/{contract.pk}/volets/nouveau/"
    refused = client.post(url, {"kind": "pillar", "title": "Cohésion", "position": 1})
    assert refused.status_code == 400 and "pilier" in refused.content.decode()
    pillar = f.PillarFactory()
    client.post(url, {"kind": "pillar", "title": "Cohésion", "pillar": pillar.pk, "position": 1})
    part = Part.objects.get(contract=contract)
    funder = f.FunderFactory(name="CAF 13")
    client.post(
        f"/contrats/{contract.pk}/signataires/nouveau/",
        {"name": "CAF", "role": "caf", "funder": funder.pk},
    )
    signatory = Signatory.objects.get(contract=contract)
    assert signatory.funder == funder

    programme = f.ProgrammeFactory(fiscal_year=2026)
    client.post(
        f"/contrats/{contract.pk}/volets/programme/", {"part": part.pk, "programme": programme.pk}
    )
    assert list(part.programmes.all()) == [programme]

    commitments = f"/contrats/{contract.pk}/engagements/nouveau/"
    no_amount = client.post(
        commitments,
        {"signatory": signatory.pk, "part": part.pk, "year": 2026, "kind": "specific"},
    )
    assert no_amount.status_code == 400 and not Commitment.objects.exists()
    client.post(
        commitments,
        {
            "signatory": signatory.pk,
            "part": part.pk,
            "year": 2026,
            "kind": "specific",
            "amount": "25000",
        },
    )
    assert Commitment.objects.get().amount == Decimal("25000.00")
    out_of_period = client.post(
        commitments,
        {
            "signatory": signatory.pk,
            "part": part.pk,
            "year": 2031,
            "kind": "specific",
            "amount": "1",
        },
    )
    assert out_of_period.status_code == 400
