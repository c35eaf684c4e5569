"""Open data: the SCDL « Subventions » 2.1.1 rows (threshold, one row per funder, imported
agreements, payment terms), the files (validated with frictionless against the schema), the
multi-year extension, the reader of SCDL files, and the publication deadlines."""

from __future__ import annotations

import csv
import datetime
import io
import json
from decimal import Decimal
from pathlib import Path

import frictionless
import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.models import Funder, Organisation
from cpo import services
from cpo.models import Agreement, AgreementState, AgreementYear, Instalment
from grants.models import Application, ApplicationState, ApplicationYear
from reporting import opendata, scdl_files

from .. import factories as f

pytestmark = pytest.mark.django_db

TODAY = datetime.datetime(2026, 6, 15, 10, tzinfo=datetime.UTC)
DATA = Path(__file__).parent / "data"
EJ_STATE = "2100123456"


@pytest.fixture(autouse=True)
def _today():
    with time_machine.travel(TODAY, tick=False):
        yield


# --------------------------------------------------------------------------- builders


def funder(name: str, n: int, *, siret: bool = True):
    return f.FunderFactory(name=name, siret=f.siret_for(7000 + n) if siret else "")


def signed_agreement(
    actor,
    *,
    signed_on: datetime.date,
    organisation: Organisation | None = None,
    amount: str = "90000.00",
    years: dict[int, tuple[str, str]] | None = None,
    duration: int = 1,
    funders: list[dict] | None = None,
    template: str = "advance_balance",
    title: str | None = None,
) -> Agreement:
    """An approved application turned into a signed agreement. `years`: {fiscal year:
    (requested, approved)} for a multi-year request."""
    app = f.ApplicationFactory(
        requested_amount=Decimal(amount),
        organisation=organisation or f.OrganisationFactory(),
        complete=False,
        **({"title": title} if title else {}),
    )
    app.qpvs.add(f.QPVFactory())
    Application.objects.filter(pk=app.pk).update(
        state=ApplicationState.APPROVED, approved_amount=Decimal(amount)
    )
    for fiscal_year, (requested, approved) in (years or {}).items():
        ApplicationYear.objects.create(
            application=app,
            fiscal_year=fiscal_year,
            requested_amount=Decimal(requested),
            approved_amount=Decimal(approved),
        )
    app = Application.objects.get(pk=app.pk)
    # The programme's own funder gets a SIRET unless the test gives the funders.
    programme_funder = app.programme.budget_line.funder
    if not programme_funder.siret:
        programme_funder.siret = f.siret_for(8000 + app.pk)
        programme_funder.save(update_fields=["siret"])
    agreement = services.agreement_create_from_application(
        actor=actor,
        application=app,
        profile=None if years else "flat",
        duration_years=None if years else duration,
        first_year=None if years else signed_on.year,
        funders=funders,
        instalment_template=template,
    )
    services.agreement_sign(actor=actor, agreement=agreement, signed_on=signed_on)
    return Agreement.objects.get(pk=agreement.pk)


def imported_agreement(*, organisation=None, total="50000.00", first_year=2025, duration=2):
    """A historical agreement (application null): no funder rows, no yearly rows, no instalment."""
    programme = f.ProgrammeFactory(fiscal_year=first_year)
    programme_funder = programme.budget_line.funder
    programme_funder.siret = f.siret_for(6000 + programme.pk)
    programme_funder.save(update_fields=["siret"])
    agreement = Agreement.objects.create(
        reference=f"IMP-{programme.pk:04d}",
        source=Agreement.Source.IMPORTED,
        external_id=f"ext-{programme.pk}",
        organisation=organisation or f.OrganisationFactory(),
        programme=programme,
        kind=Agreement.Kind.AGREEMENT,
        title="Centre social : accueil des familles",
        first_year=first_year,
        duration_years=duration,
        total_amount=Decimal(total),
        profile="flat",
        instalment_template="at_signature",
    )
    Agreement.objects.filter(pk=agreement.pk).update(
        state=AgreementState.ACTIVE, signed_on=datetime.date(first_year, 2, 1)
    )
    return Agreement.objects.get(pk=agreement.pk)


