"""CPO schedule arithmetic: hand-checked cases, properties (hypothesis), refused inputs.

Pure functions: no database. The arithmetic of each hand-checked case is written next to it.
"""

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import DomainError
from core.money import CENT
from cpo.schedules import (
    MAX_YEARS,
    RECOMMENDED_MAX_YEARS,
    future_years_effect,
    instalment_plan,
    split_between_funders,
    yearly_amounts,
)

D = Decimal
EURO = D("1")
FAST = settings(max_examples=60, deadline=None)


def amounts(*values):
    return [D(v) for v in values]


# --- 1. Yearly amounts: hand-checked -----------------------------------------------------------


def test_limits_exposed():
    assert (RECOMMENDED_MAX_YEARS, MAX_YEARS) == (4, 5)


def test_flat_from_first_year():
    assert yearly_amounts(profile="flat", years=3, first_year_amount=D("30000")) == amounts(
        30000, 30000, 30000
    )


def test_flat_total_in_euros_leftover_to_first_year():
    # 100 000 / 3 = 33 333.33… → floors 33 333 × 3 = 99 999; 1 € left, all remainders equal →
    # the earliest year.
    assert yearly_amounts(profile="flat", years=3, total=D("100000")) == amounts(
        33334, 33333, 33333
    )


def test_flat_total_in_cents():
    # 1 000.00 / 3 = 333.333… → 333.33 × 3 = 999.99; the cent left goes to year 1.
    assert yearly_amounts(profile="flat", years=3, total=D("1000.00"), unit=CENT) == amounts(
        "333.34", "333.33", "333.33"
    )


def test_progressive_rate_from_first_year():
    # 10 000; ×1.05 = 10 500; ×1.05² = 11 025; ×1.05³ = 11 576.25 → 11 576 (half up to the euro).
    assert yearly_amounts(
        profile="progressive_rate", years=4, first_year_amount=D("10000"), rate=D("0.05")
    ) == amounts(10000, 10500, 11025, 11576)


def test_rate_rounds_each_year_from_the_unrounded_value():
    # 10 × 1.05^k = 10, 10.5, 11.025, 11.57625 → 10, 11 (half up), 11, 12.
    # Compounding the rounded years would give 10, 11, 11.55 → 12, 12.6 → 13: not what we do.
    assert yearly_amounts(
        profile="progressive_rate", years=4, first_year_amount=D("10"), rate=D("0.05")
    ) == amounts(10, 11, 11, 12)


def test_degressive_rate_from_first_year():
    # 20 000; ×0.9 = 18 000; ×0.81 = 16 200.
    assert yearly_amounts(
        profile="degressive_rate", years=3, first_year_amount=D("20000"), rate=D("0.1")
    ) == amounts(20000, 18000, 16200)


def test_progressive_rate_total_exact():
    # weights 1, 1.1, 1.21 (Σ 3.31); 3 310 × w / 3.31 = 1 000, 1 100, 1 210 exactly.
    assert yearly_amounts(
        profile="progressive_rate", years=3, total=D("3310"), rate=D("0.1")
    ) == amounts(1000, 1100, 1210)


def test_progressive_rate_total_largest_remainder():
    # 1 000 × (1, 1.1, 1.21) / 3.31 = 302.11…, 332.32…, 365.55… → floors 302 + 332 + 365 = 999;
    # the euro left goes to the largest remainder (.55…): year 3.
    assert yearly_amounts(
        profile="progressive_rate", years=3, total=D("1000"), rate=D("0.1")
    ) == amounts(302, 332, 366)


def test_degressive_rate_total():
    # weights 1, 0.5 (Σ 1.5): 900 × 1/1.5 = 600, 900 × 0.5/1.5 = 300.
    assert yearly_amounts(
        profile="degressive_rate", years=2, total=D("900"), rate=D("0.5")
    ) == amounts(600, 300)


def test_progressive_step_from_first_year():
    # 10 000, +1 000, +1 000.
    assert yearly_amounts(
        profile="progressive_step", years=3, first_year_amount=D("10000"), step=D("1000")
    ) == amounts(10000, 11000, 12000)


def test_degressive_step_total():
    # first = (30 000 + 1 000 × 3) / 3 = 11 000; then 10 000, 9 000; Σ 30 000.
    assert yearly_amounts(
        profile="degressive_step", years=3, total=D("30000"), step=D("1000")
    ) == amounts(11000, 10000, 9000)


