"""The observatory: indicators per QPV and part, their yearly values, typed or imported.

The import takes CSV or XLSX (columns `code`, `quartier` — a QPV code, empty for the whole EPCI —,
`annee`, `valeur`, optional `source`, `date`), checks every row first and writes nothing when a
row is wrong (dry run by default), like Pluriel's other imports."""

from __future__ import annotations

import csv
import datetime
import io
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from core.audit import audit_log, audit_log_many
from core.errors import DomainError
from core.models import QPV, User

from .models import Contract, Indicator, IndicatorValue, Part
from .services import _require_manager


def indicator_define(
    *,
    actor: User,
    contract: Contract,
    part: Part,
    code: str,
    label: str,
    qpv: QPV | None = None,
    unit: str = "%",
    target: Decimal | None = None,
    target_year: int | None = None,
    source: str = "",
) -> Indicator:
    _require_manager(actor)
    if part.contract_id != contract.pk:
        raise DomainError(_("Volet d'un autre contrat."), field="part")
    if qpv is not None and not contract.qpvs.filter(pk=qpv.pk).exists():
        raise DomainError(_("Ce quartier n'est pas couvert par le contrat."), field="qpv")
    if not code.strip() or not label.strip():
        raise DomainError(_("Le code et le libellé sont obligatoires."), field="code")
    if Indicator.objects.filter(contract=contract, code=code.strip(), qpv=qpv).exists():
        raise DomainError(_("Cet indicateur existe déjà pour ce territoire."), field="code")
    with transaction.atomic():
        indicator = Indicator.objects.create(
            contract=contract,
            part=part,
            qpv=qpv,
            code=code.strip(),
            label=label.strip(),
            unit=unit,
            target=target,
            target_year=target_year,
            source=source,
        )
        audit_log(actor=actor, obj=indicator, action="contracts.indicator.defined")
    return indicator


def indicator_set_value(
    *,
    actor: User,
    indicator: Indicator,
    year: int,
    value: Decimal,
    source: str = "",
    measured_on: datetime.date | None = None,
) -> IndicatorValue:
    _require_manager(actor)
    if not 2000 <= year <= 2100:
        raise DomainError(_("Année invalide."), field="year")
    with transaction.atomic():
        existing = IndicatorValue.objects.filter(indicator=indicator, year=year).first()
        before = existing.value if existing else None
        row, _created = IndicatorValue.objects.update_or_create(
            indicator=indicator,
            year=year,
            defaults={"value": value, "source": source, "measured_on": measured_on},
        )
        audit_log(
            actor=actor,
            obj=indicator,
            action="contracts.indicator.value_set",
            payload={"year": year, "before": before, "after": value},
        )
    return row


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    errors: list[tuple[int, str, str]] = field(default_factory=list)  # (line, column, message)
    applied: bool = False


COLUMNS = ("code", "quartier", "annee", "valeur")


def _read_rows(name: str, content: bytes) -> list[dict[str, str]]:
    if name.lower().endswith(".xlsx"):
        from openpyxl import load_workbook

        try:
            sheet = load_workbook(io.BytesIO(content), read_only=True, data_only=True).active
        except Exception:
            raise DomainError(_("Fichier XLSX illisible."), field="file")
        values = [
            ["" if v is None else str(v).strip() for v in row]
            for row in sheet.iter_rows(values_only=True)  # type: ignore[union-attr]
        ]
        if not values:
            return []
        header = [h.lower() for h in values[0]]
        return [dict(zip(header, row, strict=False)) for row in values[1:]]
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DomainError(_("Le fichier CSV doit être encodé en UTF-8."), field="file")
    delimiter = ";" if text[:1000].count(";") > text[:1000].count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    return [
        {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()} for row in reader
    ]


def indicator_values_import(
    *, actor: User, contract: Contract, name: str, content: bytes, apply: bool = False
) -> ImportReport:
    """Check every row; apply only when asked and when no row is wrong (all or nothing)."""
    _require_manager(actor)
    rows = _read_rows(name, content)
    report = ImportReport(rows=len(rows))
    if rows and not set(COLUMNS) <= set(rows[0]):
        missing = ", ".join(c for c in COLUMNS if c not in rows[0])
        raise DomainError(_("Colonnes manquantes : %(c)s.") % {"c": missing}, field="file")
    indicators = {
        (i.code, i.qpv.code if i.qpv else ""): i for i in contract.indicators.select_related("qpv")
    }
    existing = {
        (v.indicator_id, v.year): v
        for v in IndicatorValue.objects.filter(indicator__contract=contract)
    }
    planned: dict[tuple[int, int], dict[str, Any]] = {}
    for line, row in enumerate(rows, start=2):
        key = (row.get("code", ""), row.get("quartier", ""))
        indicator = indicators.get(key)
        if indicator is None:
            report.errors.append(
                (line, "code", _("Indicateur %(c)s inconnu pour ce territoire.") % {"c": key[0]})
            )
            continue
        try:
            year = int(row.get("annee", ""))
            if not 2000 <= year <= 2100:
                raise ValueError
        except ValueError:
            report.errors.append((line, "annee", _("Année invalide.")))
            continue
        try:
            value = Decimal(row.get("valeur", "").replace(",", ".").replace(" ", ""))
            if not value.is_finite():
                raise InvalidOperation
        except InvalidOperation:
            report.errors.append((line, "valeur", _("Nombre invalide.")))
            continue
        measured: datetime.date | None = None
        if row.get("date"):
            try:
                measured = datetime.date.fromisoformat(row["date"][:10])
            except ValueError:
                report.errors.append((line, "date", _("Date invalide (AAAA-MM-JJ).")))
                continue
        if (indicator.pk, year) in planned:
            report.errors.append((line, "annee", _("Valeur en double dans le fichier.")))
            continue
        planned[(indicator.pk, year)] = {
            "value": value,
            "source": row.get("source", "")[:200],
            "measured_on": measured,
        }
    report.updated = sum(1 for k in planned if k in existing)
    report.created = len(planned) - report.updated
    if not apply or report.errors:
        return report
    with transaction.atomic():
        new: list[IndicatorValue] = []
        changed: list[IndicatorValue] = []
        for (indicator_id, year), data in planned.items():
            current = existing.get((indicator_id, year))
            if current is None:
                new.append(IndicatorValue(indicator_id=indicator_id, year=year, **data))
            else:
                for k, v in data.items():
                    setattr(current, k, v)
                changed.append(current)
        IndicatorValue.objects.bulk_create(new, batch_size=1000)
        IndicatorValue.objects.bulk_update(
            changed, ["value", "source", "measured_on"], batch_size=1000
        )
        audit_log_many(
            actor=actor,
            model=Indicator,
            action="contracts.indicator.value_set",
            entries=[
                {
                    "object_id": indicator_id,
                    "payload": {"year": year, "after": data["value"], "import": name},
                }
                for (indicator_id, year), data in planned.items()
            ],
        )
    report.applied = True
    return report
