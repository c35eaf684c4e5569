"""Certified float runs of the Method of Equal Shares (approval ballots, cost utilities) for
the Add1 completion of `grants.equal_shares`: `FloatMes` runs the rule in float64 for a whole
stretch of shares at once and claims an outcome only when every decision holds for all budgets
within a rigorous error bound (docs/decisions/2026-12-06-fast-equal-shares.md, point 3).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt

from grants.equal_shares_stretch import (
    BRANCHES,
    JOIN,
    Contender,
    Stretch,
    cheapest_group,
    group_ceiling,
    lowest_high,
    possible_first,
)

if TYPE_CHECKING:
    from grants.equal_shares import ApprovalMes

_ZERO = Fraction(0)
_EPS = float(np.finfo(np.float64).eps)
_ABOVE = 1 + 1e-9  # a float comparison is trusted only with this relative margin
_INF = float("inf")
_FEW = 40  # prices over at most this many classes are computed in plain floats, not numpy

# The classes of a project's supporters: (each supporter's class, the classes present).
_Shape = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]


@functools.lru_cache(maxsize=4096)
def _unit(n: int) -> Fraction:
    """1 / n (cached: the exact price of a project whose n payers all pay cost / n)."""
    return Fraction(1, n)


def _water_fill(cost: float, n: int, pairs: list[tuple[float, int]]) -> tuple[float, int, int]:
    """Payment level of a project of `cost` whose n supporters hold the budgets of `pairs`
    ((budget, how many hold it), poorest first): the poorest pay all they have while the others'
    equal part is above it. Returns (t, index of the first budget >= t, how many pay t), or
    (+inf, 0, 0) when the budgets cannot pay the cost. Plain floats: the classes are few
    (5-35 on a city-wide budget), where numpy's per-call cost dominates; the sums are the same
    left-to-right float sums as numpy's cumsum, within the same rounding bound."""
    running = 0.0
    payers = n
    for k, (value, count) in enumerate(pairs):
        t = (cost - running) / payers
        if t <= value:
            return t, k, payers
        running += value * count
        payers -= count
    return _INF, 0, 0


def _water_fill_many(
    cost: float, n: int, budget: npt.NDArray[np.float64], weight: npt.NDArray[np.int64]
) -> tuple[float, int, float, int, float]:
    """`_water_fill` for many classes (numpy), unsorted `budget`: (t, k, the k-th smallest
    budget, how many pay t, the total of the budgets), t = +inf when they cannot pay."""
    order = budget.argsort(kind="stable")
    budget, weight = budget[order], weight[order]
    paid = budget * weight
    running = paid.cumsum()
    payers = n - (weight.cumsum() - weight)
    t = (cost - (running - paid)) / payers
    k = int((t <= budget).argmax())
    total = float(running[-1])
    if not t[k] <= budget[k]:
        return _INF, 0, 0.0, 0, total
    return float(t[k]), k, float(budget[k]), int(payers[k]), total


@dataclass
class FloatRun:
    """A run of the bare rule computed in floats, with `certain` True when every decision of
    the run (which projects are funded, which are unaffordable) held with a margin larger than
    a rigorous bound of the float errors; then `selected` holds exactly the projects the exact
    rule funds (possibly in another order, see `FloatMes.run`). When `certain` is False nothing
    is claimed and the caller runs the exact engine."""

    selected: list[int]
    spent: Fraction
    certain: bool
    over: bool = False
    # Every funded set the shares of the stretch may have (one unless the run was certified as
    # `passing`: several sets, none of them over the cap nor final, see `FloatMes.run`).
    sets: list[frozenset[int]] = field(default_factory=list)
    # The groups of projects funded, in order, before the run branched or gave up: the exact
    # run funds them first at every share of the stretch (see `FloatMes.run`'s `prefix`).
    prefix: list[list[int]] = field(default_factory=list)


