"""The SCDL « Subventions » 2.1.1 file format (Table Schema), read from the schema itself
(`reporting/data/scdl-subventions-2.1.1.json`): its fields, their types and constraints (required,
pattern, enum, maxLength, minimum/maximum, true/false values) and its custom checks (SIRET key,
idBeneficiaire or rnaBeneficiaire).

Two ways to read a file:
- strict (files published as SCDL): the schema's rules exactly — header names and order, dates
  YYYY-MM-DD, decimal point, « oui »/« non »;
- tolerant (exports of a previous tool or of a spreadsheet): headers matched without case, accents
  or punctuation, in any order; decimal commas and thousands separators, DD/MM/YYYY dates, SIRETs
  with spaces, percentages written « 45 % », RNA numbers with a letter in third position
  (docs/domain.md §6); the columns an import does not need (nature, payment conditions and dates,
  notificationUE, share) may be missing or empty.
Either way a value is read or the reason it is not is reported with its row and column.

Besides the schema, three columns of the Data.Subvention draft extension are read when present:
idSubvention (the grant's identifier), exerciceBudgetaire (one row per fiscal year of a
multi-year grant) and ej (legal commitment number).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _

from core.identifiers import EJ_RE, RNA_RE
from core.tabular.cleaning import Fixed, date_cell, nature_synonym, siret_cell, siret_or_siren_cell
from core.tabular.reader import (
    CellError,
    Table,
    loose_header,
    normalise_header,
    parse_date,
    parse_decimal,
    parse_year,
)
from core.tabular.report import Report

from .columns import Column, Mapping
from .mapping import SIMILAR, Target, candidates, describe, how_label, most_similar, targets_index

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "data" / "scdl-subventions-2.1.1.json"

#: What a pattern means, in words, for the messages.
PATTERN_HINTS = {
    "idAttribuant": "14 chiffres (SIRET), sans espace",
    "rnaBeneficiaire": "W suivi de 9 chiffres, ex. W751234567",
    "datesPeriodeVersement": "AAAA-MM-JJ ou AAAA-MM-JJ/AAAA-MM-JJ",
}
SIRET_FIELDS = ("idAttribuant", "idBeneficiaire")
EXTENSION_FIELDS = ("idSubvention", "exerciceBudgetaire", "ej")
#: Required by the schema but not needed to import a grant: a previous tool's export may lack
#: them (tolerant mode only; a missing share means the whole grant, 1).
TOLERANT_OPTIONAL = (
    "nature",
    "conditionsVersement",
    "datesPeriodeVersement",
    "notificationUE",
    "pourcentageSubvention",
)
_TRUE = {"oui", "o", "vrai", "true", "yes", "1"}
_FALSE = {"non", "n", "faux", "false", "no", "0"}


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    with SCHEMA_PATH.open(encoding="utf-8") as handle:
        return json.load(handle)


def field_names() -> list[str]:
    return [f["name"] for f in schema()["fields"]]


def columns(*, strict: bool) -> list[Column]:
    """The schema's fields as import columns, then the extension's."""
    result = [
        Column(
            key=f["name"],
            label=f["name"],
            required=bool(f.get("constraints", {}).get("required"))
            and (strict or f["name"] not in TOLERANT_OPTIONAL),
            parse=_parser(f, strict=strict),
            max_length=f.get("constraints", {}).get("maxLength"),
        )
        for f in schema()["fields"]
    ]
    result += [
        Column(key="idSubvention", label="idSubvention", max_length=255),
        Column(key="exerciceBudgetaire", label="exerciceBudgetaire", parse=_year),
        Column(key="ej", label="ej", parse=_ej),
    ]
    return result


def _parser(spec: dict[str, Any], *, strict: bool) -> Callable[[str], Any] | None:
    name, kind = spec["name"], spec.get("type", "string")
    constraints = spec.get("constraints", {})
    if name in SIRET_FIELDS:
        if not strict and name == "idBeneficiaire":
            return _cached(siret_or_siren_cell)
        return _cached(lambda text: siret_cell(text, strict=strict))
    if name == "rnaBeneficiaire" and not strict:
        return _rna_tolerant
    if name == "datesPeriodeVersement":
        return _period_strict if strict else _period_tolerant
    if name == "pourcentageSubvention" and not strict:
        return _share_tolerant
    if name == "nature" and not strict:
        return _enum_tolerant(constraints["enum"])
    if kind == "date":
        return (lambda text: parse_date(text, strict=True)) if strict else date_cell
    if kind == "boolean":
        trues, falses = spec.get("trueValues", ["true"]), spec.get("falseValues", ["false"])
        return _boolean(trues, falses, strict=strict)
    checks: list[Callable[[Any, str], None]] = []
    if "pattern" in constraints:
        checks.append(_pattern(name, constraints["pattern"]))
    if "enum" in constraints:
        checks.append(_enum(constraints["enum"]))
    if "minimum" in constraints or "maximum" in constraints:
        checks.append(_bounds(name, constraints.get("minimum"), constraints.get("maximum")))
    if kind == "number":
        convert: Callable[[str], Any] = lambda text: parse_decimal(text, strict=strict)  # noqa: E731
    elif not checks:
        return None
    else:
        convert = str

    def parse(text: str) -> Any:
        value = convert(text)
        for check in checks:
            check(value, text)
        return value

    return parse


def _cached(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """Memoise a costly parser over one file: a funder's SIRET is on every row, a beneficiary's
    on each of its grants (python-stdnum's check is ~20 µs)."""
    seen: dict[str, Any] = {}

    def cached(text: str) -> Any:
        result = seen.get(text)
        if result is None:
            try:
                result = parse(text)
            except CellError as exc:
                result = exc
            seen[text] = result
        if isinstance(result, CellError):
            raise CellError(result.message)
        return result

    return cached


def _pattern(name: str, pattern: str) -> Callable[[Any, str], None]:
    regex = re.compile(pattern)
    hint = PATTERN_HINTS.get(name, pattern)

    def check(value: Any, text: str) -> None:
        if not regex.search(text):
            raise CellError(
                _("« %(value)s » ne respecte pas le format attendu : %(hint)s.")
                % {"value": text, "hint": hint}
            )

    return check


def _enum(allowed: list[str]) -> Callable[[Any, str], None]:
    def check(value: Any, text: str) -> None:
        if text not in allowed:
            raise CellError(
                _("« %(value)s » n'est pas une valeur autorisée : %(allowed)s.")
                % {"value": text, "allowed": ", ".join(f"« {a} »" for a in allowed)}
            )

    return check


def _enum_tolerant(allowed: list[str]) -> Callable[[str], Any]:
    known = {_enum_key(a): a for a in allowed}

    def parse(text: str) -> Any:
        value: Any = known.get(_enum_key(text))
        if value is None:
            value = nature_synonym(text)
        if value is None:
            raise CellError(
                _("« %(value)s » n'est pas une valeur autorisée : %(allowed)s.")
                % {"value": text, "allowed": ", ".join(f"« {a} »" for a in allowed)}
            )
        return value

    return parse


def _enum_key(text: str) -> str:
    return ";".join(p.strip() for p in re.split(r"[;,/+]| et ", normalise_header(text)))


def _bounds(name: str, low: Any, high: Any) -> Callable[[Any, str], None]:
    low_d = Decimal(str(low)) if low is not None else None
    high_d = Decimal(str(high)) if high is not None else None

    def check(value: Any, text: str) -> None:
        if (low_d is not None and value < low_d) or (high_d is not None and value > high_d):
            hint = ""
            if name == "pourcentageSubvention":
                hint = " " + _("Le pourcentage s'écrit en nombre décimal : 45 % → 0.45, 100 % → 1.")
            raise CellError(
                _("« %(value)s » doit être compris entre %(low)s et %(high)s.")
                % {"value": text, "low": low, "high": high}
                + hint
            )

    return check


def _boolean(trues: list[str], falses: list[str], *, strict: bool) -> Callable[[str], bool]:
    def parse(text: str) -> bool:
        value = text if strict else text.casefold()
        if value in trues or (not strict and value in _TRUE):
            return True
        if value in falses or (not strict and value in _FALSE):
            return False
        raise CellError(
            _("« %(value)s » : valeurs autorisées %(allowed)s.")
            % {"value": text, "allowed": _(" ou ").join(f"« {v} »" for v in [*trues, *falses])}
        )

    return parse


def _rna_tolerant(text: str) -> str:
    value = re.sub(r"[\s.'’-]", "", text).upper()
    if not RNA_RE.match(value):
        raise CellError(
            _("« %(value)s » n'est pas un numéro RNA (W suivi de 9 caractères, ex. W751234567).")
            % {"value": text}
        )
    return value


_PERIOD = re.compile(r"^[0-9]{4}\-[0-9]{2}\-[0-9]{2}(\/[0-9]{4}\-[0-9]{2}\-[0-9]{2})?$")


def _period_strict(text: str) -> tuple[Any, ...]:
    if not _PERIOD.match(text):
        raise CellError(
            _("« %(value)s » ne respecte pas le format attendu : %(hint)s.")
            % {"value": text, "hint": PATTERN_HINTS["datesPeriodeVersement"]}
        )
    return _period_dates(text.split("/"))


def _period_tolerant(text: str) -> Any:
    if _PERIOD.match(text):
        return _period_dates(text.split("/"))
    parts = re.split(r"\s*(?:_| au | - )\s*", text)
    if len(parts) > 2:
        raise CellError(
            _("« %(value)s » n'est ni une date ni une période (date/date).") % {"value": text}
        )
    dates = [date_cell(p) for p in parts]
    fixed = next((d for d in dates if isinstance(d, Fixed)), None)
    result = tuple(d.value if isinstance(d, Fixed) else d for d in dates)
    if fixed is not None:
        return Fixed(result, fixed.code, fixed.message)
    return result


def _period_dates(parts: list[str]) -> tuple[Any, ...]:
    """The dates of a period that match the pattern; an impossible date (2017-30-05) is None —
    the schema only checks the pattern, the importer warns."""
    dates = []
    for part in parts:
        try:
            dates.append(parse_date(part, strict=True))
        except CellError:
            dates.append(None)
    return tuple(dates)


def _share_tolerant(text: str) -> Decimal:
    percent = text.endswith("%")
    value = parse_decimal(text.rstrip("%").strip())
    if percent:
        value = value / 100
    if not Decimal("0.01") <= value <= 1:
        raise CellError(
            _("« %(value)s » doit être compris entre 0.01 et 1.") % {"value": text}
            + " "
            + _("Le pourcentage s'écrit en nombre décimal : 45 % → 0.45, 100 % → 1.")
        )
    return value


def _year(text: str) -> int:
    return parse_year(text)


def _ej(text: str) -> str:
    value = re.sub(r"\s", "", text)
    if not EJ_RE.match(value):
        raise CellError(
            _("« %(value)s » : le numéro d'engagement juridique compte 10 chiffres.")
            % {"value": text}
        )
    return value


# --------------------------------------------------------------------------- headers


#: Headers seen in départements' and cities' published files for each field (besides the
#: schema's name and title).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "nomAttribuant": ("attribuant", "collectivite", "financeur", "nom de la collectivite"),
    "idAttribuant": ("siret attribuant", "siret de la collectivite", "siret du financeur"),
    "dateConvention": ("date de convention", "date de la decision", "date de vote", "date"),
    "referenceDecision": (
        "numero de deliberation",
        "n de deliberation",
        "deliberation",
        "reference",
        "numero de decision",
    ),
    "nomBeneficiaire": (
        "beneficiaire",
        "nom du beneficiaire",
        "raison sociale",
        "organisme",
        "association",
        "nom de l'organisme",
    ),
    "idBeneficiaire": ("siret", "siret du beneficiaire", "n siret", "numero siret"),
    "rnaBeneficiaire": ("rna", "n rna", "numero rna", "rna du beneficiaire"),
    "objet": ("intitule", "libelle", "objet de la demande", "intitule du projet", "projet"),
    "montant": (
        "montant attribue",
        "montant de la subvention",
        "montant vote",
        "montant en euros",
        "montant accorde",
        "subvention",
    ),
    "nature": ("nature de l'aide", "type d'aide"),
    "conditionsVersement": ("conditions de versement", "modalites de versement"),
    "datesPeriodeVersement": ("date de versement", "periode de versement", "dates de versement"),
    "notificationUE": ("aide d'etat notifiee", "notification ue"),
    "pourcentageSubvention": ("pourcentage", "part", "quote-part"),
    "dispositifAide": ("dispositif", "dispositif d'aide"),
    "idSubvention": ("identifiant de la subvention", "id subvention", "numero de dossier"),
    "exerciceBudgetaire": ("exercice", "exercice budgetaire", "annee", "annee budgetaire"),
    "ej": ("engagement juridique", "numero d'engagement juridique", "n ej"),
}


