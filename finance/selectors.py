"""Reads of the finance workspace (« Finances »): who may read and act, the dashboard's figures,
the instalment list with keyset pagination, a run's totals, the fiscal years, the recoveries.
Nothing here writes; every figure is an ORM aggregate computed in the database (docs/domain.md §5).

Vocabulary: AE (autorisations d'engagement) are consumed at signature for the whole amount of the
agreement; CP (crédits de paiement) are what is paid within one fiscal year; « restes à payer »
are commitments not yet paid, spread over future years by the year each instalment is charged to
(its `charged_year` when carried, else its own year)."""

from __future__ import annotations

import calendar
import datetime
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from calls.models import Programme
from core.models import Role, User
from core.permissions import has_role
from cpo.models import (
    OWED_STATES,
    UNPAID_STATES,
    Agreement,
    AgreementState,
    AgreementYear,
    Instalment,
    InstalmentState,
    Recovery,
    RecoveryState,
)
from finance.models import FiscalYear, PaymentRun, PaymentRunItem, PaymentRunState

A = AgreementState
I = InstalmentState  # noqa: E741
RS = PaymentRunState
ZERO = Decimal("0.00")

#: Who reads the workspace; only finance officers act in it (the services check again).
READERS = (Role.FINANCE_OFFICER, Role.PROGRAMME_MANAGER, Role.AUDITOR)
#: AE: agreements whose whole amount is committed (a terminated one commits what was paid).
COMMITTED_AGREEMENTS = (A.SIGNED, A.ACTIVE, A.SUSPENDED, A.COMPLETED)
#: CP forecast: agreements whose unpaid instalments remain to pay.
RUNNING_AGREEMENTS = (A.SIGNED, A.ACTIVE, A.SUSPENDED)
#: The what-if of the forecast: agreements not signed yet.
UNSIGNED_AGREEMENTS = (A.DRAFT, A.SENT_FOR_SIGNATURE)
#: Instalments a recovery may be offset against (cpo.services_changes.OFFSETTABLE).
OFFSETTABLE = (I.PLANNED, I.ON_HOLD, I.DUE)


def can_read_finance(user: User) -> bool:
    return has_role(user, *READERS)


def can_act_on_finance(user: User) -> bool:
    return has_role(user, Role.FINANCE_OFFICER)


def effective_year() -> Coalesce:
    """The fiscal year an instalment is charged to: carried (`charged_year`) or its own."""
    return Coalesce("charged_year", "year__fiscal_year")


def _money(value: Any) -> Decimal:
    return (value or ZERO).quantize(Decimal("0.01"))


def month_bounds(day: datetime.date) -> tuple[datetime.date, datetime.date]:
    last = calendar.monthrange(day.year, day.month)[1]
    return day.replace(day=1), day.replace(day=last)


# --------------------------------------------------------------------------- dashboard


def dashboard_cards(*, day: datetime.date) -> dict[str, dict[str, Any]]:
    """The dashboard's cards, in one query over the instalments and one over the runs:

    - `due_this_month`: payable this month (earliest date in the month), not paid yet: planned
      (its conditions may still be met this month) or owed (due, certified, in a run, sent);
    - `to_pay`: due or certified, in no run yet (what finance can put in a run now);
    - `late`: owed and late against the 60-day rule (loi n° 2021-875 art. 2);
    - `on_hold`: waiting (evaluation, suspension…), the reasons are in `on_hold_by_reason`;
    - `paid_this_year`: paid and charged to the fiscal year of `day`;
    - `runs`: runs awaiting approval (draft), export (approved), confirmation (exported), each
      with its count and the amount still pending."""
    first, last = month_bounds(day)
    owed = Q(state__in=OWED_STATES)
    cases = {
        "due_this_month": Q(state__in=[I.PLANNED, *OWED_STATES])
        & Q(earliest_date__gte=first, earliest_date__lte=last),
        "to_pay": Q(state__in=[I.DUE, I.APPROVED]),
        "late": owed & Q(is_late=True),
        "on_hold": Q(state=I.ON_HOLD),
        "paid_this_year": Q(state=I.PAID)
        & (Q(charged_year=day.year) | Q(charged_year__isnull=True, year__fiscal_year=day.year)),
    }
    aggregates: dict[str, Any] = {}
    for key, condition in cases.items():
        aggregates[f"{key}_count"] = Count("pk", filter=condition)
        aggregates[f"{key}_amount"] = Sum("amount", filter=condition)
    values = Instalment.objects.filter(
        state__in=[I.PLANNED, *OWED_STATES, I.ON_HOLD, I.PAID]
    ).aggregate(**aggregates)
    cards: dict[str, dict[str, Any]] = {
        key: {"count": values[f"{key}_count"], "amount": _money(values[f"{key}_amount"])}
        for key in cases
    }
    cards["runs"] = runs_in_progress()
    return cards


