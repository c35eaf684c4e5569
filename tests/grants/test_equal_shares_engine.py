"""The fast equal-shares engine (grants/equal_shares.py) gives exactly the textbook loop's result.

The textbook loop (`allocation._textbook_equal_shares`, one full exact run per Add1 round) is the
definition; the engine skips rounds, groups voters and certifies float runs. Same selection
order, same final share, same number of Add1 rounds, same exact payments — on random elections
made to have ties and hundreds of Add1 rounds, and on real pabulib files.
"""

from __future__ import annotations

import random
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from grants import equal_shares, equal_shares_float
from grants.solutions import allocation, pabulib
from grants.solutions.allocation import Project

DATA = Path(__file__).parent / "data"


def reference(projects, ballots, budget, completion):
    election = allocation._normalise(projects, ballots, budget)
    share = Fraction(budget) / len(election.voters)
    run, share, rounds = allocation._textbook_equal_shares(election, share, completion)
    return run.selected, share, rounds, allocation._payments_in_cents(election, run)


def random_election(rng: random.Random):
    n_projects = rng.randint(1, 12)
    projects = [
        Project(id=f"p{i}", cost=Decimal(rng.choice([100, 250, 250, 500, rng.randint(50, 2000)])))
        for i in range(n_projects)
    ]
    ballots = {}
    for v in range(rng.randint(1, 40)):
        size = rng.randint(0, min(4, n_projects))
        ballots[f"v{v:02}"] = frozenset(p.id for p in rng.sample(projects, size))
    total = sum(p.cost for p in projects)
    budget = Decimal(rng.randint(1, int(total))) + Decimal(rng.choice([0, "0.5", "0.01"]))
    return projects, ballots, budget


@pytest.mark.parametrize("completion", ["add1", "none"])
def test_engine_matches_the_textbook_loop(completion):
    rng = random.Random(20261206)
    rounds_seen = 0
    jumps = 0
    for _ in range(150):
        projects, ballots, budget = random_election(rng)
        ours = allocation.method_of_equal_shares(projects, ballots, budget, completion=completion)
        selected, share, rounds, payments = reference(projects, ballots, budget, completion)
        assert list(ours.equal_shares_phase) == selected, (projects, ballots, budget)
        assert ours.voter_share == share
        assert ours.add1_rounds == rounds
        assert {p: dict(v) for p, v in ours.payments.items()} == {
            p: dict(v) for p, v in payments.items()
        }
        rounds_seen += rounds
        jumps += rounds > 20
    if completion == "add1":
        assert rounds_seen > 2000 and jumps > 20  # the comparison covers long Add1 loops


def test_certified_float_stretches_are_never_wrong():
    """Whenever FloatMes certifies an outcome for a stretch of shares, every share of the
    stretch funds those projects in exact arithmetic (the order may differ only between
    projects with no supporter in common); and it certifies often enough to matter."""
    rng = random.Random(7)
    checked = certified = 0
    for _ in range(60):
        projects, ballots, budget = random_election(rng)
        election = allocation._normalise(projects, ballots, budget)
        ids = sorted(election.projects)
        index = {v: i for i, v in enumerate(election.voters)}
        engine = equal_shares.ApprovalMes(
            [Fraction(election.projects[p].cost) for p in ids],
            [[index[v] for v in election.utilities[p]] for p in ids],
            len(election.voters),
            lambda j, ids=ids, election=election: allocation.equal_shares_tie_key(
                election.projects[ids[j]], election.votes[ids[j]]
            ),
        )
        fast = equal_shares_float.FloatMes(engine)
        share = Fraction(budget) / len(election.voters)
        for extra in range(0, 40, 4):
            for spread in (0, 3):
                stretch = fast.run(share + extra, spread=Fraction(spread))
                checked += 1
                if not stretch.certain:
                    continue
                certified += 1
                for m in range(spread + 1):
                    exact = engine.run(share + extra + m)
                    assert set(exact.selected) == set(stretch.selected)
                    assert exact.spent == stretch.spent
    assert certified > checked // 2


