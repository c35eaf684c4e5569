"""Allocation rules of a call for solutions: hand-checked cases and properties (hypothesis).

Pure functions, no database. Money is Decimal; the exact prices are Fractions.
"""

from __future__ import annotations

import random
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import DomainError
from grants.solutions.allocation import (
    COMPLETIONS,
    RULE_EQUAL_SHARES,
    RULE_GREEDY,
    Project,
    check_equal_shares_definition,
    greedy_by_votes,
    method_of_equal_shares,
    project_price,
)


def projects(**costs: int) -> list[Project]:
    return [Project(id=pid, cost=Decimal(cost)) for pid, cost in costs.items()]


def approvals(**ballots: str) -> dict[str, frozenset[str]]:
    """voter="abc" → the voter approves projects a, b and c (one-letter ids)."""
    return {voter: frozenset(ids) for voter, ids in ballots.items()}


# --- Greedy by votes (CONSUL) ------------------------------------------------------------------


def test_greedy_funds_by_votes_and_skips_what_no_longer_fits():
    # Envelope 10. Votes: a 3, b 2, c 1.
    # a (8) fits → 2 left; b (5) does not fit → skipped, not the end; c (2) fits → 0 left.
    result = greedy_by_votes(
        projects(a=8, b=5, c=2), approvals(v1="abc", v2="ab", v3="a"), Decimal("10")
    )
    assert result.rule == RULE_GREEDY
    assert result.selected == ("a", "c")
    assert result.total_cost == Decimal("10.00")
    assert result.remaining == Decimal("0.00")
    assert dict(result.votes) == {"a": 3, "b": 2, "c": 1}
    assert result.payments == {}


def test_greedy_ties_go_to_the_cheaper_project_then_the_smaller_id():
    # All three have 2 votes. Order: c (3), then a and b (5 each) by id: c, a, b.
    # Envelope 9: c (3) → 6 left, a (5) → 1 left, b (5) skipped.
    result = greedy_by_votes(projects(b=5, a=5, c=3), approvals(v1="abc", v2="abc"), Decimal("9"))
    assert result.selected == ("c", "a")
    assert result.remaining == Decimal("1.00")


def test_greedy_never_funds_a_project_nobody_voted_for():
    result = greedy_by_votes(projects(a=5, z=1), approvals(v1="a"), Decimal("100"))
    assert result.selected == ("a",)
    assert result.votes["z"] == 0
    assert result.remaining == Decimal("95.00")


# --- Method of Equal Shares: hand-checked ------------------------------------------------------


def majority_and_minority():
    """The classic: 6 voters approve a01..a10, 4 voters approve b01..b10, every project costs 10,
    envelope 100 (ten projects)."""
    items = [Project(f"{g}{i:02}", Decimal(10)) for g in "ab" for i in range(1, 11)]
    ballots = {f"maj{i}": frozenset(f"a{j:02}" for j in range(1, 11)) for i in range(6)}
    ballots |= {f"min{i}": frozenset(f"b{j:02}" for j in range(1, 11)) for i in range(4)}
    return items, ballots, Decimal(100)


def test_greedy_gives_everything_to_the_majority():
    # Every a has 6 votes, every b 4: the ten a's fill the envelope, the 40 % minority gets nothing.
    result = greedy_by_votes(*majority_and_minority())
    assert result.selected == tuple(f"a{i:02}" for i in range(1, 11))


def test_equal_shares_gives_the_minority_its_share():
    # Each voter gets 100 / 10 = 10. An a costs 10 / 6 per supporter: rho = (10/6) / 10 = 1/6;
    # a b costs 10 / 4 = 2.50 per supporter: rho = 1/4. The a's go first (ties by id); after six
    # of them each majority voter has paid 6 × 10/6 = 10 and has nothing left. Then the b's:
    # four of them at 2.50 each use the minority's 4 × 10 = 40. Outcome 60 / 40, all spent.
    items, ballots, budget = majority_and_minority()
    result = method_of_equal_shares(items, ballots, budget, completion="none")
    assert result.rule == RULE_EQUAL_SHARES and result.variant == "none"
    assert result.selected == (
        *(f"a{i:02}" for i in range(1, 7)),
        *(f"b{i:02}" for i in range(1, 5)),
    )
    assert result.total_cost == Decimal("100.00") and result.remaining == Decimal("0.00")
    assert result.voter_share == Fraction(10)
    assert dict(result.payments["b01"]) == {f"min{i}": Decimal("2.50") for i in range(4)}
    # 10 / 6 does not fall on a cent: 1.67 × 4 + 1.66 × 2 = 10.00 exactly.
    assert sorted(result.payments["a01"].values()) == [Decimal("1.66")] * 2 + [Decimal("1.67")] * 4
    assert check_equal_shares_definition(items, ballots, budget, result) == []