@pytest.fixture
def state_funder(db):
    return funder("Préfecture des Bouches-du-Rhône", 1)


@pytest.fixture
def city_funder(db):
    return funder("Ville de Marseille", 2)


@pytest.fixture
def cofunded(instructor, state_funder, city_funder):
    """90 000 € over 2026–2028 (30 000 € a year, 35 000 € asked each year), 60 % State with its
    EJ, 40 % city; the beneficiary has a SIRET and an RNA."""
    organisation = f.OrganisationFactory(name="Les Petits Débrouillards", rna="W133012345")
    return signed_agreement(
        instructor,
        signed_on=datetime.date(2026, 3, 10),
        organisation=organisation,
        years=dict.fromkeys((2026, 2027, 2028), ("35000.00", "30000.00")),
        funders=[
            {"funder": state_funder, "share": Decimal("0.6"), "ej_number": EJ_STATE},
            {"funder": city_funder, "share": Decimal("0.4")},
        ],
        title="Ateliers scientifiques au pied des immeubles",
    )


@pytest.fixture
def small(instructor):
    """20 000 € over one year: below the threshold."""
    return signed_agreement(instructor, signed_on=datetime.date(2026, 4, 1), amount="20000.00")


@pytest.fixture
def imported(db):
    return imported_agreement()


def rows_by_reference(rows) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for row in rows:
        out.setdefault(row["referenceDecision"], []).append(row)
    return out


def csv_text(rows) -> str:
    return "".join(scdl_files.csv_lines(opendata.SCDL_FIELDS, rows))


def frictionless_report(path: Path, schema) -> frictionless.Report:
    with frictionless.system.use_context(trusted=True):
        return frictionless.validate(str(path), schema=schema)


# --------------------------------------------------------------------------- schema


def test_the_columns_are_the_schemas_in_its_order():
    schema = json.loads(opendata.SCHEMA_FILE.read_text(encoding="utf-8"))
    assert schema["version"] == "2.1.1"
    assert tuple(f["name"] for f in schema["fields"]) == opendata.SCDL_FIELDS


# --------------------------------------------------------------------------- which agreements


def test_default_threshold_publishes_above_23000_a_year_only(cofunded, small, instructor):
    exactly = signed_agreement(
        instructor, signed_on=datetime.date(2026, 4, 2), amount="23000.00", duration=1
    )
    above = signed_agreement(
        instructor, signed_on=datetime.date(2026, 4, 3), amount="23001.00", duration=1
    )
    published = set(opendata.published_agreements().values_list("reference", flat=True))
    assert published == {cofunded.reference, above.reference}
    assert small.reference not in published and exactly.reference not in published


def test_threshold_is_read_from_settings(settings, cofunded, small):
    settings.SCDL_THRESHOLD = "15000.00"
    published = set(opendata.published_agreements().values_list("reference", flat=True))
    assert published == {cofunded.reference, small.reference}


def test_publish_all_includes_agreements_below_the_threshold(settings, cofunded, small):
    settings.SCDL_PUBLISH_ALL = True
    rows = rows_by_reference(opendata.scdl_rows())
    assert set(rows) == {cofunded.reference, small.reference}
    # The legal obligation still concerns only the agreements above the threshold.
    assert list(opendata.obligated_agreements().values_list("reference", flat=True)) == [
        cofunded.reference
    ]


def test_unsigned_agreements_are_not_published(instructor, cofunded):
    app = f.ApplicationFactory(requested_amount=Decimal("60000.00"), complete=False)
    Application.objects.filter(pk=app.pk).update(
        state=ApplicationState.APPROVED, approved_amount=Decimal("60000.00")
    )
    draft = services.agreement_create_from_application(
        actor=instructor, application=Application.objects.get(pk=app.pk), profile="flat"
    )
    assert draft.state == AgreementState.DRAFT
    assert list(opendata.published_agreements()) == [cofunded]


# --------------------------------------------------------------------------- SCDL rows


