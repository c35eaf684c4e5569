"""XLSX and ODS through the same reader as CSV: chosen sheet, title rows above the table, merged
cells, formulas' values, dates typed as dates or stored as serial numbers."""

from __future__ import annotations

import datetime
import io

import openpyxl
import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from odf.opendocument import OpenDocumentSpreadsheet
from odf.table import Table as OdfTable
from odf.table import TableCell, TableRow
from odf.text import P

from core.errors import DomainError
from core.tabular.reader import open_table
from reporting.imports.services import import_check
from reporting.models import ImportState
from tests import factories as f

B1, B2 = f.siret_for(5201), f.siret_for(5202)
HEADER = ["nomAttribuant", "idAttribuant", "dateConvention", "referenceDecision",
          "nomBeneficiaire", "idBeneficiaire", "objet", "montant"]  # fmt: skip
FUNDER = ["Département de la Gironde", "22330001300016"]


@pytest.fixture(autouse=True)
def _2026():
    with time_machine.travel(datetime.datetime(2026, 3, 1, 12, tzinfo=datetime.UTC), tick=False):
        yield


def workbook() -> openpyxl.Workbook:
    """As a service exports it: a notes sheet first, then a title, the table, merged funder
    cells, a total computed by a formula (saved with its value by the spreadsheet)."""
    book = openpyxl.Workbook()
    book.active.title = "Notes"
    book.active.append(["Données publiées au titre de la loi pour une République numérique"])
    sheet = book.create_sheet("Subventions 2024")
    sheet.append(["Subventions versées aux associations — exercice 2024"])
    sheet.append(HEADER)
    sheet.append([*FUNDER, datetime.datetime(2024, 2, 12), "CP-1", "Les Amis du Bocage", B1,
                  "Ateliers", 8000])  # fmt: skip
    sheet.append([None, None, 45334, "CP-2", "Banlieues Vertes", int(B2), "Jardins", 4500.5])
    sheet.merge_cells("A3:A4")
    sheet.merge_cells("B3:B4")
    return book


def data_of(book: openpyxl.Workbook) -> bytes:
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_chosen_sheet_title_row_merged_cells_and_dates(manager):
    upload = SimpleUploadedFile("gironde.xlsx", data_of(workbook()))
    batch = import_check(
        actor=manager,
        kind="grants",
        file=upload,
        options={"strict": False, "sheet": "subventions 2024"},
    )
    assert batch.state == ImportState.CHECKED, batch.report["errors"][:3]
    assert batch.report["file"]["sheet"] == "Subventions 2024"
    assert batch.report["file"]["sheets"] == ["Notes", "Subventions 2024"]
    warnings = " | ".join(w["message"] for w in batch.report["warnings"])
    assert "l'en-tête est la ligne 2" in warnings
    cleaning = {c["message"]: c["count"] for c in batch.report["cleaning"]}
    assert cleaning["cellules fusionnées : la valeur de la cellule fusionnée est recopiée"] == 2
    assert (
        cleaning["date enregistrée comme un nombre par le tableur (jours depuis 1900) : convertie"]
        == 1
    )
    assert batch.report["summary"]["Subventions à créer"] == 2


def test_rows_keep_the_spreadsheet_numbers():
    table = open_table(io.BytesIO(data_of(workbook())), name="f.xlsx", sheet="2")
    rows = list(table.rows())
    assert [number for number, _cells in rows] == [3, 4]
    assert rows[1][1][:3] == [*FUNDER, "45334"]


def test_unknown_sheet_lists_the_sheets():
    with pytest.raises(DomainError) as exc:
        open_table(io.BytesIO(data_of(workbook())), name="f.xlsx", sheet="Budget")
    assert "« Notes », « Subventions 2024 »" in str(exc.value.message)
    assert exc.value.field == "sheet"


def test_the_upload_page_shows_a_wrong_sheet_next_to_its_field(client, manager):
    client.force_login(manager)
    response = client.post(
        "/pilotage/imports/nouveau/grants/",
        {"file": SimpleUploadedFile("f.xlsx", data_of(workbook())), "strict": "0",
         "sheet": "Budget"},
    )  # fmt: skip
    assert response.status_code == 400
    assert "pas dans ce classeur (feuilles" in response.content.decode()


def ods(rows: list[list[object]], *, title: str = "Feuille1") -> bytes:
    document = OpenDocumentSpreadsheet()
    table = OdfTable(name=title)
    for values in rows:
        row = TableRow()
        for value in values:
            if isinstance(value, datetime.date):
                cell = TableCell(valuetype="date", datevalue=value.isoformat())
            elif isinstance(value, (int, float)):
                cell = TableCell(valuetype="float", value=value)
            else:
                cell = TableCell(valuetype="string")
            cell.addElement(P(text=str(value)))
            row.addElement(cell)
        table.addElement(row)
    document.spreadsheet.addElement(table)
    buffer = io.BytesIO()
    document.write(buffer)
    return buffer.getvalue()


def test_ods_grants_with_typed_dates_and_numbers(manager):
    data = ods([
        HEADER,
        [*FUNDER, datetime.date(2024, 2, 12), "CP-1", "Les Amis du Bocage", B1, "Ateliers", 8000],
        [*FUNDER, datetime.date(2024, 3, 5), "CP-2", "Banlieues Vertes", B2, "Jardins", 4500.5],
    ])  # fmt: skip
    upload = SimpleUploadedFile("gironde.ods", data)
    batch = import_check(actor=manager, kind="grants", file=upload, options={"strict": False})
    assert batch.state == ImportState.CHECKED, batch.report["errors"][:3]
    assert batch.report["file"]["format"] == "ODS"
    samples = {m["header"]: m["samples"] for m in batch.report["mapping"]}
    assert samples["dateConvention"] == ["2024-02-12", "2024-03-05"]
    assert samples["montant"] == ["8000", "4500.5"]