def poor_and_rich():
    # Envelope 40, four voters, share 10 each.
    return (projects(h=15, g=18, k=10), approvals(v1="hg", v2="hg", v3="gk", v4="hk"), Decimal(40))


def test_equal_shares_charges_poorer_supporters_all_they_have_left():
    # Round 1: h = 15 / 3 = 5 each, rho 5/15 = 1/3; g = 18 / 3 = 6 each, rho 6/18 = 1/3 (tie:
    # the cheaper h goes first); k = 5 each, rho 1/2. h is funded: v1, v2, v4 keep 5, v3 keeps 10.
    # Round 2: g needs 6 each, v1 and v2 only have 5: they pay 5 each, v3 pays the other 8;
    # rho = 8/18 = 4/9 < k's 5/10 = 1/2, so g is funded. v1, v2 keep 0, v3 2, v4 5.
    # Round 3: k's supporters have 2 + 5 = 7 < 10: stop. 7 € are left; k (10) does not fit.
    items, ballots, budget = poor_and_rich()
    result = method_of_equal_shares(items, ballots, budget, completion="none")
    assert result.selected == ("h", "g")
    assert {p: dict(paid) for p, paid in result.payments.items()} == {
        "h": {"v1": Decimal("5.00"), "v2": Decimal("5.00"), "v4": Decimal("5.00")},
        "g": {"v1": Decimal("5.00"), "v2": Decimal("5.00"), "v3": Decimal("8.00")},
    }
    assert result.remaining == Decimal("7.00")
    assert project_price(
        Fraction(18),
        {"v1": Fraction(18), "v2": Fraction(18), "v3": Fraction(18)},
        {"v1": Fraction(5), "v2": Fraction(5), "v3": Fraction(10)},
    ) == Fraction(4, 9)
    # The outcome is already exhaustive: every completion returns the same projects.
    for completion in COMPLETIONS:
        completed = method_of_equal_shares(items, ballots, budget, completion=completion)
        assert completed.selected == ("h", "g") and completed.add1_rounds == 0
    assert check_equal_shares_definition(items, ballots, budget, result) == []


def completions_case():
    # Envelope 100, four voters (share 25). Votes: c 4, a 2 (v3, v4), d 2 (v1, v2), b 1 (v3).
    return (
        projects(a=50, b=20, c=50, d=50),
        approvals(v1="cd", v2="cd", v3="abc", v4="ac"),
        Decimal(100),
    )


def test_completions_hand_checked():
    items, ballots, budget = completions_case()
    # Bare: c = 12.50 each (rho 1/4) is funded; then a and d need 50 from two voters with 12.50
    # each, b needs 20 from v3 who has 12.50: nothing else is affordable. 50 spent.
    bare = method_of_equal_shares(items, ballots, budget, completion="none")
    assert bare.selected == ("c",) and bare.remaining == Decimal("50.00")
    # Greedy completion: 50 left; a and d (2 votes, 50) tie, the smaller id a fits: c, a.
    greedy = method_of_equal_shares(items, ballots, budget, completion="greedy")
    assert greedy.selected == ("c", "a") and greedy.completed == ("a",)
    assert set(greedy.payments) == {"c"}
    # Add1: with a share of 25 + k, after c every voter keeps 12.50 + k. b becomes affordable for
    # v3 at k = 8 (20.50 ≥ 20), a and d only at k = 12.50; at k = 8 the outcome c, b costs 70 and
    # nothing else fits in the 30 left (exhaustive): stop there, 8 rounds, share 33.
    add1 = method_of_equal_shares(items, ballots, budget, completion="add1")
    assert add1.selected == ("c", "b")
    assert add1.add1_rounds == 8 and add1.voter_share == Fraction(33)
    assert dict(add1.payments["b"]) == {"v3": Decimal("20.00")}
    # Add1 then greedy: already exhaustive, nothing to add. Greedy by votes alone: c then a.
    assert method_of_equal_shares(items, ballots, budget).selected == ("c", "b")
    assert greedy_by_votes(items, ballots, budget).selected == ("c", "a")
    for result in (bare, greedy, add1):
        assert check_equal_shares_definition(items, ballots, budget, result) == []


