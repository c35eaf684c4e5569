"""Money helpers. Money is Decimal with 2 places, never float."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def to_money(value: Decimal | int | str) -> Decimal:
    """Quantise to cents, rounding half up (the usual rule of French public accounting)."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def split_exact(
    total: Decimal, weights: Sequence[Decimal | int], *, unit: Decimal = CENT
) -> list[Decimal]:
    """Split `total` in parts proportional to `weights`, in multiples of `unit`, summing exactly.

    Largest-remainder rule: each part is floored to the unit, then the units left over go one by
    one to the parts with the largest remainders (ties: the earliest part). Deterministic.
    """
    total = to_money(total)
    weights = [Decimal(w) for w in weights]
    if not weights:
        raise ValueError("at least one weight is needed")
    if any(w < 0 for w in weights):
        raise ValueError("weights must not be negative")
    weight_sum = sum(weights)
    if weight_sum == 0:
        raise ValueError("weights must not all be zero")
    units_total = (total / unit).to_integral_value()
    if units_total * unit != total:
        raise ValueError("total is not a multiple of the unit")
    raw = [units_total * w / weight_sum for w in weights]
    floors = [int(r) for r in raw]
    left = int(units_total) - sum(floors)
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return [to_money(f * unit) for f in floors]
