"""The association's payments page (cpo:my_payments): grouped by agreement and fiscal year, every
stage with its explanation (hold reason, payment date, rejection), totals per agreement, nothing of
another organisation, and a query count that does not grow with the number of instalments."""

from __future__ import annotations

import html as htmllib
import re

import pytest
from django.urls import reverse

from core.clock import today
from core.models import Role
from cpo.models import Instalment, InstalmentState
from finance import services as services_finance
from tests.factories import (
    OrganisationFactory,
    UserFactory,
    add_member,
    cpo_awaiting_evaluation,
    give_role,
)

I = InstalmentState  # noqa: E741
URL = "/conventions/paiements/"


@pytest.fixture
def second_officer(db):
    user = UserFactory(email="comptable2@ville.example.org")
    give_role(user, Role.FINANCE_OFFICER)
    return user


@pytest.fixture
def agreement(instructor, applicant, organisation):
    return cpo_awaiting_evaluation(instructor=instructor, organisation=organisation)


def text(response) -> str:
    """The page's visible text, spaces collapsed (amounts use narrow no-break spaces)."""
    html = response.content.decode()
    html = htmllib.unescape(re.sub(r"<[^>]+>", " ", html))
    html = html.replace("\u202f", " ").replace("\xa0", " ")
    return re.sub(r"\s+", " ", html)


def section(response, element_id: str) -> str:
    html = response.content.decode()
    start = html.index(f'id="{element_id}"')
    end = html.find("</section>", start)
    chunk = html[start : end if end != -1 else None]
    chunk = htmllib.unescape(re.sub(r"<[^>]+>", " ", chunk))
    chunk = chunk.replace("\u202f", " ").replace("\xa0", " ")
    return re.sub(r"\s+", " ", chunk)


def test_url_name():
    assert reverse("cpo:my_payments") == URL


def test_grouped_by_agreement_and_year_with_every_stage(
    client, applicant, agreement, finance_officer, second_officer
):
    last_year, this_year = today().year - 1, today().year
    # Last year's advance goes all the way to paid; last year's balance is in a run.
    advance, balance = agreement.instalments.filter(year__fiscal_year=last_year).order_by("number")
    run = services_finance.payment_run_create(actor=finance_officer, instalment_ids=[advance.pk])
    services_finance.payment_run_approve(actor=second_officer, run=run)
    services_finance.payment_run_export(actor=finance_officer, run=run)
    services_finance.confirmations_apply_rows(
        actor=finance_officer,
        rows=[{"item": run.items.get().pk, "status": "paid", "paid_on": today(), "reason": ""}],
    )
    services_finance.payment_run_create(actor=finance_officer, instalment_ids=[balance.pk])

    client.force_login(applicant)
    response = client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="agreement-{agreement.pk}-{last_year}"' in html
    assert f'id="agreement-{agreement.pk}-{this_year}"' in html
    assert f'id="agreement-{agreement.pk}-{this_year + 1}"' in html

    def row(instalment) -> str:
        match = re.search(rf'<tr id="instalment-{instalment.pk}">(.*?)</tr>', html, re.S)
        return re.sub(r"\s+", " ", htmllib.unescape(re.sub(r"<[^>]+>", " ", match.group(1))))

    assert f"Payé le {today().strftime('%d/%m/%Y')}" in row(advance)
    assert "En cours de paiement" in row(Instalment.objects.get(pk=balance.pk))
    held = agreement.instalments.get(state=I.ON_HOLD)
    assert "Suspendu" in row(held)
    assert f"En attente de l'évaluation {last_year} acceptée" in row(held)
    assert "Exigible" in row(agreement.instalments.get(year__fiscal_year=this_year, number=1))
    assert "Prévu" in row(agreement.instalments.filter(state=I.PLANNED).first())

    totals = section(response, f"agreement-{agreement.pk}-totals")
    assert "Payé 15 000,00 €" in totals
    assert "En cours de paiement 15 000,00 €" in totals
    assert "À venir 60 000,00 €" in totals
    assert "Total 90 000,00 €" in totals
    page = text(response)
    assert f"Total {last_year} 30 000,00 €" in page
    summary = section(response, "payments-summary")
    assert "Payé 15 000,00 €" in summary
    assert "En cours de paiement 15 000,00 €" in summary
    assert "Exigible 15 000,00 €" in summary
    assert "Suspendu 15 000,00 €" in summary
    assert "Prévu 30 000,00 €" in summary
    assert "Total de vos conventions 90 000,00 €" in summary


