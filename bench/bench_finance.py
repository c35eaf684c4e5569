"""Finance at scale on PostgreSQL: one payment run of 20 000 instalments from creation to the
confirmation file, then the finance lists at 10 000 and at 1 000 000 instalments.

Run:  .venv/bin/python bench/bench_finance.py                  (PostgreSQL: DATABASE_URL or default)
      .venv/bin/python bench/bench_finance.py --instalments 2000 --large 100000   (quicker)
      .venv/bin/python bench/bench_finance.py --keep           (do not drop the bench database)
      .venv/bin/python bench/bench_finance.py --profile --skip-lists      (where the time goes)
      .venv/bin/python bench/bench_finance.py --proposed-fixes --skip-lists (the run's fixes)

The bench database (pluriel_bench_finance) is created, used and dropped at the end.

(a) Setup, not measured: 10 000 approved applications, their one-year agreements created by
    `cpo.services.agreements_create_bulk` (advance + balance: 20 000 instalments), signed, made due
    by the daily job. Measured, each with its wall time and the process's peak RSS during the step
    (goal: ≤ 10 s and ≤ 500 MB each):
    1. `payment_run_create` of every payable instalment (one officer);
    2. `payment_run_approve` by a second officer, then a third (the total is above the
       second-approval threshold);
    3. `payment_run_export` (CSV + XLSX written and stored);
    4. `confirmation_check` of a 20 000-line confirmation file (the dry run);
    5. `confirmation_apply` of it: the job's runner applies 2 000-line chunks (in-process here).
(b) The instalments are replaced by 10 000 generated ones (COPY), then 1 000 000: the finance
    instalment list `/finances/echeances/` (default filter, every state, a deep page), the API
    `/api/finance/instalments/` and the `payable_instalments()` selector's first page in keyset
    order — median and best time, SQL time and query count at both sizes (goal: 1M within 2× of
    10k on the best time, the least disturbed by other processes; the same queries).
    The plans of the first-page queries at 1M are printed (EXPLAIN ANALYZE).
"""

from __future__ import annotations

import argparse
import csv
import datetime
import io
import os
import random
import resource
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

DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/pluriel_bench_finance"
PAGE = 50
GOAL_SECONDS, GOAL_MB = 10, 500


# --------------------------------------------------------------------------- measuring


def _status(field: str) -> float | None:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def reset_peak() -> None:
    """Reset the kernel's high-water mark of this process's RSS (Linux), so each step reports its
    own peak rather than the peak since the start."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        pass


def peak_mb() -> float:
    return _status("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


RESULTS: list[tuple[str, float, float]] = []


PROFILE = "--profile" in sys.argv


def step(label: str, fn: Callable[[], object]) -> object:
    reset_peak()
    profiler = None
    if PROFILE:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - started
    if profiler is not None:
        import pstats

        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(18)
        print(
            "\n".join(
                line for line in out.getvalue().splitlines() if "/work/" in line or "{" in line
            )
        )
    peak = peak_mb()
    RESULTS.append((label, seconds, peak))
    ok = "ok" if seconds <= GOAL_SECONDS and peak <= GOAL_MB else "MISSED"
    print(f"  {label:<56} {seconds:7.2f} s   peak RSS {peak:7.1f} MB   {ok}", flush=True)
    return result


def timed(fn: Callable[[], object], runs: int) -> tuple[float, float, float, int]:
    """Over `runs` after one warm-up: the median and the best wall time (ms), the median time
    spent in SQL (ms), and the queries of one run. On a shared machine the best time is the one
    least disturbed by the neighbours; the SQL time shows the database's share alone."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times, sql, queries = [], [], 0
    for i in range(runs + 1):
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            fn()
            elapsed = time.perf_counter() - started
        if i:
            times.append(elapsed * 1000)
            sql.append(sum(float(q["time"]) for q in ctx.captured_queries) * 1000)
        queries = len(ctx.captured_queries)
    return statistics.median(times), min(times), statistics.median(sql), queries


# --------------------------------------------------------------------------- (a) one big run


def officers():
    from core.models import Role, RoleAssignment, User

    people = []
    for email in (
        "finances@bench.example.org",
        "comptable@bench.example.org",
        "dg@bench.example.org",
    ):
        user = User.objects.create_user(email, None)
        RoleAssignment.objects.create(user=user, role=Role.FINANCE_OFFICER)
        people.append(user)
    return people


