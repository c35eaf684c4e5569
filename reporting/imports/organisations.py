"""Organisations from a spreadsheet (a previous tool, a partner's directory): created or updated
by SIRET through core.services_import.organisations_upsert.

An empty cell leaves the organisation's value as it is (an import never erases what an
association typed). Bank details are not imported: each organisation types its own and its
members are told of every change (anti-fraud, core.services.organisation_set_bank_details)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.identifiers import INSEE_RE, RNA_RE
from core.models import Organisation, User
from core.services_import import organisation_ids_by_siret, organisations_upsert
from core.tabular.cleaning import siret_cell
from core.tabular.reader import CellError, Table, loose_header, normalise_header
from core.tabular.report import Report

from .columns import Column, map_headers, read_records
from .mapping import overrides_of


def _rna(text: str) -> str:
    value = re.sub(r"[\s.-]", "", text).upper()
    if not RNA_RE.match(value):
        raise CellError(
            _("« %(value)s » n'est pas un numéro RNA (W suivi de 9 caractères, ex. W751234567).")
            % {"value": text}
        )
    return value


_LEGAL_FORM_ALIASES = {
    "association loi 1901": "association",
    "scic": "cooperative",
    "scop": "cooperative",
    "cooperative": "cooperative",
    "etablissement public": "public",
}


def _legal_form(text: str) -> str:
    known = {normalise_header(str(label)): code for code, label in Organisation.LegalForm.choices}
    known.update({normalise_header(code): code for code in Organisation.LegalForm.values})
    known.update(_LEGAL_FORM_ALIASES)
    code = known.get(normalise_header(text))
    if code is None:
        raise CellError(
            _("« %(value)s » n'est pas une forme juridique connue : %(allowed)s.")
            % {
                "value": text,
                "allowed": ", ".join(f"« {label} »" for label in Organisation.LegalForm.labels),
            }
        )
    return code


def _email(text: str) -> str:
    try:
        validate_email(text)
    except ValidationError:
        raise CellError(_("« %(value)s » n'est pas une adresse e-mail valide.") % {"value": text})
    return text.lower()


def _digits(width: int, what: Any) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = re.sub(r"\s", "", text)
        if value.endswith(".0"):
            value = value[:-2]
        if value.isdigit() and len(value) == width - 1:
            value = "0" + value  # the leading zero a spreadsheet drops (01000 → 1000)
        if not (value.isdigit() and len(value) == width):
            raise CellError(
                _("« %(value)s » n'est pas un %(what)s (%(n)s chiffres).")
                % {"value": text, "what": what, "n": width}
            )
        return value

    return parse


def _insee(text: str) -> str:
    value = re.sub(r"\s", "", text).upper()
    if value.isdigit() and len(value) == 4:
        value = "0" + value
    if not INSEE_RE.match(value):
        raise CellError(
            _("« %(value)s » n'est pas un code commune INSEE (5 caractères, 2A/2B en Corse).")
            % {"value": text}
        )
    return value


COLUMNS = [
    Column(
        "name",
        "nom",
        ("raison sociale", "denomination", "nom de l'organisation", "nom association"),
        required=True,
        max_length=255,
    ),
    Column("siret", "siret", ("n° siret", "numero siret"), required=True, parse=siret_cell),
    Column("rna", "rna", ("numero rna", "n° rna", "rna association"), parse=_rna),
    Column("legal_form", "forme juridique", ("statut", "forme"), parse=_legal_form),
    Column("email", "email", ("e-mail", "courriel", "mail", "adresse e-mail"), parse=_email),
    Column("phone", "téléphone", ("telephone", "tel", "tél"), max_length=30),
    Column("address", "adresse", ("adresse postale", "rue"), max_length=255),
    Column("postcode", "code postal", ("cp",), parse=_digits(5, gettext_lazy("code postal"))),
    Column("city", "commune", ("ville", "localite"), max_length=120),
    Column(
        "commune_insee",
        "code commune INSEE",
        ("code insee", "insee", "code commune", "depcom"),
        parse=_insee,
    ),
    Column(
        "legal_rep_name",
        "représentant légal",
        ("representant legal", "president", "présidente", "representant"),
        max_length=200,
    ),
    Column("legal_rep_role", "qualité du représentant", ("qualite", "fonction"), max_length=100),
]
IGNORED = {
    loose_header(name): gettext_lazy(
        "Coordonnées bancaires non importées : chaque organisation saisit les siennes "
        "(contrôle anti-fraude)."
    )
    for name in ("iban", "bic", "rib")
}


def read(
    table: Table, options: dict[str, Any], report: Report, progress: Callable[[int], None]
) -> list[dict[str, Any]]:
    mapping = map_headers(table, COLUMNS, report, ignored=IGNORED, overrides=overrides_of(options))
    rows: list[dict[str, Any]] = []
    first_row: dict[str, int] = {}
    for row, values, bad in read_records(table, COLUMNS, mapping, report):
        if row % 5000 == 0:
            progress(report.row_count)
        siret = values.get("siret")
        if siret and siret in first_row:
            report.error(
                row,
                mapping.labels["siret"],
                siret,
                _("SIRET déjà présent à la ligne %(row)s.") % {"row": first_row[siret]},
            )
            continue
        if siret:
            first_row[siret] = row
        if not bad:
            rows.append({k: v for k, v in values.items() if v is not None})
    return rows


def plan(rows: list[dict[str, Any]], report: Report) -> None:
    known = organisation_ids_by_siret(r["siret"] for r in rows)
    report.summary = {
        _("Organisations à créer"): sum(1 for r in rows if r["siret"] not in known),
        _("Organisations à mettre à jour (si des valeurs changent)"): len(known),
    }


def apply(*, actor: User, rows: list[dict[str, Any]], source: str) -> dict[str, Any]:
    result = organisations_upsert(actor=actor, rows=rows)
    return {
        _("Organisations créées"): result.created,
        _("Organisations mises à jour"): result.updated,
        _("Organisations inchangées"): result.unchanged,
    }
