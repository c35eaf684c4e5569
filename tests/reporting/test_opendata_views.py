"""The staff open-data page (/pilotage/donnees-ouvertes/): who may read it, the summary, the
threshold, the deadline list late first with what is missing."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from .test_opendata import TODAY, funder, imported_agreement, signed_agreement

pytestmark = pytest.mark.django_db
URL = "/pilotage/donnees-ouvertes/"


@pytest.fixture(autouse=True)
def _today():
    with time_machine.travel(TODAY, tick=False):
        yield


@pytest.fixture
def tracked(instructor):
    """Published (signed in January), late (signed 14 March, a funder without SIRET), pending
    (signed 15 March: its deadline is today)."""
    no_siret = funder("Fondation sans SIRET", 21, siret=False)
    return {
        "published": signed_agreement(instructor, signed_on=datetime.date(2026, 1, 10)),
        "late": signed_agreement(
            instructor,
            signed_on=datetime.date(2026, 3, 14),
            funders=[{"funder": no_siret, "share": Decimal("1")}],
        ),
        "pending": signed_agreement(
            instructor,
            signed_on=datetime.date(2026, 3, 15),
            funders=[{"funder": no_siret, "share": Decimal("1")}],
        ),
    }


def test_the_url_is_the_staff_one():
    assert reverse("reporting:opendata") == URL


@pytest.mark.parametrize("role", ["manager", "auditor", "finance_officer"])
def test_managers_auditors_and_finance_read_it(client, request, role, tracked):
    client.force_login(request.getfixturevalue(role))
    assert client.get(URL).status_code == 200


def test_others_are_refused(client, instructor, applicant):
    assert client.get(URL).status_code == 302  # to the login page
    for user in (instructor, applicant):
        client.force_login(user)
        assert client.get(URL).status_code == 403


def test_late_first_with_deadline_and_what_is_missing(client, manager, tracked):
    client.force_login(manager)
    response = client.get(URL)
    rows = response.context["rows"]
    assert [(r["agreement"].pk, r["status"]) for r in rows] == [
        (tracked["late"].pk, "late"),
        (tracked["pending"].pk, "pending"),
        (tracked["published"].pk, "published"),
    ]
    assert [r["deadline"] for r in rows] == [
        datetime.date(2026, 6, 14),
        datetime.date(2026, 6, 15),
        datetime.date(2026, 4, 10),
    ]
    html = response.content.decode()
    assert "Le financeur « Fondation sans SIRET » n&#x27;a pas de SIRET (idAttribuant)." in html
    assert "14/06/2026" in html and "En retard" in html and "À compléter" in html
    assert "Seuil : sont publiées les conventions signées dont un exercice dépasse 23" in html
    assert "dans les 3 mois suivant la signature" in html  # the rule is explained
    summary = response.context["summary"]
    assert {k: v["count"] for k, v in summary["statuses"].items()} == {
        "late": 1,
        "pending": 1,
        "published": 1,
    }
    assert summary["published_agreements"] == 1 and summary["scdl_rows"] == 1
    assert summary["published_amount"] == Decimal("90000.00")
    for name in ("opendata:scdl_csv", "opendata:multi_year_csv", "opendata:scdl_json"):
        assert reverse(name) in html


def test_status_filter(client, auditor, tracked):
    client.force_login(auditor)
    response = client.get(URL, {"etat": "late"})
    assert [r["agreement"].pk for r in response.context["rows"]] == [tracked["late"].pk]
    # An unknown status shows everything rather than nothing.
    assert len(client.get(URL, {"etat": "nimporte"}).context["rows"]) == 3


def test_publish_all_is_shown_and_the_threshold_from_settings(client, manager, settings, tracked):
    settings.SCDL_THRESHOLD = "100000.00"
    client.force_login(manager)
    response = client.get(URL)
    assert response.context["summary"]["obligated"] == 0
    assert "dont un exercice dépasse 100\xa0000,00 €" in response.content.decode()
    settings.SCDL_PUBLISH_ALL = True
    html = client.get(URL).content.decode()
    assert "Toutes les conventions signées sont publiées" in html


def test_the_page_reads_a_fixed_number_of_queries(client, finance_officer, instructor, tracked):
    client.force_login(finance_officer)
    with CaptureQueriesContext(connection) as few:
        client.get(URL)
    imported_agreement()
    no_siret = funder("Autre fondation", 22, siret=False)
    for day in (2, 3, 4, 5):
        signed_agreement(
            instructor,
            signed_on=datetime.date(2026, 2, day),
            funders=[{"funder": no_siret, "share": Decimal("1")}],
        )
    with CaptureQueriesContext(connection) as many:
        response = client.get(URL)
    assert len(response.context["rows"]) == 8
    assert len(many) == len(few)


def test_the_page_meets_the_accessibility_basics(client, manager, tracked):
    from tests.test_accessibility_pages import audit

    client.force_login(manager)
    assert audit(client, URL) == []
