"""Cleaning rules on files as French départements publish them: each correction is counted in the
dry run under its rule and column; what cannot be corrected is refused with the reason; strict
mode suggests the tolerant one."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from core.tabular.cleaning import Fixed, date_cell, placeholder
from reporting.imports.services import import_apply, import_check
from reporting.models import ImportState
from tests import factories as f

HEADER = (
    "nomAttribuant;idAttribuant;dateConvention;referenceDecision;nomBeneficiaire;idBeneficiaire;"
    "rnaBeneficiaire;objet;montant;nature;conditionsVersement;datesPeriodeVersement;idRAE;"
    "notificationUE;pourcentageSubvention;dispositifAide"
)
CD49 = "Département de Maine-et-Loire"
B1, B2, B3 = f.siret_for(4901), f.siret_for(4902), f.siret_for(4903)


@pytest.fixture(autouse=True)
def _2026():
    with time_machine.travel(datetime.datetime(2026, 3, 1, 12, tzinfo=datetime.UTC), tick=False):
        yield


def row(
    beneficiary: str,
    siret: str,
    *,
    funder_siret: str = "22490001900015",
    date: str = "2023-03-14",
    ref: str = "DEL-2023-114",
    nature: str = "aide en numéraire",
    amount: str = "12500,00",
    rae: str = "",
    notification: str = "non",
    dispositif: str = "Insertion",
) -> str:
    return (
        f"{CD49};{funder_siret};{date};{ref};{beneficiary};{siret};;Chantier d'insertion;{amount};"
        f"{nature};unique;2023-04-01;{rae};{notification};1;{dispositif}"
    )


def check(user, *rows: str, strict: bool = False):
    data = ("\n".join([HEADER, *rows]) + "\n").encode()
    upload = SimpleUploadedFile("subventions-cd49-2023.csv", data)
    return import_check(actor=user, kind="grants", file=upload, options={"strict": strict})


def cleaning(batch) -> dict[tuple[str, str], int]:
    return {(c["column"], c["message"]): c["count"] for c in batch.report["cleaning"]}


def messages(batch, level: str = "errors") -> str:
    return " | ".join(f"{e['row']}:{e['column']}:{e['message']}" for e in batch.report[level])


def test_a_realistic_departement_file_imports_with_each_correction_counted(manager):
    known = f.OrganisationFactory(name="Régie de quartier d'Angers", siret=f.siret_for(4904))
    batch = check(
        manager,
        row("Le Jardin de Cocagne", B1, rae="NA", dispositif="N/A"),
        row("Régie de quartier", known.siret[:9], ref="DEL-2023-115", rae="néant"),
        row("Les Petits Débrouillards", f"{B2[:3]} {B2[3:6]} {B2[6:9]} {B2[9:]}'", ref="D-116"),
        row(
            "Les Restos du Cœur", f"{B3[:3]}\u00a0{B3[3:]}", ref="D-117", notification="sans objet"
        ),
        row("Secours populaire", B1, ref="D-118", date="2023", nature="en numéraire"),
        row("Secours populaire", B1, ref="D-119", date="03/2023", nature="-"),
        row("Secours populaire", B1, ref="D-119", date="03/2023", nature="-"),  # repeated line
    )
    counts = cleaning(batch)
    assert counts[("idRAE", "« NA » lu comme vide")] == 1
    assert counts[("idRAE", "« néant » lu comme vide")] == 1
    assert counts[("dispositifAide", "« N/A » lu comme vide")] == 1
    assert counts[("notificationUE", "« sans objet » lu comme vide")] == 1
    assert counts[("nature", "« - » lu comme vide")] == 2
    assert counts[("idBeneficiaire", "SIRET : apostrophe de tableur retirée")] == 1
    assert counts[("idBeneficiaire", "SIRET : espaces ou points retirés")] == 1
    assert counts[("idBeneficiaire", "SIREN complété par le SIRET connu")] == 1
    assert counts[("dateConvention", "date donnée par l'année seule : lue comme le 1er janvier")]
    assert counts[("dateConvention", "date donnée par le mois : lue comme le 1er du mois")] == 2
    assert counts[("nature", "« aide en numéraire » : synonyme lu")] == 1
    assert counts[("", "lignes identiques à une ligne précédente")] == 1
    assert "Ligne identique à la ligne 7" in messages(batch, "warnings")
    assert "l'établissement connu" in messages(batch, "warnings")
    assert batch.report["file"]["decimal"] == ","
    # The repeated line is one grant twice: refused, the rest is clean.
    assert messages(batch) == (
        "8:referenceDecision:Même subvention que la ligne 7 (même attribuant, décision, "
        "bénéficiaire, objet et exercice)."
    )


def test_the_cleaned_file_imports(manager):
    batch = check(
        manager,
        row("Le Jardin de Cocagne", f"{B1}'", rae="NA", date="2023"),
        row("Les Petits Débrouillards", B2, ref="D-116", nature="en numéraire", date="06/2023"),
    )
    assert batch.state == ImportState.CHECKED, messages(batch)
    batch = import_apply(actor=manager, batch=batch)
    assert batch.state == ImportState.APPLIED
    from cpo.models import Agreement

    agreement = Agreement.objects.get(organisation__siret=B1)
    assert agreement.title == "Chantier d'insertion"
    assert agreement.signed_on == datetime.date(2023, 1, 1)


def test_placeholders_are_not_data(manager):
    """The issue's 3-row file that imported three agreements titled « NA »."""
    rows = [row(f"Asso {n}", f.siret_for(4910 + n), ref=f"D-{n}") for n in range(3)]
    rows = [r.replace("Chantier d'insertion", "NA") for r in rows]
    batch = check(manager, *rows)
    assert batch.state == ImportState.INVALID
    assert messages(batch).count(":objet:Cellule obligatoire vide.") == 3
    assert batch.report["errors"][0]["value"] == "NA"