def test_one_row_per_funder_with_shares_summing_to_one(cofunded, state_funder, city_funder):
    rows = list(opendata.scdl_rows())
    assert [r["nomAttribuant"] for r in rows] == [state_funder.name, city_funder.name]
    assert [r["idAttribuant"] for r in rows] == [state_funder.siret, city_funder.siret]
    assert [r["pourcentageSubvention"] for r in rows] == [Decimal("0.60"), Decimal("0.40")]
    assert sum(r["pourcentageSubvention"] for r in rows) == 1
    # montant is the grant's total, the same on each row; montant × share is the funder's part,
    # which is what its instalments add up to.
    assert {r["montant"] for r in rows} == {Decimal("90000.00")}
    for row, link in zip(rows, cofunded.funders.order_by("-share"), strict=True):
        paid_by_funder = sum(i.amount for i in Instalment.objects.filter(funder=link))
        assert row["montant"] * row["pourcentageSubvention"] == paid_by_funder
    first = rows[0]
    assert first["dateConvention"] == datetime.date(2026, 3, 10)
    assert first["referenceDecision"] == cofunded.reference
    assert first["nomBeneficiaire"] == "Les Petits Débrouillards"
    assert first["idBeneficiaire"] == cofunded.organisation.siret
    assert first["rnaBeneficiaire"] == "W133012345"
    assert first["objet"] == "Ateliers scientifiques au pied des immeubles"
    assert first["nature"] == "aide en numéraire"
    assert first["notificationUE"] is False
    assert first["idRAE"] is None
    assert first["dispositifAide"] == cofunded.programme.name


def test_payment_terms_come_from_the_instalments(cofunded):
    rows = list(opendata.scdl_rows())
    for row, link in zip(rows, cofunded.funders.order_by("-share"), strict=True):
        dates = sorted(i.earliest_date for i in Instalment.objects.filter(funder=link))
        assert len(dates) == 6  # advance and balance, 3 years
        assert row["conditionsVersement"] == "échelonné"
        assert row["datesPeriodeVersement"] == f"{dates[0]}/{dates[-1]}"
    assert rows[0]["datesPeriodeVersement"].startswith("2026-03-10/2028-")


def test_single_payment_is_unique_with_its_date_once_paid(instructor):
    agreement = signed_agreement(
        instructor,
        signed_on=datetime.date(2026, 2, 2),
        amount="30000.00",
        template="at_signature",
    )
    [row] = opendata.scdl_rows()
    assert row["conditionsVersement"] == "unique"
    assert row["datesPeriodeVersement"] == "2026-02-02/2026-12-31"
    Instalment.objects.filter(agreement=agreement).update(
        state="paid", paid_on=datetime.date(2026, 3, 20)
    )
    [row] = opendata.scdl_rows()
    assert (row["conditionsVersement"], row["datesPeriodeVersement"]) == ("unique", "2026-03-20")


def test_imported_agreements_are_published_with_the_programmes_funder(imported):
    [row] = opendata.scdl_rows()
    programme_funder = imported.programme.budget_line.funder
    assert row["referenceDecision"] == imported.reference
    assert (row["nomAttribuant"], row["idAttribuant"]) == (
        programme_funder.name,
        programme_funder.siret,
    )
    assert row["pourcentageSubvention"] == Decimal("1.00")
    assert row["montant"] == Decimal("50000.00")
    assert row["dateConvention"] == datetime.date(2025, 2, 1)
    # No instalment: paid at signature but over two years, so staggered over the fiscal years.
    assert row["conditionsVersement"] == "échelonné"
    assert row["datesPeriodeVersement"] == "2025-01-01/2026-12-31"


def test_an_rna_the_schema_cannot_hold_is_left_out_and_flagged(instructor):
    organisation = f.OrganisationFactory(rna="W13A012345")
    signed_agreement(instructor, signed_on=datetime.date(2026, 2, 2), organisation=organisation)
    [row] = opendata.scdl_rows()
    assert row["rnaBeneficiaire"] is None and row["idBeneficiaire"] == organisation.siret
    [agreement] = opendata.with_rows_data(opendata.published_agreements())
    assert opendata.publication_warnings(agreement) == [
        "Le numéro RNA « W13A012345 » n'a pas le format du schéma (W et 9 chiffres) : omis."
    ]


