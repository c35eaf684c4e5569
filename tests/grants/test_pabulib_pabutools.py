"""Our `.pb` files read the same in pabutools (test-only dependency), and give the same outcome."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

pytest.importorskip("pabutools")

from pabutools.election import Cost_Sat  # noqa: E402
from pabutools.election.pabulib import parse_pabulib_from_string  # noqa: E402
from pabutools.rules import (  # noqa: E402
    completion_by_rule_combination,
    greedy_utilitarian_welfare,
    method_of_equal_shares,
)
from pabutools.tiebreaking import TieBreakingRule  # noqa: E402

from grants.solutions import allocation  # noqa: E402
from grants.solutions.pabulib import Election, PbProject, read_pb, write_pb  # noqa: E402

FIXTURE = Path(__file__).parent / "data" / "quartier_nord_2026.pb"
MES_TIES = TieBreakingRule(lambda inst, prof, p: (p.cost, -prof.approval_score(p), p.name))
GREEDY_TIES = TieBreakingRule(lambda inst, prof, p: (p.cost, p.name))


def test_pabutools_reads_our_output_as_we_do():
    election = Election(
        meta={
            "description": "Essai; avec point-virgule",
            "budget": "1000",
            "vote_type": "approval",
        },
        projects=(
            PbProject("1", Decimal("250.50"), {"name": "Jardin"}),
            PbProject("2", Decimal("400"), {"name": "Vélo"}),
            PbProject("10", Decimal("99.99"), {"name": "Café"}),
        ),
        ballots={"a": frozenset({"1", "10"}), "b": frozenset({"2"}), "c": frozenset()},
        project_columns=("cost", "name"),
    )
    instance, profile = parse_pabulib_from_string(write_pb(election))
    # pabutools keeps costs as exact rationals (gmpy2 mpq): compare as Fractions.
    assert {p.name: Fraction(str(p.cost)) for p in instance} == {
        p.id: Fraction(p.cost) for p in election.projects
    }
    assert Fraction(str(instance.budget_limit)) == 1000
    assert instance.meta["description"] == "Essai; avec point-virgule"
    assert sorted(sorted(p.name for p in ballot) for ballot in profile) == [[], ["1", "10"], ["2"]]


def test_fixture_gives_the_same_outcome_in_pabutools():
    text = FIXTURE.read_text(encoding="utf-8")
    election = read_pb(text)
    instance, profile = parse_pabulib_from_string(text)
    projects = election.allocation_projects()
    ours = allocation.method_of_equal_shares(projects, election.ballots, election.budget)
    ref = completion_by_rule_combination(
        instance,
        profile,
        [method_of_equal_shares, greedy_utilitarian_welfare],
        [
            {"sat_class": Cost_Sat, "tie_breaking": MES_TIES, "voter_budget_increment": 1},
            {"sat_class": Cost_Sat, "tie_breaking": GREEDY_TIES},
        ],
    )
    assert set(ours.selected) == {p.name for p in ref}
    greedy = greedy_utilitarian_welfare(
        instance, profile, sat_class=Cost_Sat, tie_breaking=GREEDY_TIES
    )
    assert set(
        allocation.greedy_by_votes(projects, election.ballots, election.budget).selected
    ) == {p.name for p in greedy}
