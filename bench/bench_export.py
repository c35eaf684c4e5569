"""Streaming exports at scale: 100 000 instalments exported by the background job, in CSV and XLSX
(issue goal: ≤ 10 s and ≤ 200 MB peak RSS, memory flat in the number of rows), on PostgreSQL.

Run:  .venv/bin/python bench/bench_export.py                 (PostgreSQL: the database below)
      .venv/bin/python bench/bench_export.py --agreements 2000 --compare --formats csv,xlsx,ods,json

The bench database (pluriel_bench_export) is created, filled and dropped at the end. Setup (not
measured): 10 000 imported agreements × 5 years × 2 instalments = 100 000 instalments, written
with COPY (core.bulk.copy_insert); one agreement in ten belongs to a second programme, so that a
programme filter selects 10 000 instalments.

Measured, for each format: the export job as the page starts it (reporting.exports.export_start,
then `core.jobs.job_run` → run_export: scope, count, `values_list().iterator(chunk_size=2000)`,
rendering with the resources' widgets, streaming writer, storing the file) by a finance officer
with every instalment column (IBAN and BIC included) — over the 10 000 instalments of one
programme, then over all 100 000. Each export runs in a fresh process (Django loaded, then the
job), so its peak RSS is its own: if memory grew with the rows, the 100 000-row export would peak
well above the 10 000-row one.

`--compare` also times what the streaming export avoids: django-import-export's
`export_resource()` on model instances (10 000 rows), and openpyxl's `Workbook(write_only=True)`
writing the same 100 000 rendered rows.
"""

from __future__ import annotations

import argparse
import datetime
import os
import resource
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_queue import prepare_database, setup_django  # noqa: E402

DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/pluriel_bench_export"


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(label: str, fn):
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    print(f"{label:<52}{seconds:7.2f} s", flush=True)
    return result, seconds


def rows_for(model, dicts):
    """Tuples for copy_insert: every concrete column but the id, the model's default where a
    value is not given (COPY bypasses Django's defaults)."""
    from django.utils import timezone

    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    columns = [f.attname for f in fields]
    stamp = timezone.now()

    def default(field):
        if getattr(field, "auto_now_add", False) or getattr(field, "auto_now", False):
            return stamp
        return field.get_default()

    defaults = {f.attname: default(f) for f in fields}
    return columns, ([d.get(c, defaults[c]) for c in columns] for d in dicts)


