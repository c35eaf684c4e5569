"""The bookkeeping of a certified float run's stretch (`grants.equal_shares_float`): the
outcomes of its branches and whether together they tell the Add1 loop what to do at every share
of the stretch, and which priced contenders may be the cheapest
(docs/decisions/2026-12-06-fast-equal-shares.md, « Close calls » and « Third round »)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

INF = float("inf")

# A project priced in a float run: (highest rho, tie rank, exact rho when known, lowest rho,
# project, lowest payment level t, highest t).
Contender = tuple[float, int, Fraction | None, float, int, float, float]

BRANCHES = 6  # at most this many extra branches per float run
JOIN = 6  # rounds per branch to come to the same funded projects as the others


@dataclass
class Stretch:
    """What a float run covers (shares [share, share + spread], float(middle), the cap in
    cents) and the outcomes of its branches."""

    share: Fraction
    spread: Fraction
    middle: float
    cap: int | None
    branches: int = 0
    low: float = 0.0  # float(share), float(share + spread)
    high: float = 0.0
    num: int = 0  # share = num / den, share + spread = top / den
    top: int = 0
    den: int = 1
    leaves: list[tuple[list[int], int, bool]] = field(default_factory=list)
    prefix: list[list[int]] = field(default_factory=list)
    passing: Callable[[list[int], Fraction], bool] | None = None
    # What every outcome recorded so far has in common: all over the cap, all the same set
    # (within the cap), all passing (see `FloatMes.run`).
    all_over: bool = True
    one_set: bool = True
    all_passing: bool = True

    def add(self, selected: list[int], spent: int, *, over: bool) -> bool:
        """Record one branch's outcome; False when the outcomes so far no longer tell the Add1
        loop what to do at every share: they must all be over the cap (the loop stops), or all
        fund the same set, or all pass (`passing`)."""
        self.leaves.append((selected, spent, over))
        self.all_over = self.all_over and over
        self.one_set = self.one_set and not over and set(selected) == set(self.leaves[0][0])
        self.all_passing = (
            self.all_passing
            and self.passing is not None
            and not over
            and self.passing(selected, Fraction(spent, 100))
        )
        return self.all_over or self.one_set or self.all_passing


def lowest_high(contenders: list[Contender]) -> float:
    return min((c[0] for c in contenders), default=INF)


def group_ceiling(contenders: list[Contender]) -> float:
    """The highest price of the projects that may be the cheapest: starting from the lowest
    highest price, every contender whose lowest price is below the highest price of one
    already counted."""
    ceiling = min(c[0] for c in contenders)
    for contender in sorted(contenders, key=lambda c: c[3]):
        if contender[3] > ceiling:
            break
        ceiling = max(ceiling, contender[0])
    return ceiling


def cheapest_group(contenders: list[Contender]) -> list[Contender]:
    """The contenders that may be the cheapest (see `group_ceiling`)."""
    ceiling = group_ceiling(contenders)
    return [c for c in contenders if c[3] <= ceiling]


def possible_first(contenders: list[Contender]) -> list[Contender]:
    """The contenders (sorted by highest rho, then rank) that may be the one the exact rule
    funds: the first, and every other not certainly dearer, unless both prices are exact and
    the comparison (ties by the tie-breaking rank) is done exactly."""
    hi_rho, rank, best_exact, _, _, _, _ = contenders[0]
    first = [contenders[0]]
    for other in contenders[1:]:
        if other[3] > hi_rho:
            continue
        if (
            best_exact is not None
            and other[2] is not None
            and (best_exact, rank) < (other[2], other[1])
        ):
            continue
        first.append(other)
    return first