def test_real_pabulib_file_matches_the_textbook_loop():
    election = pabulib.read_pb((DATA / "toulouse_2022_mirail.pb").read_text(encoding="utf-8"))
    projects = election.allocation_projects()
    ours = allocation.method_of_equal_shares(
        projects, election.ballots, election.budget, completion="add1"
    )
    selected, share, rounds, _ = reference(projects, election.ballots, election.budget, "add1")
    assert list(ours.selected) == selected
    assert (ours.voter_share, ours.add1_rounds) == (share, rounds)
    assert rounds > 1000


def district_election(rng: random.Random):
    """Districts of similar size voting for their own projects (so the cheapest projects are
    often a near tie between projects of different districts), with a few voters crossing
    over (so some close contenders share supporters)."""
    projects, ballots = [], {}
    districts = rng.randint(2, 4)
    for d in range(districts):
        own = [
            Project(id=f"d{d}p{i}", cost=Decimal(rng.choice([300, 400, 500, 600, 700])))
            for i in range(rng.randint(2, 4))
        ]
        projects += own
        for v in range(rng.randint(8, 14)):
            size = rng.randint(1, min(3, len(own)))
            ballots[f"d{d}v{v:02}"] = frozenset(p.id for p in rng.sample(own, size))
    for v in range(rng.randint(0, 3)):
        ballots[f"x{v}"] = frozenset(p.id for p in rng.sample(projects, 2))
    total = sum(p.cost for p in projects)
    return projects, ballots, Decimal(rng.randint(int(total) // 3, int(total)))


class CountingFloatMes(equal_shares_float.FloatMes):
    """FloatMes counting how often close contenders were funded as a group or branched on,
    and how often branches joined again."""

    groups = branches = joins = 0

    def _commute(self, state, group):
        commute = super()._commute(state, group)
        CountingFloatMes.groups += commute
        return commute

    def _branch(self, state, selected, spent, stretch, first):
        CountingFloatMes.branches += 1
        return super()._branch(state, selected, spent, stretch, first)

    def _hull(self, states, funded):
        CountingFloatMes.joins += 1
        return super()._hull(states, funded)


def _engine(projects, ballots, budget):
    election = allocation._normalise(projects, ballots, budget)
    ids = sorted(election.projects)
    index = {v: i for i, v in enumerate(election.voters)}
    engine = equal_shares.ApprovalMes(
        [Fraction(election.projects[p].cost) for p in ids],
        [[index[v] for v in election.utilities[p]] for p in ids],
        len(election.voters),
        lambda j: allocation.equal_shares_tie_key(
            election.projects[ids[j]], election.votes[ids[j]]
        ),
    )
    return engine, Fraction(budget) / len(election.voters)


def test_close_contenders_grouped_or_branched_are_certified_rightly():
    """Stretches certified through a group of commuting contenders or through branches fund,
    at every share, exactly the projects of the exact run (same set, same spending); and the
    Add1 result on such elections is still the textbook loop's."""
    rng = random.Random(2026)
    certified = 0
    for _ in range(80):
        projects, ballots, budget = district_election(rng)
        engine, share = _engine(projects, ballots, budget)
        fast = CountingFloatMes(engine)
        for extra in range(0, 60, 6):
            for spread in (0, 2, 5):
                stretch = fast.run(share + extra, spread=Fraction(spread))
                if not stretch.certain:
                    continue
                certified += 1
                for m in range(spread + 1):
                    exact = engine.run(share + extra + m)
                    assert set(exact.selected) == set(stretch.selected)
                    assert exact.spent == stretch.spent
        ours = allocation.method_of_equal_shares(projects, ballots, budget, completion="add1")
        selected, final_share, rounds, payments = reference(projects, ballots, budget, "add1")
        assert list(ours.equal_shares_phase) == selected
        assert (ours.voter_share, ours.add1_rounds) == (final_share, rounds)
        assert {p: dict(v) for p, v in ours.payments.items()} == {
            p: dict(v) for p, v in payments.items()
        }
    assert certified > 500
    assert CountingFloatMes.groups > 50 and CountingFloatMes.branches > 20
    assert CountingFloatMes.joins > 20  # branches that joined again (hull of their states)


def test_runs_resumed_from_the_prefix_of_a_wider_stretch_are_certified_rightly():
    """The groups a float run funded before it branched or gave up are funded first, group by
    group, at every share of its stretch (exact runs); a run over a narrower stretch inside it
    that replays them certifies, at every share, exactly the projects of the exact run."""
    rng = random.Random(1312)
    replayed = certified = partial = 0
    for n in range(80):
        election = random_election(rng) if n % 2 else district_election(rng)
        engine, share = _engine(*election)
        fast = equal_shares_float.FloatMes(engine)
        for extra in range(0, 60, 12):
            wide = fast.run(share + extra, spread=Fraction(11))
            partial += not wide.certain and bool(wide.prefix)
            for m in range(12):
                exact = engine.run(share + extra + m).selected
                for ids in wide.prefix:
                    assert set(exact[: len(ids)]) == set(ids)
                    exact = exact[len(ids) :]
            for low, spread in ((0, 5), (6, 5), (3, 2), (11, 0)):
                narrow = fast.run(share + extra + low, spread=Fraction(spread), prefix=wide.prefix)
                assert narrow.prefix[: len(wide.prefix)] == wide.prefix
                replayed += bool(wide.prefix)
                if not narrow.certain:
                    continue
                certified += 1
                for m in range(spread + 1):
                    exact_run = engine.run(share + extra + low + m)
                    assert set(exact_run.selected) == set(narrow.selected)
                    assert exact_run.spent == narrow.spent
    assert replayed > 1000 and certified > 1000 and partial > 100


def test_stretches_certified_as_passing_hold_at_every_share():
    """A run given `passing` may be certified with branches funding different sets when every
    one of them passes: then every share of the stretch funds one of those sets (exact runs),
    and that outcome passes. Checked with a predicate the exact outcomes sometimes fail (the
    envelope of the Add1 loop), on elections with many close calls; and the Add1 result is still
    the textbook loop's."""
    rng = random.Random(4242)
    mixed = certified = 0
    for n in range(80):
        projects, ballots, budget = district_election(rng) if n % 2 else random_election(rng)
        engine, share = _engine(projects, ballots, budget)
        fast = equal_shares_float.FloatMes(engine)
        envelope = Fraction(budget)
        cheapest = sorted((engine.costs[j], j) for j in engine.candidates)

        def passing(chosen, spent, cheapest=cheapest, envelope=envelope):
            taken = set(chosen)
            left = next((c for c, j in cheapest if j not in taken), None)
            return spent <= envelope and left is not None and left <= envelope - spent

        for extra in range(0, 60, 6):
            for spread in (2, 5, 11):
                stretch = fast.run(share + extra, spread=Fraction(spread), passing=passing)
                if not stretch.certain:
                    continue
                certified += 1
                mixed += len(stretch.sets) > 1
                for m in range(spread + 1):
                    exact = engine.run(share + extra + m)
                    assert frozenset(exact.selected) in stretch.sets
                    if len(stretch.sets) > 1:
                        assert passing(exact.selected, exact.spent)
        if n % 4 == 1:
            ours = allocation.method_of_equal_shares(projects, ballots, budget, completion="add1")
            selected, final_share, rounds, _ = reference(projects, ballots, budget, "add1")
            assert list(ours.equal_shares_phase) == selected
            assert (ours.voter_share, ours.add1_rounds) == (final_share, rounds)
    assert certified > 500 and mixed > 20
