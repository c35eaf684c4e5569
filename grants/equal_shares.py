"""Fast exact engine of the Method of Equal Shares for approval ballots (cost utilities), with the
Add1 completion. Pure functions, no database; `grants.allocation.method_of_equal_shares` calls it.

The outcome is the one of the textbook loop kept in `grants.allocation` (and of pabutools): only
the way to reach it changes. How, and why the outcome is unchanged, is in
docs/decisions/2026-12-06-fast-equal-shares.md. In short:

1. **Interchangeable voters.** With cost utilities every supporter of a project pays the same
   amount `t` (or everything they have left when that is less), so the price of a project only
   depends on how many of its supporters hold each remaining budget. Voters are grouped in
   *classes* of equal remaining budget; a price costs one `numpy.bincount` over the supporters
   plus a water-filling over the few distinct budgets, in exact `Fraction`s.
2. **Lazy prices.** Budgets only decrease during a run, so a price computed earlier is a lower
   bound of the current one: each round re-prices projects in increasing order of that bound and
   stops as soon as the bound exceeds the best exact price found.
3. **Add1 by intervals.** Budgets are kept as affine functions `v + β·d` of the extra share `d`
   given to every voter. For a run at share `s` the engine derives, from linear inequalities in
   `d`, the largest whole `m` such that the runs at `s + 1 … s + m` provably make the very same
   choices (same project each round, same voters paying all they have, same projects left
   unaffordable). Add1 then jumps over those rounds: their outcome is known without running them.
4. **Early exit.** A run of the Add1 loop stops as soon as it has spent more than the envelope:
   the loop only needs to know that it did.

Arithmetic is exact throughout (`fractions.Fraction`; numpy only counts voters by class).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import numpy.typing as npt

_ZERO = Fraction(0)
# Float shadows of exact values are only trusted beyond this relative margin (their error is
# below 1e-15 relative): a decision too close to call is always taken in exact arithmetic.
_ABOVE = 1 + 1e-9
_RELATIVE = 1e-9
_ESTIMATE_MARGIN = 1.001

# A condition `a + b·d >= 0` (or `> 0` when strict) on the extra share d >= 0.
_Condition = tuple[Fraction, Fraction, bool]
# A price: payment level t0, its slope τ, the classes paying all they have, the others.
_Price = tuple[Fraction, Fraction, list[int], list[int]]


@dataclass
class MesRun:
    """One run of the bare rule at a given share per voter.

    `selected` in the order of selection; `pays[k]` describes how the k-th selected project was
    paid (payment level t, supporters), resolved per voter by `ApprovalMes.payments()`. `stable` is
    the number of further whole euros per voter for which the outcome provably stays the same
    (None: not computed). `over` is True when the run stopped early because it overspent `cap`.
    """

    share: Fraction
    selected: list[int]
    spent: Fraction
    over: bool = False
    stable: int | None = None
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
        self.keys = [tie_key(j) for j in range(len(self.costs))]
        self.rank = {
            j: r for r, j in enumerate(sorted(range(len(self.costs)), key=self.keys.__getitem__))
        }
        self.candidates = [j for j in range(len(self.costs)) if len(self.supporters[j])]

    # --- one run ---------------------------------------------------------------------------

    def run(
        self, share: Fraction, *, cap: Fraction | None = None, stability: bool = True
    ) -> MesRun:
        """The bare rule with every voter starting from `share`.

        With `cap`, stop as soon as the spending exceeds it (`over=True`). With `stability`,
        compute `stable` (see `MesRun`).
        """
        cls = np.zeros(self.n_voters, dtype=np.int64)
        # Class k: budget cv[k] + cb[k]·d for an extra share d. Class 0 = the untouched share.
        cv: list[Fraction] = [share]
        # cf[k] = float(cv[k]), correctly rounded hence monotone: it orders classes exactly
        # except between equal floats, which are then ordered exactly.
        cf: list[float] = [float(share)]
        cb: list[Fraction] = [Fraction(1)]
        costs = self.costs
        # Lower bound of each project's payment level t, as an affine function t0 + τ·d, and
        # a float shadow of t0 / cost used only to order the re-pricing (never to decide).
        bound: dict[int, tuple[Fraction, Fraction]] = {}
        shadow: dict[int, float] = {}
        remaining = set(self.candidates)
        conditions = _Conditions()
        result = MesRun(share=share, selected=[], spent=_ZERO)
        while remaining:
            order = sorted(remaining, key=lambda j: shadow.get(j, -1.0))
            best: tuple[Fraction, int, int] | None = None
            best_price: _Price | None = None
            best_float = 0.0
            for j in order:
                if best is not None and j in bound and shadow[j] > best_float * _ABOVE:
                    # Lower bounds only grow: this project and the next ones cannot be cheaper.
                    # (The float test is only trusted with a margin far above its error.)
                    break
                price = self._price(j, cls, cv, cb, cf)
                if price is None:
                    remaining.discard(j)
                    bound.pop(j, None)
                    if stability:
                        conditions.exact(self._unaffordable(j, cls, cv, cb))
                    continue
                t0, tau = price[0], price[1]
                bound[j] = (t0, tau)
                rho = t0 / costs[j]
                shadow[j] = float(rho)
                key = (rho, self.rank[j], j)
                if best is None or key < best:
                    best, best_price, best_float = key, price, shadow[j]
            if best is None or best_price is None:
                break
            pid = best[2]
            t0, tau, poor, rich = best_price
            if stability:
                self._selected_conditions(conditions, pid, best_price, cv, cb, bound, remaining)
            # Charge the supporters: the poor pay all they have, the rich pay t0.
            remap = np.arange(len(cv), dtype=np.int64)
            zero = len(cv)
            cv.append(_ZERO)
            cb.append(_ZERO)
            cf.append(0.0)
            for k in poor:
                remap[k] = zero
            for k in rich:
                remap[k] = len(cv)
                cv.append(cv[k] - t0)
                cb.append(cb[k] - tau)
                cf.append(float(cv[-1]))
            sup = self.supporters[pid]
            cls[sup] = remap[cls[sup]]
            result.trace.append((t0, sup))
            result.selected.append(pid)
            result.spent += costs[pid]
            remaining.discard(pid)
            bound.pop(pid, None)
            if cap is not None and result.spent > cap:
                result.over = True
                return result
        if stability:
            result.stable = conditions.largest_whole()
        return result

    def _price(
        self,
        j: int,
        cls: npt.NDArray[np.int64],
        cv: list[Fraction],
        cb: list[Fraction],
        cf: list[float],
    ) -> _Price | None:
        """Payment level t of project j (each supporter pays min(budget, t)), as t0 + τ·d.

        Water-filling over the distinct budgets of the supporters, poorest first; None when the
        supporters cannot pay the cost. τ is the slope of t when the same supporters stay poor.
        """
        counts = np.bincount(cls[self.supporters[j]])
        present = np.flatnonzero(counts).tolist()
        present.sort(key=cf.__getitem__)
        i = 0
        while i < len(present) - 1:
            end = i + 1
            while end < len(present) and cf[present[end]] == cf[present[i]]:
                end += 1
            if end - i > 1:
                present[i:end] = sorted(present[i:end], key=cv.__getitem__)
            i = end
        left = self.costs[j]
        n = len(self.supporters[j])
        slope = _ZERO
        for i, k in enumerate(present):
            v = cv[k]
            if left <= v * n:
                t0 = left / n
                return t0, -slope / n, present[:i], present[i:]
            w = int(counts[k])
            left -= w * v
            slope += w * cb[k]
            n -= w
        return None

    def _unaffordable(
        self, j: int, cls: npt.NDArray[np.int64], cv: list[Fraction], cb: list[Fraction]
    ) -> _Condition:
        """Supporters' budgets sum below the cost: cost − Σ(v + β·d) > 0."""
        counts = np.bincount(cls[self.supporters[j]])
        total_v = _ZERO
        total_b = _ZERO
        for k in np.flatnonzero(counts).tolist():
            w = int(counts[k])
            total_v += w * cv[k]
            total_b += w * cb[k]
        return (self.costs[j] - total_v, -total_b, True)

    def _selected_conditions(
        self,
        conditions: _Conditions,
        pid: int,
        price: _Price,
        cv: list[Fraction],
        cb: list[Fraction],
        bound: Mapping[int, tuple[Fraction, Fraction]],
        remaining: set[int],
    ) -> None:
        """What must hold at d for this round to choose `pid` and charge it the same way:
        the same supporters pay all they have, and every other project's price stays above
        (at least equal when `pid` wins the tie). For another project q, any split of its
        supporters into "pay all" P and "pay t" R gives t_q >= (cost_q − Σ_P budgets) / |R|,
        so the affine bound kept for q is a lower bound of its price at every d."""
        t0, tau, poor, rich = price
        for k in poor:
            conditions.exact((t0 - cv[k], tau - cb[k], False))
        for k in rich:
            conditions.exact((cv[k] - t0, cb[k] - tau, False))
        cost = self.costs[pid]
        rank = self.rank[pid]
        f_cost, f_t0, f_tau = float(cost), float(t0), float(tau)
        for q in remaining:
            if q == pid:
                continue
            lt0, ltau = bound[q]
            # cost_pid · t_q(d) − cost_q · t_pid(d) >= 0  (> 0 when q wins ties)
            conditions.lazy(
                (cost, lt0, self.costs[q], t0, ltau, tau, self.rank[q] < rank),
                (f_cost, float(lt0), float(self.costs[q]), f_t0, float(ltau), f_tau),
            )

    # --- payments ---------------------------------------------------------------------------

    def payments(self, run: MesRun) -> dict[int, dict[int, Fraction]]:
        """Project → voter index → exact amount paid from the voter's share, replayed."""
        budget = [run.share] * self.n_voters
        result: dict[int, dict[int, Fraction]] = {}
        for pid, (t0, sup) in zip(run.selected, run.trace, strict=True):
            paid: dict[int, Fraction] = {}
            for i in sup.tolist():
                amount = budget[i] if budget[i] < t0 else t0
                paid[i] = amount
                budget[i] -= amount
            result[pid] = paid
        return result


