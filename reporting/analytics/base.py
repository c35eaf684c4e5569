"""What every analytics module shares: the filters, the tables returned, the stage and dimension
names, money in cents, day numbers, nearest-rank quantiles, and the files a filter keeps."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import pandas as pd
from django.db import connection
from django.db.models import BigIntegerField, Func, IntegerField, Q, QuerySet, Sum, Value
from django.db.models.functions import Cast, Round
from django.utils.translation import gettext_lazy

from cpo.models import AgreementState, InstalmentState
from grants.models import ApplicationState

A = AgreementState
S = ApplicationState
I = InstalmentState  # noqa: E741

COMMITTED_STATES = [A.SIGNED, A.ACTIVE, A.SUSPENDED, A.COMPLETED]
DECISION_STATES = [S.APPROVED, S.REJECTED]
ON_TIME_DEFAULT_DAYS = 60
CENT = Decimal("0.01")

STAGES: dict[str, Any] = {
    "envelope": gettext_lazy("Enveloppe"),
    "requested": gettext_lazy("Demandé"),
    "approved": gettext_lazy("Accordé"),
    "committed": gettext_lazy("Engagé (AE)"),
    "paid": gettext_lazy("Payé (CP)"),
    "recovered": gettext_lazy("Recouvré"),
}
DIMENSIONS: dict[str, Any] = {
    "programme": gettext_lazy("Programme"),
    "call": gettext_lazy("Appel"),
    "mode": gettext_lazy("Mode"),
    "pillar": gettext_lazy("Pilier"),
    "qpv": gettext_lazy("Quartier (QPV)"),
    "funder": gettext_lazy("Financeur"),
    "theme": gettext_lazy("Thème de transition"),
    "fiscal_year": gettext_lazy("Exercice"),
    "organisation": gettext_lazy("Organisation bénéficiaire"),
}
#: Dimensions whose files are split equally between their several values.
SPLIT_DIMENSIONS = {"qpv": "qpvs", "theme": "themes"}


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Filters:
    """The filters every dashboard applies: fiscal year, programme (id), funder (id)."""

    fiscal_year: int | None = None
    programme: int | None = None
    funder: int | None = None

    def items(self) -> list[tuple[str, int]]:
        return [(name, value) for name, value in vars(self).items() if value is not None]


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    #: text | money (Decimal, 2 places) | int | days (int) | percent (Decimal, 1 place) | ratio
    kind: str = "text"


@dataclass
class Table:
    """What a page shows, draws and exports: a caption, typed columns, rows and a total row."""

    name: str
    caption: str
    columns: list[Column]
    rows: list[list[Any]]
    total: list[Any] | None = None
    notes: list[str] = field(default_factory=list)

    def column(self, key: str) -> list[Any]:
        at = [c.key for c in self.columns].index(key)
        return [row[at] for row in self.rows]

    @property
    def labels(self) -> list[str]:
        return [str(row[0]) for row in self.rows]


# --------------------------------------------------------------------------- helpers


def to_cents(value: Any) -> int:
    if value is None:
        return 0
    return int((Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP) * 100).to_integral_value())


def plain_key(key: Any, missing: Any = None) -> Any:
    """A dimension key as a plain Python value: pandas turns ids into floats (1.0) and missing
    values into NaN or NA on the way."""
    if key is None or key is pd.NA or (isinstance(key, float) and np.isnan(key)):
        return missing
    if isinstance(key, float | np.floating) and float(key).is_integer():
        return int(key)
    if isinstance(key, np.integer):
        return int(key)
    if isinstance(key, Decimal) and key == key.to_integral_value():
        return int(key)  # PostgreSQL's EXTRACT returns numeric
    return key


def cents_sum(expression: Any) -> Cast:
    """SUM(amount) as whole cents, rounded half up in the database: integers reach Python (a
    Decimal per row would cost more than the query on large tables)."""
    return Cast(Round(Sum(expression) * Value(100)), BigIntegerField())


def fetch_rows(qs: QuerySet) -> list[tuple]:
    """The rows of a values_list() query as the database returns them, without Django's
    per-value converters — for large queries whose values are integers and text only."""
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


class EpochDays(Func):
    """A date as whole days since 1970-01-01 (wrap datetimes in TruncDate: local dates). Day
    counts then subtract as integers, in SQL or in pandas, with no date object per row."""

    template = "(%(expressions)s - DATE '1970-01-01')"
    output_field = IntegerField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler,
            connection,
            template="CAST(julianday(%(expressions)s) - 2440587.5 AS INTEGER)",
            **extra,
        )


def money_from_cents(cents: Any) -> Decimal | None:
    if cents is None or (isinstance(cents, float) and np.isnan(cents)):
        return None
    return (Decimal(int(cents)) / 100).quantize(CENT)


def percent(part: Any, whole: Any) -> Decimal | None:
    """part / whole in percent, 1 decimal, half up; None when there is no whole."""
    if not whole:
        return None
    ratio = Decimal(str(part)) * 100 / Decimal(str(whole))
    return ratio.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def int_or_none(value: Any) -> int | None:
    if value is None or pd.isna(value):
        return None
    return int(value)


def nearest_rank(values: Iterable[float], num: int, den: int) -> int | None:
    """The nearest-rank quantile num/den: the ceil(n·num/den)-th smallest value (integer maths,
    so 9/10 of 10 values is the 9th, never the 10th through a float rounding)."""
    ordered = sorted(v for v in values if v is not None and not pd.isna(v))
    if not ordered:
        return None
    k = -(-len(ordered) * num // den)
    return int(ordered[k - 1])


def application_filter(filters: Filters, prefix: str = "") -> Q:
    q = Q()
    if filters.fiscal_year is not None:
        q &= Q(**{f"{prefix}programme__fiscal_year": filters.fiscal_year})
    if filters.programme is not None:
        q &= Q(**{f"{prefix}programme_id": filters.programme})
    if filters.funder is not None:
        q &= Q(**{f"{prefix}programme__funders": filters.funder})
    return q