def test_add1_keeps_the_last_outcome_within_the_envelope():
    # Envelope 100, six "a" voters and four "b" voters (share 10); four a's and four b's cost 25.
    # Bare: a01 and a02 (25/6 each, rho 1/6), b01 (6.25 each, rho 1/4): 75. At share 12 still 75;
    # at share 13 the majority affords three a's (78 ≥ 75) and the minority two b's (52 ≥ 50):
    # 125 > 100, so Add1 keeps share 12 (2 rounds), and the greedy step adds a03 (6 votes).
    items = [Project(f"{g}{i:02}", Decimal(25)) for g in "ab" for i in range(1, 5)]
    ballots = {f"maj{i}": frozenset(f"a{j:02}" for j in range(1, 5)) for i in range(6)}
    ballots |= {f"min{i}": frozenset(f"b{j:02}" for j in range(1, 5)) for i in range(4)}
    add1 = method_of_equal_shares(items, ballots, Decimal(100), completion="add1")
    assert add1.selected == ("a01", "a02", "b01") and add1.add1_rounds == 2
    assert add1.voter_share == Fraction(12)
    full = method_of_equal_shares(items, ballots, Decimal(100), completion="add1_greedy")
    assert full.selected == ("a01", "a02", "b01", "a03") and full.completed == ("a03",)
    assert full.remaining == Decimal("0.00")


def test_equal_shares_with_score_ballots_uses_scores_as_utilities():
    # Envelope 20, two voters (share 10). Scores: v1 gives x 3, y 1; v2 gives y 1.
    # x (cost 12) has a single supporter, v1, whose share (10) cannot pay it.
    # y (cost 8): utilities 1 and 1 → 4 each, rho 4. Funded; v1 and v2 keep 6. Nothing else.
    items = projects(x=12, y=8)
    ballots = {"v1": {"x": Decimal(3), "y": Decimal(1)}, "v2": {"y": Decimal(1), "x": Decimal(0)}}
    result = method_of_equal_shares(items, ballots, Decimal(20), completion="none")
    assert result.selected == ("y",)
    assert dict(result.votes) == {"x": 1, "y": 2}
    assert dict(result.payments["y"]) == {"v1": Decimal("4.00"), "v2": Decimal("4.00")}
    assert check_equal_shares_definition(items, ballots, Decimal(20), result) == []


def test_scores_split_the_cost_in_proportion_to_utility():
    # One project (cost 9), v1 scores it 2 and v2 scores it 1: v1 pays 6, v2 pays 3 (rho 3).
    result = method_of_equal_shares(
        projects(p=9),
        {"v1": {"p": Decimal(2)}, "v2": {"p": Decimal(1)}},
        Decimal(20),
        completion="none",
    )
    assert dict(result.payments["p"]) == {"v1": Decimal("6.00"), "v2": Decimal("3.00")}


def test_no_voter_no_project():
    result = method_of_equal_shares(projects(a=5), {}, Decimal(10))
    assert result.selected == () and result.remaining == Decimal("10.00")


# --- Errors, in French -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: Project(id="a", cost=Decimal("0")), "doit être positif"),
        (lambda: Project(id="a", cost=Decimal("1.001")), "euros et centimes"),
        (
            lambda: greedy_by_votes(projects(a=1, b=2) + projects(a=3), {}, Decimal(1)),
            "figure deux fois",
        ),
        (lambda: greedy_by_votes(projects(a=1), approvals(v="z"), Decimal(1)), "projet inconnu"),
        (lambda: greedy_by_votes(projects(a=1), {}, Decimal(-1)), "L'enveloppe"),
        (lambda: method_of_equal_shares(projects(a=1), {}, Decimal(1), completion="x"), "Variante"),
        (
            lambda: method_of_equal_shares(projects(a=1), {"v": {"a": Decimal(-1)}}, Decimal(1)),
            "note invalide",
        ),
        (
            lambda: method_of_equal_shares(
                projects(a=1), {"v": {"a": Decimal(1)}, "w": frozenset("a")}, Decimal(1)
            ),
            "mélangent",
        ),
    ],
)
def test_invalid_inputs_are_refused_with_a_french_message(call, message):
    with pytest.raises(DomainError) as error:
        call()
    assert message in str(error.value.message)


