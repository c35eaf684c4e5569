"""Collective files in the reporting (docs/domain.md §9, issue 18): the dashboards' money by
beneficiary organisation counts each partner's part (paid: what each one received), and the
partner's global page lists the files where it is partner, with its part."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from cpo.models import AgreementState, Instalment, InstalmentState
from grants.models import PaymentFlow
from reporting import analytics
from reporting.analytics import Filters
from reporting.selectors_organisations import files_as_partner, global_contract

from ..cpo import test_collective_payments as collective
from .test_analytics import by_label

pytestmark = pytest.mark.django_db

club = collective.club
signed_agreement = collective.signed_agreement
collective_approved = collective.collective_approved
D = Decimal


def _pay_all(agreement) -> None:
    # The payment chain is the finance app's (tested there): only the outcome matters here.
    Instalment.objects.filter(agreement=agreement).update(state=InstalmentState.PAID)


def test_money_by_organisation_paid_to_each_partner(
    draft, applicant, club, manager, signed_agreement
):
    agreement = signed_agreement(
        collective_approved(draft, applicant, club, manager, PaymentFlow.PARTNERS)
    )
    _pay_all(agreement)
    table = analytics.money_by_stage("organisation", Filters())
    rows = by_label(table)
    lead = agreement.organisation.name
    # 10 000 € asked (the club 2 000 €), 8 000 € approved (the club 1 600 €), all paid.
    assert rows[lead]["requested"] == D("8000.00") and rows[club.name]["requested"] == D("2000.00")
    assert rows[lead]["approved"] == D("6400.00") and rows[club.name]["approved"] == D("1600.00")
    assert rows[lead]["paid"] == D("6400.00") and rows[club.name]["paid"] == D("1600.00")
    # Not by organisation: the envelope and the commitment (a whole agreement's).
    assert rows[lead]["envelope"] is None and rows[lead]["committed"] is None
    assert table.total[STAGE_INDEX["paid"]] == D("8000.00")
    assert any("chef de file" in note for note in table.notes)


STAGE_INDEX = {s: i for i, s in enumerate(["label", *analytics.STAGES])}


def test_money_by_organisation_paid_to_the_lead(draft, applicant, club, manager, signed_agreement):
    agreement = signed_agreement(
        collective_approved(draft, applicant, club, manager, PaymentFlow.LEAD)
    )
    _pay_all(agreement)
    rows = by_label(analytics.money_by_stage("organisation", Filters()))
    assert rows[agreement.organisation.name]["paid"] == D("8000.00")
    assert rows[club.name]["paid"] == D("0.00")
    assert rows[club.name]["approved"] == D("1600.00")


def test_other_dimensions_still_count_the_file_once(
    draft, applicant, club, manager, signed_agreement
):
    signed_agreement(collective_approved(draft, applicant, club, manager, PaymentFlow.PARTNERS))
    totals = analytics.totals(Filters())
    assert totals["requested"] == D("10000.00") and totals["approved"] == D("8000.00")


def test_the_partners_global_page_lists_its_part(
    client, draft, applicant, club, manager, signed_agreement
):
    agreement = signed_agreement(
        collective_approved(draft, applicant, club, manager, PaymentFlow.PARTNERS)
    )
    first = Instalment.objects.filter(agreement=agreement, beneficiary=club).order_by("pk")
    Instalment.objects.filter(pk=first.first().pk).update(state=InstalmentState.PAID)
    (row,) = files_as_partner(manager, club)
    assert row.application_id == agreement.application_id
    assert row.paid_to_it == first.first().amount
    assert row.paid_to_it + row.remaining_to_it == D("1600.00")
    client.force_login(manager)
    page = client.get(reverse("reporting:organisation_global", args=[club.pk]))
    assert page.status_code == 200
    assert f'id="partner-file-{agreement.application_id}"' in page.text
    assert agreement.organisation.name in page.text
    # The lead's own page has no such section (it leads the file).
    lead_page = client.get(
        reverse("reporting:organisation_global", args=[agreement.organisation.pk])
    )
    assert 'id="partner-files"' not in lead_page.text


def test_the_leads_page_counts_only_its_own_part_when_each_partner_is_paid(
    client, draft, applicant, club, manager, signed_agreement
):
    agreement = signed_agreement(
        collective_approved(draft, applicant, club, manager, PaymentFlow.PARTNERS)
    )
    # The club's instalment paid, the lead's still due.
    Instalment.objects.filter(agreement=agreement, beneficiary=club).update(
        state=InstalmentState.PAID
    )
    lead = agreement.organisation
    data = global_contract(manager, lead, staff=True)
    money = data["money"]
    # 8 000 € approved: 6 400 € for the lead, 1 600 € for the club paid directly.
    assert money.total.committed == D("6400.00")
    assert money.total.paid == D("0.00") and money.total.remaining == D("6400.00")
    assert sum(row.committed for row in money.by_year) == D("6400.00")
    (partner,) = money.partners
    assert partner.funder == club.name
    assert (partner.committed, partner.paid, partner.remaining) == (
        D("1600.00"),
        D("1600.00"),
        D("0.00"),
    )
    assert money.partners_total.committed == D("1600.00")
    client.force_login(manager)
    page = client.get(reverse("reporting:organisation_global", args=[lead.pk]))
    assert page.status_code == 200
    assert "Parts des partenaires payées directement (non comptées ci-dessus)" in page.text
    assert f'data-partner="{club.name}"' in page.text
    assert 'id="money-partners-total"' in page.text
    # The club's own page counts nothing of the lead's agreement as its funding.
    club_page = client.get(reverse("reporting:organisation_global", args=[club.pk]))
    assert 'id="money-partners"' not in club_page.text


def test_the_leads_page_counts_everything_when_paid_to_the_lead(
    client, draft, applicant, club, manager, signed_agreement
):
    agreement = signed_agreement(
        collective_approved(draft, applicant, club, manager, PaymentFlow.LEAD)
    )
    money = global_contract(manager, agreement.organisation, staff=True)["money"]
    assert money.total.committed == D("8000.00") and money.total.remaining == D("8000.00")
    assert money.partners == []


def test_a_terminated_agreement_commits_what_each_payee_was_paid(
    draft, applicant, club, manager, signed_agreement
):
    agreement = signed_agreement(
        collective_approved(draft, applicant, club, manager, PaymentFlow.PARTNERS)
    )
    Instalment.objects.filter(agreement=agreement, beneficiary=club).update(
        state=InstalmentState.PAID
    )
    Instalment.objects.filter(agreement=agreement, beneficiary=None).update(
        state=InstalmentState.CANCELLED
    )
    type(agreement).objects.filter(pk=agreement.pk).update(state=AgreementState.TERMINATED)
    money = global_contract(manager, agreement.organisation, staff=True)["money"]
    assert money.total.committed == D("0.00")
    assert money.partners_total.committed == D("1600.00")
    assert money.partners_total.paid == D("1600.00")


def test_the_money_page_offers_the_organisation_dimension(client, manager, draft):
    client.force_login(manager)
    page = client.get(reverse("reporting:dashboard_money") + "?dimension=organisation&stage=paid")
    assert page.status_code == 200
    assert "Organisation bénéficiaire" in page.text
