"""The observatory's reads: indicator values against targets, per QPV against the EPCI, and
the charts (server-side SVG, reporting.charts)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from contracts.models import Contract, Indicator, IndicatorValue

from .. import charts


def _where(indicator: Indicator) -> str:
    return indicator.qpv.name if indicator.qpv else _("Ensemble de l'EPCI")


def indicator_rows(contract: Contract, year: int) -> list[list[str]]:
    values = (
        IndicatorValue.objects.filter(indicator__contract=contract, year=year)
        .select_related("indicator__part", "indicator__qpv")
        .order_by("indicator__part__position", "indicator__code", "indicator__qpv__code")
    )
    return [
        [
            v.indicator.part.title,
            v.indicator.label,
            _where(v.indicator),
            f"{v.value} {v.indicator.unit}",
            f"{v.indicator.target} {v.indicator.unit}" if v.indicator.target is not None else "—",
            v.source or v.indicator.source or "—",
        ]
        for v in values
    ]


@dataclass
class IndicatorChart:
    code: str
    label: str
    part: str
    svg: SafeString


def charts_for(contract: Contract) -> list[IndicatorChart]:
    """One line chart per indicator code: each QPV's series against the EPCI's, over the years.
    Two queries whatever the number of values."""
    indicators = list(contract.indicators.select_related("part", "qpv"))
    values: dict[int, dict[int, object]] = defaultdict(dict)
    for indicator_id, year, value in IndicatorValue.objects.filter(
        indicator__contract=contract
    ).values_list("indicator_id", "year", "value"):
        values[indicator_id][year] = value
    years = sorted({y for per in values.values() for y in per})
    by_code: dict[str, list[Indicator]] = defaultdict(list)
    for indicator in indicators:
        by_code[indicator.code].append(indicator)
    result = []
    for code, group in sorted(by_code.items()):
        group.sort(key=lambda i: (i.qpv is not None, i.qpv.code if i.qpv else ""))
        series = [
            charts.Series(_where(i), [values[i.pk].get(y) for y in years])  # type: ignore[misc]
            for i in group
        ]
        first = group[0]
        result.append(
            IndicatorChart(
                code=code,
                label=first.label,
                part=first.part.title,
                svg=charts.line_chart(
                    chart_id=f"indicator-{code}",
                    title=first.label,
                    categories=[str(y) for y in years],
                    series=series,
                    unit=first.unit,
                ),
            )
        )
    return result