def test_rejected_payment_shows_its_reason(
    client, applicant, agreement, finance_officer, second_officer
):
    ids = list(agreement.instalments.filter(state=I.DUE).values_list("pk", flat=True))
    run = services_finance.payment_run_create(actor=finance_officer, instalment_ids=ids)
    services_finance.payment_run_approve(actor=second_officer, run=run)
    services_finance.payment_run_export(actor=finance_officer, run=run)
    item = run.items.order_by("pk").first()
    services_finance.confirmations_apply_rows(
        actor=finance_officer,
        rows=[{"item": item.pk, "status": "rejected", "paid_on": None, "reason": "IBAN clos"}],
    )
    client.force_login(applicant)
    page = text(client.get(URL))
    assert "Virement rejeté : IBAN clos" in page


def test_cancelled_instalments_are_left_out(client, applicant, agreement):
    planned = agreement.instalments.filter(state=I.PLANNED).first()
    Instalment.objects.filter(pk=planned.pk).update(state=I.CANCELLED)
    client.force_login(applicant)
    html = client.get(URL).content.decode()
    assert f'id="instalment-{planned.pk}"' not in html
    assert "Total de vos conventions 75 000,00 €" in text(client.get(URL))


def test_no_other_organisation_leaks(client, applicant, agreement, instructor):
    other = cpo_awaiting_evaluation(instructor=instructor)
    client.force_login(applicant)
    html = client.get(URL).content.decode()
    assert agreement.reference in html
    assert other.reference not in html
    assert other.organisation.name not in html
    for instalment in other.instalments.all():
        assert f'id="instalment-{instalment.pk}"' not in html


def test_several_organisations_are_named(client, applicant, agreement, instructor):
    second = OrganisationFactory(name="Seconde association")
    add_member(applicant, second)
    other = cpo_awaiting_evaluation(instructor=instructor, organisation=second)
    client.force_login(applicant)
    html = client.get(URL).content.decode()
    assert f'id="agreement-{other.pk}"' in html and "Seconde association" in html
    assert f'id="agreement-{agreement.pk}"' in html


def test_missing_bank_details_are_pointed_out(client, applicant, agreement):
    organisation = agreement.organisation
    type(organisation).objects.filter(pk=organisation.pk).update(iban="", bic="")
    client.force_login(applicant)
    html = client.get(URL).content.decode()
    assert 'id="missing-bank-details"' in html
    assert reverse("core:organisation_bank", args=[organisation.pk]) in html


def test_bank_details_present_no_warning(client, applicant, agreement):
    client.force_login(applicant)
    assert 'id="missing-bank-details"' not in client.get(URL).content.decode()


def test_empty_state(client, applicant):
    client.force_login(applicant)
    response = client.get(URL)
    assert response.status_code == 200
    assert 'id="payments-empty"' in response.content.decode()


def test_without_organisation_404_and_anonymous_to_login(client, instructor):
    response = client.get(URL)
    assert response.status_code == 302 and "/connexion/" in response["Location"]
    client.force_login(instructor)
    assert client.get(URL).status_code == 404


def test_query_count_does_not_grow_with_instalments(
    client, applicant, organisation, instructor, django_assert_num_queries
):
    cpo_awaiting_evaluation(instructor=instructor, organisation=organisation)
    client.force_login(applicant)
    client.get(URL)  # warm caches (session, content types)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        assert client.get(URL).status_code == 200
    for _ in range(3):
        cpo_awaiting_evaluation(instructor=instructor, organisation=organisation)
    assert Instalment.objects.filter(agreement__organisation=organisation).count() == 24
    with django_assert_num_queries(len(small.captured_queries)):
        response = client.get(URL)
    assert response.content.decode().count('<tr id="instalment-') == 24
