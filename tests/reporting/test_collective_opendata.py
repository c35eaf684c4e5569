"""Open data of a collective file (docs/domain.md §9, issue 18): paid to each partner, one SCDL
row per funder and partner beneficiary with its own part; paid to the lead, one row for the
lead."""

from __future__ import annotations

from decimal import Decimal

import pytest

from grants.models import PaymentFlow
from reporting import opendata

from .. import factories as f
from ..cpo import test_collective_payments as collective
from .test_opendata import csv_text, frictionless_report

pytestmark = pytest.mark.django_db

# The collective file's fixtures, shared with the payment tests.
club = collective.club
signed_agreement = collective.signed_agreement
collective_approved = collective.collective_approved


@pytest.fixture(autouse=True)
def _publish_all(settings, draft):
    settings.SCDL_PUBLISH_ALL = True
    # The programme's funder is the attributing body (idAttribuant needs its SIRET).
    for funder in draft.programme.funders.all():
        funder.siret = f.siret_for(7001)
        funder.save()
    if draft.programme.budget_line_id:
        funder = draft.programme.budget_line.funder
        funder.siret = f.siret_for(7002)
        funder.save()


def test_one_row_per_partner_beneficiary(
    tmp_path,
    draft,
    applicant,
    club,
    manager,
    signed_agreement,
):
    agreement = signed_agreement(
        collective_approved(draft, applicant, club, manager, PaymentFlow.PARTNERS)
    )
    rows = list(opendata.scdl_rows())
    assert {(r["nomBeneficiaire"], r["idBeneficiaire"], r["montant"]) for r in rows} == {
        (agreement.organisation.name, agreement.organisation.siret, Decimal("6400.00")),
        (club.name, club.siret, Decimal("1600.00")),
    }
    assert {r["referenceDecision"] for r in rows} == {agreement.reference}
    path = tmp_path / "subventions.csv"
    path.write_bytes(csv_text(rows).encode("utf-8"))
    report = frictionless_report(path, str(opendata.SCHEMA_FILE))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])


def test_paid_to_the_lead_one_row_for_the_lead(
    draft,
    applicant,
    club,
    manager,
    signed_agreement,
):
    agreement = signed_agreement(
        collective_approved(draft, applicant, club, manager, PaymentFlow.LEAD)
    )
    rows = list(opendata.scdl_rows())
    assert [(r["nomBeneficiaire"], r["montant"]) for r in rows] == [
        (agreement.organisation.name, Decimal("8000.00"))
    ]
