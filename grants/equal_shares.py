"""Fast exact engine of the Method of Equal Shares for approval ballots (cost utilities), with the
Add1 completion. Pure functions, no database; `grants.allocation.method_of_equal_shares` calls it.

The outcome is the one of the textbook loop kept in `grants.allocation` (and of pabutools): only
the way to reach it changes. How, and why the outcome is unchanged, is in
docs/decisions/2026-12-06-fast-equal-shares.md. In short:

1. **Interchangeable voters.** With cost utilities every supporter of a project pays the same
   amount `t` (or everything they have left when that is less), so a project's price only
   depends on how many of its supporters hold each remaining budget. Exact runs group voters in
   *classes* of equal remaining budget: a price costs one `numpy.bincount` over the supporters
   plus a water-filling over the few distinct budgets, in exact `Fraction`s.
2. **Lazy prices.** Budgets only decrease during a run, so a price computed earlier is a lower
   bound of the current one: each round re-prices projects in increasing order of that bound and
   stops as soon as the bound exceeds the best price found.
3. **Add1 by certified stretches.** `FloatMes` runs the rule in floats for a whole stretch of
   shares at once, voters grouped in classes of equal float budget, each class carrying a
   rigorous bound of how far its float budget can be from the exact budget of any share of the
   stretch; every decision (cheapest project, unaffordable projects) must hold for all budgets
   within those bounds, else nothing is claimed. Close contenders whose shared supporters can
   pay every price commute (funded together); other close calls are branched on. A certified
   stretch funds one set of projects at every share, so the Add1 loop skips it; what cannot be
   certified is computed exactly.
4. **Early exit.** A run of the Add1 loop stops as soon as it has spent more than the envelope:
   the loop only needs to know that it did.

Every outcome used is either computed in exact arithmetic or certified; the final run, whose
payments are shown to residents, is always exact.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

import numpy as np
import numpy.typing as npt

_ZERO = Fraction(0)
_SMALL = 20_000  # voters × projects under which Add1 starts with an exact run


@dataclass
class MesRun:
    """One exact run of the bare rule at a given share per voter.

    `selected` in the order of selection; `trace[k]` = (payment level t, supporters) of the k-th
    selected project, resolved per voter by `ApprovalMes.payments()`. `over` is True when the run
    stopped early because it overspent its cap.
    """

    share: Fraction
    selected: list[int]
    spent: Fraction
    over: bool = False
    trace: list[tuple[Fraction, npt.NDArray[np.int64]]] = field(default_factory=list)


class ApprovalMes:
    """An approval election prepared for repeated exact runs of the Method of Equal Shares.

    `costs[j]` is the cost of project j (exact), `supporters[j]` the indices of its supporters
    among `n_voters`; `tie_key(j)` orders projects of equal price (smaller first).
    """

    def __init__(
        self,
        costs: Sequence[Fraction],
        supporters: Sequence[Sequence[int]],
        n_voters: int,
        tie_key: Callable[[int], object],
    ) -> None:
        self.costs = list(costs)
        self.n_voters = n_voters
        self.supporters = [np.asarray(sorted(s), dtype=np.int64) for s in supporters]
        keys = [tie_key(j) for j in range(len(self.costs))]
        order = sorted(range(len(self.costs)), key=keys.__getitem__)  # type: ignore[arg-type]
        self.rank = {j: r for r, j in enumerate(order)}
        self.candidates = [j for j in range(len(self.costs)) if len(self.supporters[j])]

    def run(self, share: Fraction, *, cap: Fraction | None = None) -> MesRun:
        """The bare rule with every voter starting from `share`; with `cap`, stop as soon as
        the spending exceeds it (`over=True`)."""
        cls = np.zeros(self.n_voters, dtype=np.int64)
        # Class k: the voters whose remaining budget is cv[k]. cf[k] = float(cv[k]) is correctly
        # rounded, hence monotone: it orders classes exactly except between equal floats.
        cv: list[Fraction] = [share]
        cf: list[float] = [float(share)]
        costs = self.costs
        lower: dict[int, Fraction] = {}  # a lower bound of each project's price rho
        shadow: dict[int, float] = {}  # float(lower[j]), to order the re-pricing
        remaining = set(self.candidates)
        result = MesRun(share=share, selected=[], spent=_ZERO)
        while remaining:
            best: tuple[Fraction, int, int] | None = None
            best_t, best_float = _ZERO, 0.0
            for j in sorted(remaining, key=lambda j: shadow.get(j, -1.0)):
                if best is not None and j in shadow and shadow[j] > best_float:
                    # Lower bounds only grow: this project and the next cost more (floats
                    # are monotone: a float strictly above float(best) means above best).
                    break
                t = self._price(j, cls, cv, cf)
                if t is None:
                    remaining.discard(j)  # budgets only decrease: unaffordable for good
                    continue
                rho = t / costs[j]
                lower[j], shadow[j] = rho, float(rho)
                key = (rho, self.rank[j], j)
                if best is None or key < best:
                    best, best_t, best_float = key, t, shadow[j]
            if best is None:
                break
            pid = best[2]
            self._charge(pid, best_t, cls, cv, cf)
            result.trace.append((best_t, self.supporters[pid]))
            result.selected.append(pid)
            result.spent += costs[pid]
            remaining.discard(pid)
            if cap is not None and result.spent > cap:
                result.over = True
                break
        return result

    def _classes(
        self, j: int, cls: npt.NDArray[np.int64], cv: list[Fraction], cf: list[float]
    ) -> tuple[list[int], npt.NDArray[np.int64]]:
        """The classes among project j's supporters, poorest first, and their sizes."""
        counts = np.bincount(cls[self.supporters[j]])
        present: list[int] = np.flatnonzero(counts).tolist()
        present.sort(key=cf.__getitem__)
        i = 0
        while i < len(present) - 1:
            end = i + 1
            while end < len(present) and cf[present[end]] == cf[present[i]]:
                end += 1
            if end - i > 1:
                present[i:end] = sorted(present[i:end], key=cv.__getitem__)
            i = end
        return present, counts

    def _price(
        self, j: int, cls: npt.NDArray[np.int64], cv: list[Fraction], cf: list[float]
    ) -> Fraction | None:
        """Payment level t of project j: the smallest t with Σ min(budget, t) = cost over its
        supporters (water-filling, poorest first); None when they cannot pay the cost."""
        present, counts = self._classes(j, cls, cv, cf)
        left = self.costs[j]
        n = len(self.supporters[j])
        for k in present:
            v = cv[k]
            if left <= v * n:
                return left / n
            w = int(counts[k])
            left -= w * v
            n -= w
        return None

    def _charge(
        self,
        pid: int,
        t: Fraction,
        cls: npt.NDArray[np.int64],
        cv: list[Fraction],
        cf: list[float],
    ) -> None:
        """The supporters of `pid` pay min(budget, t): new classes for what they have left."""
        present, _ = self._classes(pid, cls, cv, cf)
        remap = np.arange(len(cv), dtype=np.int64)
        zero = len(cv)
        cv.append(_ZERO)
        cf.append(0.0)
        for k in present:
            if cv[k] <= t:
                remap[k] = zero
            else:
                remap[k] = len(cv)
                cv.append(cv[k] - t)
                cf.append(float(cv[-1]))
        sup = self.supporters[pid]
        cls[sup] = remap[cls[sup]]

    def payments(self, run: MesRun) -> dict[int, dict[int, Fraction]]:
        """Project → voter index → exact amount paid from the voter's share, replayed by class
        of equal budget (each supporter pays min(budget, t))."""
        cls = np.zeros(self.n_voters, dtype=np.int64)
        values: list[Fraction] = [run.share]
        result: dict[int, dict[int, Fraction]] = {}
        for pid, (t, sup) in zip(run.selected, run.trace, strict=True):
            before = cls[sup]
            present = np.flatnonzero(np.bincount(before)).tolist()
            remap = np.arange(len(values), dtype=np.int64)
            paid_by_class: dict[int, Fraction] = {}
            for k in present:
                paid_by_class[k] = values[k] if values[k] < t else t
                remap[k] = len(values)
                values.append(values[k] - paid_by_class[k])
            result[pid] = {
                i: paid_by_class[k] for i, k in zip(sup.tolist(), before.tolist(), strict=True)
            }
            cls[sup] = remap[before]
        return result