def test_an_agreement_with_a_funder_without_siret_is_held_back_whole(instructor, state_funder):
    no_siret = funder("Fondation sans SIRET", 3, siret=False)
    agreement = signed_agreement(
        instructor,
        signed_on=datetime.date(2026, 2, 2),
        funders=[
            {"funder": state_funder, "share": Decimal("0.5")},
            {"funder": no_siret, "share": Decimal("0.5")},
        ],
    )
    assert list(opendata.scdl_rows()) == []
    [tracked] = opendata.with_rows_data(opendata.deadline_tracking())
    assert tracked == agreement
    assert opendata.publication_problems(tracked) == [
        "Le financeur « Fondation sans SIRET » n'a pas de SIRET (idAttribuant)."
    ]


# --------------------------------------------------------------------------- files


def test_the_scdl_file_is_valid_against_the_schema(tmp_path, cofunded, small, imported):
    text = csv_text(opendata.scdl_rows())
    path = tmp_path / "subventions.csv"
    path.write_bytes(text.encode("utf-8"))
    report = frictionless_report(path, str(opendata.SCHEMA_FILE))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])
    lines = text.split("\n")
    assert lines[0] == ",".join(opendata.SCDL_FIELDS)  # the schema's example: comma, header
    assert "\r" not in text and lines[-1] == ""  # LF line ends, like the example
    assert len(lines) - 2 == 3  # two funders of the co-funded grant, one imported; small: none
    # Our own reader agrees, custom checks included (SIRET keys, SIRET or RNA).
    header_issues, records = scdl_files.read_scdl(io.StringIO(text))
    records = list(records)
    assert header_issues == [] and [r.issues for r in records] == [[], [], []]
    assert records[0].values["montant"] == Decimal("90000.00")


def test_csv_cells_are_quoted_only_when_needed(instructor):
    signed_agreement(
        instructor,
        signed_on=datetime.date(2026, 2, 2),
        title='Jardins partagés, "Les Oliviers"',
    )
    text = csv_text(opendata.scdl_rows())
    assert '"Jardins partagés, ""Les Oliviers"""' in text
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert row["objet"] == 'Jardins partagés, "Les Oliviers"'
    assert row["montant"] == "90000.00" and row["pourcentageSubvention"] == "1.00"
    assert row["notificationUE"] == "non" and row["idRAE"] == ""


def test_json_holds_the_same_rows_typed(cofunded):
    text = "".join(scdl_files.json_chunks(opendata.SCDL_FIELDS, opendata.scdl_rows()))
    document = json.loads(text, parse_float=Decimal)
    assert document["schema"]["version"] == "2.1.1"
    assert document["seuil"] == "23000.00"
    first = document["data"][0]
    assert list(first) == list(opendata.SCDL_FIELDS)
    assert first["montant"] == Decimal("90000.00")
    assert first["pourcentageSubvention"] == Decimal("0.60")
    assert first["notificationUE"] is False and first["idRAE"] is None
    assert first["dateConvention"] == "2026-03-10"


def test_rows_are_read_a_chunk_of_agreements_at_a_time(monkeypatch, instructor):
    for day in (2, 3, 4):
        signed_agreement(instructor, signed_on=datetime.date(2026, 2, day))
    monkeypatch.setattr(opendata, "CHUNK", 1)
    rows = opendata.scdl_rows()
    with CaptureQueriesContext(connection) as first:
        next(rows)
    with CaptureQueriesContext(connection) as rest:
        assert len(list(rows)) == 2
    # The first row costs the ids' query and one batch's queries; the other batches are read
    # later, one at a time, each with the same queries.
    assert len(rest) == 2 * (len(first) - 1)


# --------------------------------------------------------------------------- multi-year


