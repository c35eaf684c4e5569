"""The observatory: indicators per QPV and part, their yearly values, typed or imported.

The import takes CSV or XLSX (columns `code`, `quartier` — a QPV code, empty for the whole EPCI —,
`annee`, `valeur`, optional `source`, `date`), checks every row first and writes nothing when a
row is wrong (dry run by default), like Pluriel's other imports."""

from __future__ import annotations

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
from core.tabular.reader import (
    CellError,
    clean_text,
    normalise_header,
    open_table,
    parse_date,
    parse_decimal,
)

from .models import Contract, Indicator, IndicatorValue, Part
from .services import contract_write_check_permission


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
    contract_write_check_permission(actor)
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
    contract_write_check_permission(actor)
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


def _read_rows(name: str, content: bytes) -> list[tuple[int, dict[str, str]]]:
    """(line, cells by column) through Pluriel's shared table reader (core.tabular): CSV in any
    encoding and separator, XLSX or ODS. Columns are matched without case or accents."""
    table = open_table(io.BytesIO(content), name=name)
    keys = [normalise_header(h) for h in table.headers]
    return [
        (line, {k: clean_text(v) for k, v in zip(keys, cells, strict=False)})
        for line, cells in table.rows()
    ]


def indicator_values_import(
    *, actor: User, contract: Contract, name: str, content: bytes, apply: bool = False
) -> ImportReport:
    """Check every row; apply only when asked and when no row is wrong (all or nothing)."""
    contract_write_check_permission(actor)
    rows = _read_rows(name, content)
    report = ImportReport(rows=len(rows))
    if rows and not set(COLUMNS) <= set(rows[0][1]):
        missing = ", ".join(c for c in COLUMNS if c not in rows[0][1])
        raise DomainError(_("Colonnes manquantes : %(c)s.") % {"c": missing}, field="file")
    indicators = {
        (i.code, i.qpv.code if i.qpv else ""): i for i in contract.indicators.select_related("qpv")
    }
    existing = {
        (v.indicator_id, v.year): v
        for v in IndicatorValue.objects.filter(indicator__contract=contract)
    }
    planned: dict[tuple[int, int], dict[str, Any]] = {}
    for line, row in rows:
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
            value = parse_decimal(row.get("valeur", ""))
            if not value.is_finite():
                raise InvalidOperation
        except (CellError, InvalidOperation):
            report.errors.append((line, "valeur", _("Nombre invalide.")))
            continue
        measured: datetime.date | None = None
        if row.get("date"):
            try:
                measured = parse_date(row["date"])
            except CellError as exc:
                report.errors.append((line, "date", exc.message))
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
