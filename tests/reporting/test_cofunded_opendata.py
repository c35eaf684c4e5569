"""Open data of a co-funded file (issue 15): one SCDL row per funder that granted its part, with
pourcentageSubvention = its part of the total granted, valid against the schema."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from core.models import Funder
from cpo import services as cpo_services
from grants import services
from grants.models import Application
from reporting import opendata

from .. import factories as f
from ..grants.test_cofunding import cofunded_file, part_of, proposed, world  # noqa: F401
from .test_opendata import csv_text, frictionless_report

pytestmark = pytest.mark.django_db


def test_one_scdl_row_per_funder_part(world, manager, settings, tmp_path):  # noqa: F811
    settings.SCDL_PUBLISH_ALL = True
    for n, key in enumerate(("state", "commune")):
        Funder.objects.filter(pk=world[key].pk).update(siret=f.siret_for(7100 + n))
    application = cofunded_file(world)
    proposed(world, application, manager)
    for key, amount in (("state", "6000"), ("commune", "1500")):
        services.funder_part_decide(
            actor=manager,
            part=part_of(application, world[key]),
            decision="approve",
            amount=amount,
            reference="Comité des financeurs",
        )
    application = Application.objects.get(pk=application.pk)
    agreement = cpo_services.agreement_create_from_application(
        actor=manager, application=application
    )
    cpo_services.agreement_sign(
        actor=manager, agreement=agreement, signed_on=datetime.date(2026, 3, 2)
    )

    rows = [r for r in opendata.scdl_rows() if r["referenceDecision"] == agreement.reference]
    by_funder = {r["nomAttribuant"]: r for r in rows}
    assert set(by_funder) == {"État — ANCT", "Ville d'Aix"}
    assert by_funder["État — ANCT"]["pourcentageSubvention"] == Decimal("0.80")
    assert by_funder["Ville d'Aix"]["pourcentageSubvention"] == Decimal("0.20")
    assert {r["montant"] for r in rows} == {Decimal("7500.00")}  # the total, before the split

    path = tmp_path / "subventions.csv"
    path.write_bytes(csv_text(rows).encode("utf-8"))
    report = frictionless_report(path, str(opendata.SCHEMA_FILE))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])


def test_an_agreement_of_its_own_is_its_funders_grant(world, manager, settings):  # noqa: F811
    """A funder that insisted on its own agreement: its own SCDL row, its own reference and
    signature date, the whole of that agreement (pourcentageSubvention 1); the joint agreement's
    rows are the other funders'."""
    settings.SCDL_PUBLISH_ALL = True
    for n, key in enumerate(("state", "commune")):
        Funder.objects.filter(pk=world[key].pk).update(siret=f.siret_for(7200 + n))
    application = cofunded_file(world)
    proposed(world, application, manager)
    services.funder_part_set_separate_agreement(
        actor=manager, part=part_of(application, world["commune"]), separate=True
    )
    for key, amount in (("state", "6000"), ("commune", "1500")):
        services.funder_part_decide(
            actor=manager,
            part=part_of(application, world[key]),
            decision="approve",
            amount=amount,
            reference="Comité des financeurs",
        )
    joint = cpo_services.agreement_create_from_application(
        actor=manager, application=Application.objects.get(pk=application.pk)
    )
    own = application.agreements.get(funder=world["commune"])
    for agreement, day in ((joint, 2), (own, 9)):
        cpo_services.agreement_sign(
            actor=manager, agreement=agreement, signed_on=datetime.date(2026, 3, day)
        )
    rows = {r["referenceDecision"]: r for r in opendata.scdl_rows()}
    assert (rows[joint.reference]["nomAttribuant"], rows[joint.reference]["montant"]) == (
        "État — ANCT",
        Decimal("6000.00"),
    )
    mine = rows[own.reference]
    assert (mine["nomAttribuant"], mine["montant"], mine["pourcentageSubvention"]) == (
        "Ville d'Aix",
        Decimal("1500.00"),
        Decimal("1.00"),
    )
    assert mine["dateConvention"] == datetime.date(2026, 3, 9)