def add1(
    engine: ApprovalMes,
    share: Fraction,
    budget: Fraction,
    is_exhaustive: Callable[[Sequence[int], Fraction], bool],
    progress: Callable[[int], None] | None = None,
) -> tuple[MesRun, Fraction, int]:
    """The Add1 completion: the run at `share`, then at share + 1, + 2… until the outcome is
    exhaustive or the next one would exceed `budget`; returns (the exact run of the last
    outcome within it, its share, the number of rounds).

    Instead of one run per euro, `FloatMes` certifies the funded set (hence the spending and
    whether it is exhaustive, all this loop looks at) for a whole stretch of shares
    share + 1 … share + width at once; the width doubles after each certified stretch; when a
    stretch cannot be certified its first half is tried, then the rest of it, before widening
    again; those runs resume from the groups of projects the failed run funded first (same
    at every share of it). A single share that cannot be certified is computed by the exact engine."""
    fast = FloatMes(engine)
    start = share
    # Small elections: the exact run at the starting share is cheap, and is the final run when
    # no Add1 round is accepted. Large ones start with a (certified) float run.
    exact_first: MesRun | None = None
    if engine.n_voters * len(engine.candidates) <= _SMALL:
        exact_first = engine.run(share)
        outcome: MesRun | FloatRun = exact_first
    else:
        first = fast.run(share)
        outcome = first if first.certain else engine.run(share)
    selected, spent = outcome.selected, outcome.spent
    rounds = 0
    width = 1
    # `failed`: the last share of a stretch that could not be certified. The next stretches
    # search that one by halves (the outcome changes somewhere in it) before widening again.
    failed: Fraction | None = None
    # Stretches that failed: (first share, last share, prefix of the groups funded first at
    # every share of it). A run inside one of them replays the longest such prefix.
    known: list[tuple[Fraction, Fraction, list[list[int]]]] = []
    while not is_exhaustive(selected, spent):
        if progress is not None:
            progress(rounds)
        low, high = share + 1, share + width
        prefix = max((p for lo, hi, p in known if lo <= low and high <= hi), key=len, default=[])
        stretch = fast.run(low, cap=budget, spread=Fraction(width - 1), prefix=prefix)
        if stretch.certain:
            outcome = stretch
        elif width > 1:
            known = [k for k in known if k[1] >= low] + [(low, high, stretch.prefix)]
            failed = share + width
            width //= 2
            continue
        else:
            outcome = engine.run(share + 1, cap=budget)
        if outcome.over or outcome.spent > budget:
            break  # the outcome at share + 1 overspends: keep the one at share
        selected, spent = outcome.selected, outcome.spent
        if is_exhaustive(selected, spent):
            share, rounds = share + 1, rounds + 1
            break
        share, rounds = share + width, rounds + width
        if failed is not None and failed > share:
            width = int(failed - share)  # the rest of the stretch that failed
        else:
            failed, width = None, width * 2
    run = exact_first if exact_first is not None and share == start else engine.run(share)
    if set(run.selected) != set(selected):  # pragma: no cover - a bug in the certificate
        raise RuntimeError("the certified outcome differs from the exact run")
    return run, share, rounds