def runs_in_progress() -> dict[str, dict[str, Any]]:
    """Open runs by state: count, total and the amount still awaiting confirmation."""
    rows = (
        PaymentRun.objects.filter(state__in=[RS.DRAFT, RS.APPROVED, RS.EXPORTED])
        .values("state")
        .annotate(
            count=Count("pk"),
            sum_total=Sum("total"),
            sum_pending=Sum(F("total") - F("paid_total") - F("rejected_total")),
        )
    )
    out: dict[str, dict[str, Any]] = {
        state: {"count": 0, "total": ZERO, "pending": ZERO}
        for state in (RS.DRAFT, RS.APPROVED, RS.EXPORTED)
    }
    for row in rows:
        out[row["state"]] = {
            "count": row["count"],
            "total": _money(row["sum_total"]),
            "pending": _money(row["sum_pending"]),
        }
    return out


def on_hold_by_reason() -> list[dict[str, Any]]:
    """Instalments on hold grouped by their reason, the largest amount first."""
    return [
        {"reason": r["hold_reason"], "count": r["count"], "amount": _money(r["amount"])}
        for r in Instalment.objects.filter(state=I.ON_HOLD)
        .values("hold_reason")
        .annotate(count=Count("pk"), amount=Sum("amount"))
        .order_by("-amount", "hold_reason")
    ]


def paid_in_year(year: int) -> dict[str, Any]:
    """CP consumed: instalments paid and charged to `year`, by programme, funder and budget line.
    One grouped query (programme × funder, a few hundred rows at most) rolled up here, so the paid
    instalments are read once."""
    rows = list(
        Instalment.objects.filter(state=I.PAID)
        .filter(Q(charged_year=year) | Q(charged_year__isnull=True, year__fiscal_year=year))
        .values(
            "agreement__programme_id",
            "agreement__programme__name",
            "agreement__programme__fiscal_year",
            "agreement__programme__budget_line__code",
            "agreement__programme__budget_line__label",
            "funder__funder_id",
            "funder__funder__name",
        )
        .annotate(count=Count("pk"), amount=Sum("amount"))
        .order_by()
    )

    def rollup(*fields: str) -> list[dict[str, Any]]:
        groups: dict[tuple[Any, ...], dict[str, Any]] = {}
        for row in cast("Iterable[Mapping[str, Any]]", rows):
            key = tuple(row[f] for f in fields)
            group = groups.setdefault(
                key, {**dict(zip(fields, key, strict=True)), "count": 0, "amount": ZERO}
            )
            group["count"] += row["count"]
            group["amount"] += row["amount"] or ZERO
        return sorted(
            ({**g, "amount": _money(g["amount"])} for g in groups.values()),
            key=lambda g: (-g["amount"], str(g[fields[1]] or "")),
        )

    by_funder = rollup("funder__funder_id", "funder__funder__name")
    return {
        "year": year,
        "by_programme": rollup(
            "agreement__programme_id",
            "agreement__programme__name",
            "agreement__programme__fiscal_year",
        ),
        "by_funder": by_funder,
        "by_budget_line": rollup(
            "agreement__programme__budget_line__code",
            "agreement__programme__budget_line__label",
        ),
        "total": _money(sum((r["amount"] for r in by_funder), ZERO)),
        "count": sum(r["count"] for r in by_funder),
    }


