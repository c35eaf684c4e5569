"""Server-side SVG charts for the dashboards: horizontal bars, columns (stacked or not) and lines.

No JavaScript, no external asset: each chart is an inline `<svg role="img">` with an aria-label,
a `<title>` and a `<desc>`, drawn from the same numbers as the table shown beside it (the table is
the accessible version and the download). Colours have a contrast of at least 3:1 on white and
series are also told apart by the legend's order and the values written next to the marks.
Every text is escaped; the result is marked safe for the template.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.utils.formats import number_format
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

PALETTE = ["#000091", "#18753c", "#b34000", "#6a6af4", "#a4161a", "#3a3a3a"]
WIDTH = 760
FONT = 12


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[float | Decimal | int | None]


def _num(value: float | Decimal | int | None) -> float:
    if value is None:
        return 0.0
    number = float(value)
    return 0.0 if math.isnan(number) else max(number, 0.0)


def format_value(value: float | Decimal | int | None, unit: str) -> str:
    """A value as people read it: « 12 345 € », « 42 j », « 12,5 % »."""
    if value is None:
        return "—"
    if unit == "%":
        return f"{number_format(value, 1, force_grouping=True)} %"
    text = number_format(round(float(value)), 0, force_grouping=True)
    return f"{text} {unit}".strip()


def _compact(value: float, unit: str) -> str:
    """An axis tick: « 1,5 M€ », « 250 k€ », « 30 j »."""
    if unit == "€":
        if value >= 1_000_000:
            return f"{_short(value / 1_000_000)} M€"
        if value >= 1_000:
            return f"{_short(value / 1_000)} k€"
    return format_value(value, unit)


def _short(value: float) -> str:
    """1 decimal below 10 (4,5), none above (250); never a trailing « ,0 »."""
    if value < 10 and round(value, 1) != round(value):
        return number_format(round(value, 1), 1)
    return number_format(round(value), 0, force_grouping=True)


def _nice_ticks(top: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least `top` (steps of 1, 2 or 5 × 10^k)."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    ticks = [0.0]
    while ticks[-1] < top:
        ticks.append(ticks[-1] + step)
    return ticks


def _truncate(text: str, size: int) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


def _svg(chart_id: str, title: str, desc: str, width: int, height: int, body: list[str]) -> str:
    label = f"{title}. {desc}"
    return (
        f'<svg id="{escape(chart_id)}" class="chart" role="img" aria-label="{escape(label)}" '
        f'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMinYMin meet" '
        f'xmlns="http://www.w3.org/2000/svg" font-size="{FONT}" '
        f'font-family="system-ui, -apple-system, Segoe UI, Roboto, Arial, sans-serif">'
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>'
        f'<desc id="{escape(chart_id)}-desc">{escape(desc)}</desc>' + "".join(body) + "</svg>"
    )


def _legend(series: Sequence[Series], x: float, y: float) -> list[str]:
    parts = []
    for i, s in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        parts.append(
            f'<rect x="{x:.1f}" y="{y - 10:.1f}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{x + 16:.1f}" y="{y:.1f}">{escape(s.label)}</text>'
        )
        x += 28 + 7 * len(s.label)
    return parts


def _empty(title: str) -> SafeString:
    return mark_safe(
        f'<p class="muted chart-empty">{escape(title)} — {escape(_("aucune donnée."))}</p>'
    )


def _default_desc() -> str:
    return _("Les valeurs sont dans le tableau qui suit.")


def bar_chart(
    *,
    chart_id: str,
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    unit: str = "€",
    desc: str = "",
) -> SafeString:
    """Horizontal bars, one group per category, one bar per series (grouped)."""
    if not categories or not any(_num(v) for s in series for v in s.values):
        return _empty(title)
    label_width, value_room, top_room = 230, 90, 34 if len(series) > 1 else 14
    plot_width = WIDTH - label_width - value_room
    bar, gap = 14, 10
    group = bar * len(series) + gap
    height = top_room + group * len(categories) + 24
    top = max(_num(v) for s in series for v in s.values)
    ticks = _nice_ticks(top)
    scale = plot_width / ticks[-1]
    body: list[str] = []
    if len(series) > 1:
        body += _legend(series, label_width, 16)
    for tick in ticks:
        x = label_width + tick * scale
        body.append(
            f'<line x1="{x:.1f}" y1="{top_room - 4}" x2="{x:.1f}" y2="{height - 20}" '
            f'stroke="#ddd"/>'
            f'<text x="{x:.1f}" y="{height - 6}" text-anchor="middle" fill="#555">'
            f"{escape(_compact(tick, unit))}</text>"
        )
    for row, category in enumerate(categories):
        y0 = top_room + row * group
        body.append(
            f'<text x="{label_width - 8}" y="{y0 + group / 2:.1f}" text-anchor="end" '
            f'dominant-baseline="middle"><title>{escape(category)}</title>'
            f"{escape(_truncate(category, 32))}</text>"
        )
        for i, s in enumerate(series):
            value = s.values[row]
            w = _num(value) * scale
            y = y0 + i * bar
            body.append(
                f'<rect x="{label_width}" y="{y:.1f}" width="{w:.1f}" height="{bar - 2}" '
                f'fill="{PALETTE[i % len(PALETTE)]}"><title>{escape(s.label)} — '
                f"{escape(category)} : {escape(format_value(value, unit))}</title></rect>"
                f'<text x="{label_width + w + 4:.1f}" y="{y + bar / 2:.1f}" '
                f'dominant-baseline="middle" font-size="{FONT - 1}">'
                f"{escape(format_value(value, unit))}</text>"
            )
    return mark_safe(_svg(chart_id, title, desc or _default_desc(), WIDTH, height, body))


def column_chart(
    *,
    chart_id: str,
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    unit: str = "€",
    stacked: bool = True,
    desc: str = "",
) -> SafeString:
    """Vertical columns per category; the series stacked (with the total above) or side by side."""
    if not categories or not any(_num(v) for s in series for v in s.values):
        return _empty(title)
    left, bottom, top_room, height = 70, 40, 40, 320
    plot_height = height - bottom - top_room
    slot = (WIDTH - left - 10) / len(categories)
    if stacked:
        totals = [sum(_num(s.values[i]) for s in series) for i in range(len(categories))]
    else:
        totals = [max(_num(s.values[i]) for s in series) for i in range(len(categories))]
    ticks = _nice_ticks(max(totals))
    scale = plot_height / ticks[-1]
    body: list[str] = _legend(series, left, 16)
    for tick in ticks:
        y = height - bottom - tick * scale
        body.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{WIDTH - 10}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{left - 6}" y="{y:.1f}" text-anchor="end" dominant-baseline="middle" '
            f'fill="#555">{escape(_compact(tick, unit))}</text>'
        )
    width = min(60.0, slot * 0.6)
    for c, category in enumerate(categories):
        x0 = left + c * slot + (slot - width) / 2
        base = height - bottom
        each = width / (1 if stacked else len(series))
        for i, s in enumerate(series):
            value = s.values[c]
            h = _num(value) * scale
            x = x0 if stacked else x0 + i * each
            y = base - h
            body.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{each:.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[i % len(PALETTE)]}"><title>{escape(s.label)} — '
                f"{escape(category)} : {escape(format_value(value, unit))}</title></rect>"
            )
            if stacked:
                base = y
        body.append(
            f'<text x="{x0 + width / 2:.1f}" y="{height - bottom - totals[c] * scale - 6:.1f}" '
            f'text-anchor="middle" font-size="{FONT - 1}">'
            f"{escape(format_value(totals[c], unit))}</text>"
            f'<text x="{x0 + width / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle">'
            f"{escape(_truncate(category, 16))}</text>"
        )
    return mark_safe(_svg(chart_id, title, desc or _default_desc(), WIDTH, height, body))


def line_chart(
    *,
    chart_id: str,
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    unit: str = "j",
    desc: str = "",
) -> SafeString:
    """Lines over ordered categories (months); a missing value breaks the line."""
    if not categories or not any(v is not None for s in series for v in s.values):
        return _empty(title)
    left, right, bottom, top_room, height = 60, 40, 44, 40, 300
    plot_height = height - bottom - top_room
    plot_width = WIDTH - left - right
    step = plot_width / max(1, len(categories) - 1)
    top = max(_num(v) for s in series for v in s.values)
    ticks = _nice_ticks(top)
    scale = plot_height / ticks[-1]
    body: list[str] = _legend(series, left, 16)
    for tick in ticks:
        y = height - bottom - tick * scale
        body.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{WIDTH - right}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{left - 6}" y="{y:.1f}" text-anchor="end" dominant-baseline="middle" '
            f'fill="#555">{escape(_compact(tick, unit))}</text>'
        )
    every = max(1, math.ceil(len(categories) / 12))
    for c, category in enumerate(categories):
        if c % every == 0:
            x = left + c * step if len(categories) > 1 else left + plot_width / 2
            body.append(
                f'<text x="{x:.1f}" y="{height - bottom + 18}" text-anchor="middle">'
                f"{escape(category)}</text>"
            )
    for i, s in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        dash = "" if i == 0 else ' stroke-dasharray="6 3"'
        segment: list[str] = []
        segments: list[list[str]] = []
        for c, value in enumerate(s.values):
            if value is None:
                if segment:
                    segments.append(segment)
                segment = []
                continue
            x = left + c * step if len(categories) > 1 else left + plot_width / 2
            y = height - bottom - _num(value) * scale
            segment.append(f"{x:.1f},{y:.1f}")
            body.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}"><title>'
                f"{escape(s.label)} — {escape(categories[c])} : "
                f"{escape(format_value(value, unit))}</title></circle>"
            )
        if segment:
            segments.append(segment)
        for points in segments:
            body.append(
                f'<polyline points="{" ".join(points)}" fill="none" stroke="{colour}" '
                f'stroke-width="2"{dash}/>'
            )
    return mark_safe(_svg(chart_id, title, desc or _default_desc(), WIDTH, height, body))
