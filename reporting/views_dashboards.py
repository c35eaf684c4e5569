"""Dashboards (« Pilotage », /pilotage/): money at every stage, envelopes, the forecast, processing
times, money by neighbourhood, multi-year security and the residents' part — for programme
managers, finance officers, auditors and admins (anyone else gets a 404).

Every page takes the same filters (fiscal year, programme, funder). Every chart is drawn from a
table shown under it; `?format=excel-fr|csv|xlsx` (with `&table=<name>` on pages with several tables)
downloads that table with the page's filters. The numbers come from reporting.analytics; views
only read the filters, pick tables and render."""

from __future__ import annotations

import io
from collections.abc import Callable
from decimal import Decimal
from functools import wraps
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import Workbook
from openpyxl.styles import Font

from calls.models import Programme
from core.clock import today
from core.models import Funder, Role
from core.permissions import has_role
from core.tabular.writer import DIALECTS, CsvDialect, csv_bytes, csv_file_name

from . import analytics, charts
from .analytics import Filters, Table

DASHBOARD_ROLES = (Role.PROGRAMME_MANAGER, Role.FINANCE_OFFICER, Role.AUDITOR)
CHART_ROWS = 25
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

#: « Payé (CP) par quartier (QPV) »: the chart titles' phrase for each dimension.
BY_DIMENSION = {
    "programme": gettext_lazy("par programme"),
    "call": gettext_lazy("par appel"),
    "mode": gettext_lazy("par mode"),
    "pillar": gettext_lazy("par pilier"),
    "qpv": gettext_lazy("par quartier (QPV)"),
    "funder": gettext_lazy("par financeur"),
    "theme": gettext_lazy("par thème de transition"),
    "fiscal_year": gettext_lazy("par exercice"),
    "organisation": gettext_lazy("par organisation bénéficiaire"),
}

PAGES = [
    ("dashboard", gettext_lazy("Vue d'ensemble")),
    ("dashboard_money", gettext_lazy("Montants par étape")),
    ("dashboard_envelopes", gettext_lazy("Consommation des enveloppes")),
    ("dashboard_forecast", gettext_lazy("Restes à payer")),
    ("dashboard_times", gettext_lazy("Délais de traitement")),
    ("dashboard_neighbourhoods", gettext_lazy("Montants par quartier")),
    ("dashboard_security", gettext_lazy("Pluriannualité et habitant·es")),
]


def can_see_dashboards(user) -> bool:
    """Programme managers, finance officers, auditors (and admins, who hold every role)."""
    return has_role(user, *DASHBOARD_ROLES)


def dashboard_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Logged in, and one of the dashboard roles — else 404 (the pages are not advertised)."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not can_see_dashboards(request.user):
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


# --------------------------------------------------------------------------- filters


