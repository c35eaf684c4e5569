"""Columns of an import and the one pass that reads them: headers matched to the expected
columns (exact, then without case, accents and spaces, then letters and digits only), then every
row's cells cleaned and parsed, every error recorded with its row and column. Nothing here reads
the database: checks that need it run once over all rows afterwards (set-based)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from .cleaning import Fixed, placeholder, refuse_scientific
from .reader import CellError, Table, clean_text, loose_header, normalise_header
from .report import Report


@dataclass(frozen=True)
class Column:
    key: str  # the name the importer uses
    label: str  # the header expected in the file, shown in messages
    aliases: tuple[str, ...] = ()
    required: bool = False  # the column must be there and each cell filled
    parse: Callable[[str], Any] | None = None  # text (cleaned, not empty) → value, or CellError
    max_length: int | None = None


@dataclass
class Mapping:
    """Which file column feeds which expected column."""

    index: dict[str, int]  # column key → position in the file
    labels: dict[str, str]  # column key → header as written in the file


def map_headers(
    table: Table,
    columns: list[Column],
    report: Report,
    *,
    ignored: dict[str, str] | None = None,
) -> Mapping:
    """Match the file's headers to `columns`. A duplicated header, a missing required column are
    errors; an unknown header is a warning (the column is ignored). `ignored`: loose header →
    the reason a known column is deliberately not imported."""
    # Each name a column answers to, with its rank: the label first, then the aliases in order.
    exact: dict[str, tuple[Column, int]] = {}
    loose: dict[str, tuple[Column, int]] = {}
    for column in columns:
        for rank, name in enumerate((column.label, column.key, *column.aliases)):
            exact.setdefault(normalise_header(name), (column, rank))
            loose.setdefault(loose_header(name), (column, rank))
    chosen: dict[str, tuple[int, int]] = {}  # column key → (rank, position)
    for position, header in enumerate(table.headers):
        if not header:
            continue
        match = exact.get(normalise_header(header)) or loose.get(loose_header(header))
        if match is None:
            reason = (ignored or {}).get(loose_header(header))
            report.warning(1, header, "", reason or _("Colonne inconnue, ignorée."))
            continue
        column, rank = match
        if column.key not in chosen:
            chosen[column.key] = (rank, position)
            continue
        other_rank, other = chosen[column.key]
        if normalise_header(table.headers[other]) == normalise_header(header):
            report.error(
                1,
                header,
                "",
                _(
                    "La colonne « %(column)s » apparaît deux fois (colonnes %(first)s et "
                    "%(second)s) : gardez-en une seule."
                )
                % {"column": header, "first": other + 1, "second": position + 1},
            )
            continue
        # Two different headers for one column (LIBELLE and NCCENR in INSEE's file): the
        # better-known name is read, the other ignored.
        if rank < other_rank:
            chosen[column.key] = (rank, position)
            header, other = table.headers[other], position
        report.warning(
            1,
            header,
            "",
            _("Colonne ignorée : « %(used)s » est lue pour « %(column)s ».")
            % {"used": table.headers[other], "column": column.label},
        )
    mapping = Mapping(
        index={key: position for key, (_rank, position) in chosen.items()},
        labels={key: table.headers[position] for key, (_rank, position) in chosen.items()},
    )
    for column in columns:
        if column.required and column.key not in mapping.index:
            report.error(
                1,
                column.label,
                "",
                _("Colonne obligatoire « %(column)s » absente.") % {"column": column.label},
            )
    return mapping


def read_records(
    table: Table, columns: list[Column], mapping: Mapping, report: Report
) -> Iterator[tuple[int, dict[str, Any], set[str]]]:
    """(row, values by column key, keys of the cells that could not be read) for each row; an
    empty cell and an unreadable one are both None, the set tells them apart ("" in the set: the
    row itself is malformed). One pass; rows are not kept."""
    plan = [
        (c.key, mapping.labels[c.key], mapping.index[c.key], c.required, c.parse, c.max_length)
        for c in columns
        if c.key in mapping.index
    ]
    width = len(table.headers)
    # Without a required column no row can be imported; its cells are still all checked.
    unusable = any(c.required and c.key not in mapping.index for c in columns)
    first_of: dict[int, int] = {}  # a row's cells' hash → the first row with the same cells
    for row, cells in table.rows():
        report.row_count += 1
        values: dict[str, Any] = {}
        bad: set[str] = {""} if unusable else set()
        same = first_of.setdefault(hash(tuple(c.strip() for c in cells)), row)
        if same != row:
            report.warning(row, "", "", _("Ligne identique à la ligne %(row)s.") % {"row": same})
            report.clean("duplicate", "", 1, _("lignes identiques à une ligne précédente"), row=row)
        if len(cells) > width and any(c.strip() for c in cells[width:]):
            report.error(
                row,
                "",
                "",
                _("La ligne compte %(n)s cellules pour %(m)s colonnes d'en-tête.")
                % {"n": len(cells), "m": width},
            )
            bad.add("")
        for key, label, index, required, parse, max_length in plan:
            raw = cells[index] if index < len(cells) else ""
            text = _clean(raw)
            if text and placeholder(text):
                report.clean(
                    f"placeholder:{text}",
                    label,
                    1,
                    _("« %(value)s » lu comme vide") % {"value": text},
                    row=row,
                )
                text = ""
            if not text:
                values[key] = None
                if required:
                    report.error(row, label, raw, _("Cellule obligatoire vide."))
                    bad.add(key)
                continue
            if max_length is not None and len(text) > max_length:
                report.error(
                    row,
                    label,
                    text,
                    _("Le texte dépasse %(max)s caractères (%(n)s).")
                    % {"max": max_length, "n": len(text)},
                )
                values[key] = None
                bad.add(key)
                continue
            if parse is None:
                values[key] = text
                continue
            try:
                if "E" in text or "e" in text:
                    refuse_scientific(text)
                value = parse(text)
            except CellError as exc:
                report.error(row, label, raw, exc.message)
                values[key] = None
                bad.add(key)
                continue
            if type(value) is Fixed:
                report.clean(value.code, label, 1, value.message, row=row)
                value = value.value
            values[key] = value
        yield row, values, bad


def _clean(value: str) -> str:
    """clean_text, with a fast path for the usual clean cell."""
    if not value:
        return ""
    if value.isprintable() and value[0] != " " and value[-1] != " " and "  " not in value:
        return value
    return clean_text(value)
