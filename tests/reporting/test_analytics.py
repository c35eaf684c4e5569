"""Analytics on a small known dataset (tests/reporting/test_analytics_dataset.py): exact sums at
every stage by every dimension, the filters, the forecast, processing times (median and 9 in 10,
nearest rank, local dates), the on-time share, multi-year security and the residents' part."""

from __future__ import annotations

import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from calls.models import Challenge, PanelMember
from core.models import Role
from grants.models import Application, ApplicationState, Ballot, CompletionRequest, PanelAssessment
from reporting import analytics
from reporting.analytics import Filters

from .. import factories as f
from . import test_analytics_dataset as data

pytestmark = pytest.mark.django_db
D = Decimal
PARIS = ZoneInfo("Europe/Paris")
STAGES = ["envelope", "requested", "approved", "committed", "paid", "recovered"]


def by_label(table) -> dict[str, dict[str, Decimal | None]]:
    keys = [c.key for c in table.columns]
    return {row[0]: dict(zip(keys[1:], row[1:], strict=True)) for row in table.rows}


def money(*values) -> list[Decimal | None]:
    return [None if v is None else D(v) for v in values]


@pytest.fixture
def ds():
    return data.build()


class TestMoneyByStage:
    def test_totals_of_every_stage(self, ds):
        assert analytics.totals(Filters()) == dict(
            zip(
                STAGES,
                money("600000.00", "42000.02", "14000.01", "41000.00", "16500.00", "1000.00"),
                strict=True,
            )
        )

    def test_by_programme(self, ds):
        table = analytics.money_by_stage("programme", Filters())
        assert [c.key for c in table.columns] == ["label", *STAGES]
        rows = by_label(table)
        assert list(rows) == ["Contrat de ville 2026", "Quartiers d'été 2027"]
        assert list(rows["Contrat de ville 2026"].values()) == money(
            "500000.00", "35000.02", "14000.01", "11000.00", "6500.00", "1000.00"
        )
        assert list(rows["Quartiers d'été 2027"].values()) == money(
            "100000.00", "7000.00", "0.00", "30000.00", "10000.00", "0.00"
        )
        assert table.total == [
            "Total",
            *money("600000.00", "42000.02", "14000.01", "41000.00", "16500.00", "1000.00"),
        ]

    def test_by_neighbourhood_splits_to_the_cent_and_adds_up(self, ds):
        table = analytics.money_by_stage("qpv", Filters())
        rows = by_label(table)
        assert list(rows) == ["Bellevue (QN01301M)", "Castellane (QN01302M)", "Non renseigné"]
        # a1 asks 10 000,01 for two neighbourhoods: the first takes the odd cent.
        assert list(rows["Bellevue (QN01301M)"].values()) == money(
            None, "25000.01", "4500.00", "4500.00", "2250.00", "500.00"
        )
        assert list(rows["Castellane (QN01302M)"].values()) == money(
            None, "10000.01", "9500.01", "6500.00", "4250.00", "500.00"
        )
        # a4 targets no neighbourhood; the imported agreement has no file.
        assert list(rows["Non renseigné"].values()) == money(
            None, "7000.00", "0.00", "30000.00", "10000.00", "0.00"
        )
        assert table.total[1:] == money(
            None, "42000.02", "14000.01", "41000.00", "16500.00", "1000.00"
        )

    def test_by_funder_shares_and_exact_payments(self, ds):
        table = analytics.money_by_stage("funder", Filters())
        rows = by_label(table)
        assert list(rows["État"].values()) == money(
            "500000.00", "35000.02", "14000.01", "34500.00", "14500.00", "500.00"
        )
        assert list(rows["Métropole"].values()) == money(
            "600000.00", "42000.02", "14000.01", "6500.00", "2000.00", "500.00"
        )
        assert table.total is None  # programme amounts count under each funder
        assert any("chaque financeur" in note for note in table.notes)

    def test_by_fiscal_year_uses_each_stage_year(self, ds):
        rows = by_label(analytics.money_by_stage("fiscal_year", Filters()))
        # Committed: the signature year (the imported one: its first year). Paid: the year an
        # instalment is charged to (ag2's 2 000 was carried over to 2027).
        assert list(rows["2026"].values()) == money(
            "500000.00", "35000.02", "14000.01", "11000.00", "4500.00", "1000.00"
        )
        assert list(rows["2027"].values()) == money(
            "100000.00", "7000.00", "0.00", "30000.00", "12000.00", "0.00"
        )

    def test_by_call_mode_pillar_and_theme(self, ds):
        calls = by_label(analytics.money_by_stage("call", Filters()))
        assert calls["AAP cohésion"]["envelope"] == D("200000.00")
        assert calls["AAP cohésion"]["committed"] == D("9000.00")
        assert calls["Appel à solutions"]["committed"] == D("2000.00")
        assert calls["Non renseigné"]["committed"] == D("30000.00")
        modes = by_label(analytics.money_by_stage("mode", Filters()))
        assert list(modes) == ["Appel à projets", "Appel à solutions", "Non renseigné"]
        assert modes["Appel à projets"]["envelope"] == D("280000.00")
        assert modes["Appel à projets"]["requested"] == D("37000.01")
        assert modes["Appel à solutions"]["approved"] == D("5000.01")
        pillars = by_label(analytics.money_by_stage("pillar", Filters()))
        assert pillars["Cohésion sociale"]["envelope"] is None
        assert pillars["Cohésion sociale"]["requested"] == D("15000.02")
        assert pillars["Emploi"]["requested"] == D("20000.00")
        assert pillars["Non renseigné"]["requested"] == D("7000.00")
        themes = by_label(analytics.money_by_stage("theme", Filters()))
        assert themes["Alimentation"]["approved"] == D("9000.00")
        assert themes["Alimentation"]["paid"] == D("4500.00")

    def test_filters_apply_to_every_stage(self, ds):
        def total(**kw):
            return list(analytics.totals(Filters(**kw)).values())

        assert total(programme=ds.p1.pk) == money(
            "500000.00", "35000.02", "14000.01", "11000.00", "6500.00", "1000.00"
        )
        assert total(funder=ds.f2.pk) == money(
            "600000.00", "42000.02", "14000.01", "6500.00", "2000.00", "500.00"
        )
        assert total(fiscal_year=2027) == money(
            "100000.00", "7000.00", "0.00", "30000.00", "12000.00", "0.00"
        )
        assert total(fiscal_year=2026, funder=ds.f1.pk) == money(
            "500000.00", "35000.02", "14000.01", "4500.00", "4500.00", "500.00"
        )
        rows = by_label(analytics.money_by_stage("funder", Filters(funder=ds.f2.pk)))
        assert list(rows) == ["Métropole"]

    def test_envelope_consumption(self, ds):
        table = analytics.envelope_consumption(Filters())
        assert table.rows[0] == [
            "Contrat de ville 2026",
            D("500000.00"),
            D("11000.00"),
            D("6500.00"),
            D("2.2"),
            D("1.3"),
        ]
        assert table.total[-2:] == [D("6.8"), D("2.8")]


