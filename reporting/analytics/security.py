"""Multi-year security (associations under a multi-year agreement, durations, evaluation outcomes)
and the residents' part in decisions (expected solutions, votes, assessments, money)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, F, Q, Sum
from django.utils.translation import gettext as _

from calls.models import Challenge
from cpo.models import Agreement, Evaluation, EvaluationState
from grants.models import Application, ApplicationKind, Ballot, PanelAssessment

from .base import (
    COMMITTED_STATES,
    Column,
    Filters,
    S,
    Table,
    application_filter,
    money_from_cents,
    percent,
    to_cents,
)


def _agreement_filter(filters: Filters, *, running: bool) -> Q:
    """The agreements the filters keep. With `running` and a fiscal year, those running that
    year; without, the year is left to the caller (evaluations filter on their own year)."""
    q = Q()
    if filters.fiscal_year is not None and running:
        q &= Q(first_year__lte=filters.fiscal_year) & Q(
            first_year__gt=filters.fiscal_year - F("duration_years")
        )
    if filters.programme is not None:
        q &= Q(programme_id=filters.programme)
    if filters.funder is not None:
        q &= Q(funders__funder_id=filters.funder)
    return q


def multi_year_security(filters: Filters) -> dict[str, Any]:
    """Share of associations (organisations with a committed agreement) under a multi-year one
    (2 years or more), agreements by duration, and the annual evaluations' outcomes."""
    agreements = Agreement.objects.filter(
        _agreement_filter(filters, running=True), state__in=COMMITTED_STATES
    )
    counts = agreements.aggregate(
        organisations=Count("organisation", distinct=True),
        multi=Count("organisation", filter=Q(duration_years__gte=2), distinct=True),
    )
    by_duration = dict(
        agreements.order_by()
        .values("duration_years")
        .annotate(n=Count("id", distinct=True))
        .values_list("duration_years", "n")
    )
    durations = Table(
        "durations",
        _("Conventions engagées par durée"),
        [Column("label", _("Durée")), Column("count", _("Conventions"), "int")],
        [
            [
                _("%(n)s an") % {"n": years} if years == 1 else _("%(n)s ans") % {"n": years},
                int(by_duration.get(years, 0)),
            ]
            for years in range(1, 6)
        ],
        [_("Total"), int(sum(by_duration.values()))],
    )
    evaluations = Evaluation.objects.filter(
        agreement__in=Agreement.objects.filter(_agreement_filter(filters, running=False))
    )
    if filters.fiscal_year is not None:
        evaluations = evaluations.filter(fiscal_year=filters.fiscal_year)
    outcome = dict(
        evaluations.order_by().values("state").annotate(n=Count("id")).values_list("state", "n")
    )
    outcomes = Table(
        "evaluations",
        _("Évaluations annuelles par issue"),
        [Column("label", _("Issue")), Column("count", _("Évaluations"), "int")],
        [[str(label), int(outcome.get(state, 0))] for state, label in EvaluationState.choices],
        [_("Total"), int(sum(outcome.values()))],
    )
    return {
        "organisations": counts["organisations"],
        "multi_year": counts["multi"],
        "share": percent(counts["multi"], counts["organisations"]),
        "durations": durations,
        "evaluations": outcomes,
    }


def residents_part(filters: Filters) -> dict[str, Any]:
    """Residents in decisions: expected solutions they defined, their votes, their assessments,
    and the money decided with them (approved files of calls for solutions)."""
    call_q = Q()
    if filters.fiscal_year is not None:
        call_q &= Q(call__programme__fiscal_year=filters.fiscal_year)
    if filters.programme is not None:
        call_q &= Q(call__programme_id=filters.programme)
    if filters.funder is not None:
        call_q &= Q(call__programme__funders=filters.funder)
    challenges = dict(
        Challenge.objects.filter(call_q)
        .order_by()
        .values("state")
        .annotate(n=Count("id"))
        .values_list("state", "n")
    )
    ballots = Ballot.objects.filter(call_q).count()
    assessments = dict(
        PanelAssessment.objects.filter(
            application__in=Application.objects.filter(application_filter(filters))
        )
        .order_by()
        .values("rating")
        .annotate(n=Count("id"))
        .values_list("rating", "n")
    )
    approved = Application.objects.filter(
        application_filter(filters), state=S.APPROVED, approved_amount__isnull=False
    )
    money = approved.aggregate(
        all=Sum("approved_amount"),
        residents=Sum("approved_amount", filter=Q(kind=ApplicationKind.SOLUTIONS_CALL)),
    )
    with_residents = money_from_cents(to_cents(money["residents"]))
    everything = money_from_cents(to_cents(money["all"]))
    table = Table(
        "residents",
        _("Part des habitant·es dans les décisions"),
        [Column("label", _("Indicateur")), Column("value", _("Valeur"), "text")],
        [
            [_("Solutions attendues proposées"), int(sum(challenges.values()))],
            [_("Solutions attendues retenues"), int(challenges.get(Challenge.State.APPROVED, 0))],
            [_("Bulletins de vote"), int(ballots)],
            [_("Appréciations du panel"), int(sum(assessments.values()))],
            [_("Montant décidé avec les habitant·es (€)"), with_residents],
            [
                _("Part du montant accordé décidée avec les habitant·es (%)"),
                percent(with_residents or 0, everything or 0),
            ],
        ],
    )
    ratings = Table(
        "assessments",
        _("Appréciations du panel par niveau"),
        [Column("label", _("Appréciation")), Column("count", _("Appréciations"), "int")],
        [
            [str(label), int(assessments.get(code, 0))]
            for code, label in PanelAssessment.Rating.choices
        ],
        [_("Total"), int(sum(assessments.values()))],
    )
    return {
        "table": table,
        "ratings": ratings,
        "money": with_residents,
        "share": percent(with_residents or 0, everything or 0),
        "ballots": ballots,
    }