def test_multi_year_rows_one_per_agreement_and_year(tmp_path, cofunded, imported, state_funder):
    rows = list(opendata.multi_year_rows())
    mine = [r for r in rows if r["idSubvention"] == cofunded.reference]
    assert [r["exerciceBudgetaire"] for r in mine] == [2026, 2027, 2028]
    assert {r["montantAttribue"] for r in mine} == {Decimal("30000.00")}
    assert {r["montantDemande"] for r in mine} == {Decimal("35000.00")}
    assert all(r["pluriannualite"] is True for r in mine)
    assert mine[0]["ej"] == f"{EJ_STATE};"  # the city has no EJ yet: its place stays empty
    assert mine[0]["nomAttribuant"] == f"{state_funder.name};Ville de Marseille"
    assert sum(r["montantAttribue"] for r in mine) == cofunded.total_amount
    old = [r for r in rows if r["idSubvention"] == imported.reference]
    # Imported without yearly rows: its years are known, their amounts and requests are not.
    assert [(r["exerciceBudgetaire"], r["montantAttribue"], r["montantDemande"]) for r in old] == [
        (2025, None, None),
        (2026, None, None),
    ]
    fields = [name for name, _kind in opendata.MULTI_YEAR_FIELDS]
    path = tmp_path / "pluriannuel.csv"
    path.write_text("".join(scdl_files.csv_lines(fields, rows)), encoding="utf-8")
    report = frictionless_report(
        path, frictionless.Schema.from_descriptor(opendata.multi_year_schema())
    )
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])


def test_single_year_agreement_takes_the_applications_request(instructor):
    agreement = signed_agreement(instructor, signed_on=datetime.date(2026, 2, 2))
    [row] = opendata.multi_year_rows()
    assert row["idSubvention"] == agreement.reference
    assert (row["exerciceBudgetaire"], row["pluriannualite"]) == (2026, False)
    assert row["montantDemande"] == row["montantAttribue"] == Decimal("90000.00")


def test_yearly_amounts_follow_the_agreement_years(cofunded):
    AgreementYear.objects.filter(agreement=cofunded, fiscal_year=2028).update(
        amount=Decimal("25000.00")
    )
    amounts = [r["montantAttribue"] for r in opendata.multi_year_rows()]
    assert amounts == [Decimal("30000.00"), Decimal("30000.00"), Decimal("25000.00")]


# --------------------------------------------------------------------------- reading SCDL files


def test_the_shipped_valid_example_reads_back_with_its_values():
    with (DATA / "exemple_valide.csv").open(encoding="utf-8", newline="") as handle:
        header_issues, records = scdl_files.read_scdl(handle)
        records = list(records)
    assert header_issues == []
    assert len(records) == 29
    assert [r.issues for r in records] == [[]] * 29
    first, last = records[0].values, records[-1].values
    assert first["nomAttribuant"] == "ANTIBES" and first["idAttribuant"] == "21060004500392"
    assert first["dateConvention"] == datetime.date(2015, 7, 7)
    assert first["montant"] == Decimal("99786.57")
    assert first["rnaBeneficiaire"] == "W333216789"
    assert first["notificationUE"] is False
    assert first["pourcentageSubvention"] == Decimal("0.05")
    assert first["dispositifAide"] is None
    assert last["nomBeneficiaire"] == "THEATRE DE LA MARGUERITE"
    assert last["nature"] == "aide en numéraire;aide en nature"
    assert (last["notificationUE"], last["pourcentageSubvention"]) == (True, Decimal("1"))
    assert records[1].values["idBeneficiaire"] is None  # RNA only: allowed


def test_the_invalid_example_is_refused_cell_by_cell():
    with (DATA / "exemple_invalide_erreurs_cellules.csv").open(encoding="utf-8") as handle:
        header_issues, records = scdl_files.read_scdl(handle)
        issues = {(r.line, name) for r in records for name, _message in r.issues}
    assert header_issues == ["Colonnes manquantes : dispositifAide"]
    expected = {
        (2, "pourcentageSubvention"),  # 100: above 1
        (5, "dateConvention"),  # 05/12/2016
        (5, "rnaBeneficiaire"),  # W3222
        (6, "montant"),  # 100000,1: decimal comma
        (6, "notificationUE"),  # no
        (6, "idBeneficiaire"),  # 32402138500000.0: not a SIRET
        (7, "idAttribuant"),  # 9 digits
        (8, "datesPeriodeVersement"),  # underscore as period separator
        (8, "notificationUE"),  # yes
        (9, "idBeneficiaire"),  # neither SIRET nor RNA
    }
    assert expected <= issues
    # frictionless finds the schema's cell errors; we find them too, plus the custom checks.
    report = frictionless_report(
        DATA / "exemple_invalide_erreurs_cellules.csv", str(opendata.SCHEMA_FILE)
    )
    theirs = {
        (row, name)
        for row, name, kind in report.flatten(["rowNumber", "fieldName", "type"])
        if row and name != "dispositifAide" and kind in ("type-error", "constraint-error")
    }
    assert theirs and theirs <= issues


