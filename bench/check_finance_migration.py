"""Proof that moving the payment side from `cpo` to `finance` leaves the database untouched.

On a PostgreSQL database filled by the demo (`manage.py demo`) and by the finance bench's fillers
(bench/bench_finance.py: agreements through the services, a payment run created, approved,
exported and confirmed), it records for every moved table its row count, its money sums and an
md5 of every row (ordered by id), plus the tables' columns, constraints and indexes. Then it
migrates back to the state before the move (finance → zero, cpo → 0006: the content types go back
to `cpo`), records again, migrates forward across cpo/0007 and finance/0001, records again, and
asserts the three records are identical — and that the content types (and so the permissions)
follow the models, keeping their ids.

Run:  .venv/bin/python bench/check_finance_migration.py                 (DATABASE_URL or default)
      .venv/bin/python bench/check_finance_migration.py --instalments 4000  (bench fill size)

The database (pluriel_check_finance_migration) is created, used and dropped at the end (--keep).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_queue import prepare_database, setup_django  # noqa: E402

DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/pluriel_check_finance_migration"

#: Moved table → its money columns.
TABLES: dict[str, list[str]] = {
    "cpo_fiscalyear": [],
    "cpo_paymentrun": ["total", "paid_total", "rejected_total"],
    "cpo_paymentrunitem": ["amount"],
    "cpo_paymentrunapproval": ["total"],
    "cpo_paymentconfirmation": [],
}
MODELS = ["fiscalyear", "paymentconfirmation", "paymentrun", "paymentrunapproval", "paymentrunitem"]


def snapshot() -> dict[str, Any]:
    from django.db import connection

    out: dict[str, Any] = {}
    with connection.cursor() as cursor:
        for table, money in TABLES.items():
            sums = "".join(f"COALESCE(SUM({c}), 0), " for c in money)
            cursor.execute(
                f"SELECT COUNT(*), {sums}"
                f"md5(COALESCE(string_agg(t::text, '|' ORDER BY t.id), '')) FROM {table} t"
            )
            row = cursor.fetchone()
            out[table] = {
                "rows": row[0],
                "sums": dict(zip(money, row[1:-1], strict=True)),
                "md5": row[-1],
            }
            cursor.execute(
                "SELECT column_name, data_type, is_nullable, column_default FROM "
                "information_schema.columns WHERE table_name = %s ORDER BY ordinal_position",
                [table],
            )
            out[table]["columns"] = cursor.fetchall()
            cursor.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = %s::regclass ORDER BY conname",
                [table],
            )
            out[table]["constraints"] = cursor.fetchall()
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s ORDER BY 1",
                [table],
            )
            out[table]["indexes"] = cursor.fetchall()
        # The instalments the runs point at, and their audit trail, must not move either.
        cursor.execute(
            "SELECT COUNT(*), SUM(amount), md5(string_agg(state || ':' || amount::text, '|' "
            "ORDER BY id)) FROM cpo_instalment"
        )
        out["cpo_instalment"] = cursor.fetchone()
        cursor.execute(
            "SELECT COUNT(*), md5(string_agg(id::text, ',' ORDER BY id)) FROM core_auditlog"
        )
        out["core_auditlog"] = cursor.fetchone()
    return out


def content_types() -> dict[str, tuple[str, int, int]]:
    """model → (app label, content type id, permission count); fails on a duplicate."""
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType

    out: dict[str, tuple[str, int, int]] = {}
    for ct in ContentType.objects.filter(model__in=MODELS, app_label__in=["cpo", "finance"]):
        assert ct.model not in out, f"two content types for {ct.model}"
        out[ct.model] = (ct.app_label, ct.pk, Permission.objects.filter(content_type=ct).count())
    return out


def fill(instalments: int) -> None:
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("demo", verbosity=0)
    print(f"  demo loaded in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    import bench_finance

    from finance import confirmations
    from finance import services as services_finance

    due = bench_finance.prepare_due_instalments(instalments // 2)
    creator, approver, second = bench_finance.officers()
    run = services_finance.payment_run_create(actor=creator, label="Bench (migration check)")
    run = services_finance.payment_run_approve(actor=approver, run=run)
    if run.state != "approved":
        run = services_finance.payment_run_approve(actor=second, run=run)
    run = services_finance.payment_run_export(actor=creator, run=run, allow_missing_ej=True)
    check = confirmations.confirmation_check(
        actor=creator, data=bench_finance.confirmation_bytes(run), name="retour.csv"
    )
    confirmations.confirmation_apply(actor=creator, confirmation=check)
    # A closed fiscal year (neither filler closes one): the oldest, where nothing is left to pay.
    services_finance.fiscal_year_close(actor=creator, year=2020, note="Vérification de migration")
    print(
        f"  bench data: {due:,} due instalments, run {run.reference} exported and confirmed, "
        f"in {time.perf_counter() - started:.0f} s"
    )


def show(label: str, snap: dict[str, Any], cts: dict[str, tuple[str, int, int]]) -> None:
    print(f"\n{label}")
    for table in TABLES:
        s = snap[table]
        sums = ", ".join(f"{c}={v}" for c, v in s["sums"].items())
        print(f"  {table:26} {s['rows']:>7,} rows  {sums or '-':60} md5 {s['md5'][:12]}")
    n, total, digest = snap["cpo_instalment"]
    print(f"  {'cpo_instalment':26} {n:>7,} rows  amount={total}  md5 {digest[:12]}")
    print(f"  {'core_auditlog':26} {snap['core_auditlog'][0]:>7,} rows")
    print(
        "  content types: "
        + ", ".join(f"{m}={a}#{pk}({p} perms)" for m, (a, pk, p) in sorted(cts.items()))
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instalments", type=int, default=4000, help="bench run size (even)")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    args = parser.parse_args()
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ.pop("CELERY_RESULT_BACKEND", None)
    os.environ.setdefault("DATABASE_URL", DEFAULT_PG)
    url = prepare_database(argparse.Namespace(sqlite=False))
    setup_django(url)  # migrates to the latest state
    import logging

    logging.getLogger("celery").setLevel(logging.WARNING)
    from bench_finance import drop_database
    from django.core.management import call_command
    from django.db import connection

    print(f"Database: {connection.vendor} ({connection.settings_dict['NAME']})")
    try:
        print("Filling (demo + bench fillers)…")
        fill(args.instalments)
        before, cts_before = snapshot(), content_types()
        show("After the move (migrated to the latest state):", before, cts_before)

        call_command("migrate", "finance", "zero", verbosity=0)
        call_command("migrate", "cpo", "0006", verbosity=0)
        old, cts_old = snapshot(), content_types()
        show("Rolled back to the state before the move (cpo 0006, no finance app):", old, cts_old)

        call_command("migrate", verbosity=0)
        after, cts_after = snapshot(), content_types()
        show("Migrated forward again across cpo/0007 and finance/0001:", after, cts_after)

        assert all(before[t]["rows"] for t in TABLES), "a moved table is empty: fill more"
        assert old == before, "rolling back changed the tables"
        assert after == before, "migrating forward changed the tables"
        assert {m: a for m, (a, _pk, _n) in cts_old.items()} == dict.fromkeys(MODELS, "cpo")
        assert {m: a for m, (a, _pk, _n) in cts_after.items()} == dict.fromkeys(MODELS, "finance")
        assert {m: (pk, n) for m, (_a, pk, n) in cts_after.items()} == {
            m: (pk, n) for m, (_a, pk, n) in cts_old.items()
        }, "content type ids or permissions changed"
        print(
            "\nOK: same row counts, money sums, row digests, columns, constraints and indexes "
            "before and after; content types and permissions moved from cpo to finance with "
            "their ids."
        )
    finally:
        if not args.keep:
            drop_database(url)


if __name__ == "__main__":
    main()
