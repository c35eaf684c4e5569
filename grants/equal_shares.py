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
   shares at once, carrying a rigorous bound of how far each float budget can be from the exact
   budget of any share of the stretch; every decision (cheapest project, unaffordable projects)
   must hold for all budgets within that bound, else nothing is claimed. A certified stretch
   has one outcome, so the Add1 loop skips it; what cannot be certified is computed exactly.
4. **Early exit.** A run of the Add1 loop stops as soon as it has spent more than the envelope:
   the loop only needs to know that it did.

Every outcome used is either computed in exact arithmetic or certified; the final run, whose
payments are shown to residents, is always exact.
"""

from __future__ import annotations

import functools
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
            present = np.unique(before).tolist()
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

    Instead of one run per euro, `FloatMes` certifies one outcome for a whole stretch of shares
    share + 1 … share + width at once; the width doubles after each certified stretch and halves
    when a stretch cannot be certified. A single share that cannot be certified (a tie, or a
    decision closer than the float error) is computed by the exact engine."""
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
    # After a stretch fails, wait for more and more certified steps before widening again, so
    # that elections whose outcome moves at every euro do not pay for failed attempts each time.
    patience, streak = 1, 0
    while not is_exhaustive(selected, spent):
        if progress is not None:
            progress(rounds)
        stretch = fast.run(share + 1, cap=budget, spread=Fraction(width - 1))
        if stretch.certain:
            outcome = stretch
        elif width > 1:
            width //= 2
            patience, streak = min(patience * 2, 8), 0
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
        streak += 1
        if streak >= patience:
            width, streak = width * 2, 0
    run = exact_first if exact_first is not None and share == start else engine.run(share)
    if run.selected != selected:  # pragma: no cover - would be a bug in the certificate
        raise RuntimeError("the certified outcome differs from the exact run")
    return run, share, rounds


# --- Float runs with a certificate ----------------------------------------------------------------

_EPS = float(np.finfo(np.float64).eps)
_ABOVE = 1 + 1e-9  # a float comparison is trusted only with this relative margin


