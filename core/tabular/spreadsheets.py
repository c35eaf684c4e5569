"""XLSX and ODS workbooks, read into the same `Table` as CSV files.

Limits are checked from the archive's directory before anything is decompressed (a ZIP bomb
renamed .xlsx declares its sizes; Python's zipfile never inflates past them): the total size, the
compression ratio, and for ODS the size of the XML that odfpy loads whole. Then:
- the sheet is the first one, or the one chosen by name or position (from 1);
- the header is the first row with at least two filled cells among the first ten (a title row
  above the table is skipped and reported);
- XLSX cells merged over several rows or columns give their value to every cell they cover
  (openpyxl's read-only mode does not say which are merged: the `mergeCell` elements are read from
  the sheet's XML, streamed); formulas give the value the spreadsheet last computed, and formulas
  saved without one (a file written by a program, never opened) are reported;
- dates are dates when the cell is formatted as one; a date typed as a number (a serial day) is
  recognised by the date parsers in tolerant mode.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from typing import IO, Any

from django.utils.translation import gettext as _

from core.errors import DomainError

from .reader import (
    MAX_COLUMNS,
    Table,
    _as_text,
    check_headers,
    empty_file,
)

#: Decompressed size of all the archive's members, and of the one XML odfpy loads whole (its
#: DOM weighs ~30× the XML).
MAX_UNZIPPED = 400 * 1024 * 1024
MAX_ODS_XML = 25 * 1024 * 1024
#: Beyond this ratio a member larger than BOMB_MIN is a ZIP bomb, not a spreadsheet (real sheets
#: compress 5 to 50 times).
MAX_RATIO = 200
BOMB_MIN = 10 * 1024 * 1024
#: Rows looked at to find the header under a title.
HEADER_SEARCH = 10
#: Merged ranges filled in beyond which the rest are left as they are (memory).
MAX_MERGED_CELLS = 1_000_000

_ODS_MIME = b"application/vnd.oasis.opendocument.spreadsheet"


def open_zip(file: IO[bytes], *, sheet: str = "") -> Table:
    try:
        with zipfile.ZipFile(file) as archive:
            infos = archive.infolist()
            names = {i.filename for i in infos}
            _check_sizes(infos)
            mimetype = archive.read("mimetype").strip() if "mimetype" in names else b""
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError, OSError):
        raise DomainError(_("Le fichier est endommagé (archive illisible)."), field="file")
    finally:
        file.seek(0)
    if mimetype == _ODS_MIME:
        return _open_ods(file, infos, sheet)
    if any(n.startswith("xl/") for n in names):
        return _open_xlsx(file, sheet)
    raise DomainError(
        _("Ce fichier compressé n'est ni un classeur XLSX ni un classeur ODS."), field="file"
    )


def _check_sizes(infos: list[zipfile.ZipInfo]) -> None:
    total = sum(i.file_size for i in infos)
    bomb = any(
        i.file_size > BOMB_MIN and i.file_size > MAX_RATIO * max(i.compress_size, 1) for i in infos
    )
    if bomb or total > MAX_UNZIPPED:
        raise DomainError(
            _(
                "Ce classeur se décompresse en %(size)s Mo, au-delà de la limite de %(max)s Mo "
                "(ou il est anormalement compressé) : il n'est pas lu. Enregistrez les données "
                "utiles en CSV."
            )
            % {"size": total // (1024 * 1024), "max": MAX_UNZIPPED // (1024 * 1024)},
            field="file",
        )


def _choose(names: list[str], wanted: str) -> int:
    """Index of the sheet asked for (name, without case; or position from 1); 0 by default."""
    wanted = (wanted or "").strip()
    if not wanted:
        return 0
    folded = [n.strip().casefold() for n in names]
    if wanted.casefold() in folded:
        return folded.index(wanted.casefold())
    if wanted.isdigit() and 1 <= int(wanted) <= len(names):
        return int(wanted) - 1
    raise DomainError(
        _("La feuille « %(sheet)s » n'existe pas dans ce classeur (feuilles : %(names)s).")
        % {"sheet": wanted, "names": ", ".join(f"« {n} »" for n in names)},
        field="sheet",
    )


def _find_header(rows: Iterator[list[Any]]) -> tuple[list[Any], int, list[list[Any]]]:
    """The header row, its number (from 1), and the title rows skipped above it."""
    skipped: list[list[Any]] = []
    for number, row in enumerate(rows, start=1):
        filled = sum(1 for v in row if v not in (None, ""))
        if filled >= 2 or number >= HEADER_SEARCH:
            return list(row), number, skipped
        skipped.append(list(row))
    if skipped and any(v not in (None, "") for v in skipped[0]):
        return skipped[0], 1, []  # a one-column table
    raise empty_file()


# --------------------------------------------------------------------------- XLSX

_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]{1,3})(\d+)(?::([A-Z]{1,3})(\d+))?"')
# A formula with no cached value: `<f>…</f>` (or `<f …/>`) then nothing, `<v/>` or `<v></v>`
# (writers differ: openpyxl writes the latter when lxml is installed).
_UNCACHED = re.compile(
    rb"(?:</(?:\w+:)?f>|<(?:\w+:)?f\s[^>]*/>)"
    rb"(?:<(?:\w+:)?v\s*/>|<(?:\w+:)?v>\s*</(?:\w+:)?v>)?</(?:\w+:)?c>"
)


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + letter - 64
    return number


def _scan_sheet(file: IO[bytes], path: str) -> tuple[list[tuple[int, int, int, int]], int]:
    """The merged ranges (first row, first column, last row, last column) and the number of
    formulas saved without a value, read from the sheet's XML in chunks."""
    ranges: list[tuple[int, int, int, int]] = []
    uncached = 0

    def scan(data: bytes, end: int) -> None:
        nonlocal uncached
        for match in _MERGE.finditer(data):
            if match.start() >= end:
                break
            c1, r1, c2, r2 = match.groups()
            first = (int(r1), _column_number(c1))
            last = (int(r2), _column_number(c2)) if c2 else first
            ranges.append((*first, *last))
        uncached += sum(1 for m in _UNCACHED.finditer(data) if m.start() < end)

    tail = b""
    try:
        with zipfile.ZipFile(file) as archive, archive.open(path.lstrip("/")) as xml:
            while chunk := xml.read(1 << 20):
                data = tail + chunk
                cut = max(len(data) - 512, 0)  # a match starting before is whole in `data`
                scan(data, cut)
                tail = data[cut:]
            scan(tail, len(tail))
    except (KeyError, zipfile.BadZipFile, OSError):
        return [], 0
    finally:
        file.seek(0)
    return ranges, uncached


