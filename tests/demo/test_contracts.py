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


def test_demo_directory(client):
    """A few opted-in actors and published sheets, one more waiting for review; idempotent."""
    from directory.models import ExperienceSheet, SheetState
    from directory.selectors import listed_actors

    call_command("demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    published = ExperienceSheet.objects.filter(state=SheetState.PUBLISHED)
    assert published.count() == 2
    assert ExperienceSheet.objects.filter(state=SheetState.SUBMITTED).count() == 1
    assert listed_actors().exists()
    assert AuditLog.objects.filter(action="directory.sheet.published").count() == 2
    call_command("demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert ExperienceSheet.objects.count() == 3
    sheet = published.first()
    assert client.get(f"/experiences/{sheet.pk}/").status_code == 200
    from django.utils.html import escape

    assert escape(sheet.title) in client.get("/experiences/").content.decode()
    actor = listed_actors().first()
    assert client.get(f"/annuaire/{actor.pk}/").status_code == 200
