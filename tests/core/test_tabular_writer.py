"""The shared CSV writer: « Excel (France) » and plain CSV, read back byte by byte."""

from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import DomainError
from core.tabular.writer import DIALECTS, EXCEL_FR, PLAIN_CSV, csv_bytes, csv_dialect

HEADERS = ["Bénéficiaire", "Montant (€)", "Date", "Payé"]
ROWS = [
    [
        "Association Les Jardins partagés — Île-de-France",
        Decimal("1234.56"),
        datetime.date(2026, 3, 31),
        True,
    ],
    ["Crèche « Œuf »", Decimal("-12.50"), None, False],
    ['=HYPERLINK("x")', Decimal("0.00"), datetime.date(2026, 12, 1), None],
]


def test_excel_fr_has_a_bom_semicolons_decimal_comma_and_french_dates():
    data = csv_bytes(HEADERS, ROWS, DIALECTS[EXCEL_FR])
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert rows[0] == HEADERS
    assert rows[1] == [
        "Association Les Jardins partagés — Île-de-France",
        "1234,56",
        "31/03/2026",
        "oui",
    ]
    assert Decimal(rows[1][1].replace(",", ".")) == Decimal("1234.56")
    assert Decimal(rows[2][1].replace(",", ".")) == Decimal("-12.50")  # a number, not a formula
    assert rows[2][0] == "Crèche « Œuf »" and rows[2][2] == ""
    assert rows[3][0] == '\'=HYPERLINK("x")'  # never run as a formula by the spreadsheet
    assert b"\r\n" in data


def test_plain_csv_has_no_bom_commas_decimal_point_and_iso_dates():
    data = csv_bytes(HEADERS, ROWS, DIALECTS[PLAIN_CSV])
    assert not data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert rows[1] == [
        "Association Les Jardins partagés — Île-de-France",
        "1234.56",
        "2026-03-31",
        "oui",
    ]
    assert Decimal(rows[2][1]) == Decimal("-12.50")
    assert rows[3][0] == '=HYPERLINK("x")'  # tools get the value as it is


def test_datetimes_are_local_time():
    moment = datetime.datetime(2026, 7, 1, 12, 30, tzinfo=datetime.UTC)  # 14:30 in Paris
    assert DIALECTS[EXCEL_FR].cell(moment) == "01/07/2026 14:30"
    assert DIALECTS[PLAIN_CSV].cell(moment) == "2026-07-01 14:30"


def test_unknown_format_is_a_clear_french_error():
    with pytest.raises(DomainError, match="Format inconnu : « tsv »"):
        csv_dialect("tsv")
    assert csv_dialect(None).key == EXCEL_FR


@given(st.decimals(min_value=-(10**9), max_value=10**9, places=2, allow_nan=False))
def test_amounts_round_trip_exactly_in_both_dialects(amount):
    for key in (EXCEL_FR, PLAIN_CSV):
        dialect = DIALECTS[key]
        data = csv_bytes(["montant"], [[amount]], dialect)
        text = data.decode("utf-8-sig")
        cell = next(csv.reader(io.StringIO(text.split("\r\n", 1)[1]), delimiter=dialect.delimiter))[
            0
        ]
        assert Decimal(cell.replace(",", ".")) == amount