def _open_xlsx(file: IO[bytes], sheet: str) -> Table:
    import openpyxl

    try:
        book = openpyxl.load_workbook(file, read_only=True, data_only=True)
        names = list(book.sheetnames)
        worksheet = book.worksheets[_choose(names, sheet)]
        ranges, uncached = _scan_sheet(file, getattr(worksheet, "_worksheet_path", ""))
        iterator = (list(r) for r in worksheet.iter_rows(values_only=True))
        header, header_row, skipped = _find_header(iterator)
    except DomainError:
        raise
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds; all mean unreadable
        raise DomainError(
            _("Le classeur XLSX est illisible : %(error)s") % {"error": exc}, field="file"
        )
    headers = check_headers([_as_text(h) for h in header[: MAX_COLUMNS + 1]])
    fills, origins = _merged_fills(ranges, header_row)

    def rows() -> Iterator[list[Any]]:
        width = len(headers)
        values_at: dict[tuple[int, int], Any] = {}
        for offset, values in enumerate(iterator, start=1):
            row = header_row + offset
            cells = values[: max(width, MAX_COLUMNS)]
            for column in origins.get(row, ()):
                values_at[(row, column)] = cells[column - 1] if column <= len(cells) else None
            for column, origin in fills.get(row, ()):
                while len(cells) < column:
                    cells.append(None)
                cells[column - 1] = values_at.get(origin)
            yield cells

    return Table(
        format="xlsx",
        headers=headers,
        sheet=worksheet.title,
        sheets=names,
        _rows=rows,
        first_row=header_row + 1,
        title_rows=[" ".join(_as_text(v) for v in r if v not in (None, "")) for r in skipped],
        formulas_without_value=uncached,
        merged_cells=sum(len(v) for v in fills.values()),
    )


def _merged_fills(
    ranges: list[tuple[int, int, int, int]], header_row: int
) -> tuple[dict[int, list[tuple[int, tuple[int, int]]]], dict[int, list[int]]]:
    """Row → (column, its merge's first cell) for every cell a merge below the header covers
    but its first; and row → the columns of the first cells to remember."""
    fills: dict[int, list[tuple[int, tuple[int, int]]]] = {}
    origins: dict[int, list[int]] = {}
    count = 0
    for r1, c1, r2, c2 in sorted(ranges):
        if r1 <= header_row:
            continue
        cells = (r2 - r1 + 1) * (c2 - c1 + 1)
        if count + cells > MAX_MERGED_CELLS or c2 > MAX_COLUMNS:
            continue
        count += cells - 1
        origins.setdefault(r1, []).append(c1)
        for row in range(r1, r2 + 1):
            for column in range(c1, c2 + 1):
                if (row, column) != (r1, c1):
                    fills.setdefault(row, []).append((column, (r1, c1)))
    return fills, origins


# --------------------------------------------------------------------------- ODS


def _open_ods(file: IO[bytes], infos: list[zipfile.ZipInfo], sheet: str) -> Table:
    content = next((i for i in infos if i.filename == "content.xml"), None)
    if content is None:
        raise DomainError(_("Le classeur ODS est illisible : contenu absent."), field="file")
    if content.file_size > MAX_ODS_XML:
        raise DomainError(
            _(
                "Ce classeur ODS est trop volumineux pour être lu (%(size)s Mo de données, "
                "limite %(max)s Mo) : enregistrez-le en CSV ou en XLSX."
            )
            % {
                "size": content.file_size // (1024 * 1024),
                "max": MAX_ODS_XML // (1024 * 1024),
            },
            field="file",
        )
    import pandas

    try:
        workbook = pandas.ExcelFile(file, engine="odf")
        names = [str(n) for n in workbook.sheet_names]
        index = _choose(names, sheet)
        frame = pandas.read_excel(
            workbook, sheet_name=index, header=None, dtype=object, na_filter=False
        )
    except DomainError:
        raise
    except Exception as exc:  # noqa: BLE001 - odfpy raises many kinds; all mean unreadable
        raise DomainError(
            _("Le classeur ODS est illisible : %(error)s") % {"error": exc}, field="file"
        )
    finally:
        file.seek(0)
    if frame.shape[1] > MAX_COLUMNS:
        frame = frame.iloc[:, : MAX_COLUMNS + 1]
    records = (list(r) for r in frame.itertuples(index=False, name=None))
    header, header_row, skipped = _find_header(records)
    headers = check_headers([_as_text(h) for h in header])

    def rows() -> Iterator[list[Any]]:
        yield from records

    return Table(
        format="ods",
        headers=headers,
        sheet=names[index],
        sheets=names,
        _rows=rows,
        first_row=header_row + 1,
        title_rows=[" ".join(_as_text(v) for v in r if v not in (None, "")) for r in skipped],
    )