def _whole(condition: _Condition) -> int | None:
    """Largest whole m >= 0 with the condition true on [0, m] (it holds at 0 and is linear in
    d, so it holds on an interval starting at 0); None when it holds for every d >= 0."""
    a, b, strict = condition
    if b >= 0:
        return None
    limit = a / -b
    return max(0, math.ceil(limit) - 1 if strict else math.floor(limit))


class _Conditions:
    """The linear conditions of a run, and the largest whole extra share satisfying them all.

    The conditions comparing two prices are many (one per project left, per round): they are
    kept unevaluated with a float estimate, and computed exactly in increasing order of that
    estimate, only while they could still be the smallest."""

    def __init__(self) -> None:
        self.best: int | None = None
        self.pending: list[
            tuple[float, tuple[Fraction, Fraction, Fraction, Fraction, Fraction, Fraction, bool]]
        ] = []

    def exact(self, condition: _Condition) -> None:
        whole = _whole(condition)
        if whole is not None and (self.best is None or whole < self.best):
            self.best = whole

    def lazy(
        self,
        terms: tuple[Fraction, Fraction, Fraction, Fraction, Fraction, Fraction, bool],
        floats: tuple[float, float, float, float, float, float],
    ) -> None:
        """Condition cp·lt0 − cq·t0 + (cp·ltau − cq·tau)·d >= 0 (> 0 if strict)."""
        cp, lt0, cq, t0, ltau, tau = floats
        a1, a2, b1, b2 = cp * lt0, cq * t0, cp * ltau, cq * tau
        a, b = a1 - a2, b1 - b2
        scale_a, scale_b = abs(a1) + abs(a2), abs(b1) + abs(b2)
        if b > _RELATIVE * scale_b:
            return  # the slope is certainly positive: never binding
        # Too close to call in floats: computed exactly first (estimate -1).
        certain = b < -_RELATIVE * scale_b and a > _RELATIVE * scale_a
        estimate = a / -b if certain else -1.0
        self.pending.append((estimate, terms))

    def largest_whole(self) -> int | None:
        self.pending.sort(key=lambda item: item[0])
        for estimate, (cp, lt0, cq, t0, ltau, tau, strict) in self.pending:
            if self.best is not None and estimate > (self.best + 1) * _ESTIMATE_MARGIN + 1:
                # This estimate and the next are far above the smallest bound: with a and b
                # both certain to 1e-6 relative, the exact bounds are too.
                break
            self.exact((cp * lt0 - cq * t0, cp * ltau - cq * tau, strict))
            if self.best == 0:
                break
        return self.best