def test_progressive_step_total_leftover_to_first_year():
    # first = (100 − 10 × 3) / 3 = 23.33…; years 23.33, 33.33, 43.33 → 23 + 33 + 43 = 99;
    # every remainder is .33…: the euro left goes to year 1 → 24, 33, 43 (the step holds to 1 €).
    assert yearly_amounts(
        profile="progressive_step", years=3, total=D("100"), step=D("10")
    ) == amounts(24, 33, 43)


def test_custom_profile():
    assert yearly_amounts(
        profile="custom", years=3, custom=amounts(10000, 12000, 9000), total=D("31000")
    ) == amounts(10000, 12000, 9000)


def test_one_year_agreement():
    assert yearly_amounts(profile="degressive_rate", years=1, total=D("500"), rate=D("0.2")) == [
        D("500")
    ]


# --- 1. Yearly amounts: properties -------------------------------------------------------------

units = st.sampled_from([EURO, CENT])
shaped = st.sampled_from(
    ["flat", "progressive_rate", "degressive_rate", "progressive_step", "degressive_step"]
)


def _direction(profile):
    return -1 if profile.startswith("degressive") else 1


def _assert_shape(profile, result, unit):
    pairs = list(zip(result, result[1:], strict=False))
    if profile == "flat":
        assert max(result) - min(result) <= unit
    elif _direction(profile) > 0:
        assert all(a <= b for a, b in pairs)
    else:
        assert all(a >= b for a, b in pairs)


def _multiples(values, unit):
    return all(v > 0 and v % unit == 0 for v in values)


