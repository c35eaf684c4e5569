"""Money at every stage (envelope → requested → approved → committed → paid → recovered) by one
dimension, envelope consumption, and the multi-year forecast (restes à payer)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd
from django.db import connection
from django.db.models import Exists, F, IntegerField, Max, Min, OuterRef, QuerySet, Value
from django.db.models.functions import Coalesce, ExtractYear
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from calls.models import Call, Programme
from core.clock import today
from core.models import QPV, Funder, Organisation, Pillar, TransitionTheme
from cpo.models import UNPAID_STATES, Agreement, Instalment, Recovery, RecoveryState
from grants.models import GRANTED_PART_STATES, Application, ApplicationKind, FunderPart

from .base import (
    COMMITTED_STATES,
    DIMENSIONS,
    SPLIT_DIMENSIONS,
    STAGES,
    A,
    Column,
    Filters,
    I,
    S,
    Table,
    cents_sum,
    fetch_rows,
    money_from_cents,
    percent,
    plain_key,
)

# --------------------------------------------------------------------------- money: sources

# Each source is a queryset, the expressions that key it by each dimension and filter (built
# fresh for every query), and the amount (share-weighted when a funder is involved).


def _application_keys(p: str = "") -> dict[str, Any]:
    return {
        "programme": F(f"{p}programme_id"),
        "call": F(f"{p}call_id"),
        "mode": F(f"{p}kind"),
        "pillar": F(f"{p}pillar_id"),
        "qpv": F(f"{p}id"),
        "theme": F(f"{p}id"),
        "fiscal_year": F(f"{p}programme__fiscal_year"),
        "funder": F(f"{p}programme__funders"),
    }


def _part_keys() -> dict[str, Any]:
    """A funder's part of a file (issue 15): the file's keys, and the part's own funder."""
    return {**_application_keys("application__"), "funder": F("funder_id")}


def _by_part(stage: str) -> list[_Source]:
    """Asked and granted by funder: each funder's part of a file (what it was asked, what it
    granted), and for a file without parts (none named on its budget) the file's amount under
    each funder of its programme, as before."""
    no_part = ~Exists(FunderPart.objects.filter(application=OuterRef("pk")))
    if stage == "requested":
        return [
            _Source(
                lambda: FunderPart.objects.exclude(application__state__in=[S.DRAFT, S.WITHDRAWN]),
                _part_keys,
                lambda: F("requested_amount"),
            ),
            _Source(
                lambda: Application.objects.exclude(state__in=[S.DRAFT, S.WITHDRAWN]).filter(
                    no_part
                ),
                _application_keys,
                lambda: F("requested_amount"),
            ),
        ]
    return [
        _Source(
            lambda: FunderPart.objects.filter(
                application__state=S.APPROVED,
                application__approved_amount__isnull=False,
                state__in=GRANTED_PART_STATES,
            ),
            _part_keys,
            lambda: F("decided_amount"),
        ),
        _Source(
            lambda: Application.objects.filter(
                no_part, state=S.APPROVED, approved_amount__isnull=False
            ),
            _application_keys,
            lambda: F("approved_amount"),
        ),
    ]


def _agreement_keys(p: str = "") -> dict[str, Any]:
    return {
        "programme": F(f"{p}programme_id"),
        "call": F(f"{p}application__call_id"),
        "mode": F(f"{p}application__kind"),
        "pillar": F(f"{p}application__pillar_id"),
        "qpv": F(f"{p}application_id"),
        "theme": F(f"{p}application_id"),
        "fiscal_year": Coalesce(
            ExtractYear(f"{p}signed_on"), F(f"{p}first_year"), output_field=IntegerField()
        ),
        "funder": F(f"{p}funders__funder_id"),
    }


@dataclass(frozen=True)
class _Source:
    queryset: Callable[[], QuerySet]
    keys: Callable[[], dict[str, Any]]
    amount: Callable[[], Any]
    #: The amount when a funder (dimension or filter) is involved: weighted by the share.
    funder_amount: Callable[[], Any] | None = None


