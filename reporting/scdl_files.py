"""The SCDL files themselves: written as CSV lines or JSON chunks (streamed), and read back with
the schema's checks on every cell (`read_scdl`)."""

from __future__ import annotations

import csv
import datetime
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _
from stdnum.fr import siret as stdnum_siret

from cpo.models import (
    AgreementState,
)

from .opendata import (
    SCHEMA_URL,
    SCHEMA_VERSION,
    scdl_schema,
    threshold,
)

A = AgreementState


# --------------------------------------------------------------------------- files


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


class _Line:
    """A file-like object whose write() returns the line: csv.writer then yields text."""

    def write(self, value: str) -> str:
        return value


def csv_lines(fields: Sequence[str], rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """A CSV as the schema's example writes it: header, comma, minimal quoting, LF, UTF-8 (the
    caller encodes). Row by row."""
    writer = csv.writer(_Line(), lineterminator="\n")
    yield writer.writerow(fields)
    for row in rows:
        yield writer.writerow([_text(row[name]) for name in fields])


def _json_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")  # a JSON number, exact (never through float)
    if isinstance(value, int):
        return str(value)
    return json.dumps(_text(value), ensure_ascii=False)


def json_chunks(fields: Sequence[str], rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """{"schema": …, "data": [rows]}: values typed as the schema says (numbers, booleans, ISO
    dates, null when empty). Row by row."""
    head = {
        "schema": {"name": "scdl-subventions", "version": SCHEMA_VERSION, "url": SCHEMA_URL},
        "seuil": format(threshold(), "f"),
    }
    yield json.dumps(head, ensure_ascii=False)[:-1] + ', "data": ['
    for index, row in enumerate(rows):
        body = ", ".join(f"{json.dumps(name)}: {_json_value(row[name])}" for name in fields)
        yield ("," if index else "") + "\n{" + body + "}"
    yield "\n]}\n"


# --------------------------------------------------------------------------- reading a SCDL file


@dataclass
class ScdlRecord:
    """One data row read back: typed values (None when empty or invalid) and its problems."""

    line: int
    values: dict[str, Any]
    issues: list[tuple[str, str]] = field(default_factory=list)


def _parse(spec: dict[str, Any], raw: str) -> tuple[Any, str]:
    """(value, error) of one cell by its Table Schema type."""
    kind = spec.get("type", "string")
    if kind == "date":
        try:
            return datetime.date.fromisoformat(raw), ""
        except ValueError:
            return None, _("date attendue au format AAAA-MM-JJ")
    if kind in ("number", "integer"):
        if not re.fullmatch(r"-?\d+(\.\d+)?" if kind == "number" else r"-?\d+", raw):
            return None, _("nombre attendu, avec un point comme séparateur décimal")
        try:
            return (Decimal(raw) if kind == "number" else int(raw)), ""
        except InvalidOperation:
            return None, _("nombre attendu, avec un point comme séparateur décimal")
    if kind == "boolean":
        if raw in spec.get("trueValues", ["true"]):
            return True, ""
        if raw in spec.get("falseValues", ["false"]):
            return False, ""
        allowed = spec.get("trueValues", []) + spec.get("falseValues", [])
        return None, _("valeurs permises : %(values)s") % {"values": ", ".join(allowed)}
    return raw, ""


def _cell_issues(spec: dict[str, Any], raw: str) -> tuple[Any, list[str]]:
    constraints = spec.get("constraints", {})
    if raw == "":
        return None, ([_("valeur obligatoire")] if constraints.get("required") else [])
    value, error = _parse(spec, raw)
    if error:
        return None, [error]
    issues = []
    if (pattern := constraints.get("pattern")) and not re.fullmatch(pattern, raw):
        issues.append(_("format attendu : %(pattern)s") % {"pattern": pattern})
    if (enum := constraints.get("enum")) and raw not in enum:
        issues.append(_("valeurs permises : %(values)s") % {"values": " | ".join(enum)})
    if (longest := constraints.get("maxLength")) and len(raw) > longest:
        issues.append(_("%(n)s caractères au plus") % {"n": longest})
    if (low := constraints.get("minimum")) is not None and value < Decimal(str(low)):
        issues.append(_("minimum : %(n)s") % {"n": low})
    if (high := constraints.get("maximum")) is not None and value > Decimal(str(high)):
        issues.append(_("maximum : %(n)s") % {"n": high})
    return value, issues


def read_scdl(lines: Iterable[str]) -> tuple[list[str], Iterator[ScdlRecord]]:
    """Read a SCDL « Subventions » CSV and check it against the schema: types, constraints and
    the schema's custom checks (SIRET key of idAttribuant and idBeneficiaire; idBeneficiaire or
    rnaBeneficiaire). Returns the header's problems and the records, read lazily."""
    schema = scdl_schema()
    specs = {f["name"]: f for f in schema["fields"]}
    expected = [f["name"] for f in schema["fields"]]
    siret_columns = [
        c["params"]["column"]
        for c in schema.get("custom_checks", [])
        if c["name"] == "french-siret-value"
    ]
    one_of = [
        (c["params"]["column1"], c["params"]["column2"])
        for c in schema.get("custom_checks", [])
        if c["name"] == "one-of-required"
    ]
    reader = csv.reader(iter(lines))
    header = next(reader, [])
    header_issues = []
    if missing := [n for n in expected if n not in header]:
        header_issues.append(_("Colonnes manquantes : %(cols)s") % {"cols": ", ".join(missing)})
    if extra := [n for n in header if n not in specs]:
        header_issues.append(_("Colonnes inconnues : %(cols)s") % {"cols": ", ".join(extra)})
    if len(set(header)) != len(header):
        header_issues.append(_("Une colonne figure deux fois."))
    if not missing and not extra and header != expected:
        header_issues.append(_("Les colonnes ne sont pas dans l'ordre du schéma."))

    def records() -> Iterator[ScdlRecord]:
        for line, cells in enumerate(reader, start=2):
            raw = dict(zip(header, cells, strict=False))
            record = ScdlRecord(line=line, values={})
            if len(cells) != len(header):
                record.issues.append(("", _("nombre de cellules différent de l'en-tête")))
            for name in expected:
                value, issues = _cell_issues(specs[name], raw.get(name, ""))
                record.values[name] = value
                record.issues += [(name, issue) for issue in issues]
            for name in siret_columns:
                value = raw.get(name, "")
                if value and not stdnum_siret.is_valid(value):
                    record.issues.append((name, _("SIRET invalide (clé de contrôle)")))
            for first, second in one_of:
                if not raw.get(first) and not raw.get(second):
                    record.issues.append(
                        (first, _("%(a)s ou %(b)s est obligatoire") % {"a": first, "b": second})
                    )
            yield record

    return header_issues, records()
