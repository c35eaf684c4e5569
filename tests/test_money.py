from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.money import split_exact, to_money

amounts = st.decimals(min_value=Decimal("0"), max_value=Decimal("10000000"), places=2)
weights = st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=12).filter(
    lambda w: sum(w) > 0
)


@given(total=amounts, weights=weights)
def test_split_sums_exactly_and_is_proportional(total, weights):
    parts = split_exact(total, weights)
    assert sum(parts) == total
    assert all(p >= 0 for p in parts)
    weight_sum = sum(weights)
    for part, w in zip(parts, weights, strict=True):
        exact = total * w / weight_sum
        assert abs(part - exact) < Decimal("0.01")
        if w == 0:
            assert part == 0


@given(total=st.integers(min_value=0, max_value=10_000_000), weights=weights)
def test_split_in_whole_euros(total, weights):
    parts = split_exact(Decimal(total), weights, unit=Decimal("1"))
    assert sum(parts) == total
    assert all(p == p.to_integral_value() for p in parts)


def test_hand_checked_cases():
    assert split_exact(Decimal("100.00"), [1, 1, 1]) == [
        Decimal("33.34"),
        Decimal("33.33"),
        Decimal("33.33"),
    ]
    assert split_exact(Decimal("10"), [1, 2], unit=Decimal("1")) == [
        Decimal("3.00"),
        Decimal("7.00"),
    ]
    assert to_money("2.675") == Decimal("2.68")


def test_bad_inputs():
    with pytest.raises(ValueError):
        split_exact(Decimal("10"), [])
    with pytest.raises(ValueError):
        split_exact(Decimal("10"), [0, 0])
    with pytest.raises(ValueError):
        split_exact(Decimal("10.50"), [1], unit=Decimal("1"))
