"""The audit hash chain's cost on the audited steps of the finance and CPO benches, as ratios
against the same code with the chain taken out (bench/audit_reference.py), measured in ONE process,
alternating chained and unchained runs of the same step on the same data — on a shared machine,
runs minutes apart in separate processes differ by more than the 10 % being measured.

Steps (each run inside a transaction rolled back afterwards, so every run starts from the same
rows; a chained run seals its rows before the rollback — `chain_seal_pending`, the commit
trigger's work — so the seal is paid inside the timing):
  CPO      `agreements_create_bulk` (N agreements × 5 years × 3 instalments, as bench_cpo.py),
           then the daily job `instalments_refresh` once they are signed;
  finance  `payment_run_create` of 2 N due instalments (as bench_finance.py step 1).
Reported per step: the median and best time of each mode, the ratio of the medians and the
median of the per-round ratios (goal ≤ 1.10).

Run:  .venv/bin/python bench/bench_audit_cost.py --part cpo        (PostgreSQL: DATABASE_URL or
      .venv/bin/python bench/bench_audit_cost.py --part finance    the default below; each part
      .venv/bin/python bench/bench_audit_cost.py --part cpo --agreements 2000 --rounds 5   in its
                                                                    own, dropped, database)
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_queue import prepare_database, setup_django  # noqa: E402

DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/pluriel_bench_audit_cost"


class Rollback(Exception):
    pass


def timed_rolled_back(fn: Callable[[], object], *, chained: bool) -> float:
    from audit_reference import chain_disabled
    from django.db import transaction

    from core.audit_chain import chain_seal_pending

    elapsed = 0.0
    try:
        with chain_disabled(not chained), transaction.atomic():
            started = time.perf_counter()
            fn()
            if chained:
                chain_seal_pending()
            elapsed = time.perf_counter() - started
            raise Rollback
    except Rollback:
        pass
    return elapsed


def compare(label: str, fn: Callable[[], object], rounds: int) -> tuple[float, float]:
    times: dict[bool, list[float]] = {True: [], False: []}
    for round_ in range(rounds):
        order = (False, True) if round_ % 2 == 0 else (True, False)
        for chained in order:
            times[chained].append(timed_rolled_back(fn, chained=chained))
    after, before = times[True], times[False]
    paired = statistics.median(a / b for a, b in zip(after, before, strict=True))
    medians = statistics.median(after) / statistics.median(before)
    print(
        f"  {label:<52} unchained median {statistics.median(before):6.2f} s (best "
        f"{min(before):5.2f})   chained median {statistics.median(after):6.2f} s (best "
        f"{min(after):5.2f})   ratio of medians {medians:.2f}, median paired ratio {paired:.2f}",
        flush=True,
    )
    return medians, paired


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agreements", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=4, help="runs of each mode per step")
    parser.add_argument("--part", choices=["cpo", "finance"], required=True)
    args = parser.parse_args()
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ.setdefault("DATABASE_URL", DEFAULT_PG)
    url = prepare_database(argparse.Namespace(sqlite=False))
    setup_django(url)
    from bench_cpo import load_applications
    from bench_finance import drop_database, officers, prepare_due_instalments
    from django.db import connection

    from core.audit_chain import chain_verify
    from cpo import services
    from cpo.models import Agreement, AgreementState
    from finance import services as services_finance

    print(f"Database: {connection.vendor} ({connection.settings_dict['NAME']})")
    print(f"{args.rounds} runs of each mode per step, alternating; ratio = chained / unchained\n")
    results = {}
    try:
        if args.part == "cpo":
            actor, applications = load_applications(args.agreements)

            def cpo_create() -> None:
                services.agreements_create_bulk(
                    actor=actor,
                    applications=applications,
                    profile="progressive_rate",
                    rate=Decimal("0.03"),
                    duration_years=5,
                    first_year=2026,
                    instalment_template="advance_interim_balance",
                )

            results["cpo create"] = compare(
                f"CPO: create {args.agreements:,} agreements × 5 years × 3",
                cpo_create,
                args.rounds,
            )
            # The daily job: the agreements created and signed once (committed), the job timed.
            cpo_create()
            Agreement.objects.update(
                state=AgreementState.SIGNED,
                signed_on=datetime.date(2026, 1, 5),
                notified_on=datetime.date(2026, 1, 5),
            )
            results["cpo daily"] = compare(
                "CPO: daily job over them (first run)",
                lambda: services.instalments_refresh(day=datetime.date(2027, 1, 10)),
                args.rounds,
            )
        else:
            due = prepare_due_instalments(args.agreements)
            creator, _approver, _second = officers()
            results["finance create"] = compare(
                f"finance: payment_run_create ({due:,} instalments)",
                lambda: services_finance.payment_run_create(actor=creator, label="Bench"),
                args.rounds,
            )
        verification = chain_verify()
        print(f"\n  audit chain of the committed rows: {'OK' if verification.ok else verification}")
        worst = max(max(pair) for pair in results.values())
        print(f"  every step within 10 % of unchained: {'met' if worst <= 1.10 else 'NOT met'}")
    finally:
        drop_database(url)


if __name__ == "__main__":
    main()
