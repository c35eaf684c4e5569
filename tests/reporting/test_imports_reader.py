"""The tabular reader: encodings, separators, spreadsheets, and cells read or refused with a reason."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal

import openpyxl
import pytest
import tablib

from core.errors import DomainError
from core.tabular.reader import (
    CellError,
    clean_text,
    normalise_header,
    open_table,
    parse_amount,
    parse_date,
    parse_decimal,
    parse_siret,
)


def table_of(data: bytes, name: str = "f.csv"):
    table = open_table(io.BytesIO(data), name=name)
    return table, list(table.rows())


def test_utf8_with_bom_and_semicolons():
    table, rows = table_of("\ufeffNom ; Montant\nAssociation Été;1 234,56\n".encode())
    assert table.headers == ["Nom", "Montant"]
    assert table.keys == ["nom", "montant"]
    assert (table.encoding, table.delimiter) == ("UTF-8 (BOM)", ";")
    assert rows == [(2, ["Association Été", "1 234,56"])]


def test_latin1_is_detected_and_decoded():
    data = "nom;ville\nLes Amis du Quartier Nord;Évry-Courcouronnes\n".encode("latin-1")
    table, rows = table_of(data)
    assert table.encoding in ("CP1252", "LATIN-1")
    assert rows[0][1] == ["Les Amis du Quartier Nord", "Évry-Courcouronnes"]


def test_cp1252_quotes_and_euro():
    data = "objet;montant\nL’été solidaire;12 800 €\n".encode("cp1252")
    _table, rows = table_of(data)
    assert rows[0][1] == ["L’été solidaire", "12 800 €"]
    assert parse_decimal(rows[0][1][1]) == Decimal("12800")


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [("a,b,c\n1,2,3\n", ","), ("a\tb\tc\n1\t2\t3\n", "\t"), ("a|b\n1|2\n", "|")],
)
def test_separator_is_sniffed(text, delimiter):
    table, rows = table_of(text.encode())
    assert table.delimiter == delimiter
    assert rows[0][1][:2] == ["1", "2"]


def test_comma_inside_quotes_does_not_fool_the_sniffer():
    data = b'nom;objet;montant\n"Asso";"Sport, culture; loisirs";"1,5"\n"B";"x";"2"\n'
    table, rows = table_of(data)
    assert table.delimiter == ";"
    assert rows[0][1] == ["Asso", "Sport, culture; loisirs", "1,5"]


def test_utf16_tab_export_from_excel():
    data = "nom\tmontant\r\nÀ toi de jouer\t12\r\n".encode("utf-16")
    table, rows = table_of(data)
    assert table.delimiter == "\t"
    assert rows == [(2, ["À toi de jouer", "12"])]


def test_blank_rows_are_skipped_but_numbering_follows_the_file():
    _table, rows = table_of(b"a;b\n1;2\n;\n\n3;4\n")
    assert [r[0] for r in rows] == [2, 5]


def test_xlsx_typed_cells_become_canonical_text():
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Nom", "SIRET", "Date", "Montant", "Part"])
    sheet.append(["Asso", 52499120500013, datetime.datetime(2024, 3, 1), 1234.5, 0.45])
    buffer = io.BytesIO()
    book.save(buffer)
    table, rows = table_of(buffer.getvalue(), "f.xlsx")
    assert table.format == "xlsx"
    assert rows == [(2, ["Asso", "52499120500013", "2024-03-01", "1234.5", "0.45"])]


def test_ods_is_read():
    data = tablib.Dataset(headers=["nom", "montant", "date"])
    data.append(["Asso", 1500.25, datetime.date(2023, 5, 2)])
    table, rows = table_of(data.export("ods"), "f.ods")
    assert table.format == "ods"
    assert rows == [(2, ["Asso", "1500.25", "2023-05-02"])]


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "f.xls", "Excel 97-2003"),
        (b"%PDF-1.4 ...", "f.pdf", "PDF"),
        (b"", "f.csv", "vide"),
        (b"PK\x03\x04garbage", "f.xlsx", "endommagé"),
    ],
)
def test_unreadable_files_are_refused_with_a_reason(data, name, message):
    with pytest.raises(DomainError) as exc:
        open_table(io.BytesIO(data), name=name)
    assert message in str(exc.value.message)
    assert exc.value.field == "file"


def test_the_callers_file_stays_open():
    handle = io.BytesIO(b"a;b\n1;2\n")
    table = open_table(handle)
    list(table.rows())
    del table
    assert not handle.closed
    handle.seek(0)
    assert handle.read(3) == b"a;b"


def test_headers_and_cells_are_cleaned():
    assert normalise_header("  Code\u00a0Commune  INSEE ") == "code commune insee"
    assert normalise_header("Bénéficiaire") == "beneficiaire"
    assert clean_text("  Les  Amis\u202fdu\tquartier ") == "Les Amis du quartier"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1234.56", "1234.56"),
        ("1234,56", "1234.56"),
        ("1 234,56", "1234.56"),
        ("1\u00a0234,56", "1234.56"),
        ("1\u202f234,56", "1234.56"),
        ("1.234,56", "1234.56"),
        ("1,234.56", "1234.56"),
        ("1'234.5", "1234.5"),
        ("1 234 567", "1234567"),
        ("12 800 €", "12800"),
        ("-3,5", "-3.5"),
    ],
)
def test_numbers_as_people_write_them(text, value):
    assert parse_decimal(text) == Decimal(value)


@pytest.mark.parametrize("text", ["abc", "1,2,3", "1 23,4", "12..5", "1.234,5.6"])
def test_unreadable_numbers_say_why(text):
    with pytest.raises(CellError) as exc:
        parse_decimal(text)
    assert text in exc.value.message and "nombre" in exc.value.message


def test_strict_numbers_require_the_decimal_point():
    with pytest.raises(CellError, match="séparateur décimal doit être le point"):
        parse_decimal("100000,1", strict=True)
    assert parse_decimal("100000.1", strict=True) == Decimal("100000.1")


def test_amounts_have_cents_at_most():
    assert parse_amount("12,5") == Decimal("12.50")
    with pytest.raises(CellError, match="2 décimales"):
        parse_amount("1,234")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2017-06-27", datetime.date(2017, 6, 27)),
        ("27/06/2017", datetime.date(2017, 6, 27)),
        ("27-06-2017", datetime.date(2017, 6, 27)),
        ("5/1/2017", datetime.date(2017, 1, 5)),
        ("2017-06-27 00:00:00", datetime.date(2017, 6, 27)),
    ],
)
def test_dates(text, value):
    assert parse_date(text) == value


def test_dates_refused_with_a_reason():
    with pytest.raises(CellError, match="n'existe pas"):
        parse_date("2017-30-05")
    with pytest.raises(CellError, match="AAAA-MM-JJ"):
        parse_date("27/06/2017", strict=True)
    with pytest.raises(CellError, match="date lisible"):
        parse_date("juin 2017")


def test_siret_with_spaces_and_its_key():
    assert parse_siret("524 991 205 00013") == "52499120500013"
    assert parse_siret("52499120500013.0") == "52499120500013"  # a spreadsheet number cell
    with pytest.raises(CellError, match="clé de contrôle"):
        parse_siret("52499120500014")
    with pytest.raises(CellError, match="SIREN"):
        parse_siret("218601946")
    with pytest.raises(CellError, match="zéro initial"):
        parse_siret("5249912050001")
    with pytest.raises(CellError, match="14 chiffres"):
        parse_siret("524 991 205 00013", strict=True)


def test_la_poste_siret_exception_is_valid():
    assert parse_siret("35600000000048") == "35600000000048"


def test_cell_error_names_row_and_column():
    error = CellError("« x » n'est pas un nombre.", row=12, column="montant")
    assert str(error) == "Ligne 12, colonne « montant » : « x » n'est pas un nombre."