class TestForecast:
    @time_machine.travel(datetime.datetime(2027, 6, 1, 12, tzinfo=PARIS), tick=False)
    def test_unpaid_instalments_of_committed_agreements_by_year(self, ds):
        table = analytics.forecast(Filters())
        assert [c.key for c in table.columns] == [
            "label",
            "planned",
            "on_hold",
            "in_payment",
            "total",
        ]
        assert table.rows == [
            ["Avant 2027", D("4500.00"), D("0.00"), D("0.00"), D("4500.00")],
            ["2027", D("0.00"), D("0.00"), D("500.00"), D("500.00")],
            ["2028", D("10000.00"), D("0.00"), D("0.00"), D("10000.00")],
            ["2029", D("0.00"), D("10000.00"), D("0.00"), D("10000.00")],
        ]
        assert table.total == ["Total", D("14500.00"), D("10000.00"), D("500.00"), D("25000.00")]
        assert analytics.forecast(Filters(funder=ds.f2.pk)).total[-1] == D("4500.00")
        assert analytics.forecast(Filters(programme=ds.p2.pk)).total[-1] == D("20500.00")


def filed(call, submitted: datetime.datetime, days: int | None, state=ApplicationState.APPROVED):
    app = f.ApplicationFactory(call=call, complete=False)
    decided = submitted + datetime.timedelta(days=days) if days is not None else None
    Application.objects.filter(pk=app.pk).update(
        state=state if days is not None else ApplicationState.UNDER_REVIEW,
        submitted_at=submitted,
        decided_at=decided,
        approved_amount=app.requested_amount if state == ApplicationState.APPROVED else None,
    )
    return app


