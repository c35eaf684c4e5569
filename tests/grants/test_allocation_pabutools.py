"""Cross-check of grants.solutions.allocation against the reference implementation pabutools (test-only).

pabutools is not a product dependency: it is pinned in requirements-pabutools.txt and these tests
are skipped when it is not installed.

Same tie-breaking on both sides (see docs/decisions/2026-11-25-equal-shares-variant.md):
- equal shares: among projects with the same price, lower cost, then more votes, then the smaller
  id — given to pabutools as a custom `TieBreakingRule`;
- greedy: pabutools' `greedy_utilitarian_welfare` with `Cost_Sat` ranks projects by
  total satisfaction / cost = number of votes, and orders ties by the tie-breaking rule before a
  stable sort, so the rule (cost, id) gives Pluriel's (-votes, cost, id).
Projects nobody voted for are left out of the pabutools instance: Pluriel never funds them, while
pabutools' greedy would fund them last with leftover money (they cannot change earlier picks).
"""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

pytest.importorskip("pabutools")

from pabutools.election import (  # noqa: E402
    ApprovalBallot,
    ApprovalProfile,
    Cost_Sat,
    Instance,
)
from pabutools.election import Project as PabuProject  # noqa: E402
from pabutools.rules import (  # noqa: E402
    completion_by_rule_combination,
    exhaustion_by_budget_increase,
    greedy_utilitarian_welfare,
    method_of_equal_shares,
)
from pabutools.tiebreaking import TieBreakingRule  # noqa: E402

from grants.solutions import allocation  # noqa: E402
from grants.solutions.allocation import Project  # noqa: E402

ELECTIONS = 200

MES_TIES = TieBreakingRule(lambda inst, prof, p: (p.cost, -prof.approval_score(p), p.name))
GREEDY_TIES = TieBreakingRule(lambda inst, prof, p: (p.cost, p.name))


def random_election(rng: random.Random):
    """≤ 8 projects, ≤ 15 voters, integer costs; many equal costs and votes, so ties happen."""
    n_projects = rng.randint(1, 8)
    projects = [
        Project(id=f"p{i}", cost=Decimal(rng.choice([1, 2, 3, 5, 8, rng.randint(1, 40)])))
        for i in range(n_projects)
    ]
    ballots = {}
    for v in range(rng.randint(0, 15)):
        size = rng.randint(0, n_projects)
        ballots[f"v{v:02}"] = frozenset(p.id for p in rng.sample(projects, size))
    budget = Decimal(rng.randint(1, 60))
    return projects, ballots, budget


def to_pabutools(projects, ballots, budget):
    supported = {pid for ballot in ballots.values() for pid in ballot}
    by_id = {p.id: PabuProject(p.id, int(p.cost)) for p in projects if p.id in supported}
    instance = Instance(by_id.values(), budget_limit=int(budget))
    profile = ApprovalProfile(
        [ApprovalBallot(by_id[pid] for pid in ballot) for _, ballot in sorted(ballots.items())]
    )
    return instance, profile


def names(outcome):
    return {p.name for p in outcome}


def elections():
    rng = random.Random(20261125)
    return [random_election(rng) for _ in range(ELECTIONS)]


@pytest.fixture(scope="module")
def cases():
    return [(e, to_pabutools(*e)) for e in elections()]


def test_greedy_by_votes_matches_pabutools(cases):
    for (projects, ballots, budget), (instance, profile) in cases:
        ours = allocation.greedy_by_votes(projects, ballots, budget)
        ref = greedy_utilitarian_welfare(
            instance, profile, sat_class=Cost_Sat, tie_breaking=GREEDY_TIES
        )
        assert set(ours.selected) == names(ref), (projects, ballots, budget)


def test_bare_equal_shares_matches_pabutools(cases):
    for (projects, ballots, budget), (instance, profile) in cases:
        ours = allocation.method_of_equal_shares(projects, ballots, budget, completion="none")
        ref = method_of_equal_shares(instance, profile, sat_class=Cost_Sat, tie_breaking=MES_TIES)
        assert set(ours.selected) == names(ref), (projects, ballots, budget)
        # Same order too: pabutools' BudgetAllocation keeps the order of selection.
        assert list(ours.selected) == [p.name for p in ref]


