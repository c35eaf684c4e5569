"""The public open-data page (/donnees/subventions/) and its downloads: no login, no personal data,
filters, constant queries, streamed files."""

from __future__ import annotations

import csv
import datetime
import io
import json
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from reporting import opendata

from .. import factories as f
from .test_opendata import TODAY, funder, imported_agreement, signed_agreement

pytestmark = pytest.mark.django_db
URL = "/donnees/subventions/"


@pytest.fixture(autouse=True)
def _today():
    with time_machine.travel(TODAY, tick=False):
        yield


@pytest.fixture
def people_data(db):
    """An organisation full of personal and bank data that must never reach the public page."""
    return f.OrganisationFactory(
        name="Maison des familles",
        email="presidente.dupont@asso.example.org",
        phone="06 12 34 56 78",
        address="12 rue des Lilas",
        legal_rep_name="Jeanne Dupont",
        iban="FR7630006000011234567890189",
        bic="AGRIFRPP",
    )


@pytest.fixture
def grants(instructor, people_data):
    """Three published agreements: a co-funded CPO for `people_data`, a one-year grant, and an
    imported one; plus one below the threshold that is not published."""
    state = funder("Préfecture de région", 11)
    city = funder("Ville de Marseille", 12)
    cpo = signed_agreement(
        instructor,
        signed_on=datetime.date(2026, 3, 10),
        organisation=people_data,
        duration=3,
        funders=[
            {"funder": state, "share": Decimal("0.6")},
            {"funder": city, "share": Decimal("0.4")},
        ],
        title="Accueil des familles le soir",
    )
    one_year = signed_agreement(
        instructor,
        signed_on=datetime.date(2026, 2, 1),
        organisation=f.OrganisationFactory(name="Jardins du Nord"),
        amount="40000.00",
        funders=[{"funder": city, "share": Decimal("1")}],
    )
    old = imported_agreement(organisation=f.OrganisationFactory(name="Centre social Air Bel"))
    below = signed_agreement(
        instructor,
        signed_on=datetime.date(2026, 2, 2),
        organisation=f.OrganisationFactory(name="Petite association"),
        amount="10000.00",
    )
    return {"cpo": cpo, "one_year": one_year, "old": old, "below": below, "city": city}


def shown(response) -> list[str]:
    """The beneficiaries listed, in order."""
    return [a.organisation.name for a in (r["agreement"] for r in response.context["rows"])]


def body(response) -> bytes:
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content)


# --------------------------------------------------------------------------- the page


def test_the_page_needs_no_login_and_lists_published_grants(client, grants):
    response = client.get(URL)
    assert response.status_code == 200
    assert shown(response) == ["Maison des familles", "Jardins du Nord", "Centre social Air Bel"]
    html = response.content.decode()
    assert "Petite association" not in html  # below the threshold
    parts = [(p.funder.name, p.part, p.share) for p in response.context["rows"][0]["parts"]]
    assert parts == [
        ("Préfecture de région", Decimal("54000.00"), Decimal("0.6")),
        ("Ville de Marseille", Decimal("36000.00"), Decimal("0.4")),
    ]
    assert "Préfecture de région : 54" in html and "(60 %)" in html and "(40 %)" in html
    for name in ("scdl_csv", "scdl_json", "multi_year_csv", "schema"):
        assert f'href="{reverse("opendata:" + name)}"' in html
    assert 'href="https://schema.data.gouv.fr/scdl/subventions/2.1.1/"' in html


def test_no_personal_data_on_the_page_nor_in_the_files(client, grants, people_data):
    secrets = [
        people_data.email,
        people_data.phone,
        people_data.address,
        people_data.legal_rep_name,
        people_data.iban,
        people_data.bic,
        "Dupont",
    ]
    pages = [client.get(URL).content]
    for name in ("opendata:scdl_csv", "opendata:scdl_json", "opendata:multi_year_csv"):
        pages.append(body(client.get(reverse(name))))
    for content in pages:
        text = content.decode()
        assert "Maison des familles" in text
        for secret in secrets:
            assert secret not in text


def test_filters_year_programme_funder_qpv_and_name(client, grants):
    cpo, one_year, old, city = grants["cpo"], grants["one_year"], grants["old"], grants["city"]
    assert shown(client.get(URL, {"annee": "2025"})) == ["Centre social Air Bel"]
    assert shown(client.get(URL, {"annee": "2028"})) == ["Maison des familles"]
    assert shown(client.get(URL, {"programme": one_year.programme_id})) == ["Jardins du Nord"]
    assert shown(client.get(URL, {"financeur": city.pk})) == [
        "Maison des familles",
        "Jardins du Nord",
    ]
    # The imported agreement is funded by its programme's funder (no funder rows).
    old_funder = old.programme.budget_line.funder
    assert shown(client.get(URL, {"financeur": old_funder.pk})) == ["Centre social Air Bel"]
    qpv = cpo.application.qpvs.get()
    assert shown(client.get(URL, {"quartier": qpv.code})) == ["Maison des familles"]
    assert shown(client.get(URL, {"beneficiaire": "jardins"})) == ["Jardins du Nord"]
    combined = client.get(URL, {"annee": "2026", "financeur": city.pk, "beneficiaire": "maison"})
    assert shown(combined) == ["Maison des familles"]