def load(n_agreements: int):
    """Organisations, two programmes, imported agreements with one funder, their years and
    instalments — all through COPY."""
    from calls.models import Programme
    from core.bulk import copy_insert
    from core.models import BudgetLine, Funder, Organisation, Role, RoleAssignment, User
    from cpo.models import Agreement, AgreementFunder, AgreementYear, Instalment
    from tests.factories import siret_for

    funder = Funder.objects.create(name="Métropole", kind=Funder.Kind.MUNICIPALITY)
    line = BudgetLine.objects.create(code="PV-2026", label="Politique de la ville", funder=funder)
    main = Programme.objects.create(
        name="Contrat de ville", fiscal_year=2026, envelope=Decimal("1e9"), budget_line=line
    )
    other = Programme.objects.create(
        name="Quartiers d'été", fiscal_year=2026, envelope=Decimal("1e8"), budget_line=line
    )
    n_orgs = max(1, n_agreements // 5)
    copy_insert(
        Organisation,
        *rows_for(
            Organisation,
            (
                {
                    "name": f"Association des habitants n° {i}",
                    "siret": siret_for(i + 1),
                    "legal_form": "association",
                    "city": "Marseille",
                    "iban": "FR7630006000011234567890189",
                    "bic": "AGRIFRPP",
                }
                for i in range(n_orgs)
            ),
        ),
    )
    org_ids = list(Organisation.objects.order_by("pk").values_list("pk", flat=True))
    copy_insert(
        Agreement,
        *rows_for(
            Agreement,
            (
                {
                    "reference": f"CPO-2026-{i + 1:05d}",
                    "source": "imported",
                    "external_id": f"SUB-{i + 1}",
                    "organisation_id": org_ids[i % len(org_ids)],
                    "programme_id": other.pk if i % 10 == 0 else main.pk,
                    "kind": "agreement",
                    "state": "active",
                    "title": f"Actions structurelles {i}",
                    "first_year": 2026,
                    "duration_years": 5,
                    "total_amount": Decimal("150000.00"),
                    "profile": "flat",
                    "instalment_template": "advance_balance",
                    "signed_on": datetime.date(2026, 1, 5),
                    "notified_on": datetime.date(2026, 1, 5),
                }
                for i in range(n_agreements)
            ),
        ),
    )
    agreement_ids = list(Agreement.objects.order_by("pk").values_list("pk", flat=True))
    copy_insert(
        AgreementFunder,
        *rows_for(
            AgreementFunder,
            (
                {
                    "agreement_id": a,
                    "funder_id": funder.pk,
                    "share": Decimal("1"),
                    "ej_number": f"{2100000000 + a}",
                }
                for a in agreement_ids
            ),
        ),
    )
    funder_of = dict(AgreementFunder.objects.values_list("agreement_id", "pk"))
    years = range(2026, 2031)
    copy_insert(
        AgreementYear,
        *rows_for(
            AgreementYear,
            (
                {"agreement_id": a, "fiscal_year": y, "amount": Decimal("30000.00")}
                for a in agreement_ids
                for y in years
            ),
        ),
    )
    # A list, not a cursor: the connection is busy with the COPY while the rows are generated.
    year_ids = list(AgreementYear.objects.values_list("agreement_id", "fiscal_year", "pk"))

    def instalments():
        for agreement_id, fiscal_year, year_id in year_ids:
            paid = fiscal_year == 2026
            for number, kind, month in ((1, "advance", 3), (2, "balance", 9)):
                yield {
                    "agreement_id": agreement_id,
                    "year_id": year_id,
                    "funder_id": funder_of[agreement_id],
                    "number": number,
                    "kind": kind,
                    "amount": Decimal("15000.00"),
                    "earliest_date": datetime.date(fiscal_year, month, 1),
                    "state": "paid" if paid else "planned",
                    "paid_on": datetime.date(fiscal_year, month, 20) if paid else None,
                }

    copy_insert(Instalment, *rows_for(Instalment, instalments()))
    finance = User.objects.create_user("finances@bench.example.org", None)
    RoleAssignment.objects.create(user=finance, role=Role.FINANCE_OFFICER)
    return finance, other


def export_job(owner, file_format: str, filters: dict):
    """Start the job as the page does (export_start); with no broker Celery runs it eagerly right
    after the commit, in this process."""
    from core.models import BackgroundJob
    from reporting.exports import export_start
    from reporting.resources import DATASETS, columns_for

    columns = list(columns_for(owner, DATASETS["instalments"]))
    job = export_start(
        actor=owner,
        dataset="instalments",
        columns=columns,
        file_format=file_format,
        filters=filters,
    )
    job = BackgroundJob.objects.get(pk=job.pk)
    assert job.state == BackgroundJob.State.DONE, job.error
    return job


def compare(owner, programme, part: int, total: int) -> None:
    from openpyxl import Workbook

    from reporting.exports import FORMATS, RowPlan
    from reporting.resources import DATASETS, columns_for

    spec = DATASETS["instalments"]
    allowed = columns_for(owner, spec)
    names = list(allowed)
    resource = spec.resource()
    qs = spec.queryset(owner, {"programme": programme.pk}).select_related(
        "agreement__organisation", "agreement__programme__budget_line", "funder__funder", "year"
    )

    def with_instances():
        for obj in qs.iterator(chunk_size=2000):
            resource.export_resource(obj, selected_fields=names)

    def with_rows():
        plan = RowPlan([allowed[n] for n in names], native=False)
        for row in spec.queryset(owner, {"programme": programme.pk}).values_list(*plan.paths):
            plan.render(row, {})

    measure(f"  import-export export_resource() on instances, {part:,}", with_instances)
    measure(f"  values_list() + RowPlan.render(), {part:,}", with_rows)
    plan = RowPlan([allowed[n] for n in names], native=FORMATS["xlsx"].native)

    def with_openpyxl():
        book = Workbook(write_only=True)
        sheet = book.create_sheet("Échéances")
        sheet.append([str(allowed[n].column_name) for n in names])
        for row in spec.queryset(owner).values_list(*plan.paths).iterator(chunk_size=2000):
            sheet.append(plan.render(row, {}))
        with tempfile.TemporaryFile() as fh:
            book.save(fh)

    measure(f"  XLSX by openpyxl Workbook(write_only=True), {total:,}", with_openpyxl)


def drop_database(url: str) -> None:
    import dj_database_url
    import psycopg
    from django.db import connections

    connections.close_all()
    cfg = dj_database_url.parse(url)
    with psycopg.connect(
        host=cfg.get("HOST") or "127.0.0.1",
        port=cfg.get("PORT") or 5432,
        user=cfg.get("USER") or "postgres",
        password=cfg.get("PASSWORD") or None,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{cfg["NAME"]}"')


def child(args) -> None:
    """One export in a fresh process (its peak RSS is its own), reported as a JSON line."""
    import json
    import logging

    import django

    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    django.setup()
    logging.getLogger("celery").setLevel(logging.WARNING)
    from core.models import User

    owner = User.objects.get(email="finances@bench.example.org")
    filters = {"programme": args.programme} if args.programme else {}
    # Warm up as a long-lived worker is: URLs (core.jobs reverses the job page) and modules.
    from django.urls import reverse

    import reporting.jobs_exports  # noqa: F401

    reverse("core:jobs")
    before = rss_mb()
    start = time.perf_counter()
    job = export_job(owner, args.child, filters)
    seconds = time.perf_counter() - start
    result = {"seconds": seconds, "rows": job.result["Lignes"], "size": job.result_file.size}
    job.result_file.delete(save=False)
    print(json.dumps({**result, "before": before, "rss": rss_mb()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agreements", type=int, default=10_000, help="× 10 instalments")
    parser.add_argument("--formats", default="csv,xlsx", help="csv,xlsx,ods,json")
    parser.add_argument("--compare", action="store_true", help="also time the slower paths")
    parser.add_argument("--keep", action="store_true", help="do not drop the database")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--programme", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("DATABASE_URL", DEFAULT_PG)
    if args.child:
        child(args)
        return
    url = prepare_database(argparse.Namespace(sqlite=False))
    setup_django(url)
    import logging

    logging.getLogger("celery").setLevel(logging.WARNING)
    try:
        run(args)
    finally:
        if not args.keep:
            drop_database(url)
            print(f"Database {url.rsplit('/', 1)[-1]} dropped.")


def run(args) -> None:
    import json
    import subprocess

    from django.db import connection

    from cpo.models import Instalment

    print(f"Database: {connection.vendor} ({connection.settings_dict['NAME']})")
    t0 = time.perf_counter()
    owner, programme = load(args.agreements)
    total = Instalment.objects.count()
    part = Instalment.objects.filter(agreement__programme=programme).count()
    print(
        f"Setup: {total:,} instalments ({part:,} in « {programme.name} ») in "
        f"{time.perf_counter() - t0:.1f} s (not measured)\n"
    )
    print("Export job, each in a fresh worker-like process (Django, URLs loaded; then the job):")
    worst = peak = 0.0
    for file_format in args.formats.split(","):
        for label, programme_id, rows in (
            ("one programme", programme.pk, part),
            ("everything", None, total),
        ):
            command = [sys.executable, __file__, "--child", file_format]
            if programme_id:
                command += ["--programme", str(programme_id)]
            out = subprocess.run(command, capture_output=True, text=True, check=True)
            result = json.loads(out.stdout.strip().splitlines()[-1])
            assert result["rows"] == rows, result
            print(
                f"  {file_format.upper():<5}{label} ({rows:,} rows)".ljust(52)
                + f"{result['seconds']:7.2f} s   RSS {result['before']:6.1f} MB before,"
                + f" peak {result['rss']:6.1f} MB"
                + f"   file {result['size'] / 2**20:5.1f} MB",
                flush=True,
            )
            if rows == total:
                worst = max(worst, result["seconds"])
                peak = max(peak, result["rss"])
    if args.compare:
        print("\nFor comparison (paths the export does not take), in this process:")
        compare(owner, programme, part, total)
    ok = worst <= 10 and peak <= 200
    print(
        f"\nGoal ≤ 10 s and ≤ 200 MB for {total:,} rows: {'met' if ok else 'NOT met'} "
        f"(slowest {worst:.2f} s, highest peak RSS {peak:.1f} MB)"
    )


if __name__ == "__main__":
    main()
