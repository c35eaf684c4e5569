"""Processing times: submission → decision → signature → first payment, per call and by month of
submission (nearest-rank median and 9 in 10), the share decided on time, completion requests."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pandas as pd
from django.db.models import Count, DateField, Min, OuterRef, Q, Subquery
from django.db.models.functions import TruncDate
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from calls.models import Call
from cpo.models import Agreement
from grants.models import Application, ApplicationKind, CompletionRequest

from .base import (
    CENT,
    DECISION_STATES,
    ON_TIME_DEFAULT_DAYS,
    Column,
    EpochDays,
    Filters,
    I,
    S,
    Table,
    application_filter,
    fetch_rows,
    int_or_none,
    nearest_rank,
    percent,
)


def _grouped_ranks(df: pd.DataFrame, by: str, col: str) -> tuple[pd.Series, pd.Series]:
    """Nearest-rank median and 9-in-10 of `col` for each value of `by`, from one sort."""
    d = df[[by, col]].dropna(subset=[col]).sort_values([by, col], kind="stable")
    if d.empty:
        empty = pd.Series(dtype="float64")
        return empty, empty
    groups = d.groupby(by, sort=False, dropna=False)
    n = groups[col].transform("size").to_numpy()
    rank = groups.cumcount().to_numpy()
    picked = []
    for num, den in ((1, 2), (9, 10)):
        k = -(-n * num // den) - 1
        picked.append(d[rank == k].set_index(by)[col])
    return picked[0], picked[1]


def _times_frame(filters: Filters) -> pd.DataFrame:
    """One row per filed file (anti-call files left out) with each step's days. The database
    turns each date into a local day number once; pandas subtracts them."""
    where = application_filter(filters)
    apps = (
        Application.objects.filter(where, submitted_at__isnull=False)
        .exclude(state__in=[S.DRAFT])
        .exclude(kind=ApplicationKind.ANTI_CALL)
        .annotate(
            submitted=EpochDays(TruncDate("submitted_at")),
            decided=EpochDays(TruncDate("decided_at")),
            expected=EpochDays("call__decision_expected_on"),
            # The first signature among the file's agreements (several when a funder insists
            # on its own, issue 15): one row per file.
            signed=EpochDays(
                Subquery(
                    Agreement.objects.filter(application=OuterRef("pk"), signed_on__isnull=False)
                    .order_by("signed_on")
                    .values("signed_on")[:1],
                    output_field=DateField(),
                )
            ),
        )
        .order_by()
        .values_list("pk", "call_id", "state", "submitted", "decided", "expected", "signed")
    )
    df = pd.DataFrame(
        fetch_rows(apps),
        columns=["app", "call", "state", "submitted", "decided", "expected", "signed"],
    )
    if df.empty:
        return df
    # Grouped by file: the first payment of any of its agreements.
    agreements = Agreement.objects.filter(application__isnull=False, signed_on__isnull=False)
    completions = CompletionRequest.objects.all()
    if filters.items():
        agreements = agreements.filter(application__in=Application.objects.filter(where))
        completions = completions.filter(application__in=Application.objects.filter(where))
    first_paid = (
        agreements.order_by()
        .values("application_id")
        .annotate(first=Min("instalments__paid_on", filter=Q(instalments__state=I.PAID)))
        .filter(first__isnull=False)
        .annotate(first_paid=EpochDays("first"))
        .values_list("application_id", "first_paid")
    )
    per_file = (
        completions.order_by()
        .values("application_id")
        .annotate(n=Count("id"))
        .values_list("application_id", "n")
    )
    df = df.merge(
        pd.DataFrame(fetch_rows(first_paid), columns=["app", "first_paid"]), on="app", how="left"
    )
    df = df.merge(
        pd.DataFrame(fetch_rows(per_file), columns=["app", "completions"]), on="app", how="left"
    )
    days = {
        c: pd.to_numeric(df[c], errors="coerce").astype("Float64")
        for c in ("submitted", "decided", "expected", "signed", "first_paid")
    }
    decided = df["state"].isin([s.value for s in DECISION_STATES])
    approved = df["state"] == S.APPROVED.value
    df["d_decision"] = (days["decided"] - days["submitted"]).where(decided)
    df["d_signature"] = (days["signed"] - days["decided"]).where(approved & decided)
    df["d_payment"] = (days["first_paid"] - days["signed"]).where(df["d_signature"].notna())
    df["decided"] = df["d_decision"].notna()
    # On time: by the call's announced decision date, else within 60 days of submission.
    by_date = (days["expected"] - days["decided"]).ge(0)
    by_delay = df["d_decision"].le(ON_TIME_DEFAULT_DAYS)
    on_time = by_date.where(days["expected"].notna(), by_delay)
    df["on_time"] = on_time.fillna(False).astype(bool) & df["decided"]
    df["completions"] = df["completions"].fillna(0).astype("int64")
    df["with_completion"] = (df["completions"] > 0).astype("int64")
    # Files outside any call (direct awards) are grouped under -1.
    df["call"] = df["call"].fillna(-1).astype("int64")
    submitted_on = pd.to_datetime(days["submitted"].astype("int64"), unit="D")
    df["month"] = submitted_on.dt.strftime("%Y-%m")
    return df


STEPS = {
    "d_decision": gettext_lazy("Dépôt → décision"),
    "d_signature": gettext_lazy("Décision → signature"),
    "d_payment": gettext_lazy("Signature → 1er paiement"),
}


def _time_stats(df: pd.DataFrame, by: str) -> pd.DataFrame:
    g = df.groupby(by, dropna=False, sort=False)
    out = pd.DataFrame(
        {
            "filed": g.size(),
            "decided": g["decided"].sum(),
            "on_time": g["on_time"].sum(),
            "completions": g["completions"].sum(),
            "with_completion": g["with_completion"].sum(),
        }
    )
    for step in STEPS:
        out[f"{step}_median"], out[f"{step}_p90"] = _grouped_ranks(df, by, step)
    return out


def _time_columns(first: Column) -> list[Column]:
    columns = [
        first,
        Column("filed", _("Dossiers déposés"), "int"),
        Column("decided", _("Décidés"), "int"),
    ]
    for step, label in STEPS.items():
        columns.append(
            Column(f"{step}_median", _("%(step)s, médiane (j)") % {"step": label}, "days")
        )
        columns.append(Column(f"{step}_p90", _("%(step)s, 9 sur 10 (j)") % {"step": label}, "days"))
    columns += [
        Column("on_time_pct", _("Décidés dans les délais (%)"), "percent"),
        Column("completions_per_file", _("Demandes de complément par dossier"), "ratio"),
        Column("with_completion_pct", _("Dossiers avec complément (%)"), "percent"),
    ]
    return columns


def _time_row(label: str, s: pd.Series) -> list[Any]:
    row: list[Any] = [label, int(s["filed"]), int(s["decided"])]
    for step in STEPS:
        row += [int_or_none(s.get(f"{step}_median")), int_or_none(s.get(f"{step}_p90"))]
    row += [
        percent(int(s["on_time"]), int(s["decided"])),
        (Decimal(int(s["completions"])) / int(s["filed"])).quantize(CENT) if s["filed"] else None,
        percent(int(s["with_completion"]), int(s["filed"])),
    ]
    return row


TIMES_NOTES = [
    gettext_lazy(
        "Jours calendaires. Médiane : la moitié des dossiers au moins ont pris ce temps ou moins ; "
        "« 9 sur 10 » : neuf dossiers sur dix au moins (rang le plus proche)."
    ),
    gettext_lazy(
        "Décision : accord ou refus. Dans les délais : décidé au plus tard à la date de décision "
        "annoncée par l'appel, sinon dans les 60 jours suivant le dépôt."
    ),
]


def processing_times(filters: Filters) -> dict[str, Table]:
    """Median and 90th percentile of each step per call and by month of submission, with the
    share decided on time and the completion requests per file."""
    df = _times_frame(filters)
    by_call_columns = _time_columns(Column("label", _("Appel")))
    by_month_columns = [
        Column("label", _("Mois de dépôt")),
        Column("filed", _("Dossiers déposés"), "int"),
        Column("decided", _("Décidés"), "int"),
        Column("d_decision_median", _("Dépôt → décision, médiane (j)"), "days"),
        Column("d_decision_p90", _("Dépôt → décision, 9 sur 10 (j)"), "days"),
        Column("on_time_pct", _("Décidés dans les délais (%)"), "percent"),
    ]
    notes = [str(n) for n in TIMES_NOTES]
    if df.empty:
        return {
            "by_call": Table("by_call", _("Délais par appel"), by_call_columns, [], None, notes),
            "by_month": Table(
                "by_month", _("Délais par mois de dépôt"), by_month_columns, [], None, notes
            ),
        }
    per_call = _time_stats(df, "call")
    df["all"] = "all"
    overall = _time_stats(df, "all").iloc[0]
    titles = dict(
        Call.objects.filter(pk__in=[int(k) for k in per_call.index if k != -1]).values_list(
            "pk", "title"
        )
    )
    order = sorted(per_call.index, key=lambda k: (k == -1, titles.get(k, "").casefold(), int(k)))
    by_call = Table(
        "by_call",
        _("Délais par appel"),
        by_call_columns,
        [
            _time_row(_("Hors appel") if k == -1 else titles.get(k, str(k)), per_call.loc[k])
            for k in order
        ],
        _time_row(_("Ensemble"), overall),
        notes,
    )
    # The monthly table keeps some of the per-call columns, picked by key.
    keys = [c.key for c in by_call_columns]
    picks = [keys.index(c.key) for c in by_month_columns]
    per_month = _time_stats(df, "month").sort_index()
    overall_row = _time_row(_("Ensemble"), overall)
    by_month = Table(
        "by_month",
        _("Délais par mois de dépôt"),
        by_month_columns,
        [
            [row[i] for i in picks]
            for row in (_time_row(str(month), s) for month, s in per_month.iterrows())
        ],
        [overall_row[i] for i in picks],
        notes,
    )
    return {"by_call": by_call, "by_month": by_month}


def decision_time_overall(filters: Filters) -> dict[str, int | None]:
    """Median and 9-in-10 days from submission to decision, over every decided file (cards)."""
    rows = fetch_rows(
        Application.objects.filter(
            application_filter(filters),
            state__in=DECISION_STATES,
            submitted_at__isnull=False,
            decided_at__isnull=False,
        )
        .exclude(kind=ApplicationKind.ANTI_CALL)
        .annotate(days=EpochDays(TruncDate("decided_at")) - EpochDays(TruncDate("submitted_at")))
        .order_by()
        .values_list("days")
    )
    days = [d for (d,) in rows]
    return {
        "files": len(days),
        "median": nearest_rank(days, 1, 2),
        "p90": nearest_rank(days, 9, 10),
    }