@dataclass
class _FloatState:
    """The state of a float run. Voters are kept in classes of equal float budget and error
    (`cls[voter]`); class 0 holds the voters certainly left with exactly nothing, class 1
    those never charged. Per class: `budget`, `error` (a bound of |float − exact budget| for
    every share of the stretch), and `low` = budget − error, `high` = budget + error (the same
    float operations, done once per class instead of at every price); `size` classes are in
    use. Per project: a lower bound of rho
    (+inf once funded or unaffordable) and whether its supporters are all untouched (still
    holding exactly the starting share): bit j of `untouched`, a Python int (one `&` per
    charge instead of a numpy call)."""

    cls: npt.NDArray[np.int64]
    budget: npt.NDArray[np.float64]
    error: npt.NDArray[np.float64]
    low: npt.NDArray[np.float64]
    high: npt.NDArray[np.float64]
    size: int
    lower: npt.NDArray[np.float64]
    untouched: int
    # Prices computed since the last charge of a project sharing a supporter: still exact.
    priced: dict[int, Contender] = field(default_factory=dict)
    # The classes of a project's supporters found when it was last priced (plain-float path),
    # still valid on the same terms: (their classes, the classes present), for its charge.
    shapes: dict[int, _Shape] = field(default_factory=dict)

    def copy(self) -> _FloatState:
        return _FloatState(
            cls=self.cls.copy(),
            budget=self.budget.copy(),
            error=self.error.copy(),
            low=self.low.copy(),
            high=self.high.copy(),
            size=self.size,
            lower=self.lower.copy(),
            untouched=self.untouched,
            priced=dict(self.priced),
            shapes=dict(self.shapes),
        )

    def classes(
        self, supporters: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """The classes among `supporters` and how many of them are in each; and the
        supporters' classes."""
        before = self.cls[supporters]
        counts = np.bincount(before)
        # nonzero over a bool view is about twice as fast as over the counts themselves (the
        # class range grows to hundreds or thousands during a run).
        present = counts.astype(bool).nonzero()[0]
        return present, counts[present], before

    def add_classes(
        self,
        budget: npt.NDArray[np.float64] | list[float],
        error: npt.NDArray[np.float64] | list[float],
        low: list[float] | None = None,
        high: list[float] | None = None,
    ) -> npt.NDArray[np.int64]:
        """New classes with these budgets and errors (and their budget − error, budget + error
        when given, else computed here); their numbers."""
        start, end = self.size, self.size + len(budget)
        if end > len(self.budget):
            grown = max(2 * len(self.budget), end)
            self.budget = np.resize(self.budget, grown)
            self.error = np.resize(self.error, grown)
            self.low = np.resize(self.low, grown)
            self.high = np.resize(self.high, grown)
        if low is None or high is None:
            self.budget[start:end] = budget
            self.error[start:end] = error
            self.low[start:end] = self.budget[start:end] - self.error[start:end]
            self.high[start:end] = self.budget[start:end] + self.error[start:end]
        else:
            self.budget[start:end] = budget
            self.error[start:end] = error
            self.low[start:end] = low
            self.high[start:end] = high
        self.size = end
        return np.arange(start, end)


class FloatMes:
    """The same election as `ApprovalMes`, for fast runs in float64 with an error bound.

    Budgets are floats, one per class of voters with the same history (`_FloatState`); each
    class's error bounds |float budget − exact budget| of its voters. Each price is computed
    for the float budgets shifted by +error and −error (prices only decrease when budgets
    grow), widened by a bound of the rounding of the computation itself; a decision is taken
    only when it holds for every budget within the errors, otherwise the run gives up
    (`certain=False`).
    """

    def __init__(self, engine: ApprovalMes) -> None:
        self.engine = engine
        self.costs = [float(c) for c in engine.costs]
        self.cents = [int(c * 100) for c in engine.costs]
        if any(Fraction(c, 100) != cost for c, cost in zip(self.cents, engine.costs, strict=True)):
            raise ValueError("project costs must be whole cents")
        n_projects = len(engine.costs)
        # Which projects share a supporter.
        ballots = np.zeros((engine.n_voters, n_projects), dtype=bool)
        for j, sup in enumerate(engine.supporters):
            ballots[sup, j] = True
        self.overlap = np.zeros((n_projects, n_projects), dtype=bool)
        for j, sup in enumerate(engine.supporters):
            self.overlap[j] = ballots[sup].any(axis=0)
            self.overlap[j, j] = True
        # Per project, the bits of the projects sharing no supporter with it.
        everyone = (1 << n_projects) - 1
        self.apart = [
            everyone & ~sum(1 << k for k in np.flatnonzero(row).tolist()) for row in self.overlap
        ]
        self.neighbours = [frozenset(np.flatnonzero(row).tolist()) for row in self.overlap]

    def _interval(
        self,
        j: int,
        low: list[float],
        high: list[float],
        weight: list[int],
    ) -> tuple[float, float, bool] | None | Literal[False]:
        """(lowest, highest) possible exact payment level t of project j whose supporters hold
        budget ± error (`low` = budget − error, `high` = budget + error; `weight` of them each), and whether every supporter can certainly
        pay cost / supporters (then t is exactly that, for all budgets within the errors);
        None when certainly unaffordable. When affordability cannot be decided, the highest
        level is +inf (and the lowest one bounds the price if it is affordable); False when a
        rounding edge leaves nothing certain."""
        n = len(self.engine.supporters[j])
        cost = self.costs[j]
        # Exact budgets lie in [budget - error, budget + error] (and are never negative): the
        # lowest price is the one with every budget at its highest, the highest price the
        # other way round.
        rich = sorted(zip(high, weight, strict=True))
        rich_total = 0.0
        for value, count in rich:
            rich_total += value * count
        rounding = 4 * (n + 4) * _EPS * (cost + rich_total)
        if rich_total + rounding < cost:
            return None
        poor = sorted(zip(low, weight, strict=True))
        if poor[0][0] < 0:  # never negative: the same list as clipping each then sorting
            poor = sorted([(v if v > 0 else 0.0, w) for v, w in poor])
        poor_total = 0.0
        for value, count in poor:
            poor_total += value * count
        t_low, k_low, payers_low = _water_fill(cost, n, rich)
        if poor_total - rounding < cost:  # perhaps unaffordable
            if t_low != _INF:
                return t_low - rounding / payers_low, _INF, False
            return cost / n * (1 - 4 * _EPS), _INF, False
        t_high, k_high, payers_high = _water_fill(cost, n, poor)
        if t_low == _INF or t_high == _INF:
            return False
        room = rounding / min(payers_low, payers_high)
        everyone_pays = k_high == 0 and t_high + room <= poor[0][0]
        return t_low - room, t_high + room, everyone_pays

    def _interval_many(
        self,
        n: int,
        cost: float,
        low: npt.NDArray[np.float64],
        high: npt.NDArray[np.float64],
        weight: npt.NDArray[np.int64],
    ) -> tuple[float, float, bool] | None | Literal[False]:
        """`_interval` with numpy, for many classes (same computation, same bounds)."""
        t_low, _, _, payers_low, rich_total = _water_fill_many(cost, n, high, weight)
        rounding = 4 * (n + 4) * _EPS * (cost + rich_total)
        if rich_total + rounding < cost:
            return None
        poor_budget = np.maximum(low, 0.0)
        t_high, k_high, poor_k, payers_high, poor_total = _water_fill_many(
            cost, n, poor_budget, weight
        )
        if poor_total - rounding < cost:  # perhaps unaffordable
            if t_low != _INF:
                return t_low - rounding / payers_low, _INF, False
            return cost / n * (1 - 4 * _EPS), _INF, False
        if t_low == _INF or t_high == _INF:
            return False
        room = rounding / min(payers_low, payers_high)
        everyone_pays = k_high == 0 and t_high + room <= poor_k
        return t_low - room, t_high + room, everyone_pays

    def _contender(
        self, state: _FloatState, j: int, stretch: Stretch
    ) -> Contender | None | Literal[False]:
        """Project j priced for every budget within the errors; None when certainly
        unaffordable; its highest price is +inf when it may be unaffordable."""
        engine = self.engine
        sup = engine.supporters[j]
        cost = self.costs[j]
        rank = engine.rank[j]
        if state.untouched >> j & 1:
            # All its supporters hold exactly the starting share: the exact price is
            # rho = 1 / supporters (each pays cost / supporters) whatever the share in the
            # stretch, so exact ties are decided exactly.
            n = len(sup)
            exact = _unit(n)
            rho = float(exact)
            t = cost / n
            # share * n >= cost, in integers: share = num / den, cost = cents / 100.
            cents = self.cents[j] * stretch.den
            if not (stretch.low * n > cost * _ABOVE or stretch.num * n * 100 >= cents):
                if stretch.high * n * _ABOVE < cost or stretch.top * n * 100 < cents:
                    return None  # unaffordable at every share
                # Affordable at some shares only: rho is 1 / n where it is.
                return (_INF, rank, None, rho * (1 - 4 * _EPS), j, t, _INF)
            return (rho * (1 + 4 * _EPS), rank, exact, rho * (1 - 4 * _EPS), j, t, t)
        present, weight, before = state.classes(sup)
        zeros = int(weight[0]) if present[0] == 0 else 0  # certainly at zero: pay nothing
        payers = len(sup) - zeros
        if not payers:
            return None
        start = 1 if zeros else 0
        # When all the others can certainly pay cost / n', t = cost / n' and rho = 1 / n'.
        t = cost / payers
        if len(present) <= _FEW:  # plain floats (see `_water_fill`)
            state.shapes[j] = (before, present)
            low = state.low[present].tolist()
            poorest = min(low[start:])
            if poorest < t * (1 + 8 * _EPS):
                interval = self._interval(j, low, state.high[present].tolist(), weight.tolist())
        else:
            lows = state.low[present]
            poorest = float(lows[start:].min())
            if poorest < t * (1 + 8 * _EPS):
                highs = state.high[present]
                interval = self._interval_many(len(sup), cost, lows, highs, weight)
        if poorest >= t * (1 + 8 * _EPS):
            exact = _unit(payers)
            rho = float(exact)
            lo_rho, hi_rho = rho * (1 - 4 * _EPS), rho * (1 + 4 * _EPS)
            return (hi_rho, rank, exact, lo_rho, j, t * (1 - 2 * _EPS), t * (1 + 2 * _EPS))
        if interval is None or interval is False:
            return interval
        low, high, everyone_pays = interval
        lo_rho = low / cost * (1 - 4 * _EPS)
        hi_rho = _INF if high == _INF else high / cost * (1 + 4 * _EPS)
        if everyone_pays:  # every supporter pays cost / n: rho is exactly 1 / n
            exact_rho = _unit(len(sup))
            lo_rho = float(exact_rho) * (1 - 4 * _EPS)
            hi_rho = float(exact_rho) * (1 + 4 * _EPS)
            return (hi_rho, rank, exact_rho, lo_rho, j, low, high)
        return (hi_rho, rank, None, lo_rho, j, low, high)

    def _price_up_to(
        self,
        state: _FloatState,
        order: list[int],
        position: int,
        contenders: list[Contender],
        stretch: Stretch,
        *,
        group: bool,
    ) -> int | None:
        """Price the projects of `order` from `position` on while their lower bound of rho is
        not above the lowest highest price of the contenders (with `group`: the
        `group_ceiling`): lazy pricing, the others certainly cost more. The position reached,
        or None when a rounding edge leaves a price uncertain."""
        limit = group_ceiling(contenders) if group else lowest_high(contenders)
        while position < len(order):
            j = order[position]
            bound = float(state.lower[j])
            if bound == _INF:
                break
            if bound > limit:
                if not group:
                    break
                limit = group_ceiling(contenders)  # only grows as contenders come in
                if bound > limit:
                    break
            position += 1
            cached = state.priced.get(j)
            contender = self._contender(state, j, stretch) if cached is None else cached
            if contender is None:
                state.lower[j] = _INF  # budgets only decrease: unaffordable for good
                continue
            if contender is False:
                return None
            state.lower[j] = contender[3]
            state.priced[j] = contender
            contenders.append(contender)
            if not group:
                limit = min(limit, contender[0])
        return position

    def _charge(self, state: _FloatState, contender: Contender, middle: float) -> None:
        """The supporters of the funded project pay min(budget, t) for t within its interval:
        each class of them becomes a new class (or class 0 when it certainly paid all)."""
        _, _, _, _, pid, low, high = contender
        t = (low + high) / 2
        sup = self.engine.supporters[pid]
        shape = state.shapes.get(pid)
        if shape is None:
            before = state.cls[sup]
            present = np.bincount(before).astype(bool).nonzero()[0]
        else:
            before, present = shape
        # Paying min(budget, t) is 1-Lipschitz in both: the error grows by half the price
        # interval (plus rounding), except for whoever certainly paid all (exactly zero left).
        grow = (high - low) / 2 + 2 * _EPS * middle
        # Old class -> new class (only the entries of `present` are set, and read).
        remap = np.empty(int(present[-1]) + 1, dtype=np.int64)
        if len(present) <= _FEW:  # plain floats, the same operations
            budgets, errors = state.budget[present].tolist(), state.error[present].tolist()
            left: list[float] = []
            wider: list[float] = []
            lows: list[float] = []
            highs: list[float] = []
            moved: list[int] = []
            size = state.size
            for k, b, e in zip(present.tolist(), budgets, errors, strict=True):
                if k == 0 or b + e < low:
                    moved.append(0)
                else:
                    moved.append(size + len(left))
                    b = b - t if b > t else 0.0
                    e = e + grow
                    left.append(b)
                    wider.append(e)
                    lows.append(b - e)
                    highs.append(b + e)
            state.add_classes(left, wider, lows, highs)
            remap[present] = moved
        else:
            budget, error = state.budget[present], state.error[present]
            target = state.add_classes(np.maximum(budget - t, 0.0), error + grow)
            target[(budget + error < low) | (present == 0)] = 0
            remap[present] = target
        state.cls[sup] = remap[before]
        state.untouched &= self.apart[pid]
        # Only the projects sharing a supporter with it (and itself) change price. (The priced
        # projects are few, their neighbours many: test each priced one.)
        neighbours, priced, shapes = self.neighbours[pid], state.priced, state.shapes
        for j in [j for j in priced if j in neighbours]:
            del priced[j]
        for j in [j for j in shapes if j in neighbours]:
            del shapes[j]
        state.lower[pid] = _INF

    def run(
        self,
        share: Fraction,
        cap: Fraction | None = None,
        spread: Fraction = _ZERO,
        prefix: Sequence[Sequence[int]] = (),
        passing: Callable[[list[int], Fraction], bool] | None = None,
    ) -> FloatRun:
        """The bare rule for every share in [share, share + spread] at once: when `certain`,
        all those shares fund exactly the projects of `selected` (each voter's exact budget
        starts within its error of the float one, and every decision holds for all budgets
        within the errors).

        When the cheapest project cannot be told apart from others:
        - if those close contenders (the `group`) have pairwise disjoint supporters and every
          other project certainly costs more than all of them, they are all funded, one after
          the other in whatever order the exact prices give: funding one changes no other's
          price and the others only get dearer, so the same projects are funded with the same
          payments whatever that order;
        - otherwise the run branches on each project that may be the cheapest (every share of
          the stretch follows one of the branches; one that may be unaffordable at some shares
          is bounded by the certainly affordable cheapest, see `_branch`) and is certain only
          when every branch is and all of them fund the same set (or all overspend the cap,
          or all pass, see `passing`). Branches that come to fund the same projects join
          again: one run goes on from the hull of their states (`_hull`).
        Only the order of `selected` may then differ from the exact run's, never the set.

        `prefix`: the `FloatRun.prefix` of a run over a stretch containing this one. Those
        groups are funded first at every share of that stretch, hence of this one: they are
        replayed (priced and charged with this stretch's tighter errors, no search for the
        cheapest) before the run goes on as usual; if a replayed price is uncertain, the run
        starts again without the prefix.

        `passing(selected, spent)`: whether the Add1 loop goes on past a share with that
        outcome (within the cap and not final). When every branch's outcome passes, the run is
        certain even if the branches fund different sets: every share of the stretch then has
        one of those outcomes, so the loop passes every share of it (`sets` lists them)."""
        stretch = Stretch(share, spread, float(share + spread / 2), None, passing=passing)
        stretch.cap = None if cap is None else math.floor(cap * 100)
        stretch.low, stretch.high = float(share), float(share + spread)
        stretch.den = math.lcm(share.denominator, spread.denominator)
        stretch.num = share.numerator * (stretch.den // share.denominator)
        stretch.top = stretch.num + spread.numerator * (stretch.den // spread.denominator)
        state = self._start(stretch)
        replayed = self._replay(state, prefix, stretch)
        if replayed is None:
            state, replayed, stretch.prefix = self._start(stretch), ([], 0), []
        selected, spent = replayed
        if stretch.cap is not None and spent > stretch.cap:
            certain = stretch.add(selected, spent, over=True)
        else:
            certain = self._finish(state, selected, spent, stretch)
        if not certain:
            return FloatRun([], _ZERO, certain=False, prefix=stretch.prefix)
        first = stretch.leaves[0]
        sets = list({frozenset(leaf[0]) for leaf in stretch.leaves})
        return FloatRun(
            first[0], Fraction(first[1], 100), True, first[2], sets, prefix=stretch.prefix
        )

    def _replay(
        self, state: _FloatState, prefix: Sequence[Sequence[int]], stretch: Stretch
    ) -> tuple[list[int], int] | None:
        """Fund the groups of `prefix` one after the other from `state` (each group priced
        before any of it is charged, as `_finish` does); (selected, spent in cents), or None
        when a price is uncertain (a rounding edge, or perhaps unaffordable)."""
        selected: list[int] = []
        spent = 0
        for ids in prefix:
            group: list[Contender] = []
            for j in ids:
                contender = self._contender(state, j, stretch)
                if contender is None or contender is False or contender[0] == _INF:
                    return None
                group.append(contender)
            for contender in group:
                self._charge(state, contender, stretch.middle)
                selected.append(contender[4])
                spent += self.cents[contender[4]]
            stretch.prefix.append(list(ids))
            if stretch.cap is not None and spent > stretch.cap:
                break
        return selected, spent

    def _start(self, stretch: Stretch) -> _FloatState:
        """Every voter at the middle of the stretch, within half its width."""
        engine = self.engine
        fmiddle = stretch.middle
        n_voters, n_projects = engine.n_voters, len(self.costs)
        lower = np.full(n_projects, _INF)
        lower[engine.candidates] = -1.0
        # float(middle) is middle rounded once; the shares are within spread / 2 of middle.
        start_error = float(stretch.spread) / 2 * (1 + 2 * _EPS) + _EPS * fmiddle
        return _FloatState(
            cls=np.ones(n_voters, dtype=np.int64),
            budget=np.array([0.0, fmiddle] + [0.0] * 62),
            error=np.array([0.0, start_error] + [0.0] * 62),
            low=np.array([0.0, fmiddle - start_error] + [0.0] * 62),
            high=np.array([0.0, fmiddle + start_error] + [0.0] * 62),
            size=2,
            lower=lower,
            untouched=(1 << n_projects) - 1,
        )

    def _finish(
        self, state: _FloatState, selected: list[int], spent: int, stretch: Stretch
    ) -> bool:
        """Continue the run from `state` to its end (every branch of it), adding each outcome
        (selected, spent in cents, over the cap) to `stretch.leaves`; False as soon as the run
        cannot be certified or two outcomes differ."""
        while True:
            step = self._round(state, stretch)
            if step is None:
                return False
            group, branch = step
            if branch:
                return self._branch(state, selected, spent, stretch, group)
            if not group:
                return stretch.add(selected, spent, over=False)
            for contender in group:
                self._charge(state, contender, stretch.middle)
                selected = [*selected, contender[4]]
                spent += self.cents[contender[4]]
            if stretch.cap is not None and spent > stretch.cap:
                return stretch.add(selected, spent, over=True)
            if not stretch.branches:  # still on the one path every share follows
                stretch.prefix.append([c[4] for c in group])

    def _round(self, state: _FloatState, stretch: Stretch) -> tuple[list[Contender], bool] | None:
        """The next decision of the run from `state`: (the group of projects funded next, in
        any order; empty when nothing is affordable any more, False), or (the projects that
        may be the cheapest, True) when the run must branch on them; None when it cannot be
        certified."""
        order: list[int] = state.lower.argsort(kind="stable").tolist()
        contenders: list[Contender] = []
        position = self._price_up_to(state, order, 0, contenders, stretch, group=False)
        if position is None:
            return None
        if not contenders:
            return [], False
        contenders.sort(key=lambda c: (c[0], c[1]))
        first = possible_first(contenders)
        group = first
        if len(first) > 1:
            # Too close to call: price every project that may belong to the group.
            position = self._price_up_to(state, order, position, contenders, stretch, group=True)
            if position is None:
                return None
            group = cheapest_group(contenders)
            if not self._commute(state, group):
                return first, True
        if any(c[0] == _INF for c in group):
            # One of them may be unaffordable at some shares: follow each possibility.
            return first, True
        return group, False

    def _commute(self, state: _FloatState, group: list[Contender]) -> bool:
        """Whether funding the projects of `group` in any order gives each the same price:
        every voter supporting two or more of them certainly has either nothing left (pays
        nothing to any) or enough for the highest price of each (pays exactly that to each,
        whatever the order: the other supporters' payments do not change either)."""
        ids = [c[4] for c in group]
        if int(self.overlap[np.ix_(ids, ids)].sum()) == len(ids):
            return True  # no supporter in common
        if any(c[6] == _INF for c in group):
            return False
        voters = np.concatenate([self.engine.supporters[j] for j in ids])
        highs = np.concatenate(
            [np.full(len(self.engine.supporters[j]), c[6]) for j, c in zip(ids, group, strict=True)]
        )
        order = np.argsort(voters, kind="stable")
        voters, highs = voters[order], highs[order]
        starts = np.flatnonzero(np.concatenate(([True], voters[1:] != voters[:-1])))
        counts = np.diff(starts, append=len(voters))
        load = np.add.reduceat(highs, starts)
        shared = voters[starts][counts > 1]
        load = load[counts > 1]
        classes = state.cls[shared]
        poorest = state.low[classes] / (1 + 8 * _EPS)
        return bool(np.all((classes == 0) | (poorest >= load)))

    def _branch(
        self,
        state: _FloatState,
        selected: list[int],
        spent: int,
        stretch: Stretch,
        first: list[Contender],
    ) -> bool:
        """One branch per project that may be the cheapest: fund it, then go on.

        A project that may be unaffordable at some shares (highest price +inf) is funded in
        its branch only at shares where it is affordable and the cheapest, so its exact price
        there is at most the first contender's (`first[0]`, certainly affordable): that bounds
        its payment level. At shares where it is unaffordable, the exact rule funds another
        project of `first` (every other certainly costs more than `first[0]`), whose branch
        keeps it among the candidates."""
        ceiling = first[0][0]
        if ceiling == _INF or len(first) < 2:
            return False  # nothing certainly affordable to compare with
        stretch.branches += len(first) - 1
        if stretch.branches > BRANCHES:
            return False
        ends: list[tuple[_FloatState, list[int], int]] = []
        for contender in first:
            if contender[6] == _INF:
                cost = self.costs[contender[4]]
                highest = cost * ceiling * (1 + 4 * _EPS)  # rho <= ceiling, t = rho * cost
                contender = (*contender[:6], max(highest, contender[5]))
            branch = state.copy()
            self._charge(branch, contender, stretch.middle)
            cost = self.cents[contender[4]]
            if stretch.cap is not None and spent + cost > stretch.cap:
                if not stretch.add([*selected, contender[4]], spent + cost, over=True):
                    return False
            else:
                ends.append((branch, [*selected, contender[4]], spent + cost))
        # Branches that come to fund the same projects (in another order) join again: the
        # state where they meet is the hull of theirs. The branch that funded the fewest goes
        # on, one certain group at a time, for at most JOIN rounds per branch.
        for _ in range(JOIN * len(ends) if len(ends) > 1 else 0):
            funded = [set(end[1]) for end in ends]
            if all(f == funded[0] for f in funded):
                since = sorted(funded[0].difference(selected))
                joined = self._hull([end[0] for end in ends], since)
                return self._finish(joined, ends[0][1], ends[0][2], stretch)
            behind = min(range(len(ends)), key=lambda k: len(ends[k][1]))
            moved = self._advance(*ends[behind], stretch)
            if moved is None:
                break
            ends[behind] = moved
        return all(self._finish(*end, stretch) for end in ends)

    def _advance(
        self, state: _FloatState, selected: list[int], spent: int, stretch: Stretch
    ) -> tuple[_FloatState, list[int], int] | None:
        """One more round of a branch when it is a single certain group within the cap:
        (state, selected, spent) after it; None otherwise (the state then only knows more
        prices, and goes on with `_finish`)."""
        step = self._round(state, stretch)
        if step is None or step[1] or not step[0]:
            return None
        group = step[0]
        cost = sum(self.cents[c[4]] for c in group)
        if stretch.cap is not None and spent + cost > stretch.cap:
            return None
        for contender in group:
            self._charge(state, contender, stretch.middle)
            selected = [*selected, contender[4]]
        return state, selected, spent + cost

    def _hull(self, states: list[_FloatState], funded: list[int]) -> _FloatState:
        """A state containing each of `states` (the branches of one state after each funded
        the same projects): every voter's exact budget within its error of the float one in
        any of them is within it in the result. Only the supporters of the projects funded
        since the branches split (`funded`) may differ."""
        joined = states[0].copy()
        joined.priced, joined.shapes = {}, {}
        voters = np.unique(np.concatenate([self.engine.supporters[j] for j in funded]))
        lows = [s.budget[s.cls[voters]] - s.error[s.cls[voters]] for s in states]
        highs = [s.budget[s.cls[voters]] + s.error[s.cls[voters]] for s in states]
        low = np.minimum.reduce(lows)
        high = np.maximum.reduce(highs)
        zero = np.logical_and.reduce([s.cls[voters] == 0 for s in states])
        # One class per distinct (low, high) among the voters not certainly at zero everywhere.
        pairs, inverse = np.unique(np.stack((low, high), axis=1), axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        lo, hi = pairs[:, 0], pairs[:, 1]
        middle = (lo + hi) / 2
        # middle ± error covers every [budget - error, budget + error] of the states despite
        # the rounding of those bounds, of middle and of the error.
        error = (hi - lo) / 2 + 8 * _EPS * np.maximum(np.abs(lo), np.abs(hi))
        classes = joined.add_classes(middle, error)
        joined.cls[voters] = np.where(zero, 0, classes[inverse])
        for other in states[1:]:
            joined.untouched &= other.untouched
            np.minimum(joined.lower, other.lower, out=joined.lower)
        return joined