# --- Float runs with a certificate ----------------------------------------------------------------

_EPS = float(np.finfo(np.float64).eps)
_ABOVE = 1 + 1e-9  # a float comparison is trusted only with this relative margin
_INF = float("inf")

# A project priced in a float run: (highest rho, tie rank, exact rho when known, lowest rho,
# project, lowest payment level t, highest t).
_Contender = tuple[float, int, Fraction | None, float, int, float, float]


@functools.lru_cache(maxsize=4096)
def _unit(n: int) -> Fraction:
    """1 / n (cached: the exact price of a project whose n payers all pay cost / n)."""
    return Fraction(1, n)


def _water_fill(
    cost: float, n: int, budget: npt.NDArray[np.float64], weight: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.float64], int, npt.NDArray[np.float64], int, float]:
    """Payment level of a project of `cost` whose n supporters hold `budget` (`weight` of
    them each): the poorest pay all they have while the others' equal part is above it.
    Returns the candidate levels t (one per budget, poorest first), the first k where
    t[k] <= budget[k] (0 when none: the caller checks), the sorted budgets, how many pay t,
    and the total of the budgets."""
    order = budget.argsort(kind="stable")
    budget, weight = budget[order], weight[order]
    paid = budget * weight
    running = paid.cumsum()
    payers = n - (weight.cumsum() - weight)
    t = (cost - (running - paid)) / payers
    k = int((t <= budget).argmax())
    return t, k, budget, int(payers[k]), float(running[-1])


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
    # The groups of projects funded, in order, before the run branched or gave up: the exact
    # run funds them first at every share of the stretch (see `FloatMes.run`'s `prefix`).
    prefix: list[list[int]] = field(default_factory=list)


