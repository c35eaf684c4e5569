"""Speed under load: Pluriel's pages as ratios to the stack's own ceiling (issue 17).

Run (PostgreSQL on 127.0.0.1, Redis for the production cache; locust pinned in bench/requirements.txt):

    .venv/bin/pip install -r bench/requirements.txt
    .venv/bin/python bench/load.py                         # demo + 20 000 files, 30 users, 20 s each
    .venv/bin/python bench/load.py --files 2000 --users 10 --duration 10 --scenarios bare,queue

It rebuilds the database named by DATABASE_URL (default postgres://…/pluriel_load) with
`manage.py demo` plus --files applications (bench/load_setup.py), starts gunicorn (--workers sync
workers) with config.settings.production on 127.0.0.1 (plain HTTP: SECURE_SSL_REDIRECT=false;
TWO_FACTOR_REQUIRED=false; no Celery broker, so tasks run eagerly; BENCH_VIEWS=1 mounts the bare
view config/bench.py), and runs each scenario with locust as a library, users without think time,
for --duration seconds:

- bare: `GET /_bench/ok/`, an `HttpResponse("ok")` through the whole middleware stack (the ceiling);
- queue: the instructor queue `GET /instruction/`;
- file: the applicant's own file page `GET /dossiers/<id>/`;
- api: `GET /api/applications/` with a personal API token;
- submit: an applicant creating a draft, saving it (full edit form) and submitting it;
- instalments: the finance officer's instalment list `GET /finances/echeances/`;
- mixed: a day: instructors on the queue and files, applicants saving and submitting, the API, finance.

For each: requests/s, p50/p95/p99 (ms), errors, server CPU per request (the gunicorn processes' CPU
time delta, from psutil, divided by the requests), the same for the rest of the machine (PostgreSQL
and Redis when it runs alone) and for the load generator itself (locust shares the two cores), and requests/s as a ratio to the bare view of
the same run. After the scenarios it checks that every submission a client saw succeed exists exactly
once, submitted, with one "created" and one "submitted" audit row. It stops gunicorn and exits.
Applicants: by default every simulated applicant uses the demo's applicant account (its
organisations hold ~1 500 files, so each submission re-renders the same lists); `--applicants N`
gives them N accounts of N filler associations (~7 files each), in turn, as at a real deadline.
Run it alone: the ratios count, not the absolute figures, on a shared machine. The cache
(CACHE_URL, default Redis db 13, emptied at the start of each run) starts cold; --warmup seconds
of each scenario's load are not counted (1.5 by default).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/pluriel_load"
SCENARIOS = ["bare", "queue", "file", "api", "submit", "instalments", "mixed"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20_000, help="extra applications (20 000)")
    parser.add_argument("--users", type=int, default=30, help="concurrent users (30)")
    parser.add_argument("--mixed-users", type=int, default=None, help="users of mixed (--users)")
    parser.add_argument("--duration", type=float, default=20, help="seconds per scenario (20)")
    parser.add_argument(
        "--warmup",
        type=float,
        default=1.5,
        help="seconds of load before each scenario's measure, not counted (1.5); pages cached"
        " per file or per user are first rendered then: the table says how long it was",
    )
    parser.add_argument("--workers", type=int, default=3, help="gunicorn sync workers (3)")
    parser.add_argument("--port", type=int, default=0, help="loopback port (a free one)")
    parser.add_argument(
        "--reuse-db",
        action="store_true",
        help="keep the database of an earlier run (only new sessions and token are made)",
    )
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated")
    parser.add_argument(
        "--applicants",
        type=int,
        default=1,
        help="applicant accounts (1: the demo's, whose organisations hold ~1 500 files, shared by"
        " every simulated applicant; N: N associations of the filler, ~7 files each, one per"
        " simulated applicant in turn)",
    )
    return parser.parse_args()


def server_env(url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": "bench-load-" + secrets.token_hex(24),
            "DATABASE_URL": url,
            "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
            "SECURE_SSL_REDIRECT": "false",
            "TWO_FACTOR_REQUIRED": "false",
            "CELERY_BROKER_URL": "",
            "CACHE_URL": os.environ.get("CACHE_URL", "redis://127.0.0.1:6379/13"),
            "PRIVATE_MEDIA_ROOT": str(ROOT / "bench" / "out" / "media"),
            "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
            "BENCH_VIEWS": "1",
        }
    )
    return env


def run_setup(env: dict[str, str], *args: str) -> dict[str, Any]:
    out = subprocess.run(
        [PYTHON, str(ROOT / "bench" / "load_setup.py"), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    for line in out.stdout.splitlines():
        if line.startswith("LOAD-SETUP "):
            return json.loads(line.removeprefix("LOAD-SETUP "))
    sys.stderr.write(out.stdout[-3000:] + out.stderr[-5000:])
    raise SystemExit(f"load_setup.py {args[0]} failed")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """gunicorn on loopback; CPU time of the master and its workers read with psutil."""

    def __init__(self, env: dict[str, str], port: int, workers: int) -> None:
        self.port = port
        # Kept open for gunicorn's whole life, closed in stop().
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115
            prefix="pluriel-load-", suffix=".log", delete=False
        )
        self.proc = subprocess.Popen(
            [
                str(Path(PYTHON).parent / "gunicorn"),
                "config.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--worker-class",
                "sync",
                "--timeout",
                "60",
                "--backlog",
                "2048",
            ],
            env=env,
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"gunicorn exited; see {self.log.name}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/_bench/ok/", timeout=2):
                    return
            except OSError:
                time.sleep(0.3)
        raise SystemExit(f"gunicorn did not answer in {timeout} s; see {self.log.name}")

    def cpu_seconds(self) -> float:
        import psutil

        try:
            master = psutil.Process(self.proc.pid)
            procs = [master, *master.children(recursive=True)]
        except psutil.NoSuchProcess:
            return 0.0
        total = 0.0
        for p in procs:
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.NoSuchProcess:
                pass
        return total

    def cpu_split(self) -> tuple[float, float, float]:
        """CPU seconds so far of gunicorn, of the rest of the machine (all of it busy, less
        gunicorn and this process: PostgreSQL and Redis on a quiet machine; PostgreSQL's
        backends come and go, so they cannot be summed one by one) and of this process (locust,
        the load generator on the same cores)."""
        import psutil

        machine = psutil.cpu_times()
        busy = machine.user + machine.nice + machine.system + machine.irq + machine.softirq
        me = psutil.Process().cpu_times()
        mine = me.user + me.system
        gunicorn = self.cpu_seconds()
        return gunicorn, busy - gunicorn - mine, mine

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


# --------------------------------------------------------------------------- clients


def edit_payload(fx: dict[str, Any], title: str, action: str) -> dict[str, Any]:
    """The edit form as a browser posts it (as tests/grants/test_views.py's edit_payload)."""
    a = fx["applicant"]

    def management(prefix: str, total: int) -> dict[str, str]:
        return {
            f"{prefix}-TOTAL_FORMS": str(total),
            f"{prefix}-INITIAL_FORMS": "0",
            f"{prefix}-MIN_NUM_FORMS": "0",
            f"{prefix}-MAX_NUM_FORMS": "1000",
        }

    return {
        "title": title,
        "summary": "Soutien scolaire et sorties culturelles.",
        "start_date": "2026-02-01",
        "end_date": "2026-12-15",
        "qpvs": [str(a["qpv"])],
        "pillar": str(a["pillar"]),
        "beneficiaries_count": "40",
        "requested_amount": "8000,00",
        "objectives": "Réduire le décrochage\nOuvrir des horizons culturels",
        **management("indicators", 1),
        "indicators-0-label": "Enfants accompagnés",
        "indicators-0-unit": "enfants",
        "indicators-0-target": "40",
        **management("charges", 2),
        "charges-0-account": "60",
        "charges-0-label": "Fournitures",
        "charges-0-amount": "2 000,00",
        "charges-1-account": "64",
        "charges-1-label": "Animateurs",
        "charges-1-amount": "10000.00",
        **management("products", 2),
        "products-0-account": "74",
        "products-0-subsidy_source": "municipality",
        "products-0-label": "Ville",
        "products-0-amount": "8000",
        "products-1-account": "75",
        "products-1-subsidy_source": "",
        "products-1-label": "Cotisations",
        "products-1-amount": "4000,00",
        "action": action,
    }


def build_users(fx: dict[str, Any], host: str, submitted: list[dict[str, Any]]) -> dict[str, Any]:
    """One locust user class per scenario, plus the mixed day's weighted set."""
    import random
    from urllib.parse import urlencode

    from locust import FastHttpUser, task

    cookie_name = fx["session_cookie_name"]
    csrf = fx["csrf"]

    def headers(role: str) -> dict[str, str]:
        return session_headers(fx["sessions"][role])

    def session_headers(session: str) -> dict[str, str]:
        # Production cookies are `Secure`; on plain-HTTP loopback the client sends them itself.
        return {
            "Cookie": f"{cookie_name}={session}; csrftoken={csrf}",
            "X-CSRFToken": csrf,
            "Content-Type": "application/x-www-form-urlencoded",
        }

    # The applicant accounts (one, or --applicants of them): each simulated applicant takes the
    # next one when it starts, so with a pool every association is a different client's.
    accounts = itertools.cycle(fx["applicants"])

    def get(user: Any, url: str, name: str, hdrs: dict[str, str]) -> None:
        with user.client.get(
            url, headers=hdrs, name=name, allow_redirects=False, catch_response=True
        ) as r:
            if r.status_code != 200:
                r.failure(f"{r.status_code}")

    class Base(FastHttpUser):
        abstract = True
        wait_time = staticmethod(lambda: 0)  # type: ignore[assignment]

    class ApplicantBase(Base):
        abstract = True

        def on_start(self) -> None:
            account = next(accounts)
            self.organisation = account["organisation"]
            self.own = account["own_files"]
            self.hdrs = session_headers(account["session"])

    class Bare(Base):
        @task
        def bare(self) -> None:
            get(self, "/_bench/ok/", "bare", {})

    class Queue(Base):
        @task
        def queue(self) -> None:
            get(self, "/instruction/", "queue", headers("instructor"))

    scope = fx["instructor_files"]  # the instructor's scope (calls they instruct), not all files

    class File(ApplicantBase):
        @task
        def file(self) -> None:
            get(self, f"/dossiers/{random.choice(self.own)}/", "file", self.hdrs)

    api_headers = {"Authorization": f"Bearer {fx['api_token']}"}

    class Api(Base):
        @task
        def api(self) -> None:
            get(self, "/api/applications/", "api", api_headers)

    class Instalments(Base):
        @task
        def instalments(self) -> None:
            get(self, "/finances/echeances/", "instalments", headers("finance"))

    def submit_flow(user: Any) -> None:
        """Create a draft, save it, submit it; remember what the client saw succeed."""
        a = fx["applicant"]
        hdrs = user.hdrs
        title = f"Charge {uuid.uuid4().hex[:12]}"
        with user.client.post(
            "/dossiers/nouveau/",
            data=urlencode({"organisation": user.organisation, "call": a["call"], "title": title}),
            headers=hdrs,
            name="submit: create",
            allow_redirects=False,
            catch_response=True,
        ) as r:
            if r.status_code != 302:
                r.failure(f"{r.status_code}")
                return
            edit_url = r.headers["Location"]
        with user.client.post(
            edit_url,
            data=urlencode(edit_payload(fx, title, "save"), doseq=True),
            headers=hdrs,
            name="submit: save",
            allow_redirects=False,
            catch_response=True,
        ) as r:
            if r.status_code != 302:
                r.failure(f"{r.status_code}")
                return
        with user.client.post(
            edit_url,
            data=urlencode(edit_payload(fx, title, "submit"), doseq=True),
            headers=hdrs,
            name="submit: submit",
            allow_redirects=False,
            catch_response=True,
        ) as r:
            location = r.headers.get("Location", "")
            if r.status_code != 302 or location == edit_url:
                r.failure(f"{r.status_code} {location}")
                return
            submitted.append({"pk": int(edit_url.rstrip("/").split("/")[-2]), "title": title})

    class Submit(ApplicantBase):
        @task
        def submit(self) -> None:
            submit_flow(self)

    class MixedInstructor(Base):
        weight = 4

        @task(5)
        def queue(self) -> None:
            get(self, "/instruction/", "queue", headers("instructor"))

        @task(3)
        def file(self) -> None:
            get(self, f"/dossiers/{random.choice(scope)}/", "file", headers("instructor"))

        @task(1)
        def api(self) -> None:
            get(self, "/api/applications/", "api", api_headers)

    class MixedApplicant(ApplicantBase):
        weight = 5

        @task(3)
        def mine(self) -> None:
            get(self, "/dossiers/", "my files", self.hdrs)

        @task(2)
        def file(self) -> None:
            get(self, f"/dossiers/{random.choice(self.own)}/", "file", self.hdrs)

        @task(1)
        def submit(self) -> None:
            submit_flow(self)

    class MixedFinance(Base):
        weight = 1

        @task
        def instalments(self) -> None:
            get(self, "/finances/echeances/", "instalments", headers("finance"))

    for cls in (
        Bare,
        Queue,
        File,
        Api,
        Instalments,
        Submit,
        MixedInstructor,
        MixedApplicant,
        MixedFinance,
    ):
        cls.host = host
    return {
        "bare": [Bare],
        "queue": [Queue],
        "file": [File],
        "api": [Api],
        "submit": [Submit],
        "instalments": [Instalments],
        "mixed": [MixedInstructor, MixedApplicant, MixedFinance],
    }


def run_scenario(
    classes: list[Any],
    users: int,
    duration: float,
    cpu: Callable[[], tuple[float, float, float]],
    warmup: float,
) -> dict[str, Any]:
    import gevent
    from locust.env import Environment

    env = Environment(user_classes=classes)
    runner = env.create_local_runner()
    # Warm-up: load not counted (connections, worker import, caches).
    runner.start(users, spawn_rate=users)
    gevent.sleep(warmup)
    runner.stats.reset_all()
    cpu0, t0 = cpu(), time.monotonic()
    gevent.sleep(duration)
    cpu1, t1 = cpu(), time.monotonic()
    total = runner.stats.total
    row = {
        "requests": total.num_requests,
        "rps": total.num_requests / (t1 - t0),
        "p50": total.get_response_time_percentile(0.50),
        "p95": total.get_response_time_percentile(0.95),
        "p99": total.get_response_time_percentile(0.99),
        "errors": total.num_failures,
        **{
            key: 1000 * (after - before) / max(total.num_requests, 1)
            for key, before, after in zip(("cpu_ms", "db_ms", "locust_ms"), cpu0, cpu1, strict=True)
        },
        "error_samples": [
            f"{e.name}: {e.error} ×{e.occurrences}" for e in runner.stats.errors.values()
        ][:5],
    }
    runner.quit()
    return row


def main() -> None:
    args = parse_args()
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = set(scenarios) - set(SCENARIOS)
    if unknown:
        raise SystemExit(f"unknown scenarios: {', '.join(sorted(unknown))}")
    url = os.environ.get("DATABASE_URL") or DEFAULT_PG
    env = server_env(url)
    t = time.monotonic()
    fx = run_setup(
        env,
        "prepare",
        *("--files", str(args.files), "--applicants", str(args.applicants)),
        *(["--reuse"] if args.reuse_db else []),
    )
    print(
        f"database: {url.rsplit('/', 1)[-1]}, {fx['applications']} applications "
        f"(demo + {fx['files_added']}), prepared in {time.monotonic() - t:.0f} s",
        flush=True,
    )
    if env["CACHE_URL"].startswith("redis://"):
        # Every run starts cold: pages cached by an earlier run are not this run's work. (In a
        # child process: importing redis here, before locust's gevent patching, would break it.)
        flush = "import redis, sys; redis.Redis.from_url(sys.argv[1]).flushdb()"
        subprocess.run([PYTHON, "-c", flush, env["CACHE_URL"]], check=True)
    # locust patches the standard library with gevent when imported: only now, after the setup,
    # and before the server starts (a missing bench dependency must not leave gunicorn running).
    import locust  # noqa: F401

    port = args.port or free_port()
    server = Server(env, port, args.workers)
    submitted: list[dict[str, Any]] = []
    rows: dict[str, dict[str, Any]] = {}
    try:
        server.wait_ready()
        classes = build_users(fx, f"http://127.0.0.1:{port}", submitted)
        for name in scenarios:
            users = (args.mixed_users or args.users) if name == "mixed" else args.users
            rows[name] = run_scenario(
                classes[name], users, args.duration, server.cpu_split, args.warmup
            )
            rows[name]["users"] = users
            print(f"  {name}: done ({rows[name]['requests']} requests)", flush=True)
    finally:
        server.stop()
    print(
        f"\ngunicorn {args.workers} sync workers, production settings, PostgreSQL; "
        f"{args.duration:g} s per scenario after {args.warmup:g} s of warm-up, no think time\n"
    )
    bare = rows.get("bare", {}).get("rps")
    print(
        "| scenario | users | requests/s | p50 ms | p95 ms | p99 ms | errors | CPU ms/request"
        " | rest of the machine (PostgreSQL, Redis) CPU ms/request | locust CPU ms/request"
        " | ratio to bare |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        ratio = f"1/{bare / r['rps']:.1f}" if bare and r["rps"] else "—"
        print(
            f"| {name} | {r['users']} | {r['rps']:.1f} | {r['p50']:.0f} | {r['p95']:.0f} | "
            f"{r['p99']:.0f} | {r['errors']} | {r['cpu_ms']:.1f} | {r['db_ms']:.1f} | "
            f"{r['locust_ms']:.1f} | {ratio} |"
        )
    for name, r in rows.items():
        for sample in r["error_samples"]:
            print(f"  {name} error: {sample}")
    if submitted:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
            json.dump(submitted, fh)
        check = run_setup(env, "verify", fh.name)
        Path(fh.name).unlink()
        verdict = "OK" if not check["problems"] else "FAILED"
        print(
            f"\nsubmissions seen succeeding: {check['checked']}, each exactly once, submitted, "
            f"with its created and submitted audit rows: {verdict}"
        )
        for p in check["problems"][:20]:
            print("  " + p)
        if check["problems"]:
            raise SystemExit(1)
    elif any(s in scenarios for s in ("submit", "mixed")):
        print("\nno submission succeeded: nothing to check (see the errors above)")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