def test_a_bad_filter_is_explained_and_ignored(client, grants):
    response = client.get(URL, {"annee": "deux mille", "programme": "999999"})
    assert response.status_code == 200
    form = response.context["form"]
    assert "annee" in form.errors and "programme" in form.errors
    assert "Sélectionnez un choix valide" in response.content.decode()
    assert len(shown(response)) == 3  # the list stays whole


def test_the_page_reads_a_fixed_number_of_queries(client, grants, instructor):
    with CaptureQueriesContext(connection) as few:
        assert client.get(URL).status_code == 200
    for day in range(3, 9):
        signed_agreement(instructor, signed_on=datetime.date(2026, 4, day), duration=2)
    with CaptureQueriesContext(connection) as many:
        response = client.get(URL)
    assert len(shown(response)) == 9
    assert len(many) == len(few)


def test_pagination_keeps_the_filters(client, grants, instructor, monkeypatch):
    from reporting import views_public

    monkeypatch.setattr(views_public, "PAGE_SIZE", 2)
    response = client.get(URL, {"annee": "2026"})
    assert response.context["page"].paginator.num_pages == 2
    assert 'href="?annee=2026&amp;page=2"' in response.content.decode()
    assert shown(client.get(URL, {"annee": "2026", "page": "2"})) == ["Centre social Air Bel"]


# --------------------------------------------------------------------------- downloads


def test_scdl_csv_is_streamed_with_a_row_per_funder(client, grants):
    response = client.get(reverse("opendata:scdl_csv"))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="subventions-scdl-2.1.1.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(body(response).decode("utf-8"))))
    by_name = {}
    for row in rows:
        by_name.setdefault(row["nomBeneficiaire"], []).append(row)
    assert sorted(by_name) == ["Centre social Air Bel", "Jardins du Nord", "Maison des familles"]
    cpo_rows = by_name["Maison des familles"]
    assert [r["pourcentageSubvention"] for r in cpo_rows] == ["0.60", "0.40"]
    assert {r["montant"] for r in cpo_rows} == {"90000.00"}


def test_downloads_follow_the_filters(client, grants):
    response = client.get(reverse("opendata:scdl_csv"), {"beneficiaire": "jardins"})
    rows = list(csv.DictReader(io.StringIO(body(response).decode("utf-8"))))
    assert [r["nomBeneficiaire"] for r in rows] == ["Jardins du Nord"]
    page = client.get(URL, {"beneficiaire": "jardins"}).content.decode()
    assert f"{reverse('opendata:scdl_csv')}?beneficiaire=jardins" in page


def test_a_download_with_a_bad_filter_is_refused_in_french(client, grants):
    response = client.get(reverse("opendata:multi_year_csv"), {"annee": "x"})
    assert response.status_code == 400
    assert response.content.decode().startswith("Filtres invalides :\n- Exercice :")


def test_json_and_multi_year_downloads(client, grants):
    document = json.loads(body(client.get(reverse("opendata:scdl_json"))), parse_float=Decimal)
    assert len(document["data"]) == 4  # 2 funders + 1 + 1
    assert document["schema"]["version"] == opendata.SCHEMA_VERSION
    years = list(
        csv.DictReader(io.StringIO(body(client.get(reverse("opendata:multi_year_csv"))).decode()))
    )
    cpo = [r for r in years if r["nomBeneficiaire"] == "Maison des familles"]
    assert [r["exerciceBudgetaire"] for r in cpo] == ["2026", "2027", "2028"]
    assert {r["pluriannualite"] for r in cpo} == {"oui"}
    assert {r["montantAttribue"] for r in cpo} == {"30000.00"}


def test_the_schema_is_served_from_the_product(client):
    response = client.get(reverse("opendata:schema"))
    assert response.status_code == 200
    schema = json.loads(b"".join(response.streaming_content))
    assert schema["name"] == "subventions" and schema["version"] == "2.1.1"


def test_the_page_meets_the_accessibility_basics(client, grants):
    from tests.test_accessibility_pages import audit

    assert audit(client, URL) == []
    assert audit(client, URL + "?annee=2026&beneficiaire=maison") == []
