"""Dashboard pages (/pilotage/): who sees them (others 404), the charts are accessible SVG with
the table behind them, CSV/XLSX downloads carry the rows, bad filters give a French error, and the
number of queries of a page does not grow with the data."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from . import test_analytics_dataset as data

pytestmark = pytest.mark.django_db

PAGES = [
    "dashboard",
    "dashboard_money",
    "dashboard_envelopes",
    "dashboard_forecast",
    "dashboard_times",
    "dashboard_neighbourhoods",
    "dashboard_security",
]


@pytest.fixture
def ds():
    return data.build()


def spaces(text: str) -> str:
    """French grouping uses (narrow) no-break spaces: compare with plain ones."""
    return text.replace("\u202f", " ").replace("\xa0", " ")


def url(name: str) -> str:
    return reverse(f"reporting:{name}")


class TestAccess:
    def test_index_is_the_dashboard_home(self):
        assert url("dashboard") == "/pilotage/"

    @pytest.mark.parametrize("name", PAGES)
    def test_applicants_instructors_committee_and_panel_get_404(
        self, client, name, applicant, instructor, committee_member, panel_member
    ):
        for user in (applicant, instructor, committee_member, panel_member):
            client.force_login(user)
            assert client.get(url(name)).status_code == 404
            assert client.get(url(name) + "?format=csv").status_code == 404

    def test_anonymous_is_sent_to_login(self, client):
        response = client.get(url("dashboard"))
        assert response.status_code == 302 and "next=/pilotage/" in response["Location"]

    @pytest.mark.parametrize("name", PAGES)
    def test_managers_finance_auditors_and_admins_read_every_page(
        self, client, ds, name, manager, finance_officer, auditor
    ):
        from tests import factories as f

        admin = f.UserFactory(email="admin@ville.example.org", is_superuser=True)
        for user in (manager, finance_officer, auditor, admin):
            client.force_login(user)
            response = client.get(url(name))
            assert response.status_code == 200, (name, user)


def test_every_page_meets_the_accessibility_basics(client, ds, manager):
    """One <h1>, labelled filters, header cells with a scope, no external asset (the audit of
    tests/test_accessibility_pages.py), on data that fills every table."""
    from tests.test_accessibility_pages import audit

    client.force_login(manager)
    problems = []
    for name in PAGES:
        problems += audit(client, url(name))
    assert problems == []


class TestPages:
    def test_home_cards(self, client, ds, manager):
        client.force_login(manager)
        html = client.get(url("dashboard")).content.decode()
        assert 'id="dashboard-cards"' in html
        # Committed 41 000 €, paid 16 500 €, envelope 600 000 €, French grouping.
        text = spaces(html)
        for figure in ("41 000,00 €", "16 500,00 €", "600 000,00 €"):
            assert figure in text
        assert "50,0 %" in text  # associations under a multi-year agreement

    def test_money_page_chart_is_accessible_svg_with_its_table(self, client, ds, manager):
        client.force_login(manager)
        html = client.get(url("dashboard_money") + "?dimension=funder&stage=paid").content.decode()
        assert '<svg id="chart-dashboard_money" class="chart" role="img" aria-label="' in html
        assert '<title id="chart-dashboard_money-title">Payé (CP) par financeur</title>' in html
        assert '<table id="table-money"' in html and "<caption>" in html
        assert '<th scope="col" class="num">Engagé (AE)</th>' in html
        assert '<th scope="row">Métropole</th>' in html
        assert "?dimension=funder&amp;stage=paid&amp;format=csv&amp;table=money" in html

    def test_filters_narrow_the_figures_and_follow_the_navigation(self, client, ds, manager):
        client.force_login(manager)
        response = client.get(url("dashboard_money") + f"?programme={ds.p2.pk}&dimension=programme")
        html = response.content.decode()
        assert (
            "Quartiers d&#x27;été 2027" in html
            and "Contrat de ville 2026" not in html.split("<table", 1)[1]
        )
        assert f'href="/pilotage/delais/?programme={ds.p2.pk}"' in html

    def test_forecast_page_draws_stacked_columns(self, client, ds, finance_officer):
        client.force_login(finance_officer)
        html = client.get(url("dashboard_forecast")).content.decode()
        assert 'id="chart-forecast"' in html and "Restes à payer par exercice" in html
        assert "En cours de paiement" in html

    def test_times_page_has_the_trend_and_the_table_per_call(self, client, ds, auditor):
        client.force_login(auditor)
        html = client.get(url("dashboard_times")).content.decode()
        assert 'id="table-by_month"' in html and 'id="table-by_call"' in html
        assert "Décidés dans les délais (%)" in html

    def test_bad_filter_gives_a_french_error_and_no_figures(self, client, ds, manager):
        client.force_login(manager)
        response = client.get(url("dashboard_money") + "?fiscal_year=1999&dimension=galaxie")
        html = response.content.decode()
        assert response.status_code == 400
        assert 'id="filter-errors"' in html and "Sélectionnez un choix valide" in html
        assert '<table id="table-money"' not in html
        response = client.get(url("dashboard_money") + "?programme=abc&format=csv")
        assert response.status_code == 400
        assert response.content.decode().startswith("Filtres invalides")

    def test_unknown_format_or_table(self, client, ds, manager):
        client.force_login(manager)
        response = client.get(url("dashboard_times") + "?format=pdf")
        assert response.status_code == 400
        assert "Format de fichier inconnu" in response.content.decode()
        response = client.get(url("dashboard_times") + "?format=csv&table=nope")
        assert response.status_code == 400 and "Tableau inconnu" in response.content.decode()


class TestDownloads:
    def test_csv_has_french_headers_rows_and_amounts_with_two_decimals(self, client, ds, manager):
        client.force_login(manager)
        response = client.get(url("dashboard_money") + "?dimension=programme&format=csv")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        assert 'filename="pluriel-dashboard-money-money-' in response["Content-Disposition"]
        body = response.content.decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(body)))
        assert rows[0] == [
            "Programme",
            "Enveloppe",
            "Demandé",
            "Accordé",
            "Engagé (AE)",
            "Payé (CP)",
            "Recouvré",
        ]
        assert rows[1] == [
            "Contrat de ville 2026",
            "500000.00",
            "35000.02",
            "14000.01",
            "11000.00",
            "6500.00",
            "1000.00",
        ]
        assert rows[2][0] == "Quartiers d'été 2027"
        assert rows[3] == [
            "Total",
            "600000.00",
            "42000.02",
            "14000.01",
            "41000.00",
            "16500.00",
            "1000.00",
        ]

    def test_csv_keeps_the_page_filters(self, client, ds, manager):
        client.force_login(manager)
        response = client.get(
            url("dashboard_money") + f"?dimension=fiscal_year&funder={ds.f2.pk}&format=csv"
        )
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
        assert [r[0] for r in rows[1:]] == ["2026", "2027", "Total"]
        assert rows[-1][5] == "2000.00"  # paid by the Métropole

    def test_excel_fr_has_a_bom_semicolons_and_decimal_commas(self, client, ds, manager):
        client.force_login(manager)
        response = client.get(
            url("dashboard_money") + f"?dimension=fiscal_year&funder={ds.f2.pk}&format=excel-fr"
        )
        assert response.status_code == 200
        assert response.content.startswith(b"\xef\xbb\xbf")
        assert response["Content-Disposition"].endswith('-excel.csv"')
        body = response.content.decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(body), delimiter=";"))
        assert rows[-1][5] == "2000,00"  # paid by the Métropole
        assert Decimal(rows[-1][5].replace(",", ".")) == Decimal("2000.00")
        page = client.get(url("dashboard_money")).content.decode()
        assert "format=excel-fr" in page and "Excel (France)" in page

    def test_xlsx_has_the_rows_with_numbers(self, client, ds, manager):
        client.force_login(manager)
        response = client.get(url("dashboard_neighbourhoods") + "?format=xlsx")
        assert response.status_code == 200
        sheet = load_workbook(io.BytesIO(response.content)).active
        values = list(sheet.values)
        assert values[0][:3] == ("Quartier (QPV)", "Enveloppe", "Demandé")
        assert values[1][0] == "Bellevue (QN01301M)"
        assert values[1][2] == pytest.approx(25000.01)
        assert sheet.cell(row=2, column=3).number_format == "#,##0.00"
        assert values[-1][0] == "Total" and values[-1][2] == pytest.approx(42000.02)

    def test_names_never_become_formulas(self, client, ds, manager):
        from calls.models import Call

        Call.objects.filter(pk=ds.c1.pk).update(title='=HYPERLINK("http://x")')
        client.force_login(manager)
        body = client.get(url("dashboard_money") + "?dimension=call&format=csv").content
        assert "'=HYPERLINK" in body.decode("utf-8-sig")
        response = client.get(url("dashboard_money") + "?dimension=call&format=xlsx")
        sheet = load_workbook(io.BytesIO(response.content)).active
        labels = [row[0] for row in sheet.values]
        assert '\'=HYPERLINK("http://x")' in labels

    def test_second_table_of_a_page(self, client, ds, manager):
        client.force_login(manager)
        response = client.get(url("dashboard_security") + "?format=csv&table=evaluations")
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
        assert rows[0] == ["Issue", "Évaluations"]
        assert [r[0] for r in rows[1:]][:2] == ["Attendue", "Déposée"]


class TestQueryCount:
    @pytest.mark.parametrize("name", PAGES)
    def test_queries_do_not_grow_with_the_data(
        self, client, manager, name, django_assert_max_num_queries
    ):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        data.build()
        client.force_login(manager)
        client.get(url(name))  # warm the session and the role cache
        with CaptureQueriesContext(connection) as small:
            assert client.get(url(name) + "?dimension=qpv").status_code == 200
        for _ in range(3):
            data.build()
        with django_assert_max_num_queries(len(small)):
            assert client.get(url(name) + "?dimension=qpv").status_code == 200


def test_percent_and_money_cells_are_formatted_in_french():
    from reporting.views_dashboards import _cell

    assert spaces(_cell(Decimal("1234.5"), "money")) == "1 234,50 €"
    assert spaces(_cell(Decimal("12.5"), "percent")) == "12,5 %"
    assert _cell(None, "money") == "—"
