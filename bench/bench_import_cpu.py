"""CPU time of the historical grants import's dry run and apply, two source trees A/B, alternated.

Run:  .venv/bin/python bench/bench_import_cpu.py --old /tmp/main-tree --rows 100000 --rounds 3
      .venv/bin/python bench/bench_import_cpu.py --rows 100000 --profile out.prof   (one run, cProfile)

`--old` is another checkout of the project (e.g. `git archive main | tar -x -C /tmp/main-tree`);
without it only this tree is measured. Each run is its own process on a fresh PostgreSQL database
(DATABASE_URL + "_run", copied from a migrated template DATABASE_URL + "_tmpl"), with the
same generated file as bench/bench_import.py; it prints the process CPU time
(`time.process_time`) of `import_check` (dry run) and of `import_apply`. Runs alternate A, B, A,
B… so that the load of the shared machine falls on both; the medians are compared.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _conninfo(url: str) -> tuple[dict, str]:
    import dj_database_url

    cfg = dj_database_url.parse(url)
    return (
        {
            "host": cfg.get("HOST") or "127.0.0.1",
            "port": cfg.get("PORT") or 5432,
            "user": cfg.get("USER") or "postgres",
            "password": cfg.get("PASSWORD") or None,
            "dbname": "postgres",
            "autocommit": True,
        },
        cfg["NAME"],
    )


def _with_name(url: str, name: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + name


def child(args: argparse.Namespace) -> None:
    """One dry run + apply in this process (sys.path[0] is the tree under test)."""
    sys.path.insert(0, args.tree)
    os.chdir(args.tree)
    os.environ["DATABASE_URL"] = args.url
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    import logging
    import warnings

    import django

    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
    django.setup()
    logging.getLogger("django.request").setLevel(logging.ERROR)
    from django.core.files.uploadedfile import SimpleUploadedFile

    from core.models import Role, RoleAssignment, User
    from reporting.imports.services import import_apply, import_check

    user = User.objects.create_user("responsable@bench.example.org", None)
    RoleAssignment.objects.create(user=user, role=Role.PROGRAMME_MANAGER)
    path = Path(args.file)
    upload = SimpleUploadedFile(path.name, path.read_bytes(), content_type="text/csv")
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    batch = import_check(actor=user, kind="grants", file=upload, options={"strict": True})
    cpu1, wall1 = time.process_time(), time.perf_counter()
    if batch.report["error_count"]:
        raise SystemExit(f"bench file refused: {batch.report['errors'][:3]}")
    batch = import_apply(actor=user, batch=batch)
    cpu2, wall2 = time.process_time(), time.perf_counter()
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile)
    batch.file.delete(save=False)
    print(
        "RESULT "
        + json.dumps(
            {
                "check_cpu": cpu1 - cpu0,
                "apply_cpu": cpu2 - cpu1,
                "check_wall": wall1 - wall0,
                "apply_wall": wall2 - wall1,
                "result": batch.result,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--old", help="the other source tree (A); this tree is B")
    parser.add_argument("--profile", help="cProfile output of one run of this tree")
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--tree", default=str(ROOT))
    parser.add_argument("--url")
    parser.add_argument("--file")
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    import psycopg

    sys.path.insert(0, str(ROOT / "bench"))
    from bench_import import OUT, generate
    from bench_queue import prepare_database, setup_django

    base = os.environ.get("DATABASE_URL")
    if not base or not base.startswith("postgres"):
        raise SystemExit("DATABASE_URL must point at a PostgreSQL database of yours")
    conninfo, name = _conninfo(base)
    template, run = f"{name}_tmpl", f"{name}_run"
    os.environ["DATABASE_URL"] = _with_name(base, template)
    setup_django(prepare_database(argparse.Namespace(sqlite=False)))  # migrated template
    from django.db import connection

    connection.close()
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"scdl_{args.rows}.csv"
    generate(path, args.rows)
    trees = {"B (this tree)": str(ROOT)}
    if args.old:
        trees = {"A (old)": str(Path(args.old).resolve()), **trees}
    times: dict[str, list[dict]] = {label: [] for label in trees}
    rounds = 1 if args.profile else args.rounds
    try:
        for n in range(rounds):
            for label, tree in trees.items():
                with psycopg.connect(**conninfo) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{run}" WITH (FORCE)')
                    conn.execute(f'CREATE DATABASE "{run}" TEMPLATE "{template}"')
                command = [
                    sys.executable, __file__, "--child", "--tree", tree,
                    "--url", _with_name(base, run), "--file", str(path),
                ]  # fmt: skip
                if args.profile and tree == str(ROOT):
                    command += ["--profile", args.profile]
                done = subprocess.run(command, capture_output=True, text=True, check=False)
                result = next(
                    (
                        json.loads(x[7:])
                        for x in done.stdout.splitlines()
                        if x.startswith("RESULT ")
                    ),
                    None,
                )
                if result is None:
                    raise SystemExit(f"{label} failed:\n{done.stdout}\n{done.stderr}")
                times[label].append(result)
                print(
                    f"round {n + 1} {label:<14} dry run {result['check_cpu']:6.2f} s CPU "
                    f"({result['check_wall']:6.2f} s wall), apply {result['apply_cpu']:6.2f} s "
                    f"CPU ({result['apply_wall']:6.2f} s wall)",
                    flush=True,
                )
    finally:
        with psycopg.connect(**conninfo) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{run}" WITH (FORCE)')
            conn.execute(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
    print()
    for label, runs in times.items():
        check = statistics.median(r["check_cpu"] for r in runs)
        apply = statistics.median(r["apply_cpu"] for r in runs)
        print(
            f"{label:<14} median CPU: dry run {check:.2f} s, apply {apply:.2f} s, sum {check + apply:.2f} s"
        )
    if len(times) == 2:
        (a, ra), (b, rb) = times.items()
        for key in ("check_cpu", "apply_cpu"):
            old = statistics.median(r[key] for r in ra)
            new = statistics.median(r[key] for r in rb)
            print(f"{key}: {old:.2f} → {new:.2f} s ({old / new:.2f}×)")


if __name__ == "__main__":
    main()