def prepare_due_instalments(agreements: int) -> int:
    """Agreements through the services (advance + balance over one year, last year so both are
    due today), signed in bulk (setup), made due by the daily job. Returns the due count."""
    from bench_cpo import load_applications

    from core.clock import today
    from cpo import services
    from cpo.models import Agreement, AgreementState, Instalment, InstalmentState

    actor, applications = load_applications(agreements)
    first_year = today().year - 1
    services.agreements_create_bulk(
        actor=actor,
        applications=applications,
        profile="flat",
        duration_years=1,
        first_year=first_year,
        instalment_template="advance_balance",
    )
    Agreement.objects.update(
        state=AgreementState.SIGNED,
        signed_on=datetime.date(first_year, 1, 5),
        notified_on=datetime.date(first_year, 1, 5),
    )
    services.instalments_refresh()
    return Instalment.objects.filter(state=InstalmentState.DUE).count()


def confirmation_bytes(run) -> bytes:
    from core.clock import today

    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerow(["reference_echeance", "reference_lot", "date_paiement", "statut", "motif"])
    paid_on = today().strftime("%d/%m/%Y")
    for ref in run.items.order_by("pk").values_list("instalment_reference", flat=True).iterator():
        writer.writerow([ref, run.reference, paid_on, "payé", ""])
    return out.getvalue().encode("utf-8")


def bench_run(agreements: int, *, fixes: bool = False) -> None:
    from core.models import AuditLog, BackgroundJob
    from cpo.models import Instalment, InstalmentState
    from finance import confirmations
    from finance import services as services_finance
    from finance.models import PaymentRun, PaymentRunState

    print(
        "(a) One payment run from creation to confirmation"
        + (" — with the proposed fixes" if fixes else "")
    )
    if fixes:
        apply_proposed_fixes()
    started = time.perf_counter()
    due = prepare_due_instalments(agreements)
    creator, approver, second_approver = officers()
    # The first reverse() of a process loads every URL module (and the views they import): ~1 s
    # once per process, paid here rather than by the first notification of step 5.
    from django.urls import reverse

    reverse("cpo:my_payments")
    print(
        f"  setup: {due:,} due instalments in {time.perf_counter() - started:.1f} s (not measured)"
    )

    run = step(
        f"payment_run_create ({due:,} instalments)",
        lambda: services_finance.payment_run_create(actor=creator, label="Bench"),
    )
    assert run.item_count == due, (run.item_count, due)
    run = step(
        "payment_run_approve (second officer)",
        lambda: services_finance.payment_run_approve(actor=approver, run=run),
    )
    if run.state != PaymentRunState.APPROVED:
        run = step(
            "payment_run_approve (third officer: second approval)",
            lambda: services_finance.payment_run_approve(actor=second_approver, run=run),
        )
    assert run.state == PaymentRunState.APPROVED
    if fixes:
        check_same_dataset(run)
    run = step(
        "payment_run_export (CSV + XLSX stored)",
        # The bench's agreements carry no EJ number: exported on confirmation (issue 16).
        lambda: services_finance.payment_run_export(actor=creator, run=run, allow_missing_ej=True),
    )
    data = confirmation_bytes(run)
    lines = data.count(b"\n") - 1
    print(f"  confirmation file: {lines:,} lines, {len(data) / 2**20:.1f} MB")
    check = step(
        f"confirmation_check ({run.item_count:,} lines, dry run)",
        lambda: confirmations.confirmation_check(actor=creator, data=data, name="retour.csv"),
    )
    assert check.state == "checked", check.report.get("errors", [])[:3]
    job = step(
        "confirmation_apply (job runner, 2 000-line chunks)",
        lambda: confirmations.confirmation_apply(actor=creator, confirmation=check),
    )
    job = BackgroundJob.objects.get(pk=job.pk)
    paid = Instalment.objects.filter(state=InstalmentState.PAID).count()
    audits = AuditLog.objects.filter(action="cpo.instalment.paid").count()
    state = PaymentRun.objects.get(pk=run.pk).state
    print(f"  → job {job.state}, {paid:,} instalments paid, {audits:,} audit rows, run {state}")
    assert job.state == "done" and paid == due == audits and state == PaymentRunState.CLOSED


# --------------------------------------------------------------------------- proposed fixes
# With --proposed-fixes, part (a) runs again with these in place of the lead's functions, to
# measure what they would gain (they produce the same rows and files; checked below).


def payment_run_dataset_values(run):  # noqa: ANN001, ANN201
    """finance.resources.payment_run_dataset from one values_list instead of the resource's per-field
    export of each model instance: the same headers and cells."""
    import tablib

    from finance.models import PaymentRunItem
    from finance.resources import PAYMENT_COLUMNS

    data = tablib.Dataset(headers=[column for _name, column in PAYMENT_COLUMNS])
    rows = (
        PaymentRunItem.objects.filter(run=run, status=PaymentRunItem.Status.PENDING)
        .order_by("pk")
        .values_list(*[name for name, _column in PAYMENT_COLUMNS[:-1]])
    )
    for row in rows.iterator(chunk_size=5000):
        data.append([*row[:4], f"{row[4]:.2f}", *row[5:], run.reference])
    return data


