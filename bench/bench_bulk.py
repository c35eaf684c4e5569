"""Bulk actions of the instruction: 5 000 filed applications declared eligible in one action
(issue 19 goal: ≤ 30 s and ≤ 300 MB, with every audit row written).

Run:  .venv/bin/python bench/bench_bulk.py --sqlite
      DATABASE_URL=postgres://postgres@127.0.0.1:5432/pluriel_bulk .venv/bin/python bench/bench_bulk.py
      .venv/bin/python bench/bench_bulk.py --sqlite --files 1000

The bench database is dropped and rebuilt. Setup (not measured): N filed applications
bulk-inserted. Measured:
1. reference: the single-file service `application_declare_eligible` called directly on 200 files
   (what 200 clicks on the file's page cost, without the bulk machinery);
2. `grants.services.bulk.bulk_action_start` on the N other files, through the background job (above
   BULK_ACTION_JOB_THRESHOLD; the job runs in-process without a broker), then checked: every item
   done, every file eligible, one audit row per file.
The figure that matters besides the goal is the ratio of the bulk's cost per file to the
reference's: the bulk machinery (selection, items, savepoints, progress) should add little.
"""

from __future__ import annotations

import argparse
import datetime
import os
import resource
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_queue import prepare_database, setup_django  # noqa: E402

REFERENCE_FILES = 200


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class QueryCounter:
    """Counts the SQL statements run while installed (connection.execute_wrapper), without
    keeping them (CaptureQueriesContext would hold every statement's text)."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, execute, sql, params, many, context):
        self.n += 1
        return execute(sql, params, many, context)


def load(n: int):
    from calls.models import Call, CallState, Programme
    from core.models import BudgetLine, Funder, Organisation, Role, RoleAssignment, User
    from grants.models import Application, ApplicationState
    from tests.factories import siret_for

    funder = Funder.objects.create(name="Métropole", kind=Funder.Kind.MUNICIPALITY)
    line = BudgetLine.objects.create(code="PV-2026", label="Politique de la ville", funder=funder)
    programme = Programme.objects.create(
        name="Contrat de ville", fiscal_year=2026, envelope=Decimal("1e9"), budget_line=line
    )
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    call = Call.objects.create(
        programme=programme,
        title="Appel 2026",
        envelope=Decimal("1e9"),
        opens_at=start,
        closes_at=start + datetime.timedelta(days=60),
    )
    Call.objects.filter(pk=call.pk).update(state=CallState.CLOSED)
    orgs = Organisation.objects.bulk_create(
        [Organisation(name=f"Association {i}", siret=siret_for(i + 1)) for i in range(n)],
        batch_size=2000,
    )
    Application.objects.bulk_create(
        [
            Application(
                reference=f"AAP-2026-{i + 1:05d}",
                programme=programme,
                call=call,
                organisation=org,
                state=ApplicationState.SUBMITTED,
                submitted_at=start,
                title=f"Projet {i}",
                requested_amount=Decimal(10000 + i),
            )
            for i, org in enumerate(orgs)
        ],
        batch_size=2000,
    )
    actor = User.objects.create_user("responsable@bench.example.org", None)
    RoleAssignment.objects.create(user=actor, role=Role.PROGRAMME_MANAGER)
    return actor, call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    args = parser.parse_args()
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/pluriel_bulk")
    url = prepare_database(args)
    setup_django(url)

    from django.conf import settings
    from django.db import connection

    from core.models import AuditLog, BackgroundJob
    from grants.models import Application, ApplicationState, BulkActionItem
    from grants.services import application_declare_eligible
    from grants.services.bulk import bulk_action_start, bulk_counts

    print(f"Database: {connection.vendor} ({connection.settings_dict['NAME']})")
    t0 = time.perf_counter()
    actor, call = load(args.files + REFERENCE_FILES)
    print(
        f"Setup: {args.files + REFERENCE_FILES:,} filed applications in {time.perf_counter() - t0:.1f} s (not measured)\n"
    )

    ids = list(Application.objects.order_by("id").values_list("pk", flat=True))
    reference_ids, bulk_ids = ids[:REFERENCE_FILES], ids[REFERENCE_FILES:]

    ref_queries = QueryCounter()
    start = time.perf_counter()
    with connection.execute_wrapper(ref_queries):
        for app in Application.objects.filter(pk__in=reference_ids).select_related("organisation"):
            application_declare_eligible(actor=actor, application=app)
    ref_s = time.perf_counter() - start
    ref_per_file = ref_s / REFERENCE_FILES
    print(
        f"{'reference: single-file service × ' + str(REFERENCE_FILES):<52} {ref_s:7.2f} s"
        f"   {ref_per_file * 1000:6.2f} ms/file   {ref_queries.n / REFERENCE_FILES:5.2f} queries/file"
    )

    assert len(bulk_ids) > settings.BULK_ACTION_JOB_THRESHOLD
    rss_before = rss_mb()
    bulk_queries = QueryCounter()
    start = time.perf_counter()
    with connection.execute_wrapper(bulk_queries):
        bulk = bulk_action_start(actor=actor, action="declare_eligible", params={}, ids=bulk_ids)
    bulk_s = time.perf_counter() - start
    peak = rss_mb()
    per_file = bulk_s / len(bulk_ids)
    print(
        f"{f'bulk action: declare {len(bulk_ids):,} files eligible':<52} {bulk_s:7.2f} s"
        f"   {per_file * 1000:6.2f} ms/file   {bulk_queries.n / len(bulk_ids):5.2f} queries/file"
        f"   peak RSS {peak:7.1f} MB (before: {rss_before:.1f} MB)"
    )
    print(f"    ratio bulk / reference per file: {per_file / ref_per_file:.2f}")

    bulk.refresh_from_db()
    counts = bulk_counts(bulk)
    audits = AuditLog.objects.filter(
        action="grants.application.declared_eligible",
        object_id__in=[str(i) for i in bulk_ids],
    ).count()
    eligible = Application.objects.filter(pk__in=bulk_ids, state=ApplicationState.ELIGIBLE).count()
    job = BackgroundJob.objects.get(pk=bulk.job_id) if bulk.job_id else None
    print(
        f"    → items {counts}, files eligible {eligible:,}, audit rows {audits:,}, "
        f"job {job.state if job else 'none'} {job.progress_done if job else ''}/{job.progress_total if job else ''}"
    )
    ok = (
        counts[BulkActionItem.Status.DONE] == len(bulk_ids)
        and eligible == len(bulk_ids)
        and audits == len(bulk_ids)
    )
    goal = bulk_s <= 30 and peak <= 300
    print(
        f"\nAll written: {'yes' if ok else 'NO'} · goal (≤ 30 s, ≤ 300 MB): {'met' if goal else 'NOT met'}"
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