class TestProcessingTimes:
    @pytest.fixture
    def times(self, instructor):
        start = datetime.datetime(2026, 1, 5, 10, tzinfo=PARIS)
        call = f.CallFactory(title="Appel daté", decision_expected_on=datetime.date(2026, 3, 1))
        apps = [
            filed(
                call, start, d, ApplicationState.APPROVED if d % 20 else ApplicationState.REJECTED
            )
            for d in (10, 20, 30, 40, 50, 60, 70, 80, 90, 100)
        ]
        filed(call, start, None)  # filed, not decided yet
        other = f.CallFactory(title="Appel sans date", programme=call.programme)
        filed(other, datetime.datetime(2026, 2, 10, 9, tzinfo=PARIS), 30)
        filed(other, datetime.datetime(2026, 2, 11, 9, tzinfo=PARIS), 61)
        # Submitted 23:30 and decided 00:30 the next day in Paris: one day, not zero.
        filed(other, datetime.datetime(2026, 2, 12, 23, 30, tzinfo=PARIS), None)
        late = Application.objects.filter(call=other, decided_at__isnull=True).get()
        Application.objects.filter(pk=late.pk).update(
            state=ApplicationState.APPROVED,
            decided_at=datetime.datetime(2026, 2, 13, 0, 30, tzinfo=PARIS),
        )
        for app in apps[:2]:
            CompletionRequest.objects.create(
                application=app,
                message="Pièce",
                deadline=datetime.date(2026, 1, 20),
                answered_at=datetime.datetime(2026, 1, 10, tzinfo=PARIS),
            )
        CompletionRequest.objects.create(
            application=apps[0],
            message="Autre",
            deadline=datetime.date(2026, 1, 30),
            answered_at=datetime.datetime(2026, 1, 12, tzinfo=PARIS),
        )
        # Signature and first payment for the first approved file (10 days).
        first = Application.objects.get(pk=apps[0].pk)
        ag = data.agreement(
            programme=call.programme,
            organisation=first.organisation,
            application=first,
            total="10000.00",
            state=data.A.ACTIVE,
            signed_on=datetime.date(2026, 1, 30),
        )
        row = data.with_funders(ag, [(f.FunderFactory(), D("1"))])
        data.instalment(
            ag,
            next(iter(row.values())),
            2026,
            "5000.00",
            data.I.PAID,
            paid_on=datetime.date(2026, 3, 1),
        )
        data.instalment(
            ag,
            next(iter(row.values())),
            2026,
            "5000.00",
            data.I.PAID,
            paid_on=datetime.date(2026, 6, 1),
        )
        return call, other

    def test_median_and_nine_in_ten_per_call(self, times):
        tables = analytics.processing_times(Filters())
        by_call = {
            row[0]: dict(zip([c.key for c in tables["by_call"].columns], row, strict=True))
            for row in tables["by_call"].rows
        }
        dated = by_call["Appel daté"]
        assert dated["filed"] == 11 and dated["decided"] == 10
        # Nearest rank over 10, 20 … 100: the 5th and the 9th value.
        assert dated["d_decision_median"] == 50 and dated["d_decision_p90"] == 90
        # Decided by 1 March (55 days after 5 January): 10 … 50.
        assert dated["on_time_pct"] == D("50.0")
        assert dated["completions_per_file"] == D("0.27")  # 3 requests / 11 files
        assert dated["with_completion_pct"] == D("18.2")
        assert dated["d_signature_median"] == 15  # decided 15 January, signed 30 January
        assert dated["d_payment_median"] == 30  # first payment 1 March
        undated = by_call["Appel sans date"]
        # 1 (across midnight in Paris), 30, 61 days; 60 days is the default delay.
        assert undated["d_decision_median"] == 30 and undated["d_decision_p90"] == 61
        assert undated["on_time_pct"] == D("66.7")
        overall = dict(
            zip([c.key for c in tables["by_call"].columns], tables["by_call"].total, strict=True)
        )
        assert overall["decided"] == 13 and overall["d_decision_median"] == 50

    def test_by_month_of_submission(self, times):
        table = analytics.processing_times(Filters())["by_month"]
        assert [row[:5] for row in table.rows] == [
            ["2026-01", 11, 10, 50, 90],
            ["2026-02", 3, 3, 30, 61],
        ]

    def test_overall_decision_time_for_the_cards(self, times):
        assert analytics.decision_time_overall(Filters()) == {"files": 13, "median": 50, "p90": 90}

    def test_nearest_rank_is_exact_with_integers(self):
        assert analytics.nearest_rank(range(1, 11), 9, 10) == 9
        assert analytics.nearest_rank([5], 1, 2) == 5
        assert analytics.nearest_rank([4, 1, 3, 2], 1, 2) == 2
        assert analytics.nearest_rank([], 1, 2) is None


