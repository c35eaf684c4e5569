"""Allocation rules of a call for solutions: how a resident panel's votes share out the envelope.

Pure functions (no database): a service loads the projects and ballots, calls one rule and
stores the `AllocationResult`. Two rules:

- `greedy_by_votes` — CONSUL Democracy's rule: most votes first, skip what no longer fits.
- `method_of_equal_shares` — the Method of Equal Shares (Peters, Pierczyński, Skowron, 2021) with
  cost utilities for approval ballots (the variant of equalshares.net and of the cities that use
  it), or the ballots' scores as utilities for cardinal ballots; completion "add1", "greedy",
  "add1_greedy" (Pluriel's default) or "none".

The choice of variant, utilities, completion and tie-breaking, and how it matches the reference
implementation `pabutools`, is recorded in docs/decisions/2026-11-25-equal-shares-variant.md.

Arithmetic is exact: shares, prices and payments are `fractions.Fraction`; money going out is
`Decimal` euros, per-voter payments rounded to cents with `core.money.split_exact` so that each
project's payments still add up to its cost.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from math import lcm
from types import MappingProxyType
from typing import Any

from django.utils.translation import gettext as _

from core.errors import DomainError
from core.money import CENT, split_exact, to_money
from grants import equal_shares

RULE_GREEDY = "greedy_by_votes"
RULE_EQUAL_SHARES = "method_of_equal_shares"

COMPLETION_NONE = "none"
COMPLETION_ADD1 = "add1"
COMPLETION_GREEDY = "greedy"
COMPLETION_ADD1_GREEDY = "add1_greedy"
COMPLETIONS = (COMPLETION_NONE, COMPLETION_ADD1, COMPLETION_GREEDY, COMPLETION_ADD1_GREEDY)
DEFAULT_COMPLETION = COMPLETION_ADD1_GREEDY

# The "1" of Add1: each round of the completion gives every voter one more euro of virtual share.
ADD1_INCREMENT = Decimal("1")

ApprovalBallots = Mapping[str, frozenset[str]]
ScoreBallots = Mapping[str, Mapping[str, Decimal]]
Ballots = ApprovalBallots | ScoreBallots


@dataclass(frozen=True)
class Project:
    """A project on the ballot: an id (unique in the election) and its cost in euros (cents)."""

    id: str
    cost: Decimal

    def __post_init__(self) -> None:
        if not isinstance(self.cost, Decimal):
            raise TypeError("Project.cost must be a Decimal")
        if not self.id:
            raise DomainError(_("Chaque projet doit avoir un identifiant."), field="projects")
        if self.cost <= 0:
            raise DomainError(
                _("Le coût du projet « %(id)s » doit être positif.") % {"id": self.id},
                field="projects",
            )
        if self.cost != self.cost.quantize(CENT):
            raise DomainError(
                _("Le coût du projet « %(id)s » doit être en euros et centimes.") % {"id": self.id},
                field="projects",
            )


@dataclass(frozen=True)
class AllocationResult:
    """What a rule decided, with everything the results page needs to explain it.

    - `selected`: funded project ids in the order the rule picked them;
    - `completed`: those of `selected` added by the greedy completion (funded from what the
      equal-shares phase left of the envelope, not paid by voters' shares), always at the end;
    - `votes`: number of supporters of every project on the ballot (0 included);
    - `payments`: for the equal-shares phase, project id → voter id → euros paid from that voter's
      virtual share (every supporter listed, 0 included); per project the cents add up to its cost;
    - `voter_share`: each voter's virtual share in the final equal-shares run, exact (the envelope
      divided by the number of voters, plus the euros added by the Add1 completion);
    - `add1_rounds`: how many euros per voter the Add1 completion added.
    """

    rule: str
    variant: str
    budget: Decimal
    selected: tuple[str, ...]
    total_cost: Decimal
    remaining: Decimal
    votes: Mapping[str, int]
    payments: Mapping[str, Mapping[str, Decimal]] = field(default_factory=dict)
    completed: tuple[str, ...] = ()
    voter_share: Fraction | None = None
    add1_rounds: int = 0

    @property
    def equal_shares_phase(self) -> tuple[str, ...]:
        """Projects chosen by the equal-shares rule itself (before any greedy completion)."""
        return self.selected[: len(self.selected) - len(self.completed)]


# --- Input checks and normal form -------------------------------------------------------------


@dataclass(frozen=True)
class _Election:
    projects: dict[str, Project]
    voters: tuple[str, ...]
    # utilities[project][voter] > 0 for supporters only; cost utilities or scores.
    utilities: dict[str, dict[str, Fraction]]
    votes: dict[str, int]
    budget: Decimal
    cardinal: bool


def _is_score_ballots(ballots: Ballots) -> bool:
    return any(isinstance(b, Mapping) for b in ballots.values())


def _normalise(projects: Sequence[Project], ballots: Ballots, budget: Decimal) -> _Election:
    """Check the inputs and compute each voter's utility for each project.

    Approval ballots: a supporter's utility is the project's cost ("cost utilities"), so the
    price `rho` of a project is the largest share of its cost a supporter pays. Score ballots:
    the utility is the (positive) score; a score of 0 means "not supported".
    """
    if not isinstance(budget, Decimal):
        raise TypeError("budget must be a Decimal")
    if budget < 0 or budget != budget.quantize(CENT):
        raise DomainError(
            _("L'enveloppe doit être un montant positif en euros et centimes."), field="budget"
        )
    by_id: dict[str, Project] = {}
    for project in projects:
        if project.id in by_id:
            raise DomainError(
                _("Le projet « %(id)s » figure deux fois.") % {"id": project.id}, field="projects"
            )
        by_id[project.id] = project
    cardinal = _is_score_ballots(ballots)
    utilities: dict[str, dict[str, Fraction]] = {pid: {} for pid in by_id}
    cost_utility = {pid: Fraction(p.cost) for pid, p in by_id.items()}
    for voter in sorted(ballots):
        ballot: Any = ballots[voter]
        if cardinal != isinstance(ballot, Mapping):
            raise DomainError(_("Les bulletins mélangent approbations et notes."), field="ballots")
        items = ballot.items() if cardinal else ((pid, None) for pid in ballot)
        for pid, score in items:
            if pid not in by_id:
                raise DomainError(
                    _("Le bulletin « %(voter)s » vote pour un projet inconnu : « %(project)s ».")
                    % {"voter": voter, "project": pid},
                    field="ballots",
                )
            if cardinal:
                if not isinstance(score, Decimal | int) or score < 0:
                    raise DomainError(
                        _(
                            "Le bulletin « %(voter)s » donne une note invalide au "
                            "projet « %(project)s »."
                        )
                        % {"voter": voter, "project": pid},
                        field="ballots",
                    )
                if score == 0:
                    continue
                utilities[pid][voter] = Fraction(score)
            else:
                utilities[pid][voter] = cost_utility[pid]
    votes = {pid: len(supporters) for pid, supporters in utilities.items()}
    return _Election(
        projects=by_id,
        voters=tuple(sorted(ballots)),
        utilities=utilities,
        votes=votes,
        budget=budget,
        cardinal=cardinal,
    )


# --- Greedy by votes (CONSUL Democracy) -------------------------------------------------------


def greedy_order_key(project: Project, votes: int) -> tuple[int, Decimal, str]:
    """Most votes first; ties: lower cost first, then the smaller id (string order)."""
    return (-votes, project.cost, project.id)


def _greedy_fill(
    election: _Election, selected: list[str], spent: Decimal
) -> tuple[list[str], Decimal]:
    """Add, by votes, every supported project that still fits; skip those that don't."""
    taken = set(selected)
    candidates = [
        p for pid, p in election.projects.items() if pid not in taken and election.votes[pid] > 0
    ]
    candidates.sort(key=lambda p: greedy_order_key(p, election.votes[p.id]))
    added: list[str] = []
    for project in candidates:
        if spent + project.cost <= election.budget:
            added.append(project.id)
            spent += project.cost
    return added, spent


