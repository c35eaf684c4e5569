"""Method of Equal Shares with Add1 + greedy completion: Pluriel against pabutools, side by side.

Run:  .venv/bin/python bench/bench_allocation.py [FILE_OR_DIR ...] [--pabutools-timeout 120]

Without arguments: the pabulib files bundled as test data (tests/grants/data/*.pb). Give a
directory of larger real files to measure city-wide budgets; the report uses pabulib.org's
files, fetched from the GitHub repository `pabulib/pabulib_files` (folder `pb_files/`), e.g.
France_Toulouse_2022.pb (4 532 voters, 199 projects), Poland_Warszawa_2026.pb (61 668 voters,
83 projects), Hungary_Budapest_2024.pb (28 943 voters, 175 projects). Only approval elections
are measured (the others are listed as skipped).

For every file, in one run, one after the other on the same machine:
- Pluriel: `grants.allocation.method_of_equal_shares(..., completion="add1_greedy")`;
- pabutools (the reference implementation, test-only dependency from
  requirements-pabutools.txt): MES with cost utilities, `voter_budget_increment=1`, then greedy
  by votes (`completion_by_rule_combination`), with Pluriel's tie-breaking (see
  docs/decisions/2026-11-25-equal-shares-variant.md), in a subprocess stopped after
  `--pabutools-timeout` seconds.
Only the rule is timed (not reading the file), in CPU seconds of the process that runs it
(`time.process_time`, which the other jobs of a shared machine do not inflate much) and, for
Pluriel, also in wall-clock seconds; the ratio is pabutools' CPU time over Pluriel's. "same"
compares the selected sets.

Goals (docs/decisions/2026-12-06-fast-equal-shares.md): ≤ 2 s city-wide (~5 000 voters, ~200
projects), ≤ 30 s for the largest (~60 000 voters / ~80 projects, ~30 000 / ~175), ≥ 10× faster
than pabutools on every election both finish.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def pluriel(path: Path) -> tuple[float, float, set[str], int, int]:
    """(CPU seconds, wall seconds, selected, voters, projects)."""
    from grants.solutions import allocation, pabulib

    election = pabulib.read_pb(path.read_text(encoding="utf-8"))
    projects = election.allocation_projects()
    start, cpu = time.perf_counter(), time.process_time()
    result = allocation.method_of_equal_shares(projects, election.ballots, election.budget)
    cpu, elapsed = time.process_time() - cpu, time.perf_counter() - start
    return cpu, elapsed, set(result.selected), len(election.ballots), len(projects)


def _pabutools_child(path: str, queue: Any) -> None:
    from pabutools.election import (
        ApprovalBallot,
        ApprovalProfile,
        Cost_Sat,
        Instance,
        parse_pabulib,
    )
    from pabutools.rules import (
        completion_by_rule_combination,
        greedy_utilitarian_welfare,
        method_of_equal_shares,
    )
    from pabutools.tiebreaking import TieBreakingRule

    instance, profile = parse_pabulib(path)
    supported = {p for ballot in profile for p in ballot}
    # Pluriel never funds a project nobody voted for (see tests/grants/test_allocation_pabutools).
    kept = Instance([p for p in instance if p in supported], budget_limit=instance.budget_limit)
    ballots = ApprovalProfile([ApprovalBallot(ballot) for ballot in profile])
    mes_ties = TieBreakingRule(lambda inst, prof, p: (p.cost, -prof.approval_score(p), p.name))
    greedy_ties = TieBreakingRule(lambda inst, prof, p: (p.cost, p.name))
    start = time.process_time()
    outcome = completion_by_rule_combination(
        kept,
        ballots,
        [method_of_equal_shares, greedy_utilitarian_welfare],
        [
            {"sat_class": Cost_Sat, "tie_breaking": mes_ties, "voter_budget_increment": 1},
            {"sat_class": Cost_Sat, "tie_breaking": greedy_ties},
        ],
    )
    queue.put((time.process_time() - start, {p.name for p in outcome}))


def pabutools(path: Path, timeout: float) -> tuple[float, set[str]] | None:
    """(CPU seconds, selected) or None when pabutools did not finish within `timeout` (wall)."""
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_pabutools_child, args=(str(path), queue))
    child.start()
    child.join(timeout)
    if child.is_alive():
        child.terminate()
        child.join()
        return None
    return queue.get() if not queue.empty() else None


def files(arguments: list[str]) -> list[Path]:
    found: list[Path] = []
    for argument in arguments or [str(ROOT / "tests" / "grants" / "data")]:
        path = Path(argument)
        found += sorted(path.glob("*.pb")) if path.is_dir() else [path]
    return sorted(found, key=lambda p: p.stat().st_size)


def is_approval(path: Path) -> bool:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("vote_type;"):
                return line.strip().split(";")[1] in ("approval", "choose-1")
            if line.strip() == "PROJECTS":
                break
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", help=".pb files or directories of them")
    parser.add_argument("--pabutools-timeout", type=float, default=120.0)
    args = parser.parse_args()
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    import django

    django.setup()
    header = (
        f"{'election':<58} {'voters':>7} {'projects':>8} {'pabutools':>10} {'Pluriel':>8}"
        f" {'(wall)':>8} {'ratio':>7}  same"
    )
    print(header)
    print("-" * len(header))
    ratios = []
    for path in files(args.paths):
        if not is_approval(path):
            print(f"{path.stem[:58]:<58} skipped: not an approval election")
            continue
        ours, wall, selected, voters, projects = pluriel(path)
        ref = pabutools(path, args.pabutools_timeout)
        if ref is None:
            theirs, ratio, same = f"> {args.pabutools_timeout:.0f} s", "—", "—"  # wall
        else:
            ratios.append(ref[0] / ours)
            theirs = f"{ref[0]:.2f} s"
            ratio = f"{ref[0] / ours:.0f}×"
            same = "yes" if ref[1] == selected else "NO"
        print(
            f"{path.stem[:58]:<58} {voters:>7} {projects:>8} {theirs:>10} {ours:>6.2f} s"
            f" {wall:>6.2f} s {ratio:>7}  {same}",
            flush=True,
        )
    if ratios:
        print(f"\nsmallest ratio where both finish: {min(ratios):.1f}×")


if __name__ == "__main__":
    main()
