"""Run schemathesis over the whole OpenAPI schema as anonymous, applicant and admin.

Not part of `make test`: a step of `.ci/run`, runnable by hand:

    .venv/bin/python tests/api/schemathesis_run.py [--max-examples 10] [--max-time 60]

What it does, on a database it fills itself (PostgreSQL, as in production):
1. drops and re-creates the database named by --database (default `pluriel_schemathesis`), migrates
   it and loads the demo (`manage.py demo`);
2. creates API tokens for the demo's admin and applicant;
3. serves the app with gunicorn on a loopback port (--port, else a free one) (test settings: fast hashing, no mail);
4. runs `st run` once per role (hooks: tests/api/schemathesis_hooks.py) with all checks and every phase (examples, coverage, fuzzing,
   stateful links inferred by schemathesis), bounded by --max-examples and --max-time;
5. prints, per role and in total, the operations, the test cases and the failures by kind, and
   writes the JSON reports under --report-dir.

Exit code: 1 if any server error (5xx) was found, or, with --strict, any failure at all.
Remaining non-server failures are explained in tests/api/schemathesis_known.md."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"
ADMIN_EMAIL = "admin@demo.pluriel.fr"
APPLICANT_EMAIL = "porteur@demo.pluriel.fr"
SERVER_ERROR_CODES = ("ST101", "ST102")


def _env(database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=database_url,
        LOG_LEVEL="WARNING",
    )
    return env


def _st_env() -> dict[str, str]:
    """schemathesis' environment: the hooks of tests/api/schemathesis_hooks.py."""
    env = dict(os.environ)
    env["SCHEMATHESIS_HOOKS"] = "tests.api.schemathesis_hooks"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    return env