def greedy_by_votes(
    projects: Sequence[Project], ballots: Ballots, budget: Decimal
) -> AllocationResult:
    """CONSUL Democracy's rule: fund projects by decreasing number of votes while they fit.

    A project that no longer fits in what is left is skipped and the next one is tried (CONSUL's
    `Budget::Result`). Ties: lower cost first, then the smaller id. A project nobody voted for is
    never funded: the panel chooses, leftover money stays in the envelope.
    """
    election = _normalise(projects, ballots, budget)
    selected, spent = _greedy_fill(election, [], Decimal("0"))
    return AllocationResult(
        rule=RULE_GREEDY,
        variant="",
        budget=to_money(budget),
        selected=tuple(selected),
        total_cost=to_money(spent),
        remaining=to_money(budget - spent),
        votes=MappingProxyType(dict(election.votes)),
    )


# --- Method of Equal Shares --------------------------------------------------------------------


def equal_shares_tie_key(project: Project, votes: int) -> tuple[Decimal, int, str]:
    """Among projects with the same price `rho`: lower cost, then more votes, then smaller id.

    equalshares.net's recommendation (cost, then initial vote count); where it draws lots,
    Pluriel uses the id, so that the result can be recomputed by anyone.
    """
    return (project.cost, -votes, project.id)