@functools.lru_cache(maxsize=4096)
def _unit(n: int) -> Fraction:
    """1 / n (cached: the exact price of a project whose n payers all pay cost / n)."""
    return Fraction(1, n)


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
    ) -> tuple[float, float, bool] | None | Literal[False]:
        """(lowest, highest) possible exact payment level t of project j, and whether every
        supporter can certainly pay cost / supporters (then t is exactly that, for all budgets
        within the error); None when certainly unaffordable; False when affordability cannot be
        decided."""
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
        everyone_pays = k_high == 0 and float(t_high[0]) + room <= float(x[0]) - error
        return float(t_low[k_low]) - room, float(t_high[k_high]) + room, everyone_pays

    def _everyone_pays(
        self,
        j: int,
        budgets: npt.NDArray[np.float64],
        zero: npt.NDArray[np.bool_],
        error: float,
    ) -> tuple[Fraction, float] | None:
        """(exact rho, t) when every supporter not certainly at zero can certainly pay
        cost / n' (n' of them): then t = cost / n' and rho = 1 / n' exactly."""
        sup = self.engine.supporters[j]
        at_zero = zero[sup]
        payers = len(sup) - int(at_zero.sum())
        if not payers:
            return None
        t = self.costs[j] / payers
        if float(budgets[sup][~at_zero].min()) - error < t * (1 + 8 * _EPS):
            return None
        return _unit(payers), t

    def _payers_for(self, n: int) -> npt.NDArray[np.float64]:
        self._payers[n] = n - self._ranks[:n]
        return self._payers[n]

    def run(
        self, share: Fraction, cap: Fraction | None = None, spread: Fraction = _ZERO
    ) -> FloatRun:
        """The bare rule for every share in [share, share + spread] at once: when `certain`,
        all those shares give this outcome (each voter's exact budget starts within `error`
        of the float one, and every decision holds for all budgets within the error)."""
        engine = self.engine
        middle = share + spread / 2
        budgets = np.full(engine.n_voters, float(middle), dtype=np.float64)
        # float(middle) is middle rounded once; the shares are within spread / 2 of middle.
        error = float(spread) / 2 * (1 + 2 * _EPS) + _EPS * float(middle)
        lower: dict[int, float] = {}  # lower bound of rho = t / cost, from an earlier round
        # Voters never charged yet hold exactly the starting share: a project all of whose
        # supporters are untouched has the exact price rho = 1 / supporters (each pays
        # cost / supporters), whatever the share in the stretch, so exact ties are decided.
        touched = np.zeros(engine.n_voters, dtype=bool)
        # Voters certainly left with exactly nothing (they paid all they had).
        zero = np.zeros(engine.n_voters, dtype=bool)
        remaining = set(engine.candidates)
        result = FloatRun(selected=[], spent=_ZERO, certain=True)
        low_share, high_share = float(share), float(share + spread)
        while remaining:
            order = sorted(remaining, key=lambda j: lower.get(j, -1.0))
            # (hi rho, rank, exact rho or None, lo rho, j, t low, t high)
            contenders: list[tuple[float, int, Fraction | None, float, int, float, float]] = []
            best_hi: float | None = None
            for j in order:
                if best_hi is not None and j in lower and lower[j] > best_hi:
                    break  # its exact price is above the best one's
                sup = engine.supporters[j]
                cost = self.costs[j]
                if not touched[sup].any():
                    n = len(sup)
                    # Exact comparisons, unless floats decide with a wide margin.
                    if not (low_share * n > cost * _ABOVE or share * n >= engine.costs[j]):
                        if high_share * n * _ABOVE < cost or (share + spread) * n < engine.costs[j]:
                            remaining.discard(j)  # unaffordable at every share
                            continue
                        result.certain = False
                        return result
                    exact = _unit(n)
                    rho = float(exact)
                    t = cost / n
                    lo_rho, hi_rho = rho * (1 - 4 * _EPS), rho * (1 + 4 * _EPS)
                    contenders.append((hi_rho, engine.rank[j], exact, lo_rho, j, t, t))
                    lower[j] = lo_rho
                elif (exact_pay := self._everyone_pays(j, budgets, zero, error)) is not None:
                    # Supporters certainly at zero pay nothing, all the others pay cost / n'.
                    exact, t = exact_pay
                    rho = float(exact)
                    lo_rho, hi_rho = rho * (1 - 4 * _EPS), rho * (1 + 4 * _EPS)
                    low, high = t * (1 - 2 * _EPS), t * (1 + 2 * _EPS)
                    contenders.append((hi_rho, engine.rank[j], exact, lo_rho, j, low, high))
                    lower[j] = lo_rho
                else:
                    interval = self._interval(j, budgets, error)
                    if interval is None:
                        remaining.discard(j)
                        continue
                    if interval is False:
                        result.certain = False
                        return result
                    low, high, everyone_pays = interval
                    lo_rho, hi_rho = low / cost * (1 - 4 * _EPS), high / cost * (1 + 4 * _EPS)
                    lower[j] = lo_rho
                    # When every supporter pays the same cost / n, rho is exactly 1 / n.
                    exact_rho = _unit(len(sup)) if everyone_pays else None
                    if exact_rho is not None:  # same float bounds for equal exact prices
                        lo_rho = float(exact_rho) * (1 - 4 * _EPS)
                        hi_rho = float(exact_rho) * (1 + 4 * _EPS)
                    contenders.append((hi_rho, engine.rank[j], exact_rho, lo_rho, j, low, high))
                if best_hi is None or contenders[-1][0] < best_hi:
                    best_hi = contenders[-1][0]
            if not contenders:
                break
            contenders.sort(key=lambda c: (c[0], c[1]))
            hi_rho, rank, best_exact, _, pid, low, high = contenders[0]
            for other in contenders[1:]:
                if other[3] > hi_rho:
                    continue  # certainly more expensive
                if (
                    best_exact is not None
                    and other[2] is not None
                    and (best_exact, rank)
                    < (
                        other[2],
                        other[1],
                    )
                ):
                    continue  # both exact: decided exactly, ties by the tie-breaking rank
                result.certain = False  # too close to call in floats: exact engine
                return result
            t = (low + high) / 2
            sup = engine.supporters[pid]
            before = budgets[sup]
            # Certainly at or below the price: pays all, exactly zero left.
            zero[sup] |= before + error < low
            budgets[sup] = np.maximum(before - t, 0.0)
            touched[sup] = True
            error += (high - low) / 2 + 2 * _EPS * float(middle)
            result.selected.append(pid)
            result.spent += engine.costs[pid]
            remaining.discard(pid)
            lower.pop(pid, None)
            if cap is not None and result.spent > cap:
                result.over = True
                return result
        return result