def _manage(env: dict[str, str], *args: str) -> str:
    out = subprocess.run(
        [str(BIN / "python"), "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout


def prepare_database(pg_base: str, name: str) -> str:
    """A fresh database with the demo loaded; returns its URL."""
    env = dict(os.environ)
    for sql in (f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'):
        subprocess.run(
            ["psql", f"{pg_base}/postgres", "-q", "-c", sql], check=True, env=env, cwd=ROOT
        )
    url = f"{pg_base}/{name}"
    env = _env(url)
    _manage(env, "migrate", "--noinput", "-v", "0")
    _manage(env, "demo")
    return url


def create_tokens(env: dict[str, str]) -> dict[str, str]:
    code = (
        "from rest_framework.authtoken.models import Token\n"
        "from core.models import User\n"
        "import json\n"
        "out = {}\n"
        f"for role, email in (('admin', {ADMIN_EMAIL!r}), ('applicant', {APPLICANT_EMAIL!r})):\n"
        "    token, _ = Token.objects.get_or_create(user=User.objects.get(email=email))\n"
        "    out[role] = token.key\n"
        "print(json.dumps(out))\n"
    )
    return json.loads(_manage(env, "shell", "-c", code).strip().splitlines()[-1])  # type: ignore[no-any-return]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--timeout",
            "60",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 240  # a loaded CI machine boots gunicorn slowly
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/schema/", timeout=10):
                return proc
        except OSError:
            time.sleep(0.5)
    stop_server(proc)
    raise SystemExit(f"the server did not start, see {log}")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def run_role(
    role: str, token: str | None, port: int, args: argparse.Namespace, report_dir: Path
) -> dict[str, Any]:
    report = report_dir / f"{role}.json"
    # The token is given as the value of the schema's `tokenAuth` scheme, so that schemathesis
    # knows which credential is valid (its ignored_auth check then replaces that one, not a cookie).
    config = report_dir / f"{role}.toml"
    config.write_text(
        f'[auth.openapi.tokenAuth]\napi_key = "Token {token}"\n' if token else "# anonymous\n"
    )
    cmd = [
        str(BIN / "st"),
        "--config-file",
        str(config),
        "run",
        f"http://127.0.0.1:{port}/api/schema/",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        str(args.max_examples),
        "--max-time",
        str(args.max_time),
        "--request-timeout",
        "30",
        "--seed",
        str(args.seed),
        "--generation-database",
        "none",
        "--workers",
        "1",
        "--no-color",
        "--report",
        "json",
        "--report-json-path",
        str(report),
        "--warnings",
        "off",
    ]
    log = report_dir / f"{role}.log"
    with log.open("w") as out:
        subprocess.run(
            cmd, cwd=ROOT, env=_st_env(), stdout=out, stderr=subprocess.STDOUT, check=False
        )
    if not report.exists():
        raise SystemExit(f"schemathesis wrote no report for {role}, see {log}")
    return summarise(json.loads(report.read_text()))


def summarise(report: dict[str, Any]) -> dict[str, Any]:
    """Operations, test cases and failures by kind from a schemathesis JSON run report."""
    failures: dict[str, int] = {}
    operations: dict[str, list[str]] = {}
    for failure in report.get("failures", []):
        kind = f"{failure['code']} {failure['title']}"
        failures[kind] = failures.get(kind, 0) + int(failure.get("count", 1))
        operations[kind] = sorted(failure.get("operations", []))
    errors = [
        f"{e.get('title') or e.get('type')}: {', '.join(e.get('operations', []))}"
        for e in report.get("errors", [])
    ]
    return {
        "operations": report["operations"]["tested"],
        "test_cases": report["test_cases"]["generated"],
        "failures": failures,
        "failing_operations": operations,
        "errors": errors,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=10)
    parser.add_argument("--max-time", type=int, default=80, help="seconds per role")
    parser.add_argument("--seed", type=int, default=20261206)
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--database", default="pluriel_schemathesis")
    parser.add_argument("--roles", default="anonymous,applicant,admin")
    parser.add_argument("--report-dir", default=str(ROOT / "schemathesis-report"))
    parser.add_argument("--strict", action="store_true", help="fail on any failure, not only 5xx")
    parser.add_argument("--reuse-database", action="store_true")
    parser.add_argument("--port", type=int, default=0, help="gunicorn's port (default: a free one)")
    args = parser.parse_args()

    report_dir = Path(args.report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    if args.reuse_database:
        url = f"{args.pg}/{args.database}"
    else:
        url = prepare_database(args.pg, args.database)
    env = _env(url)
    tokens = create_tokens(env)
    print(f"database ready in {time.monotonic() - started:.0f} s", flush=True)
    port = args.port or free_port()
    server = start_server(env, port, report_dir / "server.log")
    results: dict[str, dict[str, Any]] = {}
    try:
        for role in args.roles.split(","):
            t0 = time.monotonic()
            results[role] = run_role(role, tokens.get(role), port, args, report_dir)
            results[role]["seconds"] = round(time.monotonic() - t0)
    finally:
        stop_server(server)

    total_failures: Counter[str] = Counter()
    for role, res in results.items():
        total_failures.update(res["failures"])
        print(
            f"{role:<10} operations={res['operations']} test_cases={res['test_cases']} "
            f"failures={sum(res['failures'].values())} ({res['seconds']} s)"
        )
        for kind, count in sorted(res["failures"].items()):
            print(f"    {kind}: {count}")
            for operation in res["failing_operations"][kind]:
                print(f"        {operation}")
        for error in res["errors"]:
            print(f"    error: {error}")
    print(f"TOTAL failures={sum(total_failures.values())}")
    for kind, count in sorted(total_failures.items()):
        print(f"    {kind}: {count}")
    (report_dir / "summary.json").write_text(json.dumps(results, indent=2))
    if any(kind.split()[0] in SERVER_ERROR_CODES for kind in total_failures):
        print("FAILED: server errors (5xx) found; details in the logs of", report_dir)
        return 1
    if args.strict and total_failures:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