def project_price(
    cost: Fraction, utilities: Mapping[str, Fraction], shares: Mapping[str, Fraction]
) -> Fraction | None:
    """Smallest `rho` with Σ min(share_i, rho·u_i) = cost over the supporters, or None.

    None when the supporters' remaining shares together cannot pay the cost. Supporters are
    scanned from the poorest per unit of utility: the poorest pay all they have while they
    cannot pay the equal price, the others pay `rho·u_i`.
    """
    order = sorted(utilities, key=lambda v: (shares[v] / utilities[v], v))
    left = cost
    weight = sum(utilities.values(), Fraction(0))
    for voter in order:
        rho = left / weight
        if rho * utilities[voter] <= shares[voter]:
            return rho
        left -= shares[voter]
        weight -= utilities[voter]
    return None


@dataclass
class _MesRun:
    selected: list[str]
    payments: dict[str, dict[str, Fraction]]
    spent: Decimal


def _equal_shares_run(election: _Election, share: Fraction) -> _MesRun:
    """One run of the bare rule with every voter starting from `share`."""
    shares = dict.fromkeys(election.voters, share)
    remaining = {pid for pid, u in election.utilities.items() if u}
    selected: list[str] = []
    payments: dict[str, dict[str, Fraction]] = {}
    spent = Decimal("0")
    while remaining:
        best: tuple[Any, ...] | None = None
        for pid in sorted(remaining):
            project = election.projects[pid]
            rho = project_price(Fraction(project.cost), election.utilities[pid], shares)
            if rho is None:
                # Shares only decrease: a project its supporters cannot afford now never will be.
                remaining.discard(pid)
                continue
            key = (rho, equal_shares_tie_key(project, election.votes[pid]))
            if best is None or key < best[0]:
                best = (key, pid, rho)
        if best is None:
            break
        _, pid, rho = best
        paid = {}
        for voter, utility in election.utilities[pid].items():
            paid[voter] = min(shares[voter], rho * utility)
            shares[voter] -= paid[voter]
        assert sum(paid.values()) == election.projects[pid].cost
        payments[pid] = paid
        selected.append(pid)
        spent += election.projects[pid].cost
        remaining.discard(pid)
    return _MesRun(selected=selected, payments=payments, spent=spent)


def _is_exhaustive(election: _Election, selected: Sequence[str], spent: Decimal) -> bool:
    """No supported project outside `selected` would still fit in the envelope."""
    taken = set(selected)
    return not any(
        p.cost + spent <= election.budget
        for pid, p in election.projects.items()
        if pid not in taken and election.votes[pid] > 0
    )


def _payments_in_cents(election: _Election, run: _MesRun) -> dict[str, Mapping[str, Decimal]]:
    """Exact payments rounded to cents, each project's cents summing exactly to its cost."""
    result: dict[str, Mapping[str, Decimal]] = {}
    for pid, paid in run.payments.items():
        voters = sorted(paid)
        # Supporters pay few distinct amounts (the same price, or all they had left).
        amounts = set(paid.values())
        denominator = lcm(*(amount.denominator for amount in amounts))
        weight = {amount: int(amount * denominator) for amount in amounts}
        weights = [weight[paid[v]] for v in voters]
        cents = split_exact(election.projects[pid].cost, weights)
        result[pid] = MappingProxyType(dict(zip(voters, cents, strict=True)))
    return result


