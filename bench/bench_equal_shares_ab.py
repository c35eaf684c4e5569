"""Method of Equal Shares (Add1): the engine of another git revision against the working tree's,
side by side in one process.

Run:  .venv/bin/python bench/bench_equal_shares_ab.py REVISION FILE.pb [FILE.pb ...] [--rounds 4]

`grants/equal_shares.py`, `equal_shares_float.py` and `equal_shares_stretch.py` of REVISION (e.g. `main`)
are loaded as a second copy of the engine; `grants.solutions.allocation.method_of_equal_shares`
(completion "add1_greedy") runs on each file with one engine then the other, alternating which
goes first, `--rounds` times. Printed: the CPU seconds (`time.process_time`) of each run and
whether both engines gave the same outcome (selection, final share, Add1 rounds, payments).
The machine is shared: compare the two columns of one line, not lines of different runs.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def engine_at(revision: str, folder: Path) -> ModuleType:
    """`grants.equal_shares` as it is at `revision`, importing its own float modules."""

    modules = ("equal_shares", "equal_shares_float", "equal_shares_stretch")

    def source(name: str) -> str | None:
        shown = subprocess.run(
            ["git", "show", f"{revision}:grants/{name}.py"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if shown.returncode:
            return None  # a module the revision did not have yet (equal_shares_stretch)
        text = shown.stdout
        for other in modules:
            text = text.replace(f"from grants.{other} import", f"from ab_{other} import")
        return text

    for name in modules:
        text = source(name)
        if text is None and name == "equal_shares":
            raise SystemExit(f"{revision} has no grants/equal_shares.py")
        if text is not None:
            (folder / f"ab_{name}.py").write_text(text)
    sys.path.insert(0, str(folder))
    spec = importlib.util.spec_from_file_location("ab_equal_shares", folder / "ab_equal_shares.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["ab_equal_shares"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revision")
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    import django

    django.setup()
    from grants import equal_shares
    from grants.solutions import allocation, pabulib

    with tempfile.TemporaryDirectory() as folder:
        engines = {args.revision: engine_at(args.revision, Path(folder)), "tree": equal_shares}
        for path in map(Path, args.paths):
            election = pabulib.read_pb(path.read_text(encoding="utf-8"))
            projects = election.allocation_projects()
            times: dict[str, list[float]] = {name: [] for name in engines}
            outcomes = set()
            for n in range(args.rounds):
                for name in list(engines)[:: 1 if n % 2 == 0 else -1]:
                    allocation.equal_shares = engines[name]
                    cpu = time.process_time()
                    result = allocation.method_of_equal_shares(
                        projects, election.ballots, election.budget
                    )
                    times[name].append(time.process_time() - cpu)
                    outcomes.add(
                        (
                            result.selected,
                            result.voter_share,
                            result.add1_rounds,
                            tuple(
                                (p, tuple(sorted(v.items()))) for p, v in result.payments.items()
                            ),
                        )
                    )
            allocation.equal_shares = equal_shares
            columns = "   ".join(
                f"{name}: " + " / ".join(f"{t:.2f}" for t in values)
                for name, values in times.items()
            )
            same = "same outcome" if len(outcomes) == 1 else "DIFFERENT OUTCOMES"
            print(f"{path.stem}: {columns} s CPU  ({same})", flush=True)


if __name__ == "__main__":
    main()
