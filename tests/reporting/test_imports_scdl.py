"""The SCDL « Subventions » 2.1.1 checks, on the examples shipped with the schema: the valid one is
accepted, each invalid one is refused with the errors it contains (row, column, message), and
nothing is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.models import Funder, Organisation
from cpo.models import Agreement
from reporting.imports.services import import_check
from reporting.models import ImportBatch, ImportState

DATA = Path(__file__).parent / "data" / "scdl"
W322216459_ROW = 3  # ANTIBES RALLYE ASSOCIATION, the only RNA-only beneficiary of exemple_valide


def upload(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, (DATA / name).read_bytes())


def check(user, name: str, *, strict: bool = True) -> ImportBatch:
    return import_check(actor=user, kind="grants", file=upload(name), options={"strict": strict})


def errors_of(batch: ImportBatch) -> set[tuple[int | None, str]]:
    return {(e["row"], e["column"]) for e in batch.report["errors"]}


def message_at(batch: ImportBatch, row: int | None, column: str) -> str:
    return " | ".join(
        e["message"] for e in batch.report["errors"] if (e["row"], e["column"]) == (row, column)
    )


@pytest.fixture
def antibes_rallye(db):
    """The association of exemple_valide's only row without SIRET, known by its RNA number."""
    from tests.factories import OrganisationFactory

    return OrganisationFactory(name="Antibes Rallye Association", rna="W322216459")


def test_valid_example_is_accepted(manager, antibes_rallye):
    batch = check(manager, "exemple_valide.csv")
    assert batch.state == ImportState.CHECKED
    assert batch.report["error_count"] == 0
    assert batch.row_count == 29
    assert batch.report["summary"]["Subventions à créer"] == 29
    assert batch.report["file"] == {
        "format": "CSV",
        "encoding": "UTF-8",
        "delimiter": ",",
        "decimal": ".",
    }
    # The schema checks the pattern only: an impossible date in the period is a warning.
    assert (27, "datesPeriodeVersement") in {
        (w["row"], w["column"]) for w in batch.report["warnings"]
    }
    assert Agreement.objects.count() == 0  # a dry run writes nothing


def test_valid_example_conforms_but_an_unknown_rna_only_beneficiary_is_refused(manager):
    batch = check(manager, "exemple_valide.csv")
    assert batch.state == ImportState.INVALID
    assert errors_of(batch) == {(W322216459_ROW, "rnaBeneficiaire")}
    assert "W322216459" in message_at(batch, W322216459_ROW, "rnaBeneficiaire")
    assert "SIRET" in message_at(batch, W322216459_ROW, "rnaBeneficiaire")


CELL_ERRORS = {
    (2, "pourcentageSubvention"): "entre 0.01 et 1",  # 100
    (3, "pourcentageSubvention"): "entre 0.01 et 1",  # 80
    (5, "dateConvention"): "AAAA-MM-JJ",  # 05/12/2016
    (5, "idBeneficiaire"): "clé de contrôle",
    (5, "rnaBeneficiaire"): "W suivi de 9 chiffres",  # W3222
    (6, "idBeneficiaire"): "14 chiffres",  # 32402138500000.0
    (6, "montant"): "séparateur décimal",  # 100000,1
    (6, "notificationUE"): "« oui » ou « non »",  # no
    (7, "idAttribuant"): "SIREN",  # 218601946
    (8, "datesPeriodeVersement"): "AAAA-MM-JJ/AAAA-MM-JJ",  # 2017-06-27_2018-06-27
    (8, "notificationUE"): "« oui » ou « non »",  # yes
    (9, "pourcentageSubvention"): "séparateur décimal",  # 0,5
    (9, "idBeneficiaire"): "idBeneficiaire (SIRET) ou rnaBeneficiaire",  # both empty
    (10, "montant"): "obligatoire",  # empty
    (12, "rnaBeneficiaire"): "W suivi de 9 chiffres",  # W12455
    (16, "nature"): "valeur autorisée",  # "aide en numéraire,aide en nature"
    (30, "rnaBeneficiaire"): "W suivi de 9 chiffres",  # W1234567
}


def test_cell_errors_example_is_refused_with_each_error(manager):
    organisations = Organisation.objects.count()
    batch = check(manager, "exemple_invalide_erreurs_cellules.csv")
    assert batch.state == ImportState.INVALID
    found = errors_of(batch)
    for (row, column), words in CELL_ERRORS.items():
        assert (row, column) in found, (row, column)
        assert words in message_at(batch, row, column), (row, column)
    # The funder's SIRET 21860194600000 has a wrong key on every row that carries it.
    assert {r for r, c in found if c == "idAttribuant"} == set(range(2, 31))
    assert "clé de contrôle" in message_at(batch, 2, "idAttribuant")
    # Valid values are not reported: conditionsVersement is free text, 17845 is a valid idRAE.
    assert not {c for _r, c in found} & {"conditionsVersement", "idRAE", "objet"}
    assert (
        Agreement.objects.count(),
        Organisation.objects.count(),
        Funder.objects.count(),
    ) == (0, organisations, 0)


def test_column_errors_example_is_refused_with_its_header_errors(manager):
    batch = check(manager, "exemple_invalide_erreurs_colonnes.csv")
    assert batch.state == ImportState.INVALID
    assert "nomBeneficiaire" in message_at(batch, 1, "NOM_Beneficiaire")
    assert "ordre du schéma" in message_at(batch, 1, "nomAttribuant")
    # The same cell errors as the other example are listed too.
    assert "séparateur décimal" in message_at(batch, 6, "montant")
    assert (9, "idBeneficiaire") in errors_of(batch)
    warnings = {(w["row"], w["column"]): w["message"] for w in batch.report["warnings"]}
    assert "facultative" in warnings[(1, "dispositifAide")]


def test_column_errors_example_in_tolerant_mode_reads_the_renamed_column(manager):
    batch = check(manager, "exemple_invalide_erreurs_colonnes.csv", strict=False)
    assert (1, "NOM_Beneficiaire") not in errors_of(batch)
    assert (1, "nomAttribuant") not in errors_of(batch)  # order is free
    warnings = {(w["row"], w["column"]): w["message"] for w in batch.report["warnings"]}
    assert "nomBeneficiaire" in warnings[(1, "NOM_Beneficiaire")]
    # Decimal commas are read, but 0,5 → 0.5 is fine while 100 % written 100 is still refused.
    assert (6, "montant") not in errors_of(batch)
    assert (9, "pourcentageSubvention") not in errors_of(batch)
    assert (2, "pourcentageSubvention") in errors_of(batch)
    assert batch.state == ImportState.INVALID


def test_duplicate_column_example_latin1_is_refused(manager):
    batch = check(manager, "exemple-duplicate-column.csv")
    assert batch.state == ImportState.INVALID
    assert batch.report["file"]["encoding"] in ("CP1252", "LATIN-1")
    assert errors_of(batch) == {(1, "notificationUE")}
    assert "deux fois" in message_at(batch, 1, "notificationUE")
    assert "colonnes 13 et 14" in message_at(batch, 1, "notificationUE")


def test_every_error_has_row_column_and_french_message(manager):
    batch = check(manager, "exemple_invalide_erreurs_cellules.csv")
    assert batch.report["error_count"] == len(batch.report["errors"]) > 40
    for error in batch.report["errors"]:
        assert error["row"] and error["column"] and error["message"]
    assert sum(batch.report["errors_by_column"].values()) == batch.report["error_count"]