class DashboardFilterForm(forms.Form):
    """The filters every page applies, plus the page's own choices (dimension, stage)."""

    fiscal_year = forms.TypedChoiceField(
        label=gettext_lazy("Exercice"), required=False, coerce=int, empty_value=None
    )
    programme = forms.ModelChoiceField(
        label=gettext_lazy("Programme"),
        queryset=Programme.objects.none(),
        required=False,
        empty_label=gettext_lazy("Tous"),
    )
    funder = forms.ModelChoiceField(
        label=gettext_lazy("Financeur"),
        queryset=Funder.objects.none(),
        required=False,
        empty_label=gettext_lazy("Tous"),
    )

    def __init__(self, *args: Any, extra: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["fiscal_year"].choices = [("", _("Tous"))] + [
            (year, str(year)) for year in analytics.fiscal_years()
        ]
        self.fields["programme"].queryset = Programme.objects.order_by("-fiscal_year", "name")
        self.fields["funder"].queryset = Funder.objects.order_by("name")
        if "dimension" in extra:
            self.fields["dimension"] = forms.ChoiceField(
                label=_("Regrouper par"),
                choices=[(k, str(v)) for k, v in analytics.DIMENSIONS.items()],
                required=False,
            )
        if "stage" in extra:
            self.fields["stage"] = forms.ChoiceField(
                label=_("Étape représentée"),
                choices=[(k, str(v)) for k, v in analytics.STAGES.items()],
                required=False,
            )

    def filters(self) -> Filters:
        data = self.cleaned_data
        return Filters(
            fiscal_year=data.get("fiscal_year"),
            programme=data["programme"].pk if data.get("programme") else None,
            funder=data["funder"].pk if data.get("funder") else None,
        )


def _form(request: HttpRequest, extra: tuple[str, ...] = ()) -> DashboardFilterForm:
    params = request.GET.copy()
    for name in ("format", "table"):
        params.pop(name, None)
    return DashboardFilterForm(params, extra=extra)


# --------------------------------------------------------------------------- tables: display, files


def _cell(value: Any, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "money":
        return f"{number_format(value, 2, force_grouping=True)} €"
    if kind == "percent":
        return f"{number_format(value, 1)} %"
    if kind == "ratio":
        return number_format(value, 2)
    if kind in ("int", "days") or isinstance(value, int):
        return number_format(value, 0, force_grouping=True)
    if isinstance(value, Decimal):
        return f"{number_format(value, 2, force_grouping=True)}"
    return str(value)


def _display(table: Table, query: str) -> dict[str, Any]:
    """The table as the template renders it, with its download links."""
    kinds = [c.kind for c in table.columns]

    def line(row: list[Any]) -> list[dict[str, Any]]:
        return [
            {"text": _cell(v, k), "num": k != "text" or isinstance(v, int | Decimal)}
            for v, k in zip(row, kinds, strict=True)
        ]

    base = f"?{query}&" if query else "?"
    return {
        "name": table.name,
        "caption": table.caption,
        "headers": [{"label": c.label, "num": c.kind != "text"} for c in table.columns],
        "rows": [line(r) for r in table.rows],
        "total": line(table.total) if table.total and table.rows else None,
        "notes": table.notes,
        "excel_url": f"{base}format=excel-fr&table={table.name}",
        "csv_url": f"{base}format=csv&table={table.name}",
        "xlsx_url": f"{base}format=xlsx&table={table.name}",
    }


def _file_value(value: Any, kind: str) -> Any:
    """A cell in a file: amounts as numbers with 2 decimals, percents with 1, text as is."""
    if value is None:
        return None
    if kind == "money" or (isinstance(value, Decimal) and kind == "text"):
        return Decimal(value).quantize(Decimal("0.01"))
    if kind == "percent":
        return Decimal(value).quantize(Decimal("0.1"))
    if kind == "ratio":
        return Decimal(value).quantize(Decimal("0.01"))
    if isinstance(value, int):
        return value
    text = str(value)
    # A name typed by someone must not run as a formula in a spreadsheet (CSV/formula injection).
    return f"'{text}" if text.startswith(("=", "+", "-", "@")) else text


def _file_rows(table: Table) -> list[list[Any]]:
    kinds = [c.kind for c in table.columns]
    rows = [*table.rows, *([table.total] if table.total and table.rows else [])]
    return [[_file_value(v, k) for v, k in zip(row, kinds, strict=True)] for row in rows]


def _file_name(page: str, table: Table, extension: str) -> str:
    return f"pluriel-{page.replace('_', '-')}-{table.name}-{today():%Y-%m-%d}.{extension}"


def table_csv(table: Table, dialect: CsvDialect) -> bytes:
    """The table as a CSV file in one of the two dialects (core.tabular.writer)."""
    return csv_bytes([c.label for c in table.columns], _file_rows(table), dialect)


def table_xlsx(table: Table) -> bytes:
    """XLSX with the caption as sheet title, bold headers and numbers formatted (€, %, days)."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "".join(ch for ch in str(table.caption) if ch not in "[]:*?/\\")[:31] or "Pluriel"
    sheet.append([c.label for c in table.columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    formats = {"money": "#,##0.00", "percent": "0.0", "ratio": "0.00", "int": "0", "days": "0"}
    for row in _file_rows(table):
        sheet.append(row)
        for cell, column in zip(sheet[sheet.max_row], table.columns, strict=True):
            if column.kind in formats and cell.value is not None:
                cell.number_format = formats[column.kind]
            elif isinstance(cell.value, Decimal):
                cell.number_format = "#,##0.00"
    sheet.freeze_panes = "B2"
    sheet.column_dimensions["A"].width = 40
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _download(request: HttpRequest, page: str, tables: dict[str, Table]) -> HttpResponse:
    file_format = request.GET.get("format")
    if file_format not in (*DIALECTS, "xlsx"):
        return HttpResponse(
            _("Format de fichier inconnu : choisissez excel-fr, csv ou xlsx."),
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    name = request.GET.get("table") or next(iter(tables))
    if name not in tables:
        return HttpResponse(
            _("Tableau inconnu : %(name)s.") % {"name": name},
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    table = tables[name]
    if file_format in DIALECTS:
        dialect = DIALECTS[file_format]
        response = HttpResponse(table_csv(table, dialect), content_type=dialect.content_type)
        name = csv_file_name(_file_name(page, table, "csv").removesuffix(".csv"), dialect)
    else:
        response = HttpResponse(table_xlsx(table), content_type=XLSX_TYPE)
        name = _file_name(page, table, file_format)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _query(request: HttpRequest, keep: tuple[str, ...] | None = None) -> str:
    params = request.GET.copy()
    for name in list(params):
        if name in ("format", "table") or (keep is not None and name not in keep):
            params.pop(name, None)
    return params.urlencode()


def _page(
    request: HttpRequest,
    page: str,
    form: DashboardFilterForm,
    build: Callable[[Filters, dict[str, Any]], dict[str, Any]],
    template: str = "reporting/dashboard_page.html",
) -> HttpResponse:
    """Validate the filters, build the page's sections, then render or download a table."""
    title = dict(PAGES)[page]
    context: dict[str, Any] = {
        "form": form,
        "title": title,
        "page": page,
        "pages": [
            {"name": n, "label": label, "url": reverse(f"reporting:{n}")} for n, label in PAGES
        ],
        # The filters (not the page's own choices) follow the user from page to page.
        "query_string": _query(request, keep=("fiscal_year", "programme", "funder")),
    }
    if not form.is_valid():
        if request.GET.get("format"):
            errors = "; ".join(str(e) for errs in form.errors.values() for e in errs)
            return HttpResponse(
                _("Filtres invalides : %(errors)s") % {"errors": errors},
                status=400,
                content_type="text/plain; charset=utf-8",
            )
        return render(request, template, context, status=400)
    choices = {k: v for k, v in form.cleaned_data.items() if k in ("dimension", "stage")}
    built = build(form.filters(), choices)
    tables: dict[str, Table] = built.pop("tables")
    if request.GET.get("format") is not None:
        return _download(request, page, tables)
    query = _query(request)
    for section in built.get("sections", []):
        if section.get("table") is not None:
            section["table"] = _display(section["table"], query)
    context.update(built)
    return render(request, template, context)


def _top(table: Table, key: str, limit: int = CHART_ROWS) -> tuple[list[str], list[Any], str]:
    """The chart's categories and values: the `limit` largest rows by `key`."""
    pairs = [(row[0], v) for row, v in zip(table.rows, table.column(key), strict=True)]
    desc = ""
    if len(pairs) > limit:
        pairs = sorted(pairs, key=lambda p: p[1] or 0, reverse=True)[:limit]
        desc = _("Les %(n)s plus grandes valeurs ; toutes les lignes sont dans le tableau.") % {
            "n": limit
        }
    return [str(p[0]) for p in pairs], [p[1] for p in pairs], desc


# --------------------------------------------------------------------------- pages


@dashboard_view
def dashboard(request: HttpRequest) -> HttpResponse:
    """Home: the key figures as cards, and the money at every stage."""

    def build(filters: Filters, _choices: dict[str, Any]) -> dict[str, Any]:
        totals = analytics.totals(filters)
        remaining = analytics.remaining_to_pay(filters)
        times = analytics.decision_time_overall(filters)
        security = analytics.multi_year_security(filters)
        residents = analytics.residents_part(filters)
        stages = Table(
            "stages",
            _("Montants à chaque étape"),
            [
                analytics.Column("label", _("Étape")),
                analytics.Column("amount", _("Montant"), "money"),
            ],
            [[str(analytics.STAGES[k]), v] for k, v in totals.items()]
            + [[_("Restes à payer"), remaining]],
        )
        chart = charts.bar_chart(
            chart_id="chart-stages",
            title=str(stages.caption),
            categories=stages.labels,
            series=[charts.Series(_("Montant"), stages.column("amount"))],
        )
        cards = [
            {
                "label": analytics.STAGES["envelope"],
                "value": _cell(totals["envelope"], "money"),
                "url": "reporting:dashboard_envelopes",
            },
            {
                "label": analytics.STAGES["approved"],
                "value": _cell(totals["approved"], "money"),
                "url": "reporting:dashboard_money",
            },
            {
                "label": analytics.STAGES["committed"],
                "value": _cell(totals["committed"], "money"),
                "url": "reporting:dashboard_money",
            },
            {
                "label": analytics.STAGES["paid"],
                "value": _cell(totals["paid"], "money"),
                "url": "reporting:dashboard_money",
            },
            {
                "label": _("Restes à payer"),
                "value": _cell(remaining, "money"),
                "url": "reporting:dashboard_forecast",
            },
            {
                "label": _("Délai de décision"),
                "value": _("%(median)s j (médiane)") % {"median": _cell(times["median"], "days")}
                if times["files"]
                else "—",
                "detail": _("9 dossiers sur 10 en %(p90)s j au plus, sur %(n)s dossiers décidés")
                % {"p90": _cell(times["p90"], "days"), "n": times["files"]}
                if times["files"]
                else _("Aucun dossier décidé pour ces filtres."),
                "url": "reporting:dashboard_times",
            },
            {
                "label": _("Associations en pluriannuel"),
                "value": _cell(security["share"], "percent"),
                "detail": _("%(multi)s sur %(all)s associations conventionnées")
                % {"multi": security["multi_year"], "all": security["organisations"]},
                "url": "reporting:dashboard_security",
            },
            {
                "label": _("Décidé avec les habitant·es"),
                "value": _cell(residents["money"], "money"),
                "detail": _("%(share)s du montant accordé")
                % {"share": _cell(residents["share"], "percent")},
                "url": "reporting:dashboard_security",
            },
        ]
        return {
            "tables": {"stages": stages},
            "cards": cards,
            "sections": [
                {"id": "stages", "title": stages.caption, "chart": chart, "table": stages}
            ],
        }

    return _page(request, "dashboard", _form(request), build, "reporting/dashboard.html")


def _money_page(request: HttpRequest, page: str, fixed_dimension: str | None) -> HttpResponse:
    extra = ("stage",) if fixed_dimension else ("dimension", "stage")

    def build(filters: Filters, choices: dict[str, Any]) -> dict[str, Any]:
        dimension = fixed_dimension or choices.get("dimension") or "programme"
        stage = choices.get("stage") or "committed"
        table = analytics.money_by_stage(dimension, filters)
        if table.column(stage) and all(v is None for v in table.column(stage)):
            stage = "committed"  # the envelope has no value by neighbourhood, pillar, theme
        categories, values, desc = _top(table, stage)
        chart = charts.bar_chart(
            chart_id=f"chart-{page}",
            title=f"{analytics.STAGES[stage]} {BY_DIMENSION[dimension]}",
            categories=categories,
            series=[charts.Series(str(analytics.STAGES[stage]), values)],
            desc=desc,
        )
        return {
            "tables": {"money": table},
            "definitions": analytics_definitions(),
            "sections": [
                {"id": "money", "title": table.caption, "chart": chart, "table": table},
            ],
        }

    return _page(request, page, _form(request, extra), build)


@dashboard_view
def money(request: HttpRequest) -> HttpResponse:
    """Envelope → requested → approved → committed → paid → recovered, by a chosen dimension."""
    return _money_page(request, "dashboard_money", None)


@dashboard_view
def neighbourhoods(request: HttpRequest) -> HttpResponse:
    """The same stages by priority neighbourhood (QPV)."""
    return _money_page(request, "dashboard_neighbourhoods", "qpv")


@dashboard_view
def envelopes(request: HttpRequest) -> HttpResponse:
    """Per programme: envelope, committed and paid side by side."""

    def build(filters: Filters, _choices: dict[str, Any]) -> dict[str, Any]:
        table = analytics.envelope_consumption(filters)
        # The largest envelopes when there are too many programmes for one chart.
        rows = sorted(table.rows, key=lambda r: r[1] or 0, reverse=True)[:CHART_ROWS]
        rows = [r for r in table.rows if r in rows]
        chart = charts.bar_chart(
            chart_id="chart-envelopes",
            title=str(table.caption),
            categories=[str(r[0]) for r in rows],
            series=[
                charts.Series(_("Enveloppe"), [r[1] for r in rows]),
                charts.Series(_("Engagé (AE)"), [r[2] for r in rows]),
                charts.Series(_("Payé (CP)"), [r[3] for r in rows]),
            ],
        )
        return {
            "tables": {"envelopes": table},
            "sections": [
                {"id": "envelopes", "title": table.caption, "chart": chart, "table": table}
            ],
        }

    return _page(request, "dashboard_envelopes", _form(request), build)


@dashboard_view
def forecast(request: HttpRequest) -> HttpResponse:
    """Restes à payer by fiscal year, stacked by where the instalments stand."""

    def build(filters: Filters, _choices: dict[str, Any]) -> dict[str, Any]:
        table = analytics.forecast(filters)
        chart = charts.column_chart(
            chart_id="chart-forecast",
            title=str(table.caption),
            categories=table.labels,
            series=[charts.Series(c.label, table.column(c.key)) for c in table.columns[1:-1]],
        )
        return {
            "tables": {"forecast": table},
            "sections": [
                {"id": "forecast", "title": table.caption, "chart": chart, "table": table}
            ],
        }

    return _page(request, "dashboard_forecast", _form(request), build)


@dashboard_view
def times(request: HttpRequest) -> HttpResponse:
    """Processing times: the monthly trend (median and 9 in 10) and the table per call."""

    def build(filters: Filters, _choices: dict[str, Any]) -> dict[str, Any]:
        tables = analytics.processing_times(filters)
        by_month, by_call = tables["by_month"], tables["by_call"]
        chart = charts.line_chart(
            chart_id="chart-times",
            title=_("Délai entre dépôt et décision, par mois de dépôt"),
            categories=by_month.labels,
            series=[
                charts.Series(_("Médiane"), by_month.column("d_decision_median")),
                charts.Series(_("9 dossiers sur 10"), by_month.column("d_decision_p90")),
            ],
            unit="j",
        )
        return {
            "tables": {"by_month": by_month, "by_call": by_call},
            "sections": [
                {"id": "by-month", "title": by_month.caption, "chart": chart, "table": by_month},
                {"id": "by-call", "title": by_call.caption, "chart": None, "table": by_call},
            ],
        }

    return _page(request, "dashboard_times", _form(request), build)


@dashboard_view
def security(request: HttpRequest) -> HttpResponse:
    """Multi-year security (share of associations, durations, evaluations) and residents' part."""

    def build(filters: Filters, _choices: dict[str, Any]) -> dict[str, Any]:
        result = analytics.multi_year_security(filters)
        residents = analytics.residents_part(filters)
        durations, evaluations = result["durations"], result["evaluations"]
        ratings = residents["ratings"]

        def bars(chart_id: str, table: Table) -> Any:
            return charts.bar_chart(
                chart_id=chart_id,
                title=str(table.caption),
                categories=table.labels,
                series=[charts.Series(table.columns[1].label, table.column("count"))],
                unit="",
            )

        cards = [
            {
                "label": _("Associations en pluriannuel"),
                "value": _cell(result["share"], "percent"),
                "detail": _("%(multi)s sur %(all)s associations conventionnées")
                % {"multi": result["multi_year"], "all": result["organisations"]},
            },
            {
                "label": _("Décidé avec les habitant·es"),
                "value": _cell(residents["money"], "money"),
                "detail": _("%(share)s du montant accordé")
                % {"share": _cell(residents["share"], "percent")},
            },
        ]
        return {
            "tables": {
                "durations": durations,
                "evaluations": evaluations,
                "residents": residents["table"],
                "assessments": ratings,
            },
            "cards": cards,
            "sections": [
                {
                    "id": "durations",
                    "title": durations.caption,
                    "chart": bars("chart-durations", durations),
                    "table": durations,
                },
                {
                    "id": "evaluations",
                    "title": evaluations.caption,
                    "chart": bars("chart-evaluations", evaluations),
                    "table": evaluations,
                },
                {
                    "id": "residents",
                    "title": residents["table"].caption,
                    "chart": None,
                    "table": residents["table"],
                },
                {
                    "id": "assessments",
                    "title": ratings.caption,
                    "chart": bars("chart-assessments", ratings),
                    "table": ratings,
                },
            ],
        }

    return _page(request, "dashboard_security", _form(request), build)


def analytics_definitions() -> list[str]:
    """The definitions printed under the money tables (what each stage counts)."""
    return [
        _(
            "Exercice : celui du programme pour l'enveloppe, les demandes et les décisions ; "
            "l'année de signature pour l'engagé (AE) ; l'exercice d'imputation pour les "
            "paiements (CP) ; celui du reversement pour le recouvré."
        ),
        _(
            "Demandé : dossiers déposés (hors brouillons et dossiers retirés). Engagé : "
            "conventions signées, en cours, suspendues ou soldées ; une convention résiliée "
            "engage ce qui a été payé. Recouvré : reversements recouvrés ou compensés."
        ),
    ]