@dataclass
class _FloatState:
    """The state of a float run. Voters are kept in classes of equal float budget and error
    (`cls[voter]`); class 0 holds the voters certainly left with exactly nothing, class 1
    those never charged. Per class: `budget`, `error` (a bound of |float − exact budget| for
    every share of the stretch); `size` classes are in use. Per project: a lower bound of rho
    (+inf once funded or unaffordable) and whether its supporters are all untouched (still
    holding exactly the starting share)."""

    cls: npt.NDArray[np.int64]
    budget: npt.NDArray[np.float64]
    error: npt.NDArray[np.float64]
    size: int
    lower: npt.NDArray[np.float64]
    untouched: npt.NDArray[np.bool_]

    def copy(self) -> _FloatState:
        return _FloatState(
            cls=self.cls.copy(),
            budget=self.budget.copy(),
            error=self.error.copy(),
            size=self.size,
            lower=self.lower.copy(),
            untouched=self.untouched.copy(),
        )

    def classes(
        self, supporters: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """The classes among `supporters` and how many of them are in each."""
        counts = np.bincount(self.cls[supporters])
        present = counts.nonzero()[0]
        return present, counts[present]

    def add_classes(
        self, budget: npt.NDArray[np.float64], error: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.int64]:
        """New classes with these budgets and errors; their numbers."""
        start, end = self.size, self.size + len(budget)
        if end > len(self.budget):
            grown = max(2 * len(self.budget), end)
            self.budget = np.resize(self.budget, grown)
            self.error = np.resize(self.error, grown)
        self.budget[start:end] = budget
        self.error[start:end] = error
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

    def _interval(
        self,
        j: int,
        budget: npt.NDArray[np.float64],
        error: npt.NDArray[np.float64],
        weight: npt.NDArray[np.int64],
    ) -> tuple[float, float, bool] | None | Literal[False]:
        """(lowest, highest) possible exact payment level t of project j whose supporters hold
        `budget` ± `error` (`weight` of them each), and whether every supporter can certainly
        pay cost / supporters (then t is exactly that, for all budgets within the errors);
        None when certainly unaffordable. When affordability cannot be decided, the highest
        level is +inf (and the lowest one bounds the price if it is affordable); False when a
        rounding edge leaves nothing certain."""
        n = len(self.engine.supporters[j])
        cost = self.costs[j]
        # Exact budgets lie in [budget - error, budget + error] (and are never negative): the
        # lowest price is the one with every budget at its highest, the highest price the
        # other way round.
        t_low, k_low, rich, payers_low, rich_total = _water_fill(cost, n, budget + error, weight)
        rounding = 4 * (n + 4) * _EPS * (cost + rich_total)
        if rich_total + rounding < cost:
            return None
        poor_budget = np.maximum(budget - error, 0.0)
        t_high, k_high, poor, payers_high, poor_total = _water_fill(cost, n, poor_budget, weight)
        if poor_total - rounding < cost:  # perhaps unaffordable
            if t_low[k_low] <= rich[k_low]:
                return float(t_low[k_low]) - rounding / payers_low, _INF, False
            return cost / n * (1 - 4 * _EPS), _INF, False
        if not (t_low[k_low] <= rich[k_low] and t_high[k_high] <= poor[k_high]):
            return False
        room = rounding / min(payers_low, payers_high)
        everyone_pays = k_high == 0 and float(t_high[0]) + room <= float(poor[0])
        return float(t_low[k_low]) - room, float(t_high[k_high]) + room, everyone_pays

    def _contender(
        self, state: _FloatState, j: int, stretch: _Stretch
    ) -> _Contender | None | Literal[False]:
        """Project j priced for every budget within the errors; None when certainly
        unaffordable; its highest price is +inf when it may be unaffordable."""
        engine = self.engine
        sup = engine.supporters[j]
        cost = self.costs[j]
        rank = engine.rank[j]
        if state.untouched[j]:
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
        present, weight = state.classes(sup)
        budget, error = state.budget[present], state.error[present]
        zeros = int(weight[0]) if present[0] == 0 else 0  # certainly at zero: pay nothing
        payers = len(sup) - zeros
        if not payers:
            return None
        # When all the others can certainly pay cost / n', t = cost / n' and rho = 1 / n'.
        t = cost / payers
        if float((budget - error)[1 if zeros else 0 :].min()) >= t * (1 + 8 * _EPS):
            exact = _unit(payers)
            rho = float(exact)
            lo_rho, hi_rho = rho * (1 - 4 * _EPS), rho * (1 + 4 * _EPS)
            return (hi_rho, rank, exact, lo_rho, j, t * (1 - 2 * _EPS), t * (1 + 2 * _EPS))
        interval = self._interval(j, budget, error, weight)
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
        contenders: list[_Contender],
        stretch: _Stretch,
        *,
        group: bool,
    ) -> int | None:
        """Price the projects of `order` from `position` on while their lower bound of rho is
        not above the lowest highest price of the contenders (with `group`: the
        `_group_ceiling`): lazy pricing, the others certainly cost more. The position reached,
        or None when a rounding edge leaves a price uncertain."""
        limit = _group_ceiling(contenders) if group else _lowest_high(contenders)
        while position < len(order):
            j = order[position]
            bound = float(state.lower[j])
            if bound == _INF:
                break
            if bound > limit:
                if not group:
                    break
                limit = _group_ceiling(contenders)  # only grows as contenders come in
                if bound > limit:
                    break
            position += 1
            contender = self._contender(state, j, stretch)
            if contender is None:
                state.lower[j] = _INF  # budgets only decrease: unaffordable for good
                continue
            if contender is False:
                return None
            state.lower[j] = contender[3]
            contenders.append(contender)
            if not group:
                limit = min(limit, contender[0])
        return position

    def _charge(self, state: _FloatState, contender: _Contender, middle: float) -> None:
        """The supporters of the funded project pay min(budget, t) for t within its interval:
        each class of them becomes a new class (or class 0 when it certainly paid all)."""
        _, _, _, _, pid, low, high = contender
        t = (low + high) / 2
        sup = self.engine.supporters[pid]
        before = state.cls[sup]
        counts = np.bincount(before)
        present = counts.nonzero()[0]
        budget, error = state.budget[present], state.error[present]
        # Paying min(budget, t) is 1-Lipschitz in both: the error grows by half the price
        # interval (plus rounding), except for whoever certainly paid all (exactly zero left).
        target = state.add_classes(
            np.maximum(budget - t, 0.0), error + ((high - low) / 2 + 2 * _EPS * middle)
        )
        target[(budget + error < low) | (present == 0)] = 0
        remap = np.zeros(len(counts), dtype=np.int64)
        remap[present] = target
        state.cls[sup] = remap[before]
        state.untouched &= ~self.overlap[pid]
        state.lower[pid] = _INF

    def run(
        self,
        share: Fraction,
        cap: Fraction | None = None,
        spread: Fraction = _ZERO,
        prefix: Sequence[Sequence[int]] = (),
    ) -> FloatRun:
        """The bare rule for every share in [share, share + spread] at once: when `certain`,
        all those shares fund exactly the projects of `selected` (each voter's exact budget
        starts within its error of the float one, and every decision holds for all budgets
        within the errors).

        When the cheapest project cannot be told apart from others:
        - if those close contenders (the `_group`) have pairwise disjoint supporters and every
          other project certainly costs more than all of them, they are all funded, one after
          the other in whatever order the exact prices give: funding one changes no other's
          price and the others only get dearer, so the same projects are funded with the same
          payments whatever that order;
        - otherwise the run branches on each project that may be the cheapest (every share of
          the stretch follows one of the branches) and is certain only when every branch is
          and all of them fund the same set (or all overspend the cap).
        Only the order of `selected` may then differ from the exact run's, never the set.

        `prefix`: the `FloatRun.prefix` of a run over a stretch containing this one. Those
        groups are funded first at every share of that stretch, hence of this one: they are
        replayed (priced and charged with this stretch's tighter errors, no search for the
        cheapest) before the run goes on as usual; if a replayed price is uncertain, the run
        starts again without the prefix."""
        stretch = _Stretch(share, spread, float(share + spread / 2), None)
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
        return FloatRun(first[0], Fraction(first[1], 100), True, first[2], stretch.prefix)

    def _replay(
        self, state: _FloatState, prefix: Sequence[Sequence[int]], stretch: _Stretch
    ) -> tuple[list[int], int] | None:
        """Fund the groups of `prefix` one after the other from `state` (each group priced
        before any of it is charged, as `_finish` does); (selected, spent in cents), or None
        when a price is uncertain (a rounding edge, or perhaps unaffordable)."""
        selected: list[int] = []
        spent = 0
        for ids in prefix:
            group: list[_Contender] = []
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

    def _start(self, stretch: _Stretch) -> _FloatState:
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
            size=2,
            lower=lower,
            untouched=np.ones(n_projects, dtype=bool),
        )

    def _finish(
        self, state: _FloatState, selected: list[int], spent: int, stretch: _Stretch
    ) -> bool:
        """Continue the run from `state` to its end (every branch of it), adding each outcome
        (selected, spent in cents, over the cap) to `stretch.leaves`; False as soon as the run
        cannot be certified or two outcomes differ."""
        while True:
            order: list[int] = state.lower.argsort(kind="stable").tolist()
            contenders: list[_Contender] = []
            position = self._price_up_to(state, order, 0, contenders, stretch, group=False)
            if position is None:
                return False
            if not contenders:
                return stretch.add(selected, spent, over=False)
            contenders.sort(key=lambda c: (c[0], c[1]))
            first = _possible_first(contenders)
            group = first
            if len(first) > 1:
                # Too close to call: price every project that may belong to the group.
                position = self._price_up_to(
                    state, order, position, contenders, stretch, group=True
                )
                if position is None:
                    return False
                group = _group(contenders)
                if not self._commute(state, group):
                    return self._branch(state, selected, spent, stretch, first)
            if any(c[0] == _INF for c in group):
                return False  # the cheapest may be unaffordable at some shares
            for contender in group:
                self._charge(state, contender, stretch.middle)
                selected = [*selected, contender[4]]
                spent += self.cents[contender[4]]
            if stretch.cap is not None and spent > stretch.cap:
                return stretch.add(selected, spent, over=True)
            if not stretch.branches:  # still on the one path every share follows
                stretch.prefix.append([c[4] for c in group])

    def _commute(self, state: _FloatState, group: list[_Contender]) -> bool:
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
        poorest = (state.budget[classes] - state.error[classes]) / (1 + 8 * _EPS)
        return bool(np.all((classes == 0) | (poorest >= load)))

    def _branch(
        self,
        state: _FloatState,
        selected: list[int],
        spent: int,
        stretch: _Stretch,
        first: list[_Contender],
    ) -> bool:
        """One branch per project that may be the cheapest: fund it, then go on."""
        if any(c[0] == _INF for c in first):
            return False
        stretch.branches += len(first) - 1
        if stretch.branches > _BRANCHES:
            return False
        for contender in first:
            branch = state.copy()
            self._charge(branch, contender, stretch.middle)
            cost = self.cents[contender[4]]
            if stretch.cap is not None and spent + cost > stretch.cap:
                if not stretch.add([*selected, contender[4]], spent + cost, over=True):
                    return False
            elif not self._finish(branch, [*selected, contender[4]], spent + cost, stretch):
                return False
        return True