def apply_proposed_fixes() -> None:
    import finance.resources

    # (The COPY of audit rows it once proposed is in core.audit.audit_log_many, sealed.)
    ORIGINAL["dataset"] = finance.resources.payment_run_dataset
    finance.resources.payment_run_dataset = payment_run_dataset_values


ORIGINAL: dict[str, Callable] = {}


def check_same_dataset(run) -> None:  # noqa: ANN001
    assert ORIGINAL["dataset"](run).csv == payment_run_dataset_values(run).csv
    print("  (the values_list dataset is identical to the resource's)")


# --------------------------------------------------------------------------- (b) the lists

STATES = [  # (state, share): most instalments of a mature system are paid or planned
    ("paid", 0.62),
    ("planned", 0.20),
    ("due", 0.08),
    ("on_hold", 0.03),
    ("approved", 0.02),
    ("in_run", 0.01),
    ("exported", 0.01),
    ("cancelled", 0.03),
]


def copy_instalments(total: int, *, first_number: int) -> None:
    """`total` instalments spread over the bench's agreement years with COPY (numbers from
    `first_number` on, so a second load adds without clashing)."""
    from core.bulk import copy_insert
    from cpo.models import AgreementFunder, AgreementYear, Instalment
    from cpo.services import INSTALMENT_COLUMNS

    rng = random.Random(total + first_number)
    years = list(AgreementYear.objects.values_list("pk", "agreement_id"))
    funder_of = dict(AgreementFunder.objects.values_list("agreement_id", "pk"))
    states = [s for s, _share in STATES]
    weights = [share for _s, share in STATES]
    start = datetime.date(2020, 1, 1)
    per_year = -(-total // len(years))

    def rows():
        count = 0
        for n in range(per_year):
            for year_id, agreement_id in years:
                if count >= total:
                    return
                state = rng.choices(states, weights)[0]
                yield (
                    agreement_id,
                    year_id,
                    funder_of[agreement_id],
                    first_number + n,
                    "custom",
                    Decimal(rng.randrange(50_000, 5_000_000)) / 100,
                    start + datetime.timedelta(days=rng.randrange(0, 3650)),
                    True,
                    None,
                    False,
                    state,
                    "",
                    state == "due" and rng.random() < 0.3,
                    1,
                    "",
                )
                count += 1

    copy_insert(Instalment, INSTALMENT_COLUMNS, rows())


def analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


class Lists:
    def __init__(self, user) -> None:
        from django.test import Client

        self.user = user
        self.client = Client()
        self.client.force_login(user)

    def page(self, url: str) -> Callable[[], object] | str:
        try:
            response = self.client.get(url)
        except Exception as exc:  # the page exists but fails: say so
            return f"error: {type(exc).__name__}: {str(exc).splitlines()[0][:80]}"
        if response.status_code != 200:
            return f"HTTP {response.status_code} (not available)"

        def fetch() -> object:
            r = self.client.get(url)
            assert r.status_code == 200, r.status_code
            return r.content

        return fetch

    def deep_cursor(self) -> str:
        """The (date, pk) cursor of the row in the middle of the list, for a deep page."""
        from cpo.models import Instalment

        middle = Instalment.objects.order_by("earliest_date", "pk").values_list(
            "earliest_date", "pk"
        )[Instalment.objects.count() // 2]
        return f"{middle[0].isoformat()}_{middle[1]}"

    @staticmethod
    def payable_first_page() -> object:
        from finance.services import payable_instalments

        return list(
            payable_instalments()
            .select_related("agreement__organisation", "funder__funder")
            .order_by("earliest_date", "pk")[:PAGE]
        )

    def all(self) -> list[tuple[str, Callable[[], object] | str]]:
        deep = self.deep_cursor()
        return [
            ("GET /finances/echeances/ (default filter)", self.page("/finances/echeances/")),
            ("GET /finances/echeances/?state=all", self.page("/finances/echeances/?state=all")),
            (
                "GET /finances/echeances/?state=all&apres=<middle>",
                self.page(f"/finances/echeances/?state=all&apres={deep}"),
            ),
            ("GET /finances/echeances/?state=due", self.page("/finances/echeances/?state=due")),
            ("GET /api/finance/instalments/", self.page("/api/finance/instalments/")),
            (
                "GET /api/finance/instalments/?state=due",
                self.page("/api/finance/instalments/?state=due"),
            ),
            ("payable_instalments() first page (keyset order)", self.payable_first_page),
        ]


def explain_first_pages() -> None:
    from django.db import connection

    from cpo.models import Instalment
    from finance.services import payable_instalments

    for label, qs in [
        ("every state, first page", Instalment.objects.order_by("earliest_date", "pk")[:PAGE]),
        (
            "state = due, first page",
            Instalment.objects.filter(state="due").order_by("earliest_date", "pk")[:PAGE],
        ),
        (
            "payable_instalments, first page",
            payable_instalments().order_by("earliest_date", "pk")[:PAGE],
        ),
    ]:
        sql, params = qs.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, params)
            plan = [row[0] for row in cursor.fetchall()]
        print(f"\n  EXPLAIN ANALYZE — {label}")
        for line in plan[:14]:
            print("    " + line)


def bench_lists(small: int, large: int, runs: int) -> bool:
    from django.db import connection

    from core.models import User

    print(f"\n(b) Finance lists at {small:,} and {large:,} instalments ({runs} runs each)")
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE cpo_instalment CASCADE")
        cursor.execute("TRUNCATE core_auditlog")
    user = User.objects.get(email="finances@bench.example.org")
    figures: dict[str, dict[int, tuple[float, int] | str]] = {}
    loaded = 0
    for size in (small, large):
        started = time.perf_counter()
        years = connection.cursor()
        years.execute("SELECT count(*) FROM cpo_agreementyear")
        per_round = years.fetchone()[0]
        copy_instalments(size - loaded, first_number=1 + -(-loaded // per_round))
        analyze()
        loaded = size
        print(f"  {size:,} instalments loaded by COPY in {time.perf_counter() - started:.1f} s")
        for label, target in Lists(user).all():
            figures.setdefault(label, {})[size] = (
                target if isinstance(target, str) else timed(target, runs)
            )
    print(f"\n  {'median (best) ms, SQL ms':<50} {small:>20,} {large:>22,}  ratio (best)  queries")
    flat = True
    for label, by_size in figures.items():
        a, b = by_size[small], by_size[large]
        if isinstance(a, str) or isinstance(b, str):
            shown = [x if isinstance(x, str) else "ok" for x in (a, b)]
            print(f"  {label:<50} {shown[0]:>20} {shown[1]:>22}")
            continue
        ratio = b[1] / a[1] if a[1] else float("inf")
        ok = ratio <= 2 and a[3] == b[3]
        flat &= ok
        print(
            f"  {label:<50} {a[0]:6.1f} ({a[1]:5.1f}) {a[2]:5.1f}"
            f" {b[0]:8.1f} ({b[1]:6.1f}) {b[2]:5.1f}  {ratio:5.2f}×"
            f"   {a[3]:>3} / {b[3]:<3} {'ok' if ok else 'MISSED'}"
        )
    explain_first_pages()
    return flat


# --------------------------------------------------------------------------- main


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instalments", type=int, default=20_000, help="size of the run (even)")
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=11, help="measured runs per list")
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    parser.add_argument("--skip-lists", action="store_true", help="only part (a)")
    parser.add_argument("--profile", action="store_true", help="profile each step of part (a)")
    parser.add_argument(
        "--proposed-fixes",
        action="store_true",
        help="part (a) with the proposed fixes (audit rows by COPY, export rows by values_list)",
    )
    parser.add_argument(
        "--unchained",
        action="store_true",
        help="reference run without the audit hash chain (bench/audit_reference.py)",
    )
    args = parser.parse_args()
    # The jobs run in-process: no broker, whatever the environment says.
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ.pop("CELERY_RESULT_BACKEND", None)
    os.environ.setdefault("DATABASE_URL", DEFAULT_PG)
    url = prepare_database(argparse.Namespace(sqlite=False))
    setup_django(url)
    if args.unchained:
        from audit_reference import disable_chain

        disable_chain()
        print("Audit chain DISABLED (reference run: rows without hash nor seal)")
    import logging

    logging.getLogger("celery").setLevel(logging.WARNING)
    from django.db import connection

    print(f"Database: {connection.vendor} ({connection.settings_dict['NAME']})\n")
    try:
        bench_run(args.instalments // 2, fixes=args.proposed_fixes)
        flat = True if args.skip_lists else bench_lists(args.small, args.large, args.runs)
    finally:
        if not args.keep:
            drop_database(url)
    run_ok = all(s <= GOAL_SECONDS and m <= GOAL_MB for _l, s, m in RESULTS)
    print(
        f"\nRun steps ≤ {GOAL_SECONDS} s and ≤ {GOAL_MB} MB each: {'met' if run_ok else 'NOT met'}"
    )
    if not args.skip_lists:
        print(f"Lists flat (1M within 2× of 10k, same queries): {'met' if flat else 'NOT met'}")


if __name__ == "__main__":
    main()