def commitments_by_programme(year: int) -> list[dict[str, Any]]:
    """AE against envelopes for the programmes of `year`. Committed = total amount of the
    agreements signed, running, suspended or completed, plus what was paid on terminated ones
    (a termination cancels the rest). `awaiting_signature` = drafts and agreements sent for
    signature, which will commit once signed. Three queries."""
    programmes = list(
        Programme.objects.filter(fiscal_year=year)
        .select_related("budget_line")
        .order_by("name", "pk")
    )
    ids = [p.pk for p in programmes]
    sums = {
        row["programme_id"]: row
        for row in Agreement.objects.filter(programme_id__in=ids)
        .values("programme_id")
        .annotate(
            committed=Sum("total_amount", filter=Q(state__in=COMMITTED_AGREEMENTS)),
            committed_count=Count("pk", filter=Q(state__in=COMMITTED_AGREEMENTS)),
            awaiting=Sum("total_amount", filter=Q(state__in=UNSIGNED_AGREEMENTS)),
        )
    }
    terminated_paid = dict(
        Instalment.objects.filter(
            agreement__programme_id__in=ids, agreement__state=A.TERMINATED, state=I.PAID
        )
        .values_list("agreement__programme_id")
        .annotate(s=Sum("amount"))
    )
    rows = []
    for programme in programmes:
        row: Mapping[str, Any] = sums.get(programme.pk, {})
        committed = _money(row.get("committed")) + _money(terminated_paid.get(programme.pk))
        envelope = _money(programme.envelope)
        rows.append(
            {
                "programme": programme,
                "envelope": envelope,
                "committed": committed,
                "committed_count": row.get("committed_count", 0),
                "awaiting_signature": _money(row.get("awaiting")),
                "available": envelope - committed,
                "percent": (committed * 100 / envelope).quantize(Decimal("0.1"))
                if envelope
                else None,
                "over": committed > envelope,
            }
        )
    return rows


def unsigned_agreements(limit: int = 200) -> QuerySet[Agreement]:
    """Agreements not signed yet (the forecast's what-if candidates), newest first."""
    return (
        Agreement.objects.filter(state__in=UNSIGNED_AGREEMENTS)
        .select_related("organisation", "programme")
        .order_by("-created_at", "-pk")[:limit]
    )


def cp_forecast(*, what_if_ids: list[int] | tuple[int, ...] = ()) -> dict[str, Any]:
    """Payment credits needed per fiscal year: the unpaid instalments (planned, due, on hold,
    certified, in a run, sent) of the signed, running and suspended agreements, by the year they
    are charged to. With the what-if: the yearly amounts of the chosen unsigned agreements (draft
    or sent for signature) added per year, in a separate column. Two grouped queries."""
    committed: dict[int, Mapping[str, Any]] = {
        row["fy"]: row
        for row in Instalment.objects.filter(
            state__in=UNPAID_STATES, agreement__state__in=RUNNING_AGREEMENTS
        )
        .annotate(fy=effective_year())
        .values("fy")
        .annotate(amount=Sum("amount"), count=Count("pk"))
        .order_by("fy")
    }
    what_if: dict[int, Decimal] = {}
    chosen: list[int] = []
    if what_if_ids:
        for row in (
            AgreementYear.objects.filter(
                agreement_id__in=list(what_if_ids), agreement__state__in=UNSIGNED_AGREEMENTS
            )
            .values("fiscal_year")
            .annotate(amount=Sum("amount"))
        ):
            what_if[row["fiscal_year"]] = _money(row["amount"])
        chosen = sorted(set(what_if_ids))
    rows = []
    for fy in sorted(set(committed) | set(what_if)):
        remaining = _money(committed.get(fy, {}).get("amount"))
        extra = what_if.get(fy, ZERO)
        rows.append(
            {
                "year": fy,
                "remaining": remaining,
                "count": committed.get(fy, {}).get("count", 0),
                "what_if": extra,
                "total": remaining + extra,
            }
        )
    return {
        "rows": rows,
        "remaining": sum((r["remaining"] for r in rows), ZERO),
        "what_if": sum((r["what_if"] for r in rows), ZERO),
        "total": sum((r["total"] for r in rows), ZERO),
        "chosen": chosen,
    }


# --------------------------------------------------------------------------- instalment list

PAGE_SIZE = 50


@dataclass(frozen=True)
class Cursor:
    """A position in the list ordered by (earliest_date, pk)."""

    date: datetime.date
    pk: int

    def encode(self) -> str:
        return f"{self.date.isoformat()}_{self.pk}"

    @classmethod
    def decode(cls, text: str | None) -> Cursor | None:
        if not text:
            return None
        try:
            day, pk = text.split("_", 1)
            return cls(datetime.date.fromisoformat(day), int(pk))
        except ValueError:
            return None


@dataclass
class KeysetPage:
    rows: Sequence[Instalment]
    next_cursor: str | None
    previous_cursor: str | None
    is_first: bool


