"""Does the instructor queue stay flat from 1 000 to 100 000 applications?

Run:  .venv/bin/python bench/bench_queue.py            (PostgreSQL, DATABASE_URL or the default below)
      .venv/bin/python bench/bench_queue.py --sqlite   (a throw-away SQLite file in bench/out/)

The bench database is dropped and rebuilt on every run. It bulk-inserts applications (with
organisations, calls and QPV links), then measures, at 1 000 and at 100 000 rows, the server time
(median of N runs) and the number of SQL queries of:

- the instructor queue page `/instruction/` (test Client, instructor with global scope), and the
  selector behind it, `grants.selectors.instructor_queue(...)`, first page rendered to a list;
- the API list `/api/applications/`, and the selector behind it, `applications_visible_to(...)`;
- the same queue for a territorially scoped instructor (6 of 60 QPVs, one call of 12): page, tab
  counts from the per-user counters (grants.ApplicationScopeCount), and the COUNT they replace.

- a filed file's page `/dossiers/<id>/` (the instructor), and an applicant's list `/dossiers/`
  (a member of one organisation in 3 000: its files grow from none or one to ~33).

Pages are cached under data versions (issue 17): by default the cache is Django's dummy one, so
every request renders its page (the cost of a first view); `--cached` keeps the test settings'
cache (a page seen again comes from it).
An endpoint that is not there yet (404) is reported as such; the selectors are always measured.
The queue's search (issue 16: accents, one typo, SIRET with spaces; one file in 1 000 is
named « Jardins partagés N ») is measured the same way, first page and tab counts.
Goal: 100k within 2× of 1k, and the same query count; the search ≤ 100 ms at 100k. With PostgreSQL the plans of the first-page
queries at 100k are printed (EXPLAIN ANALYZE) so a non-flat result can be explained.
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/pluriel_bench"
PAGE = 50
SMALL, LARGE = 1_000, 100_000
BATCH = 5_000


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sqlite",
        action="store_true",
        help="use a SQLite file in bench/out/ instead of PostgreSQL",
    )
    parser.add_argument(
        "--runs", type=int, default=9, help="measured runs per endpoint (median), default 9"
    )
    parser.add_argument(
        "--large", type=int, default=LARGE, help=f"size of the large data set, default {LARGE}"
    )
    parser.add_argument(
        "--no-explain", action="store_true", help="do not print the PostgreSQL query plans"
    )
    parser.add_argument(
        "--cached",
        action="store_true",
        help="keep Django's cache (a page seen again comes from it); by default every page is"
        " rendered (dummy cache), the cost of a first view",
    )
    return parser.parse_args()


def prepare_database(args: argparse.Namespace) -> str:
    """Point Django at a fresh bench database (PostgreSQL: created if missing, emptied otherwise)."""
    if args.sqlite:
        out = ROOT / "bench" / "out"
        out.mkdir(parents=True, exist_ok=True)
        path = out / "bench.sqlite3"
        path.unlink(missing_ok=True)
        return f"sqlite:///{path}"
    url = os.environ.get("DATABASE_URL") or DEFAULT_PG
    import dj_database_url
    import psycopg

    cfg = dj_database_url.parse(url)
    name = cfg["NAME"]
    conninfo = {
        "host": cfg.get("HOST") or "127.0.0.1",
        "port": cfg.get("PORT") or 5432,
        "user": cfg.get("USER") or "postgres",
        "password": cfg.get("PASSWORD") or None,
        "dbname": "postgres",
    }
    with psycopg.connect(**conninfo, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return url


def setup_django(url: str, *, cached: bool = False) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    sys.path.insert(0, str(ROOT))
    import logging
    import warnings

    import django

    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
    django.setup()
    if not cached:  # pages are cached under data versions (issue 17): measure them rendered
        from django.conf import settings

        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    # The 404s of endpoints not written yet are reported in the table, not logged.
    logging.getLogger("django.request").setLevel(logging.ERROR)
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


# --------------------------------------------------------------------------- data


def luhn_complete(body: str) -> str:
    from stdnum import luhn

    return body + luhn.calc_check_digit(body)


class Loader:
    """Bulk-inserts reference rows once, then applications in batches."""

    def __init__(self) -> None:
        from calls.models import Call, CallMode, CallState, Programme
        from core.models import QPV, Organisation, Pillar, Role, RoleAssignment, User

        self.rng = random.Random(2026)
        self.instructor = User.objects.create_user(
            "instructeur@bench.example.org", "bench-pass-123"
        )
        RoleAssignment.objects.create(user=self.instructor, role=Role.INSTRUCTOR)  # global scope
        self.colleagues = [
            User.objects.create_user(f"instructeur{i}@bench.example.org", None) for i in range(20)
        ]
        RoleAssignment.objects.bulk_create(
            [RoleAssignment(user=u, role=Role.INSTRUCTOR) for u in self.colleagues]
        )
        self.pillars = [
            Pillar.objects.create(code=c, label=label)
            for c, label in [
                ("cohesion", "Cohésion sociale"),
                ("cadre", "Cadre de vie"),
                ("emploi", "Emploi"),
            ]
        ]
        self.qpvs = QPV.objects.bulk_create(
            [
                QPV(code=f"QN013{i:02d}M", name=f"Quartier {i}", commune_insee="13055")
                for i in range(60)
            ]
        )
        self.programme = Programme.objects.create(
            name="Contrat de ville", fiscal_year=2026, envelope=Decimal("100000000.00")
        )
        now = datetime.datetime(2026, 3, 1, tzinfo=datetime.UTC)
        self.calls = Call.objects.bulk_create(
            [
                Call(
                    programme=self.programme,
                    mode=CallMode.PROJECT_CALL,
                    title=f"Appel à projets {i}",
                    state=CallState.OPEN,
                    opens_at=now,
                    closes_at=now + datetime.timedelta(days=60),
                    envelope=Decimal("5000000.00"),
                )
                for i in range(12)
            ]
        )
        # A territorially scoped instructor (issue 16): 6 of the 60 QPVs, staffed on one call.
        self.scoped = User.objects.create_user("instructeur.qpv@bench.example.org", None)
        scoped_role = RoleAssignment.objects.create(user=self.scoped, role=Role.INSTRUCTOR)
        scoped_role.territories.set(self.qpvs[:6])
        self.calls[0].instructors.add(self.scoped)
        self.organisations = Organisation.objects.bulk_create(
            [
                Organisation(
                    name=f"Association {i:05d}",
                    siret=luhn_complete(luhn_complete(f"{30_000_000 + i:08d}") + "0001"),
                )
                for i in range(3_000)
            ],
            batch_size=BATCH,
        )
        # A member of the first organisation (its files are ~1 in 3 000: none or one at 1k, ~33 at
        # 100k, within the 50 lines of /dossiers/'s first page).
        from core.models import Membership

        self.applicant = User.objects.create_user("porteur@bench.example.org", None)
        Membership.objects.create(user=self.applicant, organisation=self.organisations[0])
        self.count = 0
        self.first_file: int | None = None

    def add_applications(self, n: int) -> None:
        from grants.models import Application, ApplicationState

        states = list(ApplicationState.values)
        weights = [5 if s == ApplicationState.DRAFT else 10 for s in states]
        start = datetime.datetime(2026, 1, 5, tzinfo=datetime.UTC)
        link = Application.qpvs.through
        rng = self.rng
        remaining = n
        while remaining:
            size = min(BATCH, remaining)
            rows = []
            for _ in range(size):
                self.count += 1
                state = rng.choices(states, weights)[0]
                submitted = (
                    None
                    if state == ApplicationState.DRAFT
                    else start + datetime.timedelta(minutes=rng.randrange(0, 60 * 24 * 300))
                )
                rows.append(
                    Application(
                        reference=f"AAP-2026-{self.count:06d}",
                        programme=self.programme,
                        call=rng.choice(self.calls),
                        organisation=rng.choice(self.organisations),
                        state=state,
                        # One file in 1 000 has a name to search for (issue 16's example).
                        title=f"Jardins partagés {self.count}"
                        if self.count % 1000 == 0
                        else f"Projet {self.count}",
                        summary="Ateliers au pied des immeubles.",
                        pillar=rng.choice(self.pillars),
                        requested_amount=Decimal(rng.randrange(2_000, 50_000, 100)),
                        submitted_at=submitted,
                        assigned_to=rng.choice(self.colleagues) if rng.random() < 0.7 else None,
                    )
                )
            created = Application.objects.bulk_create(rows, batch_size=BATCH)
            if self.first_file is None:
                self.first_file = next(a.pk for a in created if a.state != ApplicationState.DRAFT)
            links = []
            for app in created:
                for qpv in rng.sample(self.qpvs, rng.choice([1, 1, 1, 2])):
                    links.append(link(application_id=app.pk, qpv_id=qpv.pk))
            link.objects.bulk_create(links, batch_size=BATCH)
            remaining -= size
        analyze()


def analyze() -> None:
    """Refresh planner statistics and, on PostgreSQL, clear the dead row versions that 100 000
    trigger updates leave in the small counter tables — as autovacuum would after a large load."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")


