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
   pay every price commute (funded together); other close calls are branched on (branches that
   come to fund the same projects join again). A certified stretch funds one set of projects
   at every share, or only sets the Add1 loop goes on from (within the envelope, not
   exhaustive), so the loop skips it; what cannot be certified is computed exactly.
4. **Early exit.** A run of the Add1 loop stops as soon as it has spent more than the envelope:
   the loop only needs to know that it did.

Every outcome used is either computed in exact arithmetic or certified; the final run, whose
payments are shown to residents, is always exact.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import numpy.typing as npt

from grants.equal_shares_float import FloatMes, FloatRun

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
    share + 1 … share + width at once, or (`passing`) that every share of it has an outcome
    the loop goes on from. The width halves when a stretch cannot be certified, and doubles
    after each certified stretch once two were certified in a row (the close calls that make
    a stretch fail come with its width: trying the rest of a failed stretch at once mostly
    failed again). Runs inside a failed stretch resume from the groups of projects it funded
    first (the same at every share of it). A single share that cannot be certified is computed
    by the exact engine."""
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
    # The funded sets the current share may have: one, unless the last stretch passed with
    # several (each within the envelope and not exhaustive, see `FloatMes.run`'s `passing`).
    possible = [frozenset(selected)]

    def passing(chosen: Sequence[int], cost: Fraction) -> bool:
        return cost <= budget and not is_exhaustive(chosen, cost)

    rounds = 0
    width = 1
    # Stretches certified in a row since the last failure: the width halves after a failure
    # and doubles after each certified stretch once two were certified in a row.
    streak = 0
    # Stretches that failed: (first share, last share, prefix of the groups funded first at
    # every share of it). A run inside one of them replays the longest such prefix.
    known: list[tuple[Fraction, Fraction, list[list[int]]]] = []
    while not is_exhaustive(selected, spent):
        if progress is not None:
            progress(rounds)
        low, high = share + 1, share + width
        prefix = max((p for lo, hi, p in known if lo <= low and high <= hi), key=len, default=[])
        stretch = fast.run(
            low, cap=budget, spread=Fraction(width - 1), prefix=prefix, passing=passing
        )
        if stretch.certain:
            outcome = stretch
        elif width > 1:
            known = [k for k in known if k[1] >= low] + [(low, high, stretch.prefix)]
            width //= 2
            streak = 0
            continue
        else:
            outcome = engine.run(share + 1, cap=budget)
        if outcome.over or outcome.spent > budget:
            break  # the outcome at share + 1 overspends: keep the one at share
        selected, spent = outcome.selected, outcome.spent
        possible = outcome.sets if isinstance(outcome, FloatRun) else [frozenset(selected)]
        if is_exhaustive(selected, spent):
            share, rounds = share + 1, rounds + 1
            break
        share, rounds = share + width, rounds + width
        streak += 1
        if streak >= 2:
            width *= 2
    run = exact_first if exact_first is not None and share == start else engine.run(share)
    if frozenset(run.selected) not in possible:  # pragma: no cover - a bug in the certificate
        raise RuntimeError("the certified outcome differs from the exact run")
    return run, share, rounds