def _sources(stage: str, dimension: str | None, by_funder: bool = False) -> list[_Source]:
    if dimension == "organisation":
        from .money_organisations import organisation_sources

        return organisation_sources(stage)
    if by_funder and stage in ("requested", "approved"):
        return _by_part(stage)
    if stage == "envelope":
        if dimension in ("call", "mode"):
            return [
                _Source(
                    lambda: Call.objects.all(),
                    lambda: {
                        "call": F("id"),
                        "mode": F("mode"),
                        "programme": F("programme_id"),
                        "fiscal_year": F("programme__fiscal_year"),
                        "funder": F("programme__funders"),
                    },
                    lambda: F("envelope"),
                )
            ]
        return [
            _Source(
                lambda: Programme.objects.all(),
                lambda: {
                    "programme": F("id"),
                    "fiscal_year": F("fiscal_year"),
                    "funder": F("funders"),
                },
                lambda: F("envelope"),
            )
        ]
    if stage == "requested":
        return [
            _Source(
                lambda: Application.objects.exclude(state__in=[S.DRAFT, S.WITHDRAWN]),
                _application_keys,
                lambda: F("requested_amount"),
            )
        ]
    if stage == "approved":
        return [
            _Source(
                lambda: Application.objects.filter(state=S.APPROVED, approved_amount__isnull=False),
                _application_keys,
                lambda: F("approved_amount"),
            )
        ]
    if stage == "committed":
        return [
            _Source(
                lambda: Agreement.objects.filter(state__in=COMMITTED_STATES),
                _agreement_keys,
                lambda: F("total_amount"),
                lambda: F("total_amount") * F("funders__share"),
            ),
            # A terminated agreement commits what was paid on it.
            _Source(
                lambda: Instalment.objects.filter(state=I.PAID, agreement__state=A.TERMINATED),
                lambda: {**_agreement_keys("agreement__"), "funder": F("funder__funder_id")},
                lambda: F("amount"),
            ),
        ]
    if stage == "paid":
        return [
            _Source(
                lambda: Instalment.objects.filter(state=I.PAID),
                lambda: {
                    **_agreement_keys("agreement__"),
                    "fiscal_year": Coalesce(F("charged_year"), F("year__fiscal_year")),
                    "funder": F("funder__funder_id"),
                },
                lambda: F("amount"),
            )
        ]
    if stage == "recovered":
        return [
            _Source(
                lambda: Recovery.objects.filter(
                    state__in=[RecoveryState.COLLECTED, RecoveryState.OFFSET]
                ),
                lambda: {
                    **_agreement_keys("agreement__"),
                    "fiscal_year": F("fiscal_year"),
                },
                lambda: F("amount"),
                lambda: F("amount") * F("agreement__funders__share"),
            )
        ]
    raise ValueError(stage)


def _stage_queries(stage: str, dimension: str | None, filters: Filters) -> list[QuerySet] | None:
    """One stage's queries, filtered and keyed by the dimension (by application for split
    dimensions): `values_list("dim_key", "t")` with t in cents (dim_key "total" without one).
    None when the dimension does not apply to the stage (the envelope by pillar, neighbourhood or
    theme)."""
    queries = []
    funder_involved = dimension == "funder" or filters.funder is not None
    sources = _sources(stage, dimension, funder_involved)
    if not sources:
        return None
    for source in sources:
        keys = source.keys()
        if dimension is not None and dimension not in keys:
            return None
        if any(name not in keys for name, _value in filters.items()):
            return None
        amount = (
            source.funder_amount()
            if funder_involved and source.funder_amount is not None
            else source.amount()
        )
        # One annotate() call: the key, the filters and the amount share the same joins (a
        # funder's share is read on the same row as the funder it filters on).
        annotations: dict[str, Any] = {"dim_amount": amount}
        # No dimension: a constant key, which Django leaves out of GROUP BY (one total row).
        annotations["dim_key"] = keys[dimension] if dimension is not None else Value("total")
        for name, _value in filters.items():
            annotations[f"dim_filter_{name}"] = keys[name]
        qs = source.queryset().annotate(**annotations)
        qs = qs.filter(**{f"dim_filter_{name}": value for name, value in filters.items()})
        qs = qs.order_by()
        queries.append(
            qs.values("dim_key").annotate(t=cents_sum("dim_amount")).values_list("dim_key", "t")
        )
    return queries


def _stage_rows(
    dimension: str | None, filters: Filters, stages: list[str]
) -> tuple[list[tuple[str, Any, int]], set[str]]:
    """(stage, key, cents) rows of every stage, and the stages that do not apply."""
    missing: set[str] = set()
    batch: list[tuple[str, QuerySet]] = []
    for stage in stages:
        queries = _stage_queries(stage, dimension, filters)
        if queries is None:
            missing.add(stage)
            continue
        batch += [(stage, qs) for qs in queries]
    if dimension in SPLIT_DIMENSIONS:
        return _split_rows(dimension, batch), missing
    rows = []
    for stage, qs in batch:
        rows += [(stage, key, t) for key, t in fetch_rows(qs)]
    return rows, missing