def method_of_equal_shares(
    projects: Sequence[Project],
    ballots: Ballots,
    budget: Decimal,
    *,
    completion: str = DEFAULT_COMPLETION,
    progress: Callable[[int], None] | None = None,
) -> AllocationResult:
    """The Method of Equal Shares: the envelope is split equally between the voters, each voter's
    share only pays for projects that voter supports.

    Bare rule: each voter starts with budget / number of voters (empty ballots count: their share
    is simply not spent). Repeatedly, for every project its supporters can still afford, find the
    smallest price `rho` such that supporters paying min(remaining share, rho × utility) cover the
    cost; fund the project with the smallest `rho` (ties: `equal_shares_tie_key`) and charge its
    supporters. Stop when no project is affordable. Utility: the project's cost for approval ballots
    (cost utilities, so the first pick is the most voted project), the score for score ballots.

    Completions (the bare rule typically spends 60-70 % of the envelope):
    - "none": the bare rule;
    - "add1": rerun with every share increased by 1 € until the outcome is exhaustive (no supported
      project fits any more) or would exceed the envelope, keeping the last outcome within it;
    - "greedy": the bare rule, then the remaining envelope by votes (`greedy_by_votes` order);
    - "add1_greedy" (default): "add1", then greedy by votes — equalshares.net's standard.

    `progress`, when given, is called with the number of Add1 rounds done so far.
    """
    if completion not in COMPLETIONS:
        raise DomainError(
            _("Variante de complétion inconnue : « %(c)s ».") % {"c": completion},
            field="completion",
        )
    election = _normalise(projects, ballots, budget)
    if not election.voters:
        return AllocationResult(
            rule=RULE_EQUAL_SHARES,
            variant=completion,
            budget=to_money(budget),
            selected=(),
            total_cost=to_money(0),
            remaining=to_money(budget),
            votes=MappingProxyType(dict(election.votes)),
        )
    share = Fraction(budget) / len(election.voters)
    if not election.cardinal:
        run, share, rounds = _approval_equal_shares(
            election,
            share,
            add1=completion in (COMPLETION_ADD1, COMPLETION_ADD1_GREEDY),
            progress=progress,
        )
    else:
        run, share, rounds = _textbook_equal_shares(election, share, completion)
    selected, spent = list(run.selected), run.spent
    completed: list[str] = []
    if completion in (COMPLETION_GREEDY, COMPLETION_ADD1_GREEDY):
        completed, spent = _greedy_fill(election, selected, spent)
        selected += completed
    return AllocationResult(
        rule=RULE_EQUAL_SHARES,
        variant=completion,
        budget=to_money(budget),
        selected=tuple(selected),
        total_cost=to_money(spent),
        remaining=to_money(budget - spent),
        votes=MappingProxyType(dict(election.votes)),
        payments=MappingProxyType(_payments_in_cents(election, run)),
        completed=tuple(completed),
        voter_share=share,
        add1_rounds=rounds,
    )


def _approval_equal_shares(
    election: _Election,
    share: Fraction,
    *,
    add1: bool,
    progress: Callable[[int], None] | None = None,
) -> tuple[_MesRun, Fraction, int]:
    """Approval ballots: the fast exact engine of `grants.equal_shares` (same outcome as
    `_equal_shares_run` and its Add1 loop, see docs/decisions/2026-12-06-fast-equal-shares.md)."""
    ids = sorted(election.projects)
    index = {voter: i for i, voter in enumerate(election.voters)}
    engine = equal_shares.ApprovalMes(
        costs=[Fraction(election.projects[pid].cost) for pid in ids],
        supporters=[[index[v] for v in election.utilities[pid]] for pid in ids],
        n_voters=len(election.voters),
        tie_key=lambda j: equal_shares_tie_key(election.projects[ids[j]], election.votes[ids[j]]),
    )

    # `_is_exhaustive` on the engine's indices: only the cheapest supported project left matters.
    by_cost = sorted((engine.costs[j], j) for j in engine.candidates)
    envelope = Fraction(election.budget)

    def exhaustive(selected: Sequence[int], spent: Fraction) -> bool:
        chosen = set(selected)
        cheapest = next((cost for cost, j in by_cost if j not in chosen), None)
        return cheapest is None or cheapest > envelope - spent

    if add1:
        run, share, rounds = equal_shares.add1(engine, share, envelope, exhaustive, progress)
    else:
        run, rounds = engine.run(share), 0
    paid = engine.payments(run)
    return (
        _MesRun(
            selected=[ids[j] for j in run.selected],
            payments={
                ids[j]: {election.voters[i]: amount for i, amount in by_voter.items()}
                for j, by_voter in paid.items()
            },
            spent=_decimal(run.spent),
        ),
        share,
        rounds,
    )


def _decimal(amount: Fraction) -> Decimal:
    """An exact sum of euro-and-cent costs as a Decimal."""
    cents = amount * 100
    if cents.denominator != 1:
        raise ValueError("not a whole number of cents")
    return Decimal(cents.numerator).scaleb(-2)


def _textbook_equal_shares(
    election: _Election, share: Fraction, completion: str
) -> tuple[_MesRun, Fraction, int]:
    """The textbook loop, one full run per Add1 round: used for score ballots, and by the tests
    as the reference of the fast engine."""
    run = _equal_shares_run(election, share)
    rounds = 0
    if completion in (COMPLETION_ADD1, COMPLETION_ADD1_GREEDY):
        # Terminates: once a share exceeds the cost of every project, all supported projects are
        # selected, which is either over the envelope or exhaustive.
        while not _is_exhaustive(election, run.selected, run.spent):
            bigger = _equal_shares_run(election, share + Fraction(ADD1_INCREMENT))
            if bigger.spent > election.budget:
                break
            share, run, rounds = share + Fraction(ADD1_INCREMENT), bigger, rounds + 1
    return run, share, rounds


