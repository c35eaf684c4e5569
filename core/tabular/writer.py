"""CSV files written the two ways people open them (issue 16), one writer for every export.

- ``excel-fr`` — « Excel (France) »: UTF-8 with a byte-order mark (without it Excel reads the file
  as Windows-1252 and breaks accents), `;` between cells, decimal comma (`1234,56`, no thousands
  separator: a space would turn the number back into text), dates `dd/mm/yyyy`, CRLF.
- ``csv`` — for tools and scripts: UTF-8 without BOM, `,`, decimal point, ISO 8601 dates
  (`2026-03-31`; date and time `2026-03-31 14:05`, local time), RFC 4180, CRLF.

Cells are typed values (Decimal, int, date, datetime, bool, None, str); the dialect renders them.
Amounts stay Decimal end to end (never float). Text cells that a spreadsheet would run as a formula
(`=`, `+`, `-`, `@` first) are left as they are in `csv` (a tool wants the value) and prefixed with
an apostrophe in `excel-fr` (OWASP CSV injection) — except numbers such as `-12,50`.
docs/decisions/2026-12-07-spreadsheet-exports.md.
"""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.errors import DomainError

EXCEL_FR = "excel-fr"
PLAIN_CSV = "csv"


@dataclass(frozen=True)
class CsvDialect:
    key: str
    label: Any  # lazy French label
    delimiter: str
    decimal: str
    bom: bool
    date_format: str  # strftime, or "" for ISO 8601
    guard_formulas: bool

    @property
    def content_type(self) -> str:
        return "text/csv; charset=utf-8"

    def cell(self, value: Any) -> str:
        """One value as this dialect writes it."""
        if value is None:
            return ""
        if isinstance(value, bool):
            return _("oui") if value else _("non")
        if isinstance(value, Decimal):
            text = format(value, "f")
            return text.replace(".", self.decimal) if self.decimal != "." else text
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):  # not money: ratios and percentages of dashboards
            return self.cell(Decimal(repr(value)))
        if isinstance(value, datetime.datetime):
            moment: datetime.datetime = (
                timezone.localtime(value) if timezone.is_aware(value) else value
            )
            # Local time to the minute, as people read it (« 2026-03-02 10:00 » in `csv`).
            return moment.strftime(f"{self.date_format or '%Y-%m-%d'} %H:%M")
        if isinstance(value, datetime.date):
            day: datetime.date = value
            return day.strftime(self.date_format) if self.date_format else day.isoformat()
        text = str(value)
        formula = text[:1] in ("=", "+", "-", "@", "\t", "\r")
        if self.guard_formulas and formula and not _is_number(text, self.decimal):
            return "'" + text
        return text


def _is_number(text: str, decimal: str) -> bool:
    try:
        Decimal(text.replace(decimal, ".") if decimal != "." else text)
    except ArithmeticError:
        return False
    return True


DIALECTS: dict[str, CsvDialect] = {
    d.key: d
    for d in (
        CsvDialect(
            EXCEL_FR,
            gettext_lazy("Excel (France)"),
            delimiter=";",
            decimal=",",
            bom=True,
            date_format="%d/%m/%Y",
            guard_formulas=True,
        ),
        CsvDialect(
            PLAIN_CSV,
            gettext_lazy("CSV (UTF-8, outils)"),
            delimiter=",",
            decimal=".",
            bom=False,
            date_format="",
            guard_formulas=False,
        ),
    )
}
DEFAULT_DIALECT = EXCEL_FR


def csv_dialect(key: str | None, *, default: str = DEFAULT_DIALECT) -> CsvDialect:
    """The dialect named `key` (empty: the default), or a clear French error."""
    dialect = DIALECTS.get(key or default)
    if dialect is None:
        raise DomainError(
            _("Format inconnu : « %(format)s ». Formats possibles : %(formats)s.")
            % {"format": key, "formats": ", ".join(DIALECTS)},
            field="format",
        )
    return dialect


class TabularCsvWriter:
    """Streams rows of typed cells to a binary file in one dialect."""

    def __init__(self, fh: IO[bytes], headers: Iterable[Any], dialect: CsvDialect) -> None:
        self.dialect = dialect
        self.text = io.TextIOWrapper(
            fh, encoding="utf-8-sig" if dialect.bom else "utf-8", newline=""
        )
        self.csv = csv.writer(self.text, delimiter=dialect.delimiter, lineterminator="\r\n")
        self.csv.writerow([str(h) for h in headers])

    def write_rows(self, rows: Iterable[Iterable[Any]]) -> None:
        cell = self.dialect.cell
        self.csv.writerows([[cell(v) for v in row] for row in rows])

    def close(self) -> None:
        self.text.flush()
        self.text.detach()


def csv_bytes(headers: Iterable[Any], rows: Iterable[Iterable[Any]], dialect: CsvDialect) -> bytes:
    """A whole (small) CSV file in memory."""
    out = io.BytesIO()
    writer = TabularCsvWriter(out, headers, dialect)
    writer.write_rows(rows)
    writer.close()
    return out.getvalue()


def csv_file_name(stem: str, dialect: CsvDialect) -> str:
    """`stem.csv`, or `stem-excel.csv` for the Excel (France) file (both may be downloaded)."""
    return f"{stem}-excel.csv" if dialect.key == EXCEL_FR else f"{stem}.csv"
