"""Multi-year agreements at scale: schedules for 10 000 agreements × 5 years × 3 instalments, then
the daily job over them (issue goal: ≤ 10 s and ≤ 500 MB each, on PostgreSQL).

Run:  .venv/bin/python bench/bench_cpo.py              (PostgreSQL: DATABASE_URL or the default below)
      .venv/bin/python bench/bench_cpo.py --agreements 1000

The bench database is dropped and rebuilt. Setup (not measured): 10 000 approved applications
bulk-inserted. Measured:
1. `cpo.services.agreements_create_bulk` — the same code path as a single agreement's creation:
   yearly amounts (progressive profile, 3 %/year over 5 years), instalments (advance 50 %, interim
   30 %, balance), evaluations, audit rows;
2. the daily job `cpo.services.instalments_refresh` right after the agreements are signed (every
   advance due, the later balances held until the evaluation), then once more (idempotent: no change).
Time is wall clock; memory is the process's peak RSS and the Python allocations' peak (tracemalloc)
during each step.
"""

from __future__ import annotations

import argparse
import datetime
import os
import resource
import sys
import time
import tracemalloc
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_queue import prepare_database, setup_django  # noqa: E402

DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/pluriel_bench_cpo"


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


TRACE = "--trace-alloc" in sys.argv


def measure(label: str, fn):
    """Wall time and peak RSS; with --trace-alloc also tracemalloc's peak (which slows Python)."""
    if TRACE:
        tracemalloc.start()
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    alloc = ""
    if TRACE:
        alloc = f"   peak Python alloc {tracemalloc.get_traced_memory()[1] / 2**20:7.1f} MB"
        tracemalloc.stop()
    print(f"{label:<58} {seconds:7.2f} s   peak RSS {rss_mb():7.1f} MB{alloc}")
    return result, seconds


def load_applications(n: int):
    from calls.models import Call, CallState, Programme
    from core.models import BudgetLine, Funder, Organisation, Role, RoleAssignment, User
    from grants.models import Application, ApplicationState
    from tests.factories import siret_for

    funder = Funder.objects.create(name="Métropole", kind=Funder.Kind.MUNICIPALITY)
    line = BudgetLine.objects.create(code="PV-2026", label="Politique de la ville", funder=funder)
    programme = Programme.objects.create(
        name="Contrat de ville", fiscal_year=2026, envelope=Decimal("1e9"), budget_line=line
    )
    programme.funders.add(funder)
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    call = Call.objects.create(
        programme=programme,
        title="Soutien pluriannuel",
        envelope=Decimal("1e9"),
        opens_at=now,
        closes_at=now + datetime.timedelta(days=60),
    )
    Call.objects.filter(pk=call.pk).update(state=CallState.DECIDED)
    orgs = Organisation.objects.bulk_create(
        [
            Organisation(
                name=f"Association {i}", siret=siret_for(i + 1), iban="FR7630006000011234567890189"
            )
            for i in range(n)
        ],
        batch_size=5000,
    )
    apps = Application.objects.bulk_create(
        [
            Application(
                reference=f"SAS-2026-{i + 1:05d}",
                programme=programme,
                call=call,
                organisation=org,
                state=ApplicationState.APPROVED,
                title=f"Actions structurelles {i}",
                requested_amount=Decimal(150000 + 10 * i),
                approved_amount=Decimal(150000 + 10 * i),
                duration_years=5,
                is_multi_year=True,
            )
            for i, org in enumerate(orgs)
        ],
        batch_size=5000,
    )
    actor = User.objects.create_user("instructeur@bench.example.org", None)
    RoleAssignment.objects.create(user=actor, role=Role.INSTRUCTOR)
    return actor, list(
        Application.objects.filter(pk__in=[a.pk for a in apps]).select_related("programme")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agreements", type=int, default=10_000)
    parser.add_argument(
        "--trace-alloc", action="store_true", help="also measure Python allocations (slower)"
    )
    parser.add_argument(
        "--unchained",
        action="store_true",
        help="reference run without the audit hash chain (bench/audit_reference.py)",
    )
    args = parser.parse_args()
    os.environ.setdefault("DATABASE_URL", DEFAULT_PG)
    url = prepare_database(argparse.Namespace(sqlite=False))
    setup_django(url)
    if args.unchained:
        from audit_reference import disable_chain

        disable_chain()
        print("Audit chain DISABLED (reference run: rows without hash nor seal)")

    from django.db import connection

    from cpo import services
    from cpo.models import Agreement, AgreementState, Instalment

    print(f"Database: {connection.vendor} ({connection.settings_dict['NAME']})")
    t0 = time.perf_counter()
    actor, applications = load_applications(args.agreements)
    print(
        f"Setup: {len(applications):,} approved applications in {time.perf_counter() - t0:.1f} s "
        f"(not measured)\n"
    )

    agreements, create_s = measure(
        f"create {len(applications):,} agreements × 5 years × 3 instalments",
        lambda: services.agreements_create_bulk(
            actor=actor,
            applications=applications,
            profile="progressive_rate",
            rate=Decimal("0.03"),
            duration_years=5,
            first_year=2026,
            instalment_template="advance_interim_balance",
        ),
    )
    instalments = Instalment.objects.count()
    print(f"    → {len(agreements):,} agreements, {instalments:,} instalments")
    # Signature is a per-agreement act in real life; the bench signs them all at once (setup).
    Agreement.objects.update(
        state=AgreementState.SIGNED,
        signed_on=datetime.date(2026, 1, 5),
        notified_on=datetime.date(2026, 1, 5),
    )
    counts, job_s = measure(
        "daily job over them (first run, 10 January 2027)",
        lambda: services.instalments_refresh(day=datetime.date(2027, 1, 10)),
    )
    print(f"    → {counts}")
    again, again_s = measure(
        "daily job again the same day (idempotent)",
        lambda: services.instalments_refresh(day=datetime.date(2027, 1, 10)),
    )
    print(f"    → {again}")
    ok = create_s <= 10 and job_s <= 10 and rss_mb() <= 500
    print(f"\nGoal ≤ 10 s and ≤ 500 MB each: {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