class TestMultiYearAndResidents:
    def test_share_of_associations_under_a_multi_year_agreement(self, ds):
        result = analytics.multi_year_security(Filters())
        # Committed agreements: ag1 (1 year, orgs[0]) and ag3 (3 years, orgs[1]); ag2 terminated.
        assert (result["organisations"], result["multi_year"], result["share"]) == (2, 1, D("50.0"))
        assert result["durations"].rows[0] == ["1 an", 1]
        assert result["durations"].rows[2] == ["3 ans", 1]
        running_2028 = analytics.multi_year_security(Filters(fiscal_year=2028))
        assert (running_2028["organisations"], running_2028["multi_year"]) == (1, 1)

    def test_evaluation_outcomes(self, ds):
        from cpo.models import Evaluation, EvaluationState

        for year, state in [(2027, EvaluationState.ACCEPTED), (2028, EvaluationState.REJECTED)]:
            Evaluation.objects.create(
                agreement=ds.agreements["ag3"],
                fiscal_year=year,
                due_on=datetime.date(year + 1, 6, 30),
                state=state,
            )
        table = analytics.multi_year_security(Filters())["evaluations"]
        counts = dict(table.rows)
        assert counts["Acceptée"] == 1 and counts["Rejetée"] == 1 and counts["Attendue"] == 0
        only_2027 = analytics.multi_year_security(Filters(fiscal_year=2027))["evaluations"]
        assert only_2027.total == ["Total", 1]

    def test_residents_part(self, ds, panel_member):
        from calls.models import Panel

        panel = Panel.objects.create(
            call=ds.c2,
            voting_opens_at=datetime.datetime(2026, 3, 1, tzinfo=PARIS),
            voting_closes_at=datetime.datetime(2026, 3, 15, tzinfo=PARIS),
        )
        seat = PanelMember.objects.create(panel=panel, user=panel_member, college="residents")
        Ballot.objects.create(call=ds.c2, member=seat)
        for state in (Challenge.State.APPROVED, Challenge.State.APPROVED, Challenge.State.REJECTED):
            Challenge.objects.create(
                call=ds.c2, qpv=ds.q2, title="Moins de blattes", description="…", state=state
            )
        PanelAssessment.objects.create(
            application=ds.apps["a3"],
            member=seat,
            fiscal_year=2026,
            rating=PanelAssessment.Rating.MEETS,
        )
        result = analytics.residents_part(Filters())
        values = dict(result["table"].rows)
        assert values["Solutions attendues proposées"] == 3
        assert values["Solutions attendues retenues"] == 2
        assert values["Bulletins de vote"] == 1
        assert values["Appréciations du panel"] == 1
        assert result["money"] == D("5000.01")
        assert result["share"] == D("35.7")  # 5 000,01 of 14 000,01
        assert analytics.residents_part(Filters(fiscal_year=2027))["ballots"] == 0
        assert Role.PANEL_MEMBER  # the panel member fixture holds the role
