"""Reference lists: priority neighbourhoods (QPV, core.models.QPV) and communes
(reporting.models.Commune), upserted by code.

QPV codes: the 2024 list (QN + 5 digits + a letter, e.g. QN00101M) and the 2015 list still used
overseas (QP + 6 digits, e.g. QP057019). A QPV spread over several communes is attached to the
first one listed (the model holds one commune). Communes: the INSEE geographic code (COG), five
characters with 2A/2B in Corsica; in a COG file (column TYPECOM) only the communes themselves are
read — associated and delegated communes and municipal districts are skipped."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from core.errors import PermissionDenied
from core.identifiers import INSEE_RE, QPV_RE
from core.models import Role, User
from core.permissions import has_role
from core.services_import import Upsert, chunks, copy_rows, qpvs_upsert, reserve_ids
from core.tabular.reader import CellError, Table
from core.tabular.report import Report

from ..models import Commune
from .columns import Column, map_headers, read_records
from .mapping import overrides_of


def _qpv_code(text: str) -> str:
    value = re.sub(r"\s", "", text).upper()
    if not QPV_RE.match(value):
        raise CellError(
            _(
                "« %(value)s » n'est pas un code QPV : QN + 5 chiffres + une lettre (liste 2024, "
                "ex. QN00101M) ou QP + 6 chiffres (liste 2015, ex. QP057019)."
            )
            % {"value": text}
        )
    return value


def _insee(text: str) -> str:
    value = re.sub(r"\s", "", text).upper()
    if value.endswith(".0"):
        value = value[:-2]
    if value.isdigit() and len(value) == 4:
        value = "0" + value  # the leading zero a spreadsheet drops (01053 → 1053)
    if not INSEE_RE.match(value):
        raise CellError(
            _("« %(value)s » n'est pas un code commune INSEE (5 caractères, 2A/2B en Corse).")
            % {"value": text}
        )
    return value


def _first_insee(text: str) -> str:
    return _insee(re.split(r"[,;/|]", text)[0])


def _departement(text: str) -> str:
    value = re.sub(r"\s", "", text).upper()
    if value.isdigit() and len(value) == 1:
        value = "0" + value
    if not re.fullmatch(r"\d{2}|2[AB]|97\d", value):
        raise CellError(
            _("« %(value)s » n'est pas un code de département (ex. 13, 2A, 974).") % {"value": text}
        )
    return value


def departement_of(code: str) -> str:
    """The département of an INSEE commune code: 3 digits overseas (97x), else 2 (2A/2B)."""
    return code[:3] if code.startswith("97") else code[:2]


QPV_COLUMNS = [
    Column("code", "code", ("code qpv", "code_qp", "code quartier", "qp"), True, _qpv_code),
    Column(
        "name",
        "nom",
        ("nom qpv", "lib_qp", "libelle", "nom du quartier", "quartier"),
        True,
        max_length=200,
    ),
    Column(
        "commune_insee",
        "code commune INSEE",
        ("insee_com", "code insee", "code commune", "insee", "depcom", "codes insee"),
        True,
        _first_insee,
    ),
    Column("commune_name", "commune", ("lib_com", "nom commune", "communes"), max_length=200),
]

COMMUNE_COLUMNS = [
    Column(
        "code",
        "code commune INSEE",
        ("code insee", "com", "codgeo", "insee_com", "depcom", "code"),
        True,
        _insee,
    ),  # fmt: skip
    Column(
        "name",
        "nom",
        ("libelle", "nom commune", "lib_com", "libgeo", "nccenr"),
        True,
        max_length=200,
    ),  # fmt: skip
    Column(
        "departement", "département", ("dep", "code departement", "departement"), parse=_departement
    ),  # fmt: skip
    Column("typecom", "typecom", ("type commune",)),
]


def _read(
    table: Table,
    cols: list[Column],
    report: Report,
    progress: Callable[[int], None],
    *,
    keep: Callable[[dict[str, Any]], bool] = lambda v: True,
    options: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    mapping = map_headers(table, cols, report, overrides=overrides_of(options or {}))
    rows: list[dict[str, Any]] = []
    first_row: dict[str, int] = {}
    skipped = 0
    for row, values, bad in read_records(table, cols, mapping, report):
        if row % 5000 == 0:
            progress(report.row_count)
        if not bad and not keep(values):
            skipped += 1
            continue
        code = values.get("code")
        if code and code in first_row:
            report.error(
                row,
                mapping.labels["code"],
                code,
                _("Code déjà présent à la ligne %(row)s.") % {"row": first_row[code]},
            )
            continue
        if code:
            first_row[code] = row
        if not bad:
            rows.append(values)
    if skipped:
        report.warning(
            None,
            mapping.labels.get("typecom", ""),
            "",
            _(
                "%(n)s lignes ignorées : communes associées ou déléguées et arrondissements "
                "municipaux (seules les lignes TYPECOM = COM sont lues)."
            )
            % {"n": skipped},
        )
    return rows


# --------------------------------------------------------------------------- QPV


def read_qpv(
    table: Table, options: dict[str, Any], report: Report, progress: Callable[[int], None]
) -> list[dict[str, Any]]:
    return _read(table, QPV_COLUMNS, report, progress, options=options)


def plan_qpv(rows: list[dict[str, Any]], report: Report) -> None:
    from core.models import QPV

    known = {
        code
        for part in chunks(sorted(r["code"] for r in rows))
        for code in QPV.objects.filter(code__in=part).values_list("code", flat=True)
    }
    report.summary = {
        _("Quartiers à créer"): sum(1 for r in rows if r["code"] not in known),
        _("Quartiers à mettre à jour (si des valeurs changent)"): len(known),
    }


def apply_qpv(*, actor: User, rows: list[dict[str, Any]], source: str) -> dict[str, Any]:
    result = qpvs_upsert(actor=actor, rows=rows)
    return {
        _("Quartiers créés"): result.created,
        _("Quartiers mis à jour"): result.updated,
        _("Quartiers inchangés"): result.unchanged,
    }


# --------------------------------------------------------------------------- communes


def read_communes(
    table: Table, options: dict[str, Any], report: Report, progress: Callable[[int], None]
) -> list[dict[str, Any]]:
    rows = _read(
        table,
        COMMUNE_COLUMNS,
        report,
        progress,
        keep=lambda v: (v.get("typecom") or "COM").upper() == "COM",
        options=options,
    )
    for row in rows:
        row["departement"] = row.get("departement") or departement_of(row["code"])
        row.pop("typecom", None)
    return rows


def plan_communes(rows: list[dict[str, Any]], report: Report) -> None:
    known = _existing_communes([r["code"] for r in rows])
    report.summary = {
        _("Communes à créer"): sum(1 for r in rows if r["code"] not in known),
        _("Communes à mettre à jour (si des valeurs changent)"): len(known),
    }


def _existing_communes(codes: list[str]) -> dict[str, dict[str, Any]]:
    return {
        c["code"]: c
        for part in chunks(sorted(set(codes)))
        for c in Commune.objects.filter(code__in=part).values("id", "code", "name", "departement")
    }


def communes_upsert(*, actor: User, rows: list[dict[str, Any]]) -> Upsert:
    """Create or update communes by INSEE code (never deleted: a merged commune's old code stays
    readable for older data). Programme managers and administrators only."""
    if not has_role(actor, Role.PROGRAMME_MANAGER):
        raise PermissionDenied(_("Réservé aux responsables de programme et aux administrateurs."))
    result = Upsert()
    with transaction.atomic():
        existing = _existing_communes([r["code"] for r in rows])
        new = [r for r in rows if r["code"] not in existing]
        ids = reserve_ids(Commune, len(new))
        copy_rows(
            Commune,
            ["id", "code", "name", "departement"],
            ((pk, r["code"], r["name"], r["departement"]) for pk, r in zip(ids, new, strict=True)),
        )
        changed = []
        for row in rows:
            current = existing.get(row["code"])
            if current is None:
                continue
            if current["name"] == row["name"] and current["departement"] == row["departement"]:
                result.unchanged += 1
                continue
            changed.append(
                Commune(
                    id=current["id"],
                    code=row["code"],
                    name=row["name"],
                    departement=row["departement"],
                )
            )
        Commune.objects.bulk_update(changed, ["name", "departement"], batch_size=1000)
        result.created, result.updated = len(new), len(changed)
    return result


def apply_communes(*, actor: User, rows: list[dict[str, Any]], source: str) -> dict[str, Any]:
    result = communes_upsert(actor=actor, rows=rows)
    return {
        _("Communes créées"): result.created,
        _("Communes mises à jour"): result.updated,
        _("Communes inchangées"): result.unchanged,
    }
