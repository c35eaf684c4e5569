"""Figures of the finance workspace on a known dataset: cards, CP paid by programme, funder and
budget line, AE against envelopes (terminated agreements commit what was paid), the CP forecast
per fiscal year with the what-if of unsigned agreements, fiscal years, keyset pagination."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
import time_machine

from core.models import Funder
from cpo.models import (
    Agreement,
    AgreementFunder,
    AgreementState,
    AgreementYear,
    Instalment,
    InstalmentState,
    Recovery,
    RecoveryState,
)
from finance import selectors as sf
from finance.models import PaymentRun, PaymentRunState

from .. import factories as f

pytestmark = pytest.mark.django_db
A = AgreementState
I = InstalmentState  # noqa: E741
D = Decimal
DAY = datetime.date(2026, 6, 15)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(datetime.datetime(2026, 6, 15, 10, tzinfo=datetime.UTC), tick=False):
        yield


def make_agreement(reference, programme, organisation, state, total, years, funders):
    """An agreement written directly (states and amounts chosen by the test)."""
    agreement = Agreement.objects.create(
        reference=reference,
        organisation=organisation,
        programme=programme,
        kind=Agreement.Kind.AGREEMENT,
        state=state,
        title=f"Action {reference}",
        first_year=min(years),
        duration_years=len(years),
        total_amount=D(total),
        profile="flat",
        instalment_template="advance_balance",
        source=Agreement.Source.IMPORTED,
    )
    for fiscal_year, amount in years.items():
        AgreementYear.objects.create(agreement=agreement, fiscal_year=fiscal_year, amount=D(amount))
    links = {
        funder.name: AgreementFunder.objects.create(agreement=agreement, funder=funder, share=share)
        for funder, share in funders
    }
    return agreement, links


def make_instalment(agreement, link, fiscal_year, amount, state, **kwargs):
    year = agreement.years.get(fiscal_year=fiscal_year)
    number = agreement.instalments.count() + 1
    return Instalment.objects.create(
        agreement=agreement,
        year=year,
        funder=link,
        number=number,
        kind=Instalment.Kind.CUSTOM,
        amount=D(amount),
        earliest_date=kwargs.pop("earliest_date", datetime.date(fiscal_year, 1, 15)),
        state=state,
        **kwargs,
    )


def build_dataset() -> dict:
    """Two programmes of 2026 (and one of 2025), two funders, six agreements in every state that
    matters, instalments paid, due, late, carried, on hold, cancelled. Figures in the tests."""
    state_funder = f.FunderFactory(name="État", kind=Funder.Kind.STATE)
    city = f.FunderFactory(name="Ville", kind=Funder.Kind.MUNICIPALITY)
    line_a = f.BudgetLineFactory(code="BL-A", label="Cohésion sociale", funder=state_funder)
    line_b = f.BudgetLineFactory(code="BL-B", label="Cadre de vie", funder=city)
    p1 = f.ProgrammeFactory(
        name="Contrat de ville", fiscal_year=2026, envelope=D("100000"), budget_line=line_a
    )
    p2 = f.ProgrammeFactory(
        name="Quartiers d'été", fiscal_year=2026, envelope=D("50000"), budget_line=line_b
    )
    f.ProgrammeFactory(name="Ancien", fiscal_year=2025, envelope=D("1"), budget_line=line_b)
    o1, o2 = f.OrganisationFactory(name="Asso Un"), f.OrganisationFactory(name="Asso Deux")

    g1, l1 = make_agreement(
        "CPO-G1",
        p1,
        o1,
        A.ACTIVE,
        "60000",
        {2026: "20000", 2027: "20000", 2028: "20000"},
        [(state_funder, D("1"))],
    )
    s1 = l1["État"]
    i1 = make_instalment(
        g1, s1, 2026, "10000", I.PAID, charged_year=2026, paid_on=datetime.date(2026, 3, 1)
    )
    i2 = make_instalment(g1, s1, 2026, "10000", I.DUE, earliest_date=datetime.date(2026, 6, 10))
    i3 = make_instalment(g1, s1, 2027, "20000", I.PLANNED)
    i4 = make_instalment(g1, s1, 2028, "20000", I.PLANNED)
    i15 = make_instalment(g1, s1, 2026, "2000", I.PLANNED, earliest_date=datetime.date(2026, 6, 30))
    i14 = make_instalment(
        g1,
        s1,
        2026,
        "1000",
        I.APPROVED,
        charged_year=2027,
        is_late=True,
        earliest_date=datetime.date(2026, 5, 1),
    )

    g2, l2 = make_agreement(
        "CPO-G2",
        p1,
        o2,
        A.SUSPENDED,
        "30000",
        {2026: "15000", 2027: "15000"},
        [(state_funder, D("0.5")), (city, D("0.5"))],
    )
    paid_on = datetime.date(2026, 2, 1)
    make_instalment(g2, l2["État"], 2026, "7500", I.PAID, charged_year=2026, paid_on=paid_on)
    make_instalment(g2, l2["Ville"], 2026, "7500", I.PAID, charged_year=2026, paid_on=paid_on)
    hold = "Évaluation 2026 attendue"
    make_instalment(g2, l2["État"], 2027, "7500", I.ON_HOLD, hold_reason=hold)
    make_instalment(g2, l2["Ville"], 2027, "7500", I.ON_HOLD, hold_reason=hold)

    g3, l3 = make_agreement(
        "CPO-G3", p2, o1, A.TERMINATED, "40000", {2026: "40000"}, [(city, D("1"))]
    )
    make_instalment(
        g3, l3["Ville"], 2026, "12000", I.PAID, charged_year=2026, paid_on=datetime.date(2026, 4, 1)
    )
    make_instalment(g3, l3["Ville"], 2026, "28000", I.CANCELLED)

    g4, l4 = make_agreement("CPO-G4", p2, o2, A.COMPLETED, "5000", {2025: "5000"}, [(city, D("1"))])
    make_instalment(
        g4, l4["Ville"], 2025, "5000", I.PAID, charged_year=2025, paid_on=datetime.date(2025, 6, 1)
    )

    g5, l5 = make_agreement(
        "CPO-G5", p2, o1, A.DRAFT, "24000", {2026: "12000", 2027: "12000"}, [(city, D("1"))]
    )
    i12 = make_instalment(g5, l5["Ville"], 2026, "12000", I.PLANNED)
    g6, _l6 = make_agreement(
        "CPO-G6", p1, o2, A.SENT_FOR_SIGNATURE, "9000", {2027: "9000"}, [(state_funder, D("1"))]
    )
    return {
        "p1": p1,
        "p2": p2,
        "g1": g1,
        "g2": g2,
        "g3": g3,
        "g5": g5,
        "g6": g6,
        "i1": i1,
        "i2": i2,
        "i3": i3,
        "i4": i4,
        "i12": i12,
        "i14": i14,
        "i15": i15,
    }


@pytest.fixture
def data():
    return build_dataset()


def test_cards(data):
    PaymentRun.objects.create(reference="LOT-2026-0001", fiscal_year=2026, total=D("1000"))
    exported = PaymentRun.objects.create(
        reference="LOT-2026-0002",
        fiscal_year=2026,
        total=D("5000"),
        paid_total=D("2000"),
        rejected_total=D("1000"),
        state=PaymentRunState.EXPORTED,
    )
    PaymentRun.objects.create(
        reference="LOT-2026-0003", fiscal_year=2026, total=D("9"), state=PaymentRunState.CLOSED
    )
    cards = sf.dashboard_cards(day=DAY)
    # the due one (10 June) and the planned one of 30 June
    assert cards["due_this_month"] == {"count": 2, "amount": D("12000.00")}
    assert cards["to_pay"] == {"count": 2, "amount": D("11000.00")}
    assert cards["late"] == {"count": 1, "amount": D("1000.00")}
    assert cards["on_hold"] == {"count": 2, "amount": D("15000.00")}
    assert cards["paid_this_year"] == {"count": 4, "amount": D("37000.00")}
    assert cards["runs"]["draft"] == {"count": 1, "total": D("1000.00"), "pending": D("1000.00")}
    assert cards["runs"]["approved"]["count"] == 0
    assert cards["runs"]["exported"] == {
        "count": 1,
        "total": exported.total,
        "pending": D("2000.00"),
    }
    assert sf.on_hold_by_reason() == [
        {"reason": "Évaluation 2026 attendue", "count": 2, "amount": D("15000.00")}
    ]


def test_paid_in_year_by_programme_funder_and_budget_line(data):
    paid = sf.paid_in_year(2026)
    assert paid["total"] == D("37000.00")
    assert paid["count"] == 4
    assert [
        (r["agreement__programme__name"], r["count"], r["amount"]) for r in paid["by_programme"]
    ] == [
        ("Contrat de ville", 3, D("25000.00")),
        ("Quartiers d'été", 1, D("12000.00")),
    ]
    assert [(r["funder__funder__name"], r["count"], r["amount"]) for r in paid["by_funder"]] == [
        ("Ville", 2, D("19500.00")),
        ("État", 2, D("17500.00")),
    ]
    assert [
        (r["agreement__programme__budget_line__code"], r["amount"]) for r in paid["by_budget_line"]
    ] == [("BL-A", D("25000.00")), ("BL-B", D("12000.00"))]
    # 2025: only the completed agreement's payment.
    assert sf.paid_in_year(2025)["total"] == D("5000.00")


def test_commitments_against_envelopes(data):
    rows = {r["programme"].name: r for r in sf.commitments_by_programme(2026)}
    assert set(rows) == {"Contrat de ville", "Quartiers d'été"}  # 2025's programme is not shown
    p1 = rows["Contrat de ville"]
    assert p1["envelope"] == D("100000.00")
    assert p1["committed"] == D("90000.00")  # active 60 000 + suspended 30 000
    assert p1["committed_count"] == 2
    assert p1["awaiting_signature"] == D("9000.00")  # sent for signature
    assert p1["available"] == D("10000.00")
    assert p1["percent"] == D("90.0")
    assert not p1["over"]
    p2 = rows["Quartiers d'été"]
    # completed 5 000 + what was paid on the terminated one (12 000), not its 40 000
    assert p2["committed"] == D("17000.00")
    assert p2["awaiting_signature"] == D("24000.00")
    assert p2["available"] == D("33000.00")
    assert p2["percent"] == D("34.0")


def test_commitment_over_envelope_is_flagged(data):
    type(data["p1"]).objects.filter(pk=data["p1"].pk).update(envelope=D("80000"))
    row = next(r for r in sf.commitments_by_programme(2026) if r["programme"].pk == data["p1"].pk)
    assert row["over"]
    assert row["available"] == D("-10000.00")


def test_cp_forecast_per_year_with_what_if(data):
    forecast = sf.cp_forecast()
    assert [(r["year"], r["count"], r["remaining"]) for r in forecast["rows"]] == [
        # the due one and the planned one; the draft agreement's planned one is not counted
        (2026, 2, D("12000.00")),
        (2027, 4, D("36000.00")),  # 20 000 + 1 000 carried from 2026 + 2 × 7 500 on hold
        (2028, 1, D("20000.00")),
    ]
    assert forecast["remaining"] == D("68000.00")
    assert forecast["what_if"] == D("0")
    what_if = sf.cp_forecast(what_if_ids=[data["g5"].pk, data["g6"].pk, data["g1"].pk])
    assert [(r["year"], r["remaining"], r["what_if"], r["total"]) for r in what_if["rows"]] == [
        (2026, D("12000.00"), D("12000.00"), D("24000.00")),
        (2027, D("36000.00"), D("21000.00"), D("57000.00")),
        (2028, D("20000.00"), D("0.00"), D("20000.00")),
    ]
    assert what_if["what_if"] == D("33000.00")  # the signed agreement G1 adds nothing
    assert what_if["total"] == D("101000.00")
    assert list(sf.unsigned_agreements()) == [data["g6"], data["g5"]]


def test_fiscal_years_and_remaining(data):
    rows = {r["year"]: r for r in sf.fiscal_years_overview(day=DAY)}
    assert rows[2026]["remaining_count"] == 3  # due, planned, and the draft's planned one
    assert rows[2026]["remaining_amount"] == D("24000.00")
    assert rows[2027]["remaining_amount"] == D("36000.00")
    assert not rows[2026]["is_closed"]
    assert set(sf.remaining_for_year(2026)) == {data["i2"], data["i12"], data["i15"]}
    assert data["i14"] in set(sf.remaining_for_year(2027))


def test_recovery_totals_and_offset_candidates(data):
    g1 = data["g1"]
    issued = Recovery.objects.create(
        agreement=g1, fiscal_year=2026, reason="Non consommé", unspent=D("500"), amount=D("500")
    )
    Recovery.objects.create(
        agreement=g1,
        fiscal_year=2026,
        reason="Autre",
        unspent=D("300"),
        amount=D("300"),
        state=RecoveryState.COLLECTED,
    )
    totals = sf.recovery_totals()
    assert totals["issued"] == {"count": 1, "amount": D("500.00")}
    assert totals["collected"] == {"count": 1, "amount": D("300.00")}
    assert totals["offset"] == {"count": 0, "amount": D("0.00")}
    # later years only, planned/on hold/due, larger than the recovery
    assert sf.offset_candidates([issued]) == {issued.pk: [data["i3"], data["i4"]]}


def test_keyset_pages_are_stable(data):
    everything = sf.filter_instalments({"state": "all"})
    ordered = list(everything.order_by("earliest_date", "pk"))
    first = sf.instalment_page(everything, size=5)
    assert first.rows == ordered[:5]
    assert first.is_first and first.previous_cursor is None
    second = sf.instalment_page(everything, after=sf.Cursor.decode(first.next_cursor), size=5)
    assert second.rows == ordered[5:10]
    third = sf.instalment_page(everything, after=sf.Cursor.decode(second.next_cursor), size=5)
    assert third.rows == ordered[10:]
    assert third.next_cursor is None
    back = sf.instalment_page(everything, before=sf.Cursor.decode(third.previous_cursor), size=5)
    assert back.rows == ordered[5:10]
    assert back.previous_cursor is not None
    assert sf.Cursor.decode("n'importe quoi") is None


def test_list_filters(data):
    def refs(**filters):
        return {i.pk for i in sf.filter_instalments(filters)}

    assert refs(state="due") == {data["i2"].pk}
    assert refs(state="all", late_only=True) == {data["i14"].pk}
    assert refs(state="all", q="g5") == {data["i12"].pk}
    assert refs(state="all", q="asso deux", programme=data["p1"]) == set(
        data["g2"].instalments.values_list("pk", flat=True)
    )
    assert refs(state="planned", due_by=datetime.date(2027, 12, 31)) == {
        data["i3"].pk,
        data["i12"].pk,
        data["i15"].pk,
    }
    state = Funder.objects.get(name="État")
    assert refs(state="approved", funder=state) == {data["i14"].pk}
    assert sf.payable_criteria(
        {"state": "due", "q": "x", "programme": data["p1"], "late_only": True}
    ) == {"programme": data["p1"].pk, "late_only": True}