# --------------------------------------------------------------------------- measures


def measure(fn: Callable[[], object], runs: int) -> tuple[float, int]:
    """Median wall time (ms) over `runs` after one warm-up run, and the query count."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times, queries = [], 0
    for i in range(runs + 1):
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            fn()
            elapsed = time.perf_counter() - started
        if i:
            times.append(elapsed * 1000)
        queries = len(ctx.captured_queries)
    return statistics.median(times), queries


class Endpoints:
    """What is measured. A page that does not exist yet is reported, not faked."""

    def __init__(self, user, scoped, applicant=None, first_file: int | None = None) -> None:
        from django.test import Client

        self.user = user
        self.scoped = scoped
        self.first_file = first_file
        self.scoped_client = Client()
        self.scoped_client.force_login(scoped)
        self.client = Client()
        self.client.force_login(user)
        self.applicant_client = Client()
        if applicant is not None:
            self.applicant_client.force_login(applicant)

    def page(
        self, url: str, *, scoped: bool = False, applicant: bool = False
    ) -> Callable[[], object] | str:
        """A callable fetching `url`, or the reason it cannot be measured."""
        client = self.scoped_client if scoped else self.client
        if applicant:
            client = self.applicant_client
        try:
            response = client.get(url)
        except Exception as exc:  # the view exists but fails: say so
            return f"error: {type(exc).__name__}: {str(exc).splitlines()[0][:80]}"
        if response.status_code != 200:
            return f"HTTP {response.status_code} (not available yet)"

        def fetch() -> object:
            r = client.get(url)
            assert r.status_code == 200, r.status_code
            return r.content

        return fetch

    def queue_selector(self) -> object:
        from grants.selectors import instructor_queue

        return list(instructor_queue(self.user)[:PAGE])

    def queue_selector_count(self) -> object:
        """The tab counts and page total as the queue computes them (trigger-kept counters)."""
        from grants.selectors import instructor_queue, queue_counts

        counts = queue_counts(instructor_queue(self.user), user=self.user, filters={})
        return sum(counts.values()), counts

    def queue_exact_count(self) -> object:
        """For comparison: counting every filed file, as a filtered or scoped queue must."""
        from grants.selectors import instructor_queue, queue_counts

        qs = instructor_queue(self.user)
        return qs.count(), queue_counts(qs)

    def scoped_count(self) -> object:
        """The tab counts of a territorially scoped instructor (per-user trigger-kept counters)."""
        from grants.selectors import instructor_queue, queue_counts

        user = self.scoped
        counts = queue_counts(instructor_queue(user), user=user, filters={})
        return sum(counts.values()), counts

    def scoped_exact_count(self) -> object:
        """For comparison: counting the scoped instructor's files (what the queue did before)."""
        from grants.selectors import instructor_queue, queue_counts

        return queue_counts(instructor_queue(self.scoped))

    def api_selector(self) -> object:
        from grants.selectors import applications_visible_to

        qs = applications_visible_to(self.user).select_related("organisation", "call", "pillar")
        return list(qs[:PAGE])

    def queue_search(self, text: str) -> Callable[[], object]:
        """The queue's search (grants.selectors_search), first page and its tab counts."""

        def run() -> object:
            from grants.selectors import instructor_queue, queue_counts

            qs = instructor_queue(self.user, filters={"q": text})
            return list(qs[:PAGE]), queue_counts(qs, user=self.user, filters={"q": text})

        return run

    def all(self) -> list[tuple[str, Callable[[], object] | str]]:
        queue_url = url_or("grants:queue", "/instruction/")
        return [
            ("search « jardins partages » (accents)", self.queue_search("jardins partages")),
            ("search « jardins partqges » (1 typo)", self.queue_search("jardins partqges")),
            ("search « projet 4242 » (reference/title)", self.queue_search("projet 4242")),
            ("search « 300 000 42 » (SIRET, spaces)", self.queue_search("300 000 42")),
            (f"GET {queue_url}?q=jardins partages", self.page(f"{queue_url}?q=jardins+partages")),
            (f"GET {queue_url} (page 1)", self.page(queue_url)),
            ("instructor_queue() first page", self.queue_selector),
            ("queue tab counts + total (counters)", self.queue_selector_count),
            ("queue exact count (filtered/scoped path)", self.queue_exact_count),
            (f"GET {queue_url} (scoped, page 1)", self.page(queue_url, scoped=True)),
            ("scoped tab counts + total (counters)", self.scoped_count),
            ("scoped exact count (before: COUNT)", self.scoped_exact_count),
            ("GET /api/applications/ (page 1)", self.page("/api/applications/")),
            ("applications_visible_to() first page", self.api_selector),
            (
                f"GET /dossiers/{self.first_file}/ (file page)",
                self.page(f"/dossiers/{self.first_file}/"),
            ),
            ("GET /dossiers/ (an applicant's files)", self.page("/dossiers/", applicant=True)),
        ]


