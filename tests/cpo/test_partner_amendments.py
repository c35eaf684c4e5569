"""Amendments of an agreement paid to each partner (docs/domain.md §9, issue 18): a payee's yearly
part changes, its unpaid instalments are planned again for it, the years and the total follow;
what is already due stays; bad input is refused with nothing written."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal

import pytest
from pypdf import PdfReader

from core.clock import today
from core.errors import DomainError, PermissionDenied
from core.models import AuditLog
from cpo import documents
from cpo import services as cpo_services
from cpo.documents import euros
from cpo.models import Agreement, Amendment, Instalment, InstalmentState
from cpo.services_changes import amendment_partner_parts
from grants.models import PaymentFlow

from .test_collective_payments import club, collective_approved  # noqa: F401

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def agreement(draft, applicant, club, manager, instructor):  # noqa: F811
    """8 000 € over two years (4 000 € a year), the club's part 800 € a year, paid to each
    partner; signed yesterday: this year's advances are due, next year's instalments planned."""

    def build(flow=PaymentFlow.PARTNERS) -> Agreement:
        app = collective_approved(draft, applicant, club, manager, flow)
        agreement = cpo_services.agreement_create_from_application(
            actor=instructor,
            application=app,
            profile="flat",
            duration_years=2,
            first_year=today().year,
        )
        cpo_services.agreement_sign(
            actor=instructor, agreement=agreement, signed_on=today() - datetime.timedelta(days=1)
        )
        cpo_services.instalments_refresh(day=today(), agreement_ids=[agreement.pk])
        return Agreement.objects.get(pk=agreement.pk)

    return build


def part(agreement, payee, year) -> Decimal:
    rows = Instalment.objects.filter(
        agreement=agreement, beneficiary=payee, year__fiscal_year=year
    ).exclude(state=InstalmentState.CANCELLED)
    return sum((i.amount for i in rows), D("0"))


def test_a_partners_part_of_a_year_changes_and_the_year_follows(agreement, club, instructor):  # noqa: F811
    agreement = agreement()
    next_year = agreement.first_year + 1
    assert part(agreement, club, next_year) == D("800.00")
    lead_before = part(agreement, None, next_year)
    amendment = amendment_partner_parts(
        actor=instructor,
        agreement=agreement,
        reason="Le club double ses tournois.",
        effective_on=today(),
        parts={club.pk: {next_year: "1 000,00"}},
    )
    agreement = Agreement.objects.get(pk=agreement.pk)
    assert amendment.version == 2 and agreement.version == 2
    assert part(agreement, club, next_year) == D("1000.00")
    assert part(agreement, None, next_year) == lead_before
    assert agreement.years.get(fiscal_year=next_year).amount == D("4200.00")
    assert agreement.total_amount == D("8200.00")
    assert (
        sum(
            (i.amount for i in agreement.instalments.exclude(state=InstalmentState.CANCELLED)), D(0)
        )
        == agreement.total_amount
    )
    new = agreement.instalments.filter(amendment_version=2)
    assert new.exists() and set(new.values_list("beneficiary_id", flat=True)) == {club.pk}
    assert AuditLog.objects.filter(action="cpo.agreement.amended").count() == 1
    assert AuditLog.objects.filter(action="cpo.instalment.replanned").count() == new.count()
    assert amendment.after["partner_parts"][0]["amount"] == "1000.00"


def test_what_is_already_due_stays_and_bounds_the_part(agreement, club, instructor):  # noqa: F811
    agreement = agreement()
    this_year = agreement.first_year
    due = part(agreement, club, this_year)
    assert Instalment.objects.filter(
        agreement=agreement, beneficiary=club, state=InstalmentState.DUE
    ).exists()
    with pytest.raises(DomainError) as exc:
        amendment_partner_parts(
            actor=instructor,
            agreement=agreement,
            reason="Baisse",
            effective_on=today(),
            parts={club.pk: {this_year: "10.00"}},
        )
    assert "déjà" in str(exc.value.message)
    assert not Amendment.objects.exists()
    assert part(agreement, club, this_year) == due


def test_bad_input_is_refused(agreement, club, instructor, applicant, other_applicant):  # noqa: F811
    agreement = agreement()
    next_year = agreement.first_year + 1
    with pytest.raises(PermissionDenied):
        amendment_partner_parts(
            actor=applicant,
            agreement=agreement,
            reason="x",
            effective_on=today(),
            parts={club.pk: {next_year: "900"}},
        )
    for parts, field in (
        ({club.pk: {next_year: "-1"}}, "parts"),
        ({club.pk: {next_year + 5: "900"}}, "parts"),
        ({999999: {next_year: "900"}}, "parts"),
        ({club.pk: {next_year: "800.00"}}, "parts"),  # nothing changes
    ):
        with pytest.raises(DomainError) as exc:
            amendment_partner_parts(
                actor=instructor,
                agreement=agreement,
                reason="Motif",
                effective_on=today(),
                parts=parts,
            )
        assert exc.value.field == field
    with pytest.raises(DomainError):
        amendment_partner_parts(
            actor=instructor, agreement=agreement, reason=" ", effective_on=today(), parts={}
        )
    assert not Amendment.objects.exists()


def test_an_agreement_paid_to_the_lead_uses_the_ordinary_amendment(agreement, club, instructor):  # noqa: F811
    agreement = agreement(PaymentFlow.LEAD)
    with pytest.raises(DomainError) as exc:
        amendment_partner_parts(
            actor=instructor,
            agreement=agreement,
            reason="Motif",
            effective_on=today(),
            parts={None: {agreement.first_year + 1: "5000"}},
        )
    assert "ordinaire" in str(exc.value.message)


def test_the_agreement_page_amends_the_parts(client, agreement, club, instructor):  # noqa: F811
    agreement = agreement()
    next_year = agreement.first_year + 1
    client.force_login(instructor)
    page = client.get(f"/conventions/{agreement.pk}/")
    assert 'id="amend-parts"' in page.text
    assert f'name="part_{club.pk}_{next_year}"' in page.text
    url = f"/conventions/{agreement.pk}/avenants/parts/"
    refused = client.post(
        url,
        {f"part_{club.pk}_{next_year}": "900,00", "effective_on": today().isoformat()},
    )
    assert refused.status_code == 400 and "motif" in refused.text.lower()
    assert not Amendment.objects.exists()
    done = client.post(
        url,
        {
            f"part_{club.pk}_{next_year}": "900,00",
            "effective_on": today().isoformat(),
            "reason": "Tournoi supplémentaire",
        },
    )
    assert done.status_code == 302
    assert part(agreement, club, next_year) == D("900.00")


def test_the_amendment_pdf_shows_each_changed_part_readably(agreement, club, instructor):  # noqa: F811
    agreement = agreement()
    next_year = agreement.first_year + 1
    lead = agreement.organisation
    amendment = amendment_partner_parts(
        actor=instructor,
        agreement=agreement,
        reason="Le club double ses tournois.",
        effective_on=today(),
        parts={club.pk: {next_year: "1000.00"}, None: {next_year: "3000.00"}},
    )
    doc = documents.render_amendment(amendment, compress=False)
    assert "Parts des bénéficiaires (versement à chaque partenaire)" in doc.lines
    text = doc.text
    assert "Bénéficiaire | Exercice | Avant | Après | Écart" in text
    assert f"{club.name} | {next_year} | {euros(800)} | {euros(1000)} | +{euros(200)}" in text
    assert f"{lead.name} | {next_year} | {euros(3200)} | {euros(3000)} | {euros(-200)}" in text
    assert "partner_parts" not in text  # no raw key any more
    # The year's total is unchanged (+200 − 200): the years table shows a zero gap.
    assert f"{next_year} | {euros(4000)} | {euros(4000)} | {euros(0)}" in text
    # The PDF itself draws it: extract its text.
    drawn = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(doc.content)).pages)
    drawn = " ".join(drawn.replace("\u202f", " ").replace("\xa0", " ").split())
    assert "Parts des bénéficiaires" in drawn
    assert club.name in drawn and "+200,00 €" in drawn and "-200,00 €" in drawn
    assert "partner_parts" not in drawn