_BRANCHES = 6  # at most this many extra branches per float run


@dataclass
class _Stretch:
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

    def add(self, selected: list[int], spent: int, *, over: bool) -> bool:
        """Record one branch's outcome; False when it differs from another's (both over the
        cap count as the same outcome: the Add1 loop stops there)."""
        self.leaves.append((selected, spent, over))
        first_selected, _, first_over = self.leaves[0]
        if over or first_over:
            return over and first_over
        return set(selected) == set(first_selected)


def _lowest_high(contenders: list[_Contender]) -> float:
    return min((c[0] for c in contenders), default=_INF)


def _group_ceiling(contenders: list[_Contender]) -> float:
    """The highest price of the projects that may be the cheapest: starting from the lowest
    highest price, every contender whose lowest price is below the highest price of one
    already counted."""
    ceiling = min(c[0] for c in contenders)
    for contender in sorted(contenders, key=lambda c: c[3]):
        if contender[3] > ceiling:
            break
        ceiling = max(ceiling, contender[0])
    return ceiling


def _group(contenders: list[_Contender]) -> list[_Contender]:
    """The contenders that may be the cheapest (see `_group_ceiling`)."""
    ceiling = _group_ceiling(contenders)
    return [c for c in contenders if c[3] <= ceiling]


def _possible_first(contenders: list[_Contender]) -> list[_Contender]:
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