def filter_instalments(filters: dict[str, Any]) -> QuerySet[Instalment]:
    """The finance list: state (`all` for every state), due by a date, programme, funder, budget
    line, late only, and a search on the agreement's reference or the organisation's name."""
    qs = Instalment.objects.all()
    state = filters.get("state")
    if state and state != "all":
        qs = qs.filter(state=state)
    if due_by := filters.get("due_by"):
        qs = qs.filter(earliest_date__lte=due_by)
    if programme := filters.get("programme"):
        qs = qs.filter(agreement__programme_id=getattr(programme, "pk", programme))
    if funder := filters.get("funder"):
        qs = qs.filter(funder__funder_id=getattr(funder, "pk", funder))
    if budget_line := filters.get("budget_line"):
        qs = qs.filter(agreement__programme__budget_line_id=getattr(budget_line, "pk", budget_line))
    if filters.get("late_only"):
        qs = qs.filter(is_late=True)
    if text := (filters.get("q") or "").strip():
        qs = qs.filter(
            agreement_id__in=Agreement.objects.filter(
                Q(reference__icontains=text) | Q(organisation__name__icontains=text)
            ).values("pk")
        )
    return qs


def instalment_page(
    qs: QuerySet[Instalment],
    *,
    after: Cursor | None = None,
    before: Cursor | None = None,
    size: int | None = None,
) -> KeysetPage:
    """One page of the list by keyset on (earliest_date, pk): one query whatever the size of the
    table (no COUNT, no OFFSET), with the run each instalment is in and its display joins."""
    size = size or PAGE_SIZE
    pending_item = PaymentRunItem.objects.filter(
        instalment=OuterRef("pk"), status=PaymentRunItem.Status.PENDING
    )
    qs = qs.select_related(
        "agreement__organisation", "agreement__programme", "funder__funder", "year", "beneficiary"
    ).annotate(
        run_id=Subquery(pending_item.values("run_id")[:1]),
        run_reference=Subquery(pending_item.values("run__reference")[:1]),
    )
    if before is not None:
        rows = list(
            qs.filter(earliest_date__lte=before.date)
            .filter(Q(earliest_date__lt=before.date) | Q(pk__lt=before.pk))
            .order_by("-earliest_date", "-pk")[: size + 1]
        )
        has_more = len(rows) > size
        rows = list(reversed(rows[:size]))
        return KeysetPage(
            rows=rows,
            next_cursor=_cursor(rows[-1]) if rows else None,
            previous_cursor=_cursor(rows[0]) if rows and has_more else None,
            is_first=not has_more,
        )
    if after is not None:
        qs = qs.filter(earliest_date__gte=after.date).filter(
            Q(earliest_date__gt=after.date) | Q(pk__gt=after.pk)
        )
    rows = list(qs.order_by("earliest_date", "pk")[: size + 1])
    has_more = len(rows) > size
    rows = rows[:size]
    return KeysetPage(
        rows=rows,
        next_cursor=_cursor(rows[-1]) if rows and has_more else None,
        previous_cursor=_cursor(rows[0]) if rows and after is not None else None,
        is_first=after is None,
    )


def _cursor(instalment: Instalment) -> str:
    return Cursor(instalment.earliest_date, instalment.pk).encode()


def payable_criteria(filters: dict[str, Any]) -> dict[str, Any]:
    """The list's filters as the criteria of `services_finance.payable_instalments` (« tout ce
    qui correspond »): the state and the search have no equivalent there."""
    criteria: dict[str, Any] = {}
    if filters.get("due_by"):
        criteria["due_by"] = filters["due_by"]
    for key in ("programme", "funder", "budget_line"):
        if value := filters.get(key):
            criteria[key] = getattr(value, "pk", value)
    if filters.get("late_only"):
        criteria["late_only"] = True
    return criteria


# --------------------------------------------------------------------------- runs


def runs_list(state: str | None = None) -> QuerySet[PaymentRun]:
    qs = PaymentRun.objects.select_related("created_by").annotate(
        valid_approvals=Count("approvals", filter=Q(approvals__is_valid=True))
    )
    if state:
        qs = qs.filter(state=state)
    return qs.order_by("-created_at", "-pk")