def test_add1_matches_pabutools_both_ways(cases):
    for (projects, ballots, budget), (instance, profile) in cases:
        ours = allocation.method_of_equal_shares(projects, ballots, budget, completion="add1")
        iterated = method_of_equal_shares(
            instance, profile, sat_class=Cost_Sat, tie_breaking=MES_TIES, voter_budget_increment=1
        )
        assert set(ours.selected) == names(iterated), (projects, ballots, budget)
        if not ballots:
            continue
        # The same completion through the generic wrapper: +1 per voter = +n on the envelope.
        increased = exhaustion_by_budget_increase(
            instance,
            profile,
            method_of_equal_shares,
            {"sat_class": Cost_Sat, "tie_breaking": MES_TIES},
            budget_step=len(ballots),
        )
        assert set(ours.selected) == names(increased), (projects, ballots, budget)


def test_greedy_completion_matches_pabutools(cases):
    for (projects, ballots, budget), (instance, profile) in cases:
        ours = allocation.method_of_equal_shares(projects, ballots, budget, completion="greedy")
        ref = completion_by_rule_combination(
            instance,
            profile,
            [method_of_equal_shares, greedy_utilitarian_welfare],
            [
                {"sat_class": Cost_Sat, "tie_breaking": MES_TIES},
                {"sat_class": Cost_Sat, "tie_breaking": GREEDY_TIES},
            ],
        )
        assert set(ours.selected) == names(ref), (projects, ballots, budget)


def test_add1_then_greedy_matches_pabutools(cases):
    for (projects, ballots, budget), (instance, profile) in cases:
        ours = allocation.method_of_equal_shares(
            projects, ballots, budget, completion="add1_greedy"
        )
        ref = completion_by_rule_combination(
            instance,
            profile,
            [method_of_equal_shares, greedy_utilitarian_welfare],
            [
                {"sat_class": Cost_Sat, "tie_breaking": MES_TIES, "voter_budget_increment": 1},
                {"sat_class": Cost_Sat, "tie_breaking": GREEDY_TIES},
            ],
        )
        assert set(ours.selected) == names(ref), (projects, ballots, budget)


def test_the_comparison_covers_ties_and_completions(cases):
    """Guard against a vacuous comparison: the sample must contain the hard cases."""
    tied_costs = sum(
        1 for (projects, _, _), _ in cases if len({p.cost for p in projects}) < len(projects)
    )
    completions_that_add = sum(
        1
        for (projects, ballots, budget), _ in cases
        if allocation.method_of_equal_shares(
            projects, ballots, budget, completion="add1_greedy"
        ).selected
        != allocation.method_of_equal_shares(projects, ballots, budget, completion="none").selected
    )
    add1_rounds = sum(
        1
        for (projects, ballots, budget), _ in cases
        if allocation.method_of_equal_shares(
            projects, ballots, budget, completion="add1"
        ).add1_rounds
    )
    assert tied_costs > 50
    assert completions_that_add > 30
    assert add1_rounds > 30


def test_bare_equal_shares_with_score_ballots_matches_pabutools():
    """Score ballots: the score is the utility (pabutools' Additive_Cardinal_Sat)."""
    from pabutools.election import Additive_Cardinal_Sat, CardinalBallot, CardinalProfile

    rng = random.Random(7)
    ties = TieBreakingRule(
        lambda inst, prof, p: (p.cost, -sum(1 for b in prof if b.get(p, 0) > 0), p.name)
    )
    compared = 0
    for _ in range(ELECTIONS):
        items, approval, budget = random_election(rng)
        ballots = {
            v: {pid: Decimal(rng.randint(0, 3)) for pid in sorted(ballot)}
            for v, ballot in approval.items()
        }
        supported = {pid for b in ballots.values() for pid, s in b.items() if s > 0}
        by_id = {p.id: PabuProject(p.id, int(p.cost)) for p in items if p.id in supported}
        instance = Instance(by_id.values(), budget_limit=int(budget))
        profile = CardinalProfile(
            [
                CardinalBallot({by_id[pid]: int(s) for pid, s in b.items() if s > 0})
                for _, b in sorted(ballots.items())
            ]
        )
        ours = allocation.method_of_equal_shares(items, ballots, budget, completion="none")
        ref = method_of_equal_shares(
            instance, profile, sat_class=Additive_Cardinal_Sat, tie_breaking=ties
        )
        assert list(ours.selected) == [p.name for p in ref], (items, ballots, budget)
        assert allocation.check_equal_shares_definition(items, ballots, budget, ours) == []
        compared += bool(ours.selected)
    assert compared > 100