def targets(cols: list[Column]) -> list[Target]:
    titles = {f["name"]: f.get("title", "") for f in schema()["fields"]}
    return [Target(c.key, c.label, titles.get(c.key, ""), SYNONYMS.get(c.key, ())) for c in cols]


def map_headers(
    table: Table,
    cols: list[Column],
    report: Report,
    *,
    strict: bool,
    overrides: dict[str, str] | None = None,
) -> Mapping:
    """Match the header row to the schema: the user's choices (`overrides`, normalised header →
    field, "" to ignore), then the exact name, the name without case or punctuation, the
    schema's title, a known synonym, a similar name. Errors: a duplicated column, a missing
    required one (with the columns that could hold it), and in strict mode a name that is not
    exactly the schema's, or the schema's order not kept. Warnings: an optional column missing,
    an unknown column (ignored), a name read loosely."""
    names = field_names()
    overrides = overrides or {}
    by_key = {c.key: c for c in cols}
    goals = targets(cols)
    title_of = {t.key: t.title for t in goals}
    index = targets_index(goals)
    mapping = Mapping(index={}, labels={})
    chosen: dict[int, tuple[str, str, str]] = {}
    how: dict[int, str] = {}
    unknown: list[int] = []

    def take(position: int, key: str, reason: str, score: float = 0.0) -> None:
        header = table.headers[position]
        column = by_key[key]
        if key in mapping.index:
            report.error(
                1,
                header,
                "",
                _(
                    "La colonne « %(column)s » apparaît deux fois (colonnes %(first)s et "
                    "%(second)s) : gardez-en une seule."
                )
                % {"column": column.label, "first": mapping.index[key] + 1, "second": position + 1},
            )
            how[position] = how_label("duplicate")
            return
        if reason not in ("exact", "user"):
            if strict:
                report.error(
                    1,
                    header,
                    "",
                    _(
                        "Nom de colonne incorrect : le schéma SCDL attend « %(name)s » "
                        "(orthographe et casse exactes)."
                    )
                    % {"name": column.label},
                )
            else:
                report.warning(
                    1,
                    header,
                    "",
                    _("Colonne lue comme « %(name)s » (%(how)s).")
                    % {"name": column.label, "how": how_label(reason, score)},
                )
        mapping.index[key] = position
        mapping.labels[key] = header
        chosen[position] = (key, column.label, title_of.get(key, ""))
        how[position] = how_label(reason, score)

    for position, header in enumerate(table.headers):
        if not header:
            continue
        wanted = overrides.get(normalise_header(header))
        if wanted is not None:
            if wanted in by_key:
                take(position, wanted, "user")
            else:
                how[position] = how_label("user-ignored")
            continue
        if header in by_key:
            take(position, header, "exact")
            continue
        hit = index.get(loose_header(header))
        if hit is not None:
            take(position, hit[0].key, hit[1])
        else:
            unknown.append(position)
    for position in unknown:  # similar names, once the known ones have their columns
        header = table.headers[position]
        target, score = most_similar(header, goals, set(mapping.index))
        if target is not None and score >= SIMILAR:
            take(position, target.key, "similar", score)
        else:
            report.warning(1, header, "", _("Colonne hors du schéma SCDL, ignorée."))
    used = set(mapping.index.values())
    for column in cols:
        if column.key in mapping.index or column.key in EXTENSION_FIELDS:
            continue
        if column.required:
            message = _("Colonne obligatoire « %(column)s » absente.") % {"column": column.label}
            maybe = candidates(next(t for t in goals if t.key == column.key), table.headers, used)
            if maybe:
                message += " " + _(
                    "Colonnes du fichier qui pourraient la contenir : %(columns)s (choisissez-la "
                    "dans la correspondance des colonnes)."
                ) % {"columns": ", ".join(f"« {h} »" for h in maybe)}
            report.error(1, column.label, "", message)
        else:
            report.warning(
                1,
                column.label,
                "",
                _("Colonne facultative « %(column)s » absente.") % {"column": column.label},
            )
    report.mapping = describe(table.headers, chosen, how)
    if strict:
        present = sorted((i, k) for k, i in mapping.index.items() if k in names)
        for (_i, before), (_j, after) in zip(present, present[1:], strict=False):
            if names.index(after) < names.index(before):
                report.error(
                    1,
                    mapping.labels[after],
                    "",
                    _(
                        "Les colonnes ne suivent pas l'ordre du schéma SCDL : « %(after)s » doit "
                        "venir avant « %(before)s »."
                    )
                    % {"after": names[names.index(after)], "before": names[names.index(before)]},
                )
                break
    return mapping