def test_checker_catches_a_result_that_breaks_the_definition():
    items, ballots, budget = poor_and_rich()
    result = method_of_equal_shares(items, ballots, budget, completion="none")
    # Reversing the order: g did not have the smallest price at step 1.
    swapped = replace(result, selected=("g", "h"))
    assert any(
        "step 1" in p for p in check_equal_shares_definition(items, ballots, budget, swapped)
    )
    # Stopping early: g was still affordable.
    short = replace(
        result,
        selected=("h",),
        total_cost=Decimal("15.00"),
        remaining=Decimal("25.00"),
        payments={"h": result.payments["h"]},
    )
    assert any(
        "still affordable" in p
        for p in check_equal_shares_definition(items, ballots, budget, short)
    )
    # Wrong cents.
    bad = {
        **result.payments,
        "g": {"v1": Decimal("6.00"), "v2": Decimal("4.00"), "v3": Decimal("8.00")},
    }
    assert any(
        "cent payments" in p
        for p in check_equal_shares_definition(
            items, ballots, budget, replace(result, payments=bad)
        )
    )


# --- Properties (hypothesis) --------------------------------------------------------------------


@st.composite
def elections(draw):
    """≤ 8 projects, ≤ 15 voters, integer costs, an integer envelope."""
    n_projects = draw(st.integers(1, 8))
    ids = [f"p{i}" for i in range(n_projects)]
    costs = draw(st.lists(st.integers(1, 40), min_size=n_projects, max_size=n_projects))
    items = [Project(pid, Decimal(c)) for pid, c in zip(ids, costs, strict=True)]
    ballots = draw(
        st.dictionaries(
            st.from_regex(r"v[0-9]{1,2}", fullmatch=True),
            st.frozensets(st.sampled_from(ids)),
            max_size=15,
        )
    )
    budget = Decimal(draw(st.integers(0, 80)))
    return items, ballots, budget


@settings(max_examples=150, deadline=None)
@given(elections(), st.sampled_from(COMPLETIONS))
def test_equal_shares_properties(election, completion):
    items, ballots, budget = election
    result = method_of_equal_shares(items, ballots, budget, completion=completion)
    cost = {p.id: p.cost for p in items}
    # Never over the envelope, and the figures add up.
    assert result.total_cost == sum((cost[p] for p in result.selected), Decimal(0)) <= budget
    assert result.remaining == budget - result.total_cost
    assert len(set(result.selected)) == len(result.selected)
    # The definition holds for the equal-shares phase.
    assert check_equal_shares_definition(items, ballots, budget, result) == []
    # Who paid what: exact to the cent per project; nobody pays more than their virtual share.
    spent_by = {}
    for pid, paid in result.payments.items():
        assert sum(paid.values()) == cost[pid]
        for voter, amount in paid.items():
            spent_by[voter] = spent_by.get(voter, 0) + amount
    for amount in spent_by.values():
        assert amount <= result.voter_share + Fraction(len(result.payments), 100)
    # Deterministic, whatever the order projects and ballots come in.
    shuffled_items = random.Random(1).sample(items, len(items))
    shuffled_ballots = dict(random.Random(2).sample(sorted(ballots.items()), len(ballots)))
    again = method_of_equal_shares(shuffled_items, shuffled_ballots, budget, completion=completion)
    assert again == result
    # Completions only add to a feasible outcome; greedy completion leaves nothing that fits.
    if completion in ("greedy", "add1_greedy"):
        supported = {pid for ballot in ballots.values() for pid in ballot}
        assert not [p for p in supported - set(result.selected) if cost[p] <= result.remaining]


@settings(max_examples=150, deadline=None)
@given(elections())
def test_greedy_properties(election):
    items, ballots, budget = election
    result = greedy_by_votes(items, ballots, budget)
    cost = {p.id: p.cost for p in items}
    votes = result.votes
    assert result.total_cost == sum((cost[p] for p in result.selected), Decimal(0)) <= budget
    # Selection order follows the votes (then cost, then id).
    keys = [(-votes[p], cost[p], p) for p in result.selected]
    assert keys == sorted(keys)
    # A supported project was skipped only because it no longer fitted at its turn.
    for project in items:
        if project.id in result.selected or votes[project.id] == 0:
            continue
        key = (-votes[project.id], project.cost, project.id)
        spent_before = sum(
            (cost[p] for p in result.selected if (-votes[p], cost[p], p) < key), Decimal(0)
        )
        assert spent_before + project.cost > budget
    assert greedy_by_votes(list(reversed(items)), ballots, budget) == result
    assert all(votes[p] > 0 for p in result.selected)