def _split_rows(dimension: str, batch: list[tuple[str, QuerySet]]) -> list[tuple[str, Any, int]]:
    """Per-application cents → per-value cents, split equally between the application's values
    (neighbourhoods or themes) to the cent: the first values, in id order, take the leftover
    cents (largest remainder), so the rows add up to the total. One SQL statement for every stage
    (window functions, PostgreSQL and SQLite): the links are numbered once and only one row per
    stage and value comes back. Amounts without an application, or of files without any value,
    stay under NULL."""
    if not batch:
        return []
    through = getattr(Application, SPLIT_DIMENSIONS[dimension]).through
    target = "qpv_id" if dimension == "qpv" else "transitiontheme_id"
    q = connection.ops.quote_name
    table, app, value = q(through._meta.db_table), q("application_id"), q(target)
    parts, params = [], []
    for stage, qs in batch:
        inner, inner_params = qs.query.sql_with_params()
        parts.append(f"SELECT %s AS stage, a.dim_key, a.t FROM ({inner}) a")
        params += [stage, *inner_params]
    sql = f"""
        WITH amounts AS ({" UNION ALL ".join(parts)}),
        links AS (
            SELECT {app} AS app, {value} AS value,
                   COUNT(*) OVER (PARTITION BY {app}) AS n,
                   ROW_NUMBER() OVER (PARTITION BY {app} ORDER BY {value}) - 1 AS r
            FROM {table}
        )
        SELECT amounts.stage, links.value,
               SUM(CASE WHEN links.n IS NULL THEN amounts.t
                        ELSE amounts.t / links.n
                             + CASE WHEN links.r < amounts.t %% links.n THEN 1 ELSE 0 END
                   END)
        FROM amounts LEFT JOIN links ON links.app = amounts.dim_key
        GROUP BY amounts.stage, links.value
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


# --------------------------------------------------------------------------- labels

MISSING = gettext_lazy("Non renseigné")


def _labels(dimension: str, keys: Iterable[Any]) -> dict[Any, str]:
    keys = [k for k in keys if k is not None]
    if dimension == "fiscal_year":
        return {k: str(k) for k in keys}
    if dimension == "mode":
        return {k: str(label) for k, label in ApplicationKind.choices}
    ids = {int(k) for k in keys}
    if dimension == "programme":
        rows = Programme.objects.filter(pk__in=ids).values_list("pk", "name", "fiscal_year")
        return {pk: f"{name} {year}" for pk, name, year in rows}
    if dimension == "call":
        return dict(Call.objects.filter(pk__in=ids).values_list("pk", "title"))
    if dimension == "pillar":
        return dict(Pillar.objects.filter(pk__in=ids).values_list("pk", "label"))
    if dimension == "qpv":
        rows = QPV.objects.filter(pk__in=ids).values_list("pk", "name", "code")
        return {pk: f"{name} ({code})" for pk, name, code in rows}
    if dimension == "funder":
        return dict(Funder.objects.filter(pk__in=ids).values_list("pk", "name"))
    if dimension == "theme":
        return dict(TransitionTheme.objects.filter(pk__in=ids).values_list("pk", "label"))
    if dimension == "organisation":
        return dict(Organisation.objects.filter(pk__in=ids).values_list("pk", "name"))
    raise ValueError(dimension)


def _order(dimension: str, keys: list[Any], labels: dict[Any, str]) -> list[Any]:
    present = [k for k in keys if k is not None]
    if dimension == "fiscal_year":
        present.sort()
    elif dimension == "mode":
        order = [k for k, _label in ApplicationKind.choices]
        present.sort(key=lambda k: order.index(k) if k in order else len(order))
    else:
        present.sort(key=lambda k: (labels.get(k, "").casefold(), str(k)))
    return present + ([None] if None in keys else [])


# --------------------------------------------------------------------------- money at every stage


def money_by_stage(
    dimension: str | None, filters: Filters, stages: Iterable[str] = tuple(STAGES)
) -> Table:
    """Money at every stage (envelope → recovered) by one dimension, with a total row. A stage
    that does not apply to the dimension (the envelope by pillar, neighbourhood, theme) is None."""
    stages = list(stages)
    if dimension is not None and dimension not in DIMENSIONS:
        raise ValueError(dimension)
    rows_, missing_stages = _stage_rows(dimension, filters, stages)
    data = pd.DataFrame(rows_, columns=["stage", "key", "cents"]).astype({"key": object})
    data["cents"] = pd.to_numeric(data["cents"]).fillna(0).astype("int64")
    columns = [Column("label", str(DIMENSIONS.get(dimension, _("Total"))))] + [
        Column(stage, str(STAGES[stage]), "money") for stage in stages
    ]
    # key → {stage: cents}; None keys survive the pivot under a sentinel (pandas would turn them
    # into NaN labels).
    cells: dict[Any, dict[str, int]] = {}
    sums = dict.fromkeys(stages, 0)
    if not data.empty:
        data["key"] = [plain_key(k, "__none__") for k in data["key"]]
        pivot = data.pivot_table(
            index="key", columns="stage", values="cents", aggfunc="sum", fill_value=0
        )
        for key, values in pivot.iterrows():
            cells[None if key == "__none__" else plain_key(key)] = {
                stage: int(values[stage]) for stage in pivot.columns
            }
        sums.update({stage: int(pivot[stage].sum()) for stage in pivot.columns})
    if dimension is None:
        keys: list[Any] = list(cells) or ["total"]
        labels = {"total": _("Total")}
    else:
        labels = _labels(dimension, cells)
        keys = _order(dimension, list(cells), labels)
    rows = []
    for key in keys:
        label = labels.get(key, str(MISSING) if key is None else str(key))
        row: list[Any] = [label]
        for stage in stages:
            if stage in missing_stages:
                row.append(None)
            else:
                row.append(money_from_cents(cells.get(key, {}).get(stage, 0)))
        rows.append(row)
    total: list[Any] | None = [_("Total")] + [
        None if stage in missing_stages else money_from_cents(sums[stage]) for stage in stages
    ]
    notes = []
    if dimension == "funder" or filters.funder is not None:
        notes.append(
            _(
                "Demandé et accordé : la part demandée à chaque financeur et celle qu'il a "
                "accordée (un dossier sans part compte pour chaque financeur du programme) ; "
                "l'enveloppe compte pour chaque financeur du programme ; l'engagé et le recouvré "
                "sont répartis selon la part de chaque financeur, les paiements sont ceux de "
                "chaque financeur."
            )
        )
        if dimension == "funder":
            total = None  # programme-level amounts are counted once per funder: no honest total
    if dimension in SPLIT_DIMENSIONS:
        notes.append(
            _(
                "Un dossier qui vise plusieurs valeurs est réparti à parts égales entre elles, "
                "au centime près."
            )
        )
    if dimension == "organisation":
        notes.append(
            _(
                "Dossiers collectifs : chaque partenaire compte sa part demandée et accordée, le "
                "chef de file le reste. Payé : ce que chaque organisation a reçu — sa part quand "
                "la convention verse à chaque partenaire ; tout au chef de file quand il "
                "redistribue (les reversements aux partenaires ne sont pas enregistrés). "
                "L'enveloppe et l'engagé ne se répartissent pas par organisation."
            )
        )
    if dimension == "funder" and filters.funder is not None:
        rows = [r for r, k in zip(rows, keys, strict=True) if k == filters.funder]
    return Table(
        name="money",
        caption=_("Montants à chaque étape — %(dimension)s")
        % {"dimension": DIMENSIONS.get(dimension, _("total"))},
        columns=columns,
        rows=rows if dimension is not None else [],
        total=total,
        notes=notes,
    )


def totals(filters: Filters) -> dict[str, Decimal | None]:
    """Each stage's total (the home page's cards)."""
    table = money_by_stage(None, filters)
    return {c.key: v for c, v in zip(table.columns[1:], (table.total or [])[1:], strict=True)}


def envelope_consumption(filters: Filters) -> Table:
    """Per programme: envelope, committed, paid, and how much of the envelope they consume."""
    money = money_by_stage("programme", filters, stages=["envelope", "committed", "paid"])
    rows = []
    for label, envelope, committed, paid in money.rows:
        rows.append(
            [
                label,
                envelope,
                committed,
                paid,
                percent(committed or 0, envelope or 0),
                percent(paid or 0, envelope or 0),
            ]
        )
    total = None
    if money.total:
        _label, envelope, committed, paid = money.total
        total = [
            _("Total"),
            envelope,
            committed,
            paid,
            percent(committed or 0, envelope or 0),
            percent(paid or 0, envelope or 0),
        ]
    return Table(
        name="envelopes",
        caption=_("Consommation des enveloppes par programme"),
        columns=[
            Column("label", _("Programme")),
            Column("envelope", _("Enveloppe"), "money"),
            Column("committed", _("Engagé (AE)"), "money"),
            Column("paid", _("Payé (CP)"), "money"),
            Column("committed_pct", _("Engagé / enveloppe (%)"), "percent"),
            Column("paid_pct", _("Payé / enveloppe (%)"), "percent"),
        ],
        rows=rows,
        total=total,
        notes=money.notes,
    )


# --------------------------------------------------------------------------- forecast

FORECAST_GROUPS = {
    "planned": ([I.PLANNED], gettext_lazy("Prévu")),
    "on_hold": ([I.ON_HOLD], gettext_lazy("Suspendu")),
    "in_payment": (
        [I.DUE, I.APPROVED, I.IN_RUN, I.EXPORTED],
        gettext_lazy("En cours de paiement"),
    ),
}


def forecast(filters: Filters) -> Table:
    """Restes à payer: unpaid instalments of committed agreements by the fiscal year they are
    charged to (charged_year, else the agreement year), split by where they stand. Years before
    the current one are gathered in one row (still owed)."""
    effective = Coalesce(F("charged_year"), F("year__fiscal_year"))
    qs = Instalment.objects.filter(state__in=UNPAID_STATES, agreement__state__in=COMMITTED_STATES)
    qs = qs.annotate(fy=effective)
    if filters.fiscal_year is not None:
        qs = qs.filter(fy=filters.fiscal_year)
    if filters.programme is not None:
        qs = qs.filter(agreement__programme_id=filters.programme)
    if filters.funder is not None:
        qs = qs.filter(funder__funder_id=filters.funder)
    rows = (
        qs.order_by()
        .values("fy", "state")
        .annotate(t=cents_sum("amount"))
        .values_list("fy", "state", "t")
    )
    df = pd.DataFrame(list(rows), columns=["fy", "state", "cents"])
    current = today().year
    group_of = {
        state: group for group, (states, _label) in FORECAST_GROUPS.items() for state in states
    }
    columns = (
        [Column("label", _("Exercice"))]
        + [
            Column(group, str(label), "money")
            for group, (_states, label) in FORECAST_GROUPS.items()
        ]
        + [Column("total", _("Total"), "money")]
    )
    if df.empty:
        return Table("forecast", _("Restes à payer par exercice"), columns, [], None)
    df["group"] = df["state"].map(group_of)
    df["year"] = df["fy"].where(df["fy"] >= current, current - 1)
    pivot = df.pivot_table(
        index="year", columns="group", values="cents", aggfunc="sum", fill_value=0
    )
    pivot = pivot.reindex(columns=list(FORECAST_GROUPS), fill_value=0).sort_index()
    pivot["total"] = pivot.sum(axis=1)
    rows = []
    for year, values in pivot.iterrows():
        label = _("Avant %(year)s") % {"year": current} if year < current else str(int(year))
        rows.append([label, *(money_from_cents(values[c.key]) for c in columns[1:])])
    total = [_("Total"), *(money_from_cents(pivot[c.key].sum()) for c in columns[1:])]
    return Table(
        "forecast",
        _("Restes à payer par exercice"),
        columns,
        rows,
        total,
        notes=[
            _(
                "Échéances non payées des conventions signées, en cours, suspendues ou soldées, "
                "par exercice d'imputation ; « Avant %(year)s » regroupe celles d'exercices "
                "passés, toujours dues."
            )
            % {"year": current}
        ],
    )


def remaining_to_pay(filters: Filters) -> Decimal | None:
    """Restes à payer overall (the forecast's total)."""
    table = forecast(filters)
    return table.total[-1] if table.total else Decimal("0.00")


def fiscal_years() -> list[int]:
    """The fiscal years a filter may pick: the programmes' years, and the years agreements run
    (a CPO of a 2026 programme pays until 2030)."""
    years = set(Programme.objects.order_by().values_list("fiscal_year", flat=True).distinct())
    span = Agreement.objects.aggregate(
        first=Min("first_year"), last=Max(F("first_year") + F("duration_years") - 1)
    )
    if span["first"] is not None:
        years |= set(range(span["first"], span["last"] + 1))
    return sorted(years)
