"""The server-side SVG charts: accessible (role, aria-label, title, desc), every text escaped,
values written next to the marks in French, empty data said in words, round axis ticks."""

from __future__ import annotations

from decimal import Decimal

from reporting import charts
from reporting.charts import Series


def spaces(text: str) -> str:
    return text.replace("\u202f", " ").replace("\xa0", " ")


def test_bar_chart_is_an_accessible_svg_with_escaped_labels():
    svg = str(
        charts.bar_chart(
            chart_id="chart-x",
            title="Engagé <par> programme",
            categories=["<script>alert(1)</script>", "Quartiers d'été"],
            series=[Series("Engagé", [Decimal("12345.67"), Decimal("500")])],
        )
    )
    assert svg.startswith(
        '<svg id="chart-x" class="chart" role="img" aria-label="Engagé &lt;par&gt;'
    )
    assert '<title id="chart-x-title">Engagé &lt;par&gt; programme</title>' in svg
    assert '<desc id="chart-x-desc">Les valeurs sont dans le tableau qui suit.</desc>' in svg
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "12 346 €" in spaces(svg)  # the value beside its bar, rounded to the euro
    assert svg.count("<rect") == 2


def test_grouped_bars_have_a_legend_and_one_bar_per_series():
    svg = str(
        charts.bar_chart(
            chart_id="c",
            title="Enveloppes",
            categories=["A", "B", "C"],
            series=[Series("Enveloppe", [10, 20, 30]), Series("Payé", [1, None, 3])],
        )
    )
    assert ">Enveloppe</text>" in svg and ">Payé</text>" in svg
    assert svg.count('<rect x="230"') == 6  # 3 categories × 2 series (legend swatches apart)
    assert "—" in svg  # a missing value is shown as such


def test_stacked_columns_write_each_total():
    svg = spaces(
        str(
            charts.column_chart(
                chart_id="f",
                title="Restes à payer",
                categories=["2027", "2028"],
                series=[Series("Prévu", [4500, 0]), Series("Suspendu", [500, 10000])],
            )
        )
    )
    assert "5 000 €" in svg and "10 000 €" in svg
    assert "Suspendu — 2028 : 10 000 €" in svg  # each segment's tooltip


def test_line_chart_breaks_on_missing_months():
    svg = str(
        charts.line_chart(
            chart_id="t",
            title="Délais",
            categories=["2026-01", "2026-02", "2026-03"],
            series=[Series("Médiane", [10, None, 30])],
        )
    )
    assert svg.count("<polyline") == 2 and svg.count("<circle") == 2
    assert "Médiane — 2026-03 : 30 j" in svg


def test_no_data_is_said_in_words():
    html = str(charts.bar_chart(chart_id="e", title="Payé", categories=[], series=[]))
    assert html == '<p class="muted chart-empty">Payé — aucune donnée.</p>'
    zeros = charts.column_chart(
        chart_id="z", title="Rien", categories=["2027"], series=[Series("Prévu", [0])]
    )
    assert "aucune donnée" in str(zeros)


def test_round_ticks_and_compact_labels():
    assert charts._nice_ticks(47) == [0, 10, 20, 30, 40, 50]
    assert charts._nice_ticks(1_234_567) == [0, 500_000, 1_000_000, 1_500_000]
    assert spaces(charts._compact(1_500_000, "€")) == "1,5 M€"
    assert spaces(charts._compact(4_500, "€")) == "4,5 k€"
    assert spaces(charts._compact(250_000, "€")) == "250 k€"
    assert charts._compact(30, "j") == "30 j"
