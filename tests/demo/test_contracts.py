"""The demo's city contract: five signatories over 2024–2030, audited, idempotent."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import call_command

from contracts.models import Commitment, Contract, Decision, IndicatorValue, Opinion
from core.models import AuditLog
from demo.contracts import NAME

pytestmark = pytest.mark.django_db


def test_demo_contract(client):
    call_command("demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    contract = Contract.objects.get(name=NAME)
    assert (contract.first_year, contract.last_year, contract.state) == (2024, 2030, "signed")
    assert contract.signatories.count() == 5
    assert set(Commitment.objects.filter(contract=contract).values_list("year", flat=True)) == set(
        range(2024, 2031)
    )
    assert Decision.objects.get(kind="reorientation").amount == Decimal("20000.00")
    assert IndicatorValue.objects.filter(indicator__contract=contract).count() == 12
    assert Opinion.objects.filter(contract=contract).count() == 2
    assert AuditLog.objects.filter(action="contracts.contract.signed").count() == 1
    count = Commitment.objects.count()
    call_command("demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert Commitment.objects.count() == count
    client.login(email="conseil.citoyen@demo.pluriel.fr", password="demo1234")
    assert client.get(f"/contrats/{contract.pk}/avis/").status_code == 200
    client.login(email="responsable@demo.pluriel.fr", password="demo1234")
    page = client.get(f"/contrats/{contract.pk}/")
    assert page.status_code == 200
    assert page.context["follow"].total.committed > 0
