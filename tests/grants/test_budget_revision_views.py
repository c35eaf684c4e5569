"""The budget revision page of a co-funded file (issue 15): when a part is refused or cut, the
applicant edits its own budget lines on a page (no JavaScript needed) so that each funder's
subsidy carries what it granted and the plan balances; nothing is kept otherwise."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.test import Client

from core.models import AuditLog
from grants import services
from grants.models import BudgetRevision

from .test_cofunding import cofunded_file, part_of, proposed, world  # noqa: F401

pytestmark = pytest.mark.django_db


def client(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def cut_file(world, manager):  # noqa: F811
    """The State cuts its part to 5 000 €, the commune refuses its 4 000 €."""
    application = cofunded_file(world)
    proposed(world, application, manager, state_amount="5000")
    services.funder_part_decide(
        actor=world["state_agent"],
        part=part_of(application, world["state"]),
        decision="approve",
        amount="5000",
        reference="Arrêté 12",
    )
    services.funder_part_decide(
        actor=world["commune_agent"],
        part=part_of(application, world["commune"]),
        decision="refuse",
        reason="Hors priorités",
        reference="Délibération 41",
    )
    return application


def post_data(world, *, state="5000", commune="", salaries="11000", commune_line=False):  # noqa: F811
    """The page's form as a browser without JavaScript posts it."""
    products = [
        ("74", "state", str(world["state"].pk), "", state),
        ("75", "", "", "Cotisations", "10000"),
    ]
    if commune_line:
        products.append(("74", "municipality", str(world["commune"].pk), "", commune))
    data = {
        "charges-TOTAL_FORMS": "2",
        "charges-INITIAL_FORMS": "0",
        "charges-0-account": "60",
        "charges-0-label": "Fournitures",
        "charges-0-amount": "4000",
        "charges-1-account": "64",
        "charges-1-label": "Salaires",
        "charges-1-amount": salaries,
        "products-TOTAL_FORMS": str(len(products)),
        "products-INITIAL_FORMS": "0",
        "comment": "Un atelier de moins",
        "action": "save",
    }
    for i, (account, source, funder, label, amount) in enumerate(products):
        data |= {
            f"products-{i}-account": account,
            f"products-{i}-subsidy_source": source,
            f"products-{i}-funder": funder,
            f"products-{i}-label": label,
            f"products-{i}-amount": amount,
        }
    return data


def test_the_file_page_links_to_the_revision_form_with_the_lines_as_they_are(
    world,  # noqa: F811
    cut_file,
    applicant,
):
    page = client(applicant).get(f"/dossiers/{cut_file.pk}/").content.decode()
    assert 'id="revise-budget"' in page
    url = f"/dossiers/{cut_file.pk}/plan-de-financement/reviser/"
    form = client(applicant).get(url)
    assert form.status_code == 200
    html = form.content.decode()
    # What each funder granted, beside what was asked of it.
    assert re.search(r"État — ANCT</th><td[^>]*>6.000,00 €</td><td[^>]*>5.000,00 €", html)
    assert re.search(r"Ville d&#x27;Aix</th><td[^>]*>4.000,00 €</td><td[^>]*>0,00 €", html)
    # The saved subsidy lines come back with their funder chosen.
    assert f'<option value="{world["commune"].pk}" selected>' in html
    assert 'name="products-0-funder"' in html


def test_a_revised_budget_is_saved_and_audited(world, cut_file, applicant):  # noqa: F811
    url = f"/dossiers/{cut_file.pk}/plan-de-financement/reviser/"
    response = client(applicant).post(url, post_data(world))
    assert response.status_code == 302
    revision = BudgetRevision.objects.get(application=cut_file)
    assert revision.state == BudgetRevision.State.REVISED
    assert revision.comment == "Un atelier de moins"
    lines = cut_file.budget_items.filter(account="74")
    assert [(li.funder_id, li.amount) for li in lines] == [(world["state"].pk, Decimal("5000"))]
    assert AuditLog.objects.filter(
        object_id=str(revision.pk), action="grants.budget_revision.revised"
    ).exists()
    # Answered: the form is gone.
    assert client(applicant).get(url).status_code == 404


def test_a_plan_that_does_not_match_the_decisions_is_refused_next_to_its_line(
    world,  # noqa: F811
    cut_file,
    applicant,
):
    url = f"/dossiers/{cut_file.pk}/plan-de-financement/reviser/"
    before = list(cut_file.budget_items.values_list("account", "funder", "amount"))
    response = client(applicant).post(
        url, post_data(world, state="6000", commune="4000", salaries="16000", commune_line=True)
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="error-summary"' in html and 'id="budget-errors"' in html
    assert "le compte 74 doit indiquer" in html
    # Next to the State's line: the amount it granted.
    assert "État — ANCT a accordé 5" in html
    assert "Ville d&#x27;Aix a accordé 0" in html
    # Nothing half-written; the input is kept.
    assert list(cut_file.budget_items.values_list("account", "funder", "amount")) == before
    assert 'value="16000"' in html
    assert BudgetRevision.objects.get(application=cut_file).state == "requested"


def test_a_subsidy_without_its_funder_or_an_unbalanced_plan_is_refused(
    world,  # noqa: F811
    cut_file,
    applicant,
):
    url = f"/dossiers/{cut_file.pk}/plan-de-financement/reviser/"
    data = post_data(world)
    data["products-0-funder"] = ""
    response = client(applicant).post(url, data)
    assert response.status_code == 400
    assert "Choisissez le financeur de cette subvention." in response.content.decode()
    unbalanced = client(applicant).post(url, post_data(world, salaries="12000"))
    assert unbalanced.status_code == 400
    assert "Le budget n&#x27;est pas équilibré" in unbalanced.content.decode()
    assert BudgetRevision.objects.get(application=cut_file).state == "requested"


def test_one_more_line_without_javascript(world, cut_file, applicant):  # noqa: F811
    url = f"/dossiers/{cut_file.pk}/plan-de-financement/reviser/"
    data = post_data(world) | {"action": "add-charges"}
    response = client(applicant).post(url, data)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="charges-2-account"' in html and "autofocus" in html
    assert BudgetRevision.objects.get(application=cut_file).state == "requested"


def test_only_the_applicant_and_only_while_asked(world, cut_file, other_applicant, applicant):  # noqa: F811
    url = f"/dossiers/{cut_file.pk}/plan-de-financement/reviser/"
    assert client(other_applicant).get(url).status_code == 404
    assert client(world["state_agent"]).get(url).status_code == 404
    services.budget_revision_confirm(
        actor=applicant, revision=BudgetRevision.objects.get(application=cut_file)
    )
    assert client(applicant).post(url, post_data(world)).status_code == 404
