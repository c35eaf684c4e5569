"""Columns of an import and the one pass that reads them: headers matched to the expected
columns (exact, then without case, accents and spaces, then letters and digits only), then every
row's cells cleaned and parsed, every error recorded with its row and column. Nothing here reads
the database: checks that need it run once over all rows afterwards (set-based)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from core.tabular.cleaning import Fixed, placeholder, scientific_notation
from core.tabular.reader import CellError, Table, clean_text, loose_header, normalise_header
from core.tabular.report import Report

from .mapping import (
    SIMILAR,
    Target,
    add_samples,
    candidates,
    describe,
    how_label,
    most_similar,
)


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
    overrides: dict[str, str] | None = None,
) -> Mapping:
    """Match the file's headers to `columns`: the user's choices (`overrides`, normalised header
    → column key, "" to ignore), then the label and aliases (exact, then without case, accents
    and punctuation), then a similar name. A duplicated header, a missing required column (with
    the columns that could hold it) are errors; an unknown header is a warning (the column is
    ignored). `ignored`: loose header → the reason a known column is deliberately not imported."""
    overrides = overrides or {}
    by_key = {c.key: c for c in columns}
    goals = [Target(c.key, c.label, "", c.aliases) for c in columns]
    # Each name a column answers to, with its rank: the label first, then the aliases in order.
    exact: dict[str, tuple[Column, int]] = {}
    loose: dict[str, tuple[Column, int]] = {}
    for column in columns:
        for rank, name in enumerate((column.label, column.key, *column.aliases)):
            exact.setdefault(normalise_header(name), (column, rank))
            loose.setdefault(loose_header(name), (column, rank))
    chosen: dict[str, tuple[int, int]] = {}  # column key → (rank, position)
    how: dict[int, str] = {}
    unknown: list[int] = []
    for position, header in enumerate(table.headers):
        if not header:
            continue
        wanted = overrides.get(normalise_header(header))
        match: tuple[Column, int] | None
        if wanted is not None:
            if wanted not in by_key:
                how[position] = how_label("user-ignored")
                continue
            match, how[position] = (by_key[wanted], -1), how_label("user")
        else:
            match = exact.get(normalise_header(header)) or loose.get(loose_header(header))
            if match is None:
                if loose_header(header) in (ignored or {}):
                    report.warning(1, header, "", (ignored or {})[loose_header(header)])
                else:
                    unknown.append(position)
                continue
            how[position] = how_label("exact" if match[1] == 0 else "synonym")
        _choose(table, report, chosen, how, match, position)
    for position in unknown:
        header = table.headers[position]
        target, score = most_similar(header, goals, set(chosen))
        if target is None or score < SIMILAR:
            report.warning(1, header, "", _("Colonne inconnue, ignorée."))
            continue
        report.warning(
            1,
            header,
            "",
            _("Colonne lue comme « %(name)s » (%(how)s).")
            % {"name": by_key[target.key].label, "how": how_label("similar", score)},
        )
        how[position] = how_label("similar", score)
        _choose(table, report, chosen, how, (by_key[target.key], 99), position)
    mapping = Mapping(
        index={key: position for key, (_rank, position) in chosen.items()},
        labels={key: table.headers[position] for key, (_rank, position) in chosen.items()},
    )
    used = set(mapping.index.values())
    for column in columns:
        if column.required and column.key not in mapping.index:
            message = _("Colonne obligatoire « %(column)s » absente.") % {"column": column.label}
            maybe = candidates(next(g for g in goals if g.key == column.key), table.headers, used)
            if maybe:
                message += " " + _(
                    "Colonnes du fichier qui pourraient la contenir : %(columns)s (choisissez-la "
                    "dans la correspondance des colonnes)."
                ) % {"columns": ", ".join(f"« {h} »" for h in maybe)}
            report.error(1, column.label, "", message)
    report.mapping = describe(
        table.headers,
        {p: (k, by_key[k].label, "") for k, p in mapping.index.items()},
        how,
    )
    return mapping


def _choose(
    table: Table,
    report: Report,
    chosen: dict[str, tuple[int, int]],
    how: dict[int, str],
    match: tuple[Column, int],
    position: int,
) -> None:
    header = table.headers[position]
    column, rank = match
    if column.key not in chosen:
        chosen[column.key] = (rank, position)
        return
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
        how[position] = how_label("duplicate")
        return
    # Two different headers for one column (LIBELLE and NCCENR in INSEE's file): the
    # better-known name is read, the other ignored.
    if rank < other_rank:
        chosen[column.key] = (rank, position)
        how[other] = how_label("ignored")
        header, other = table.headers[other], position
    else:
        how[position] = how_label("ignored")
    report.warning(
        1,
        header,
        "",
        _("Colonne ignorée : « %(used)s » est lue pour « %(column)s ».")
        % {"used": table.headers[other], "column": column.label},
    )


#: What a cell reads as, whatever its row: (outcome, value or text, rule code, rule message).
_VALUE, _EMPTY, _PLACEHOLDER, _TOO_LONG, _ERROR, _FIXED = range(6)
#: A column's outcomes are memoised by raw cell (the same funder, date or nature on every row):
#: the memo is dropped when, after MEMO_PROBE cells, more than MEMO_DISTINCT of them were
#: distinct (amounts, references, names), and stops growing at MEMO_MAX entries. A hit saves the
#: whole cleaning and parsing (~3 µs), a miss costs a lookup and a store (~0.2 µs): a column
#: repeating one value in ten (dates: ~2 000 distinct in 100 000 rows, half of them distinct in
#: the first 2 000) gains from it.
MEMO_PROBE = 2_000
MEMO_DISTINCT = 0.9
MEMO_MAX = 50_000


def _outcome(
    raw: str, parse: Callable[[str], Any] | None, max_length: int | None
) -> tuple[int, Any, str, str]:
    """How one cell reads, independently of its row (parsers are pure functions of the text)."""
    text = _clean(raw)
    if text and len(text) <= 16 and not "0" <= text[0] <= "9" and placeholder(text):
        return (_PLACEHOLDER, text, "", "")
    if not text:
        return (_EMPTY, None, "", "")
    if max_length is not None and len(text) > max_length:
        return (_TOO_LONG, text, "", "")
    if parse is None:
        return (_VALUE, text, "", "")
    try:
        value = parse(text)
    except CellError as exc:
        # Excel's 7,86E+13: say why the digits are lost.
        return (_ERROR, scientific_notation(text) or exc.message, "", "")
    if type(value) is Fixed:
        return (_FIXED, value.value, value.code, value.message)
    return (_VALUE, value, "", "")


def read_records(
    table: Table, columns: list[Column], mapping: Mapping, report: Report
) -> Iterator[tuple[int, dict[str, Any], set[str]]]:
    """(row, values by column key, keys of the cells that could not be read) for each row; an
    empty cell and an unreadable one are both None, the set tells them apart ("" in the set: the
    row itself is malformed). One pass; rows are not kept."""
    Memo = dict[str, tuple[int, Any, str, str]]
    plan: list[tuple[str, str, int, bool, Callable[[str], Any] | None, int | None, Memo | None]]
    plan = [
        (c.key, mapping.labels[c.key], mapping.index[c.key], c.required, c.parse, c.max_length, {})
        for c in columns
        if c.key in mapping.index
    ]
    width = len(table.headers)
    # Without a required column no row can be imported; its cells are still all checked.
    unusable = any(c.required and c.key not in mapping.index for c in columns)
    first_of: dict[int, int] = {}  # a row's cells' hash → the first row with the same cells
    sampling = bool(report.mapping)
    probing = True
    for row, cells in table.rows():
        report.row_count += 1
        if sampling:
            sampling = add_samples(report.mapping, cells) and report.row_count < 100
        if probing and report.row_count == MEMO_PROBE:
            probing = False
            most = MEMO_PROBE * MEMO_DISTINCT
            plan = [p if len(p[6] or ()) <= most else (*p[:6], None) for p in plan]
        values: dict[str, Any] = {}
        bad: set[str] = {""} if unusable else set()
        same = first_of.setdefault(hash(tuple(cells)), row)
        if same != row:
            report.warning(row, "", "", _("Ligne identique à la ligne %(row)s.") % {"row": same})
            report.clean("duplicate", "", 1, _("lignes identiques à une ligne précédente"), row=row)
        count = len(cells)
        if count > width and any(c.strip() for c in cells[width:]):
            report.error(
                row,
                "",
                "",
                _("La ligne compte %(n)s cellules pour %(m)s colonnes d'en-tête.")
                % {"n": len(cells), "m": width},
            )
            bad.add("")
        for key, label, index, required, parse, max_length, memo in plan:
            raw = cells[index] if index < count else ""
            if memo is not None:
                outcome = memo.get(raw)
                if outcome is None:
                    outcome = _outcome(raw, parse, max_length)
                    if len(memo) < MEMO_MAX:
                        memo[raw] = outcome
            elif (
                parse is None
                and raw
                and (len(raw) > 16 or "0" <= raw[0] <= "9")
                and (max_length is None or len(raw) <= max_length)
                and raw.isprintable()
                and raw[0] != " "
                and raw[-1] != " "
                and "  " not in raw
            ):
                # A clean text cell of a column without memo (names, references): what _outcome
                # returns for it (clean, not a placeholder, not too long), without the call.
                values[key] = raw
                continue
            else:
                outcome = _outcome(raw, parse, max_length)
            kind = outcome[0]
            if kind == _VALUE:
                values[key] = outcome[1]
                continue
            if kind == _FIXED:
                report.clean(outcome[2], label, 1, outcome[3], row=row)
                values[key] = outcome[1]
                continue
            values[key] = None
            if kind == _PLACEHOLDER:
                text = outcome[1]
                report.clean(
                    f"placeholder:{text}",
                    label,
                    1,
                    _("« %(value)s » lu comme vide") % {"value": text},
                    row=row,
                )
                kind = _EMPTY
            if kind == _EMPTY:
                if required:
                    report.error(row, label, raw, _("Cellule obligatoire vide."))
                    bad.add(key)
            elif kind == _TOO_LONG:
                text = outcome[1]
                report.error(
                    row,
                    label,
                    text,
                    _("Le texte dépasse %(max)s caractères (%(n)s).")
                    % {"max": max_length, "n": len(text)},
                )
                bad.add(key)
            else:  # _ERROR
                report.error(row, label, raw, outcome[1])
                bad.add(key)
        yield row, values, bad


def _clean(value: str) -> str:
    """clean_text, with a fast path for the usual clean cell."""
    if not value:
        return ""
    if value.isprintable() and value[0] != " " and value[-1] != " " and "  " not in value:
        return value
    return clean_text(value)