# --- Checker (used by tests, and available to audit a stored result) --------------------------


def _price_poor_rich(
    cost: Fraction, utilities: Mapping[str, Fraction], shares: Mapping[str, Fraction]
) -> Fraction | None:
    """Same price as `project_price`, by another algorithm (pabutools' "poor/rich" fixed point)."""
    if sum((shares[v] for v in utilities), Fraction(0)) < cost:
        return None
    rich, poor = set(utilities), set()
    while True:
        rho = (cost - sum((shares[v] for v in poor), Fraction(0))) / sum(utilities[v] for v in rich)
        newly_poor = {v for v in rich if shares[v] < rho * utilities[v]}
        if not newly_poor:
            return rho
        rich -= newly_poor
        poor |= newly_poor


def check_equal_shares_definition(
    projects: Sequence[Project], ballots: Ballots, budget: Decimal, result: AllocationResult
) -> list[str]:
    """Replay `result` against the definition of the Method of Equal Shares; list what breaks it.

    Checked: each project of the equal-shares phase was affordable, had the smallest price `rho`
    of all affordable projects at its turn (ties by `equal_shares_tie_key`), and was paid exactly
    by its supporters, each paying min(remaining share, rho × utility) and never more than what
    they had left; the stated cent payments round those exact payments and add up to the cost;
    after the phase, no unselected project can be afforded by its supporters; the whole selection
    stays within the envelope. An empty list means the result satisfies the definition.
    """
    problems: list[str] = []
    election = _normalise(projects, ballots, budget)
    if result.total_cost > budget or result.total_cost + result.remaining != budget:
        problems.append(
            f"total {result.total_cost} / remaining {result.remaining} vs budget {budget}"
        )
    if sum((election.projects[p].cost for p in result.selected), Decimal(0)) != result.total_cost:
        problems.append("total_cost is not the sum of the selected costs")
    if not election.voters:
        if result.selected:
            problems.append("projects selected without any voter")
        return problems
    share = result.voter_share
    if share is None:
        return [*problems, "no voter share recorded"]
    shares = dict.fromkeys(election.voters, share)
    phase = result.equal_shares_phase
    for step, pid in enumerate(phase, start=1):
        prices = {}
        for other, project in election.projects.items():
            if other in phase[: step - 1] or not election.utilities[other]:
                continue
            rho = _price_poor_rich(Fraction(project.cost), election.utilities[other], shares)
            if rho is not None:
                prices[other] = rho
        if pid not in prices:
            problems.append(f"step {step}: {pid} was not affordable")
            break
        best = min(prices.values())
        if prices[pid] != best:
            problems.append(f"step {step}: {pid} has rho {prices[pid]}, the minimum is {best}")
        tied = [o for o, rho in prices.items() if rho == best]
        first = min(
            tied, key=lambda o: equal_shares_tie_key(election.projects[o], election.votes[o])
        )
        if prices[pid] == best and first != pid:
            problems.append(f"step {step}: tie at rho {best} should go to {first}, not {pid}")
        rho = prices[pid]
        paid = {v: min(shares[v], rho * u) for v, u in election.utilities[pid].items()}
        if sum(paid.values()) != election.projects[pid].cost:
            problems.append(f"step {step}: {pid} payments do not add up to its cost")
        stated = result.payments.get(pid, {})
        if set(stated) != set(paid):
            problems.append(f"step {step}: {pid} payers {sorted(stated)} are not its supporters")
        elif sum(stated.values()) != election.projects[pid].cost or any(
            abs(Fraction(stated[v]) - paid[v]) >= Fraction(CENT) for v in paid
        ):
            problems.append(f"step {step}: {pid} cent payments do not round the exact payments")
        for voter, amount in paid.items():
            if amount > shares[voter]:
                problems.append(f"step {step}: {voter} pays more than their remaining share")
            shares[voter] -= amount
    for pid, utilities in election.utilities.items():
        if pid in phase or not utilities:
            continue
        if sum((shares[v] for v in utilities), Fraction(0)) >= Fraction(
            election.projects[pid].cost
        ):
            problems.append(f"{pid} is still affordable by its supporters after the last step")
    extra = set(result.payments) - set(phase)
    if extra:
        problems.append(
            f"payments recorded for projects outside the equal-shares phase: {sorted(extra)}"
        )
    return problems