def url_or(name: str, default: str) -> str:
    """The URL of a named route, or the expected path while the route is not written yet."""
    from django.urls import NoReverseMatch, reverse

    try:
        return reverse(name)
    except NoReverseMatch:
        return default


def explain(user) -> None:
    from django.db import connection

    from grants.selectors import applications_visible_to, instructor_queue

    if connection.vendor != "postgresql":
        return
    for label, qs in [
        ("instructor_queue first page", instructor_queue(user)[:PAGE]),
        ("instructor_queue count", instructor_queue(user)),
        ("applications_visible_to first page", applications_visible_to(user)[:PAGE]),
    ]:
        print(f"\n-- EXPLAIN ANALYZE: {label}")
        if label.endswith("count"):
            with connection.cursor() as cursor:
                sql, params = qs.order_by().values("pk").query.sql_with_params()
                cursor.execute(f"EXPLAIN ANALYZE SELECT COUNT(*) FROM ({sql}) AS sub", params)
                print("\n".join(row[0] for row in cursor.fetchall()))
        else:
            print(qs.explain(analyze=True))


def main() -> int:
    args = parse_args()
    url = prepare_database(args)
    setup_django(url, cached=args.cached)
    from django.db import connection

    print(f"Database: {connection.vendor} ({connection.settings_dict['NAME']})")
    started = time.perf_counter()
    loader = Loader()
    results: dict[int, list[tuple[str, float | None, int | None, str]]] = {}
    for target in (SMALL, args.large):
        t0 = time.perf_counter()
        loader.add_applications(target - loader.count)
        print(f"Loaded {loader.count:>7,} applications in {time.perf_counter() - t0:5.1f} s")
        endpoints = Endpoints(loader.instructor, loader.scoped, loader.applicant, loader.first_file)
        rows = []
        for label, fn in endpoints.all():
            if isinstance(fn, str):
                rows.append((label, None, None, fn))
            else:
                ms, queries = measure(fn, args.runs)
                rows.append((label, ms, queries, ""))
        results[target] = rows

    small, large = results[SMALL], results[args.large]
    print(
        f"\nMedian of {args.runs} runs after a warm-up; server time in the process (no network).\n"
    )
    header = f"{'endpoint':<40} {'ms @1k':>9} {'ms @' + f'{args.large // 1000}k':>10} {'queries':>9}  flat"
    print(header)
    print("-" * (len(header) + 20))
    for (label, ms_s, q_s, note_s), (_, ms_l, q_l, note_l) in zip(small, large, strict=True):
        if ms_s is None or ms_l is None:
            print(f"{label:<40} {'—':>9} {'—':>10} {'—':>9}  n/a: {note_l or note_s}")
            continue
        ratio = ms_l / ms_s if ms_s else float("inf")
        flat = ratio <= 2 and q_s == q_l
        print(
            f"{label:<40} {ms_s:>9.1f} {ms_l:>10.1f} {f'{q_s}→{q_l}':>9}  "
            f"flat: {'yes' if flat else 'no'} ({ratio:.1f}×)"
        )
    if not args.no_explain:
        explain(loader.instructor)
    print(f"\nTotal {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