def run_totals(run: PaymentRun) -> dict[str, list[dict[str, Any]]]:
    """A run's payments not removed, totalled by budget line and by funder."""
    items = run.items.exclude(status=PaymentRunItem.Status.REMOVED)

    def grouped(field: str) -> list[dict[str, Any]]:
        return [
            {"key": row[field], "count": row["count"], "amount": _money(row["amount"])}
            for row in items.values(field)
            .annotate(count=Count("pk"), amount=Sum("amount"))
            .order_by(field)
        ]

    return {
        "by_budget_line": grouped("budget_line"),
        "by_funder": grouped("instalment__funder__funder__name"),
        "by_status": grouped("status"),
    }


# --------------------------------------------------------------------------- fiscal years


def remaining_for_year(year: int) -> QuerySet[Instalment]:
    """Instalments still unpaid and charged to `year`: what its closing must carry or cancel."""
    return (
        Instalment.objects.filter(
            Q(charged_year=year) | Q(charged_year__isnull=True, year__fiscal_year=year)
        )
        .exclude(state__in=[I.PAID, I.CANCELLED])
        .select_related("agreement__organisation", "funder__funder", "year")
        .order_by("agreement__reference", "year__fiscal_year", "number", "pk")
    )


def fiscal_years_overview(*, day: datetime.date) -> list[dict[str, Any]]:
    """Every fiscal year known (recorded, or charged with an unpaid or paid instalment, and the
    current one), open or closed, with what remains to pay on it and its open runs."""
    recorded = {fy.year: fy for fy in FiscalYear.objects.select_related("closed_by")}
    remaining: dict[int, Mapping[str, Any]] = {
        row["fy"]: row
        for row in Instalment.objects.exclude(state__in=[I.PAID, I.CANCELLED])
        .annotate(fy=effective_year())
        .values("fy")
        .annotate(count=Count("pk"), amount=Sum("amount"))
    }
    open_runs = dict(
        PaymentRun.objects.filter(state__in=[RS.DRAFT, RS.APPROVED, RS.EXPORTED])
        .values_list("fiscal_year")
        .annotate(n=Count("pk"))
    )
    years = sorted(set(recorded) | set(remaining) | set(open_runs) | {day.year}, reverse=True)
    rows = []
    for year in years:
        fy = recorded.get(year)
        rows.append(
            {
                "year": year,
                "record": fy,
                "is_closed": bool(fy and fy.is_closed),
                "remaining_count": remaining.get(year, {}).get("count", 0),
                "remaining_amount": _money(remaining.get(year, {}).get("amount")),
                "open_runs": open_runs.get(year, 0),
            }
        )
    return rows


# --------------------------------------------------------------------------- recoveries


def recovery_totals() -> dict[str, dict[str, Any]]:
    """Recoveries by state: count and amount (one grouped query)."""
    out = {state: {"count": 0, "amount": ZERO} for state in RecoveryState.values}
    for row in Recovery.objects.values("state").annotate(count=Count("pk"), amount=Sum("amount")):
        out[row["state"]] = {"count": row["count"], "amount": _money(row["amount"])}
    return out


def recoveries_list(state: str) -> QuerySet[Recovery]:
    return (
        Recovery.objects.filter(state=state)
        .select_related(
            "agreement__organisation",
            "offset_instalment__year",
            "offset_instalment__funder__funder",
            "issued_by",
        )
        .order_by("-created_at", "-pk")
    )


def offset_candidates(recoveries: Sequence[Recovery]) -> dict[int, list[Instalment]]:
    """For each issued recovery, the instalments it may be offset against (same agreement, a later
    fiscal year, planned, on hold or due, larger than the recovery): one query for the page. The
    service checks again when offsetting."""
    if not recoveries:
        return {}
    by_agreement: dict[int, list[Instalment]] = {}
    for instalment in (
        Instalment.objects.filter(
            agreement_id__in={r.agreement_id for r in recoveries},
            state__in=OFFSETTABLE,
            agreement__state__in=RUNNING_AGREEMENTS,
        )
        .select_related("year", "funder__funder")
        .order_by("year__fiscal_year", "earliest_date", "number", "pk")
    ):
        by_agreement.setdefault(instalment.agreement_id, []).append(instalment)
    return {
        r.pk: [
            i
            for i in by_agreement.get(r.agreement_id, [])
            if i.year.fiscal_year > r.fiscal_year and i.amount > r.amount
        ]
        for r in recoveries
    }