@st.composite
def total_cases(draw):
    profile = draw(shaped)
    years = draw(st.integers(1, MAX_YEARS))
    unit = draw(units)
    units_total = draw(st.integers(years * 100, 10_000_000))
    params = {}
    if profile.endswith("_rate"):
        top = 9000 if profile.startswith("degressive") else 5000
        params["rate"] = D(draw(st.integers(1, top))) / 10000
        if profile.startswith("degressive"):
            # a total large enough for the last year to get at least one unit
            weights = [(1 - params["rate"]) ** k for k in range(years)]
            units_total = max(units_total, int(sum(weights) / weights[-1]) + 1)
    elif profile.endswith("_step"):
        # a step small enough for every year to stay positive: step × n(n−1)/2 < total
        top = max(1, units_total // (years * years + 1))
        params["step"] = draw(st.integers(1, top)) * unit
    return {"profile": profile, "years": years, "unit": unit, "total": units_total * unit, **params}


@FAST
@given(case=total_cases())
def test_total_is_always_met(case):
    result = yearly_amounts(**case)
    assert len(result) == case["years"]
    assert sum(result) == case["total"]
    assert _multiples(result, case["unit"])
    _assert_shape(case["profile"], result, case["unit"])
    assert yearly_amounts(**case) == result  # deterministic
    if case["profile"].endswith("_step"):
        gaps = [abs(b - a) for a, b in zip(result, result[1:], strict=False)]
        assert all(abs(gap - case["step"]) <= case["unit"] for gap in gaps)


@st.composite
def first_year_cases(draw):
    profile = draw(shaped)
    years = draw(st.integers(1, MAX_YEARS))
    unit = draw(units)
    first_units = draw(st.integers(100, 10_000_000))
    params = {}
    if profile.endswith("_rate"):
        top = 9000 if profile.startswith("degressive") else 5000
        params["rate"] = D(draw(st.integers(1, top))) / 10000
        if profile.startswith("degressive"):
            # keep the last year at least one unit: first × (1 − rate)^(n−1) ≥ 1
            factor = (1 - params["rate"]) ** (years - 1)
            if first_units * factor < 1:
                first_units = int(1 / factor) + 1
    elif profile.endswith("_step"):
        top = first_units - 1 if years == 1 else (first_units - 1) // (years - 1)
        params["step"] = draw(st.integers(1, max(1, top))) * unit
    return {
        "profile": profile,
        "years": years,
        "unit": unit,
        "first_year_amount": first_units * unit,
        **params,
    }


@FAST
@given(case=first_year_cases())
def test_first_year_profiles(case):
    result = yearly_amounts(**case)
    unit, first = case["unit"], case["first_year_amount"]
    assert len(result) == case["years"]
    assert result[0] == first
    assert _multiples(result, unit)
    _assert_shape(case["profile"], result, unit)
    assert yearly_amounts(**case) == result
    direction = _direction(case["profile"])
    for k, amount in enumerate(result):
        if "rate" in case:
            exact = first * (1 + direction * case["rate"]) ** k
            assert amount == exact.quantize(unit, rounding=ROUND_HALF_UP)
        elif "step" in case:
            assert amount == first + direction * k * case["step"]
        else:
            assert amount == first


@FAST
@given(
    unit=units,
    values=st.lists(st.integers(1, 1_000_000), min_size=1, max_size=MAX_YEARS),
)
def test_custom_years_kept_as_given(unit, values):
    custom = [v * unit for v in values]
    result = yearly_amounts(profile="custom", years=len(custom), custom=custom, unit=unit)
    assert result == custom
    assert _multiples(result, unit)


# --- 1. Yearly amounts: refused inputs ---------------------------------------------------------

BAD_YEARLY = [
    ({"profile": "flat", "years": 0, "total": D(100)}, "years"),
    ({"profile": "flat", "years": 6, "total": D(100)}, "years"),
    ({"profile": "flat", "years": True, "total": D(100)}, "years"),
    ({"profile": "wavy", "years": 3, "total": D(100)}, "profile"),
    ({"profile": "flat", "years": 3}, "total"),
    (
        {"profile": "flat", "years": 3, "total": D(300), "first_year_amount": D(100)},
        "first_year_amount",
    ),
    ({"profile": "flat", "years": 3, "total": D(0)}, "total"),
    ({"profile": "flat", "years": 3, "total": D(-300)}, "total"),
    ({"profile": "flat", "years": 3, "first_year_amount": D(0)}, "first_year_amount"),
    ({"profile": "flat", "years": 3, "first_year_amount": D(-5)}, "first_year_amount"),
    ({"profile": "flat", "years": 3, "total": D("300.50")}, "total"),
    ({"profile": "flat", "years": 3, "total": D("300.505"), "unit": CENT}, "total"),
    ({"profile": "flat", "years": 3, "total": 300.0}, "total"),
    ({"profile": "flat", "years": 3, "total": D(300), "unit": D("0.1")}, "unit"),
    ({"profile": "flat", "years": 3, "total": D(2)}, "total"),  # a year would get 0 €
    ({"profile": "degressive_rate", "years": 5, "total": D(500), "rate": D("0.9")}, "total"),
    ({"profile": "flat", "years": 3, "total": D(300), "rate": D("0.1")}, "rate"),
    ({"profile": "progressive_rate", "years": 3, "total": D(300)}, "rate"),
    ({"profile": "progressive_rate", "years": 3, "total": D(300), "rate": D("-0.1")}, "rate"),
    ({"profile": "progressive_rate", "years": 3, "total": D(300), "rate": D(0)}, "rate"),
    ({"profile": "degressive_rate", "years": 3, "total": D(300), "rate": D("-0.1")}, "rate"),
    ({"profile": "degressive_rate", "years": 3, "total": D(300), "rate": D(1)}, "rate"),
    ({"profile": "degressive_rate", "years": 3, "total": D(300), "rate": D("1.5")}, "rate"),
    (
        {"profile": "degressive_rate", "years": 3, "first_year_amount": D(1), "rate": D("0.9")},
        "rate",
    ),
    (
        {
            "profile": "progressive_rate",
            "years": 3,
            "total": D(300),
            "step": D(10),
            "rate": D("0.1"),
        },
        "step",
    ),
    ({"profile": "progressive_step", "years": 3, "total": D(300)}, "step"),
    ({"profile": "progressive_step", "years": 3, "total": D(300), "step": D(-10)}, "step"),
    ({"profile": "degressive_step", "years": 3, "total": D(300), "step": D(-10)}, "step"),
    ({"profile": "degressive_step", "years": 3, "total": D(300), "step": D("10.5")}, "step"),
    (
        {"profile": "degressive_step", "years": 3, "first_year_amount": D(100), "step": D(50)},
        "step",
    ),
    ({"profile": "degressive_step", "years": 3, "total": D(300), "step": D(100)}, "step"),
    ({"profile": "progressive_step", "years": 3, "total": D(300), "step": D(100)}, "step"),
    ({"profile": "custom", "years": 3}, "custom"),
    ({"profile": "custom", "years": 3, "custom": amounts(1, 2)}, "custom"),
    ({"profile": "custom", "years": 2, "custom": amounts(100, -1)}, "custom"),
    ({"profile": "custom", "years": 2, "custom": amounts(100, 0)}, "custom"),
    ({"profile": "custom", "years": 2, "custom": amounts(100, "1.5")}, "custom"),
    ({"profile": "custom", "years": 2, "custom": amounts(100, 200), "total": D(250)}, "custom"),
    ({"profile": "custom", "years": 2, "custom": amounts(100, 200), "rate": D("0.1")}, "rate"),
    ({"profile": "flat", "years": 2, "total": D(200), "custom": amounts(100, 100)}, "custom"),
]


@pytest.mark.parametrize(("kwargs", "field"), BAD_YEARLY)
def test_yearly_refused(kwargs, field):
    with pytest.raises(DomainError) as caught:
        yearly_amounts(**kwargs)
    assert caught.value.field == field
    assert caught.value.errors == {field: [caught.value.message]}


def test_yearly_messages_are_french():
    with pytest.raises(DomainError, match="dégressif doit être positif"):
        yearly_amounts(profile="degressive_rate", years=3, total=D(300), rate=D("-0.1"))
    with pytest.raises(DomainError, match="l'année 3 serait nul ou négatif"):
        yearly_amounts(profile="degressive_step", years=3, first_year_amount=D(100), step=D(50))
    with pytest.raises(DomainError, match="entre 1 et 5 ans"):
        yearly_amounts(profile="flat", years=6, total=D(600))


# --- 2. Instalment plans: hand-checked ---------------------------------------------------------


def test_at_signature_dates():
    (only,) = instalment_plan(
        year_amount=D("30000.00"),
        template="at_signature",
        fiscal_year=2027,
        signature_date=date(2027, 3, 15),
        first_year=True,
    )
    assert (only.kind, only.amount, only.earliest_date) == ("single", D("30000"), date(2027, 3, 15))
    assert only.requires_signature and only.requires_valid_documents
    assert only.requires_evaluation_of is None
    # signed the year before: not before 1 January of the fiscal year
    (early,) = instalment_plan(
        year_amount=D("30000.00"),
        template="at_signature",
        fiscal_year=2027,
        signature_date=date(2026, 12, 1),
    )
    assert early.earliest_date == date(2027, 1, 1)
    assert early.requires_evaluation_of == 2026


def test_advance_balance_first_year():
    # 25 000.01 × 50 % = 12 500.005 → advance floored to 12 500.00; balance 12 500.01.
    advance, balance = instalment_plan(
        year_amount=D("25000.01"), template="advance_balance", fiscal_year=2027, first_year=True
    )
    assert (advance.kind, advance.amount, advance.earliest_date) == (
        "advance",
        D("12500.00"),
        date(2027, 1, 1),
    )
    assert (balance.kind, balance.amount, balance.earliest_date) == (
        "balance",
        D("12500.01"),
        date(2027, 7, 1),
    )
    assert advance.requires_evaluation_of is None and balance.requires_evaluation_of is None


def test_advance_balance_later_year_waits_for_previous_evaluation():
    # 40 000 × 30 % = 12 000; balance 28 000 once the 2027 evaluation is accepted.
    advance, balance = instalment_plan(
        year_amount=D("40000"), template="advance_balance", fiscal_year=2028, advance_percent=D(30)
    )
    assert (advance.amount, balance.amount) == (D("12000"), D("28000"))
    assert advance.requires_evaluation_of is None
    assert balance.requires_evaluation_of == 2027


def test_advance_above_a_raised_cap_is_the_callers_choice():
    advance, balance = instalment_plan(
        year_amount=D("1000"),
        template="advance_balance",
        fiscal_year=2027,
        advance_percent=D(60),
        advance_cap_percent=D(60),
    )
    assert (advance.amount, balance.amount) == (D("600"), D("400"))


def test_quarterly_leftover_cents_to_the_last_quarters():
    # 1 000.02: Q1 = floor(250.005) = 250.00; 750.02 over 3 → 250.00 × 3 + 2 cents, ties to the
    # latest: 250.00, 250.01, 250.01.
    plan = instalment_plan(year_amount=D("1000.02"), template="quarterly", fiscal_year=2027)
    assert [p.amount for p in plan] == amounts("250.00", "250.00", "250.01", "250.01")
    assert [p.earliest_date for p in plan] == [
        date(2027, 1, 1),
        date(2027, 4, 1),
        date(2027, 7, 1),
        date(2027, 10, 1),
    ]
    assert [p.requires_evaluation_of for p in plan] == [None, None, None, 2026]
    assert {p.kind for p in plan} == {"quarter"}


def test_quarterly_after_signature():
    plan = instalment_plan(
        year_amount=D("400"),
        template="quarterly",
        fiscal_year=2027,
        signature_date=date(2027, 5, 10),
        first_year=True,
    )
    assert [p.earliest_date for p in plan] == [
        date(2027, 5, 10),
        date(2027, 5, 10),
        date(2027, 7, 1),
        date(2027, 10, 1),
    ]
    assert all(p.requires_evaluation_of is None for p in plan)


def test_custom_percent_rows():
    # 1 000.01 × 30 % = 300.003 → advance 300.00; 700.01 over 30:40 → 300.004…, 400.005… →
    # 300.00 + 400.00 + 1 cent to the largest remainder (the 40 %) → 400.01.
    plan = instalment_plan(
        year_amount=D("1000.01"),
        template="custom",
        fiscal_year=2027,
        custom=[(D(30), date(2027, 2, 1)), (D(30), None), (D(40), date(2027, 9, 1))],
        custom_as="percent",
    )
    assert [p.amount for p in plan] == amounts("300.00", "300.00", "400.01")
    assert [p.kind for p in plan] == ["advance", "custom", "custom"]
    assert [p.earliest_date for p in plan] == [date(2027, 2, 1), date(2027, 2, 1), date(2027, 9, 1)]
    assert [p.requires_evaluation_of for p in plan] == [None, None, 2026]


def test_custom_amount_rows():
    plan = instalment_plan(
        year_amount=D("10000"),
        template="custom",
        fiscal_year=2027,
        custom=[(D("4000"), date(2027, 1, 15)), (D("6000"), date(2027, 11, 1))],
        unit=EURO,
        first_year=True,
    )
    assert [(p.kind, p.amount) for p in plan] == [("advance", D(4000)), ("custom", D(6000))]


def test_custom_single_row_is_not_an_advance():
    (only,) = instalment_plan(
        year_amount=D("5000"),
        template="custom",
        fiscal_year=2027,
        custom=[(D(100), None)],
        custom_as="percent",
    )
    assert (only.kind, only.amount, only.earliest_date) == ("single", D(5000), date(2027, 1, 1))


# --- 2. Instalment plans: properties -----------------------------------------------------------


@st.composite
def plan_cases(draw):
    unit = draw(units)
    template = draw(st.sampled_from(["at_signature", "advance_balance", "quarterly", "custom"]))
    fiscal_year = draw(st.integers(2025, 2035))
    year_units = draw(st.integers(100, 50_000_000))
    case = {
        "year_amount": year_units * unit,
        "template": template,
        "fiscal_year": fiscal_year,
        "unit": unit,
        "first_year": draw(st.booleans()),
        "signature_date": draw(
            st.none() | st.dates(date(fiscal_year - 1, 1, 1), date(fiscal_year, 12, 31))
        ),
    }
    if template == "advance_balance":
        case["advance_cap_percent"] = draw(st.sampled_from([D(50), D(30), D(100)]))
        case["advance_percent"] = D(draw(st.integers(1, int(case["advance_cap_percent"]) - 1)))
    elif template == "custom":
        count = draw(st.integers(1, 6))
        days = sorted(draw(st.lists(st.integers(0, 364), min_size=count, max_size=count)))
        dates = [
            draw(st.none() | st.just(date.fromordinal(date(fiscal_year, 1, 1).toordinal() + d)))
            for d in days
        ]
        # cuts of 100 % in whole percents, the first at most 50 %
        cuts = sorted(
            draw(st.lists(st.integers(1, 99), min_size=count - 1, max_size=count - 1, unique=True))
        )
        percents = [b - a for a, b in zip([0, *cuts], [*cuts, 100], strict=True)]
        if count > 1 and percents[0] > 50:
            percents = [*reversed(percents)]
        if count > 1 and percents[0] > 50:
            return draw(plan_cases())
        case["custom"] = [(D(p), d) for p, d in zip(percents, dates, strict=True)]
        case["custom_as"] = "percent"
    return case


@settings(max_examples=120, deadline=None)
@given(case=plan_cases())
def test_instalments_always_add_up(case):
    plan = instalment_plan(**case)
    year, unit, fiscal_year = case["year_amount"], case["unit"], case["fiscal_year"]
    assert sum(p.amount for p in plan) == year
    assert _multiples([p.amount for p in plan], unit)
    assert [p.number for p in plan] == list(range(1, len(plan) + 1))
    cap = case.get("advance_cap_percent", D(50))
    if len(plan) > 1:
        assert plan[0].amount * 100 <= year * cap
    dates = [p.earliest_date for p in plan]
    assert dates == sorted(dates)
    assert all(date(fiscal_year, 1, 1) <= d <= date(fiscal_year, 12, 31) for d in dates)
    if case["signature_date"]:
        assert all(d >= case["signature_date"] for d in dates)
    assert all(p.requires_signature and p.requires_valid_documents for p in plan)
    expected = None if case["first_year"] else fiscal_year - 1
    assert plan[-1].requires_evaluation_of == expected
    assert all(p.requires_evaluation_of is None for p in plan[:-1])
    assert instalment_plan(**case) == plan  # deterministic


@FAST
@given(
    unit=units,
    values=st.lists(st.integers(1, 1_000_000), min_size=2, max_size=8),
)
def test_custom_amount_rows_kept_when_the_advance_fits(unit, values):
    values.sort()  # the smallest first: it is at most half of the year
    rows = [(v * unit, None) for v in values]
    year = sum(v for v, _ in rows)
    plan = instalment_plan(
        year_amount=year, template="custom", fiscal_year=2027, custom=rows, unit=unit
    )
    assert [p.amount for p in plan] == [v for v, _ in rows]


# --- 2. Instalment plans: refused inputs -------------------------------------------------------

BASE_PLAN = {"year_amount": D("1000"), "template": "advance_balance", "fiscal_year": 2027}
BAD_PLANS = [
    ({"year_amount": D(0)}, "year_amount"),
    ({"year_amount": D(-10)}, "year_amount"),
    ({"year_amount": D("10.005")}, "year_amount"),
    ({"year_amount": D("10.50"), "unit": EURO}, "year_amount"),
    ({"unit": D("0.5")}, "unit"),
    ({"template": "monthly"}, "template"),
    ({"fiscal_year": "2027"}, "fiscal_year"),
    ({"first_year": "yes"}, "first_year"),
    ({"advance_percent": D(60)}, "advance_percent"),  # above the 50 % of the circulaire
    ({"advance_percent": D(0)}, "advance_percent"),
    ({"advance_percent": D(100), "advance_cap_percent": D(100)}, "advance_percent"),
    ({"advance_cap_percent": D(0)}, "advance_cap_percent"),
    ({"advance_cap_percent": D(120)}, "advance_cap_percent"),
    ({"signature_date": date(2028, 1, 2)}, "signature_date"),
    ({"year_amount": D("0.01")}, "advance_percent"),  # the advance would be 0.00
    ({"template": "quarterly", "year_amount": D("0.03")}, "year_amount"),
    ({"template": "quarterly", "advance_cap_percent": D(20)}, "advance_cap_percent"),
    ({"template": "custom"}, "custom"),
    ({"template": "custom", "custom": []}, "custom"),
    ({"template": "custom", "custom": [(D(500), None), (D(400), None)]}, "custom"),  # Σ ≠ year
    ({"template": "custom", "custom": [(D(1100), None), (D(-100), None)]}, "custom"),
    ({"template": "custom", "custom": [(D(1000), None), (D(0), None)]}, "custom"),
    ({"template": "custom", "custom": [(D(600), None), (D(400), None)]}, "custom"),  # cap
    ({"template": "custom", "custom": [(D("500.001"), None), (D("499.999"), None)]}, "custom"),
    ({"template": "custom", "custom": [(D(500), date(2026, 12, 31)), (D(500), None)]}, "custom"),
    ({"template": "custom", "custom": [(D(500), None), (D(500), date(2028, 1, 1))]}, "custom"),
    (
        {"template": "custom", "custom": [(D(500), date(2027, 6, 1)), (D(500), date(2027, 2, 1))]},
        "custom",
    ),
    ({"template": "custom", "custom": [(D(500), None), (D(500), "2027-02-01")]}, "custom"),
    (
        {"template": "custom", "custom": [(D(50), None), (D(40), None)], "custom_as": "percent"},
        "custom",
    ),
    (
        {"template": "custom", "custom": [(D(60), None), (D(40), None)], "custom_as": "percent"},
        "custom",
    ),
    (
        {"template": "custom", "custom": [(D(50), None), (D(50), None)], "custom_as": "ratio"},
        "custom_as",
    ),
    ({"template": "custom", "custom": [(D(1000), None)] * 13}, "custom"),
]


@pytest.mark.parametrize(("kwargs", "field"), BAD_PLANS)
def test_plan_refused(kwargs, field):
    with pytest.raises(DomainError) as caught:
        instalment_plan(**{**BASE_PLAN, **kwargs})
    assert caught.value.field == field


def test_advance_cap_message_cites_the_circulaire():
    with pytest.raises(DomainError, match=r"50 % du montant de l'année \(circulaire"):
        instalment_plan(**BASE_PLAN, advance_percent=D(60))


# --- 3. Co-funding -----------------------------------------------------------------------------


def test_funders_fractions():
    # 10 000 × 0.5 / 0.3 / 0.2 = 5 000 / 3 000 / 2 000.
    assert split_between_funders(
        D("10000"), [("Ville", D("0.5")), ("État", D("0.3")), ("CAF", D("0.2"))]
    ) == [("Ville", D(5000)), ("État", D(3000)), ("CAF", D(2000))]


def test_funders_tie_goes_to_the_first_listed():
    # 100.01 × 0.5 = 50.005 each → 50.00 + 50.00, the cent left goes to the first funder.
    assert split_between_funders(D("100.01"), [("Ville", D("0.5")), ("État", D("0.5"))]) == [
        ("Ville", D("50.01")),
        ("État", D("50.00")),
    ]


def test_funders_amounts():
    assert split_between_funders(
        D("1000"), [("Ville", D(700)), ("État", D(300))], EURO, shares_as="amount"
    ) == [("Ville", D(700)), ("État", D(300))]


@FAST
@given(
    unit=units,
    year_units=st.integers(20_000, 10_000_000),  # fractions ≥ 0.0001: every part ≥ 1 unit
    weights=st.lists(st.integers(1, 1000), min_size=1, max_size=6),
)
def test_funders_split_exact(unit, year_units, weights):
    # fractions with 4 places summing to exactly 1: the last one takes the rest
    total = sum(weights)
    fractions = [(D(w) / total).quantize(D("0.0001")) for w in weights[:-1]]
    fractions.append(1 - sum(fractions))
    if min(fractions) <= 0:
        return
    year = year_units * unit
    shares = [(f"financeur {i}", fr) for i, fr in enumerate(fractions)]
    result = split_between_funders(year, shares, unit)
    assert sum(part for _, part in result) == year
    assert [name for name, _ in result] == [name for name, _ in shares]
    for (_, part), fraction in zip(result, fractions, strict=True):
        assert part > 0 and part % unit == 0
        assert abs(part - year * fraction) < unit
    assert split_between_funders(year, shares, unit) == result


BAD_FUNDERS = [
    ((D(1000), [("Ville", D("0.5")), ("État", D("0.4"))]), {}, "shares"),
    ((D(1000), [("Ville", D("0.7")), ("État", D("0.4"))]), {}, "shares"),
    ((D(1000), [("Ville", D("1.2")), ("État", D("-0.2"))]), {}, "shares"),
    ((D(1000), []), {}, "shares"),
    ((D(1000), [("Ville", D("0.5")), ("Ville", D("0.5"))]), {}, "shares"),
    ((D(1000), [("", D(1))]), {}, "shares"),
    ((D("0.01"), [("Ville", D("0.5")), ("État", D("0.5"))]), {}, "shares"),  # a part would be 0
    ((D(1000), [("Ville", D(600)), ("État", D(300))]), {"shares_as": "amount"}, "shares"),
    ((D(1000), [("Ville", D(1100)), ("État", D(-100))]), {"shares_as": "amount"}, "shares"),
    ((D(1000), [("Ville", D(1))]), {"shares_as": "percent"}, "shares_as"),
    ((D(0), [("Ville", D(1))]), {}, "year_amount"),
    ((D(1000), [("Ville", D(1))], D("0.05")), {}, "unit"),
]


@pytest.mark.parametrize(("args", "kwargs", "field"), BAD_FUNDERS)
def test_funders_refused(args, kwargs, field):
    with pytest.raises(DomainError) as caught:
        split_between_funders(*args, **kwargs)
    assert caught.value.field == field


# --- 4. What-if on future envelopes ------------------------------------------------------------


def test_future_years_effect():
    rows = future_years_effect(
        years={2028: D(40000), 2027: D(30000)},
        envelopes={2027: D(100000), 2028: D(50000)},
        already_committed={2027: D(60000), 2028: D(20000)},
    )
    # 2027: 100 000 − (60 000 + 30 000) = 10 000 left; 2028: 50 000 − (20 000 + 40 000) = −10 000.
    assert rows == [
        {
            "fiscal_year": 2027,
            "envelope": D(100000),
            "committed_before": D(60000),
            "this_agreement": D(30000),
            "committed_after": D(90000),
            "remaining": D(10000),
            "over": False,
        },
        {
            "fiscal_year": 2028,
            "envelope": D(50000),
            "committed_before": D(20000),
            "this_agreement": D(40000),
            "committed_after": D(60000),
            "remaining": D(-10000),
            "over": True,
        },
    ]


def test_future_year_without_envelope():
    (row,) = future_years_effect(years={2030: D(10)}, envelopes={}, already_committed={})
    assert row["envelope"] is None and row["remaining"] is None and row["over"] is None
    assert row["committed_before"] == 0 and row["committed_after"] == D(10)


@FAST
@given(
    data=st.dictionaries(
        st.integers(2025, 2031),
        st.tuples(*[st.integers(0, 10_000_000)] * 3),
        min_size=1,
        max_size=5,
    )
)
def test_future_years_arithmetic(data):
    years = {y: D(a) for y, (a, _, _) in data.items()}
    envelopes = {y: D(e) for y, (_, e, _) in data.items()}
    committed = {y: D(c) for y, (_, _, c) in data.items()}
    rows = future_years_effect(years=years, envelopes=envelopes, already_committed=committed)
    assert [r["fiscal_year"] for r in rows] == sorted(years)
    for r in rows:
        y = r["fiscal_year"]
        assert r["committed_after"] == committed[y] + years[y]
        assert r["remaining"] == envelopes[y] - committed[y] - years[y]
        assert r["over"] == (r["remaining"] < 0)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"years": {}, "envelopes": {}, "already_committed": {}}, "years"),
        ({"years": {2027: D(-1)}, "envelopes": {}, "already_committed": {}}, "years"),
        ({"years": {2027: D(1)}, "envelopes": {2027: D(-1)}, "already_committed": {}}, "envelopes"),
        (
            {"years": {2027: D(1)}, "envelopes": {}, "already_committed": {"2027": D(1)}},
            "already_committed",
        ),
    ],
)
def test_future_years_refused(kwargs, field):
    with pytest.raises(DomainError) as caught:
        future_years_effect(**kwargs)
    assert caught.value.field == field


def test_advance_interim_balance_hand_checked():
    from cpo.schedules import instalment_plan

    plan = instalment_plan(
        year_amount=Decimal("30000.00"), template="advance_interim_balance", fiscal_year=2027
    )
    assert [(p.kind, p.amount, p.earliest_date, p.requires_evaluation_of) for p in plan] == [
        ("advance", Decimal("15000.00"), date(2027, 1, 1), None),
        ("interim", Decimal("9000.00"), date(2027, 7, 1), None),
        # Not before the interim of 1 July, and once the 2026 evaluation is accepted (issue #16).
        ("balance", Decimal("6000.00"), date(2027, 7, 1), 2026),
    ]
    dates = [p.earliest_date for p in plan]
    assert dates == sorted(dates)
    first = instalment_plan(
        year_amount=Decimal("100.01"),
        template="advance_interim_balance",
        fiscal_year=2026,
        first_year=True,
    )
    assert sum(p.amount for p in first) == Decimal("100.01") and first[2].earliest_date == date(
        2026, 10, 1
    )