def add1(
    engine: ApprovalMes,
    share: Fraction,
    budget: Fraction,
    is_exhaustive: Callable[[Sequence[int], Fraction], bool],
    max_cost: Fraction,
) -> tuple[MesRun, Fraction, int]:
    """The Add1 completion: the run at `share`, then at share + 1, + 2… until the outcome is
    exhaustive or the next one would exceed `budget`; returns (the exact run of the last
    outcome within it, its share, rounds).

    Rounds whose outcome is provably that of the current run are skipped (`MesRun.stable`).
    When that proof keeps failing (the outcome may change at every euro), the next rounds are
    computed by `FloatMes`, whose outcome is used only when certified, else exactly."""
    fast = FloatMes(engine)
    run = engine.run(share)
    selected, spent, stable = run.selected, run.spent, run.stable
    exact_mode = bool(stable)
    rounds = 0
    while not is_exhaustive(selected, spent):
        # Beyond a share of `max_cost` every supported project is affordable on its own, so a
        # stable outcome cannot last past it: the bound keeps the loop finite in any case.
        ceiling = max(0, math.ceil(max_cost - share) + 1)
        jump = min(stable if stable is not None else ceiling, ceiling)
        share += jump
        rounds += jump
        bigger: MesRun | FloatRun | None = None
        if not exact_mode:
            bigger = fast.run(share + 1, cap=budget)
            if not bigger.certain:
                bigger = None
        if bigger is None:
            bigger = engine.run(share + 1, cap=budget)
            exact_mode = bool(bigger.stable)
        if bigger.over or bigger.spent > budget:
            break
        share, rounds = share + 1, rounds + 1
        selected, spent = bigger.selected, bigger.spent
        stable = bigger.stable if isinstance(bigger, MesRun) else 0
        if isinstance(bigger, MesRun):
            run = bigger
    if run.share != share or run.selected != selected:
        run = engine.run(share, stability=False)
        if run.selected != selected:  # pragma: no cover - would be a bug in the certificate
            raise RuntimeError("float run certified a different outcome than the exact run")
    return run, share, rounds