# --------------------------------------------------------------------------- deadlines


def test_late_cutoff_matches_the_deadline_every_day():
    day = datetime.date(2026, 1, 1)
    while day < datetime.date(2028, 1, 1):
        cutoff = opendata.late_cutoff(day)
        assert opendata.publication_deadline(cutoff) < day
        assert opendata.publication_deadline(cutoff + datetime.timedelta(days=1)) >= day
        day += datetime.timedelta(days=1)


def test_deadline_list_late_first_with_what_is_missing(instructor, state_funder):
    no_siret = funder("Fondation sans SIRET", 4, siret=False)
    published = signed_agreement(instructor, signed_on=datetime.date(2026, 1, 10))
    late = signed_agreement(
        instructor,
        signed_on=datetime.date(2026, 3, 14),  # deadline 14 June: passed
        funders=[{"funder": no_siret, "share": Decimal("1")}],
    )
    on_time = signed_agreement(
        instructor,
        signed_on=datetime.date(2026, 3, 15),  # deadline 15 June: today, not late yet
        funders=[{"funder": no_siret, "share": Decimal("1")}],
    )
    tracked = list(opendata.with_rows_data(opendata.deadline_tracking()))
    assert [(a.reference, a.publication) for a in tracked] == [
        (late.reference, "late"),
        (on_time.reference, "pending"),
        (published.reference, "published"),
    ]
    assert opendata.publication_problems(tracked[0]) == [
        "Le financeur « Fondation sans SIRET » n'a pas de SIRET (idAttribuant)."
    ]
    assert opendata.publication_problems(tracked[2]) == []
    summary = opendata.publication_summary()
    assert {k: v["count"] for k, v in summary["statuses"].items()} == {
        "late": 1,
        "pending": 1,
        "published": 1,
    }
    assert summary["published_amount"] == Decimal("90000.00") and summary["scdl_rows"] == 1


def test_problems_in_python_match_the_database_rule(instructor, state_funder):
    """COMPLETE (SQL) and publication_problems (Python) must never disagree."""
    signed_agreement(instructor, signed_on=datetime.date(2026, 1, 10))
    tiny = signed_agreement(
        instructor,
        signed_on=datetime.date(2026, 1, 11),
        funders=[
            {"funder": state_funder, "share": Decimal("0.995")},
            {"funder": funder("Petit financeur", 5), "share": Decimal("0.005")},
        ],
    )
    no_ids = signed_agreement(instructor, signed_on=datetime.date(2026, 1, 12))
    Organisation.objects.filter(pk=no_ids.organisation_id).update(siret="123", rna="")
    imported = imported_agreement()
    Funder.objects.filter(pk=imported.programme.budget_line.funder_id).update(siret="")
    tracked = list(opendata.with_rows_data(opendata.deadline_tracking()))
    assert len(tracked) == 4
    for agreement in tracked:
        assert (agreement.publication == "published") == (
            opendata.publication_problems(agreement) == []
        ), agreement.reference
    problems = {a.pk: opendata.publication_problems(a) for a in tracked}
    assert problems[tiny.pk] == [
        "La part du financeur « Petit financeur » est inférieure à 1 % (minimum du schéma)."
    ]
    assert problems[no_ids.pk] == [
        "Le bénéficiaire n'a ni SIRET ni numéro RNA au format du schéma (W et 9 chiffres)."
    ]
    assert len(problems[imported.pk]) == 1 and "n'a pas de SIRET" in problems[imported.pk][0]