def test_scientific_notation_is_refused_with_the_reason(manager):
    batch = check(manager, row("Asso", "7,86E+13"), row("Asso 2", B2, amount="1,25E+04"))
    text = messages(batch)
    assert "2:idBeneficiaire:« 7,86E+13 » est en notation scientifique" in text
    assert "3:montant:« 1,25E+04 » est en notation scientifique" in text


def test_an_unknown_siren_is_refused_with_what_to_give(manager):
    siren = f.siret_for(4999)[:9]
    batch = check(manager, row("Asso", siren))
    assert "aucune organisation connue ne le porte" in messages(batch)


def test_strict_mode_refuses_and_suggests_the_tolerant_one(manager):
    batch = check(manager, row("Asso", f"{B1}'", date="2023", nature="en numéraire"), strict=True)
    assert batch.state == ImportState.INVALID
    assert "accepté en mode tolérant" in " ".join(batch.report["hints"])
    batch = check(manager, row("Asso", "7,86E+13", date="2023"), strict=True)
    assert "n'aurait plus que 1 erreur(s) au lieu de 3" in " ".join(batch.report["hints"])


def test_unquoted_decimal_commas_with_comma_separator_get_a_hint(manager):
    header = HEADER.replace(";", ",")
    line = row("Asso", B1).replace(";", ",").replace("12500,00", "100 000,00")
    data = f"{header}\n{line}\n{line.replace('DEL-2023-114', 'D-2')}\n".encode()
    upload = SimpleUploadedFile("f.csv", data)
    batch = import_check(actor=manager, kind="grants", file=upload, options={"strict": False})
    assert "virgule décimale (100 000,00) sans guillemets" in " ".join(batch.report["hints"])


def test_organisation_import_reports_its_cleaning_too(manager):
    data = (
        "nom;siret;rna;courriel\n"
        f"Les Amis de Belleville;{f.siret_for(4920)}';NA;contact@amis-belleville.fr\n"
        f"Banlieues Vertes;{f.siret_for(4921)};W751234567;-\n"
    ).encode()
    upload = SimpleUploadedFile("annuaire.csv", data)
    batch = import_check(actor=manager, kind="organisations", file=upload)
    assert batch.state == ImportState.CHECKED, messages(batch)
    counts = cleaning(batch)
    assert counts[("siret", "SIRET : apostrophe de tableur retirée")] == 1
    assert counts[("rna", "« NA » lu comme vide")] == 1
    assert counts[("courriel", "« - » lu comme vide")] == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2021", datetime.date(2021, 1, 1)),
        ("2021-03", datetime.date(2021, 3, 1)),
        ("03/2021", datetime.date(2021, 3, 1)),
        ("mars 2021", datetime.date(2021, 3, 1)),
        ("Février 2022", datetime.date(2022, 2, 1)),
        ("45292", datetime.date(2024, 1, 1)),
    ],
)
def test_partial_dates_name_their_rule(text, expected):
    value = date_cell(text)
    assert isinstance(value, Fixed) and value.value == expected and value.message


@pytest.mark.parametrize("text", ["NA", "n/a", "#N/A", "Néant", "sans objet", "-", "—", '""', "?"])
def test_placeholders(text):
    assert placeholder(text)


@pytest.mark.parametrize("text", ["Nantes", "0", "na-ture", "A", "Sans objet précis ici"])
def test_not_placeholders(text):
    assert not placeholder(text)


def test_the_report_page_shows_hints_and_corrections(client, manager):
    batch = check(manager, row("Asso", f"{B1}'", rae="NA", date="2023"), strict=True)
    client.force_login(manager)
    page = client.get(f"/pilotage/imports/{batch.pk}/").content.decode()
    assert 'id="import-hints"' in page and "mode tolérant" in page
    batch = check(manager, row("Asso", f"{B1}'", rae="NA", date="2023"))
    page = client.get(f"/pilotage/imports/{batch.pk}/").content.decode()
    assert 'id="import-cleaning-rules"' in page
    assert "SIRET : apostrophe de tableur retirée" in page
    assert "décimales après « , »" in page