# --- Float runs with a certificate ----------------------------------------------------------------

_EPS = float(np.finfo(np.float64).eps)


@dataclass
class FloatRun:
    """A run of the bare rule computed in floats, with `certain` True when every decision of
    the run (which project is cheapest, which are unaffordable) held with a margin larger than
    a rigorous bound of the float errors; then `selected` is exactly the exact rule's outcome.
    When `certain` is False nothing is claimed and the caller runs the exact engine."""

    selected: list[int]
    spent: Fraction
    certain: bool
    over: bool = False


class FloatMes:
    """The same election as `ApprovalMes`, for fast runs in float64 with an error bound.

    Budgets are floats; `error` bounds |float budget − exact budget| for every voter. Each price
    is computed for the float budgets shifted by −error and +error (prices only decrease when
    budgets grow), widened by a bound of the rounding of the computation itself; a decision is
    taken only when those intervals are apart, otherwise the run gives up (`certain=False`).
    """

    def __init__(self, engine: ApprovalMes) -> None:
        self.engine = engine
        self.costs = [float(c) for c in engine.costs]
        self._ranks = np.arange(engine.n_voters + 1, dtype=np.float64)
        self._payers: dict[int, npt.NDArray[np.float64]] = {}

    def _interval(
        self, j: int, budgets: npt.NDArray[np.float64], error: float
    ) -> tuple[float, float] | None | bool:
        """(lowest, highest) possible exact payment level t of project j; None when certainly
        unaffordable; False when affordability cannot be decided."""
        x = budgets[self.engine.supporters[j]]
        x.sort()
        n = len(x)
        cost = self.costs[j]
        running = x.cumsum()
        total = float(running[-1])
        rounding = 4 * (n + 4) * _EPS * (cost + total)
        slack = rounding + n * error
        if total + slack < cost:
            return None
        if total - slack < cost:
            return False
        before = running - x
        ranks = self._ranks[:n]
        payers = self._payers[n][:n] if n in self._payers else self._payers_for(n)
        # Exact budgets lie in [x - error, x + error]; prices with budgets shifted by ±error.
        t_low = (cost - before - ranks * error) / payers
        k_low = int(np.argmax(t_low <= x + error))
        t_high = (cost - before + ranks * error) / payers
        k_high = int(np.argmax(t_high <= x - error))
        if not (t_low[k_low] <= x[k_low] + error and t_high[k_high] <= x[k_high] - error):
            return False
        room = rounding / (n - max(k_low, k_high))
        return float(t_low[k_low]) - room, float(t_high[k_high]) + room

    def _payers_for(self, n: int) -> npt.NDArray[np.float64]:
        self._payers[n] = n - self._ranks[:n]
        return self._payers[n]

    def run(self, share: Fraction, cap: Fraction | None = None) -> FloatRun:
        engine = self.engine
        budgets = np.full(engine.n_voters, float(share), dtype=np.float64)
        error = _EPS * float(share)  # float(share) is share rounded once
        lower: dict[int, float] = {}  # lower bound of rho = t / cost, from an earlier round
        remaining = set(engine.candidates)
        result = FloatRun(selected=[], spent=_ZERO, certain=True)
        while remaining:
            order = sorted(remaining, key=lambda j: lower.get(j, -1.0))
            best: tuple[float, float, int, float, float] | None = None  # hi rho, lo rho, j, t
            contenders: list[tuple[float, float, int]] = []
            for j in order:
                if best is not None and j in lower and lower[j] > best[0]:
                    break
                interval = self._interval(j, budgets, error)
                if interval is None:
                    remaining.discard(j)
                    continue
                if interval is False:
                    result.certain = False
                    return result
                low, high = interval
                cost = self.costs[j]
                lo_rho, hi_rho = low / cost * (1 - 4 * _EPS), high / cost * (1 + 4 * _EPS)
                lower[j] = lo_rho
                contenders.append((lo_rho, hi_rho, j))
                if best is None or hi_rho < best[0]:
                    best = (hi_rho, lo_rho, j, low, high)
            if best is None:
                break
            hi_rho, _, pid, low, high = best
            for lo_rho, _, q in contenders:
                if q != pid and lo_rho <= hi_rho:
                    result.certain = False  # too close to call (or a tie): exact engine
                    return result
            t = (low + high) / 2
            sup = engine.supporters[pid]
            paid = budgets[sup]
            budgets[sup] = np.maximum(paid - t, 0.0)
            error += (high - low) / 2 + 2 * _EPS * float(share)
            result.selected.append(pid)
            result.spent += engine.costs[pid]
            remaining.discard(pid)
            lower.pop(pid, None)
            if cap is not None and result.spent > cap:
                result.over = True
                return result
        return result
