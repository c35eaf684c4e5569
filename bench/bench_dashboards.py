"""Dashboards at scale: every page of /pilotage/ over 1 000 000 instalments (goal ≤ 2 s each).

Run:  .venv/bin/python bench/bench_dashboards.py                    (PostgreSQL, database below)
      .venv/bin/python bench/bench_dashboards.py --instalments 200000 --keep

The bench database (DATABASE_URL, default pluriel_bench_dash) is dropped and rebuilt, and dropped
again at the end unless --keep. Setup (not measured) writes rows straight with COPY
(core.bulk.copy_insert, explicit ids, sequences reset after): 40 000 organisations, 250 000
applications over 3 fiscal years (QPV and theme links, completion requests), agreements of 1 to 5
years co-funded by 1 or 2 funders until there are exactly N instalments (paid in past years, due /
approved / planned this year, planned or on hold later), evaluations and recoveries; then ANALYZE.

Measured in a fresh child process (so its peak RSS is the pages', not the data generator's): each
page rendered by the Django test client as a programme manager — one warm-up, then the median of
--runs — with its SQL query count; the money page once per dimension; one CSV and one XLSX download.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/pluriel_bench_dash"
GOAL_SECONDS = 2.0


def rss_mb() -> float:
    """Peak RSS of this process. VmHWM, not getrusage: a child started by exec inherits its
    parent's high-water mark in ru_maxrss (Linux keeps it across exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --------------------------------------------------------------------------- data (COPY)


def _columns(model, given: dict) -> tuple[list[str], list]:
    """Every concrete column of `model`: the given values, else the field's default ('' for
    text, None when nullable, now for auto dates) — COPY has no Python defaults."""
    from django.db import models
    from django.utils import timezone

    columns, defaults = [], []
    now = timezone.now()
    for field in model._meta.concrete_fields:
        columns.append(field.attname)
        if field.attname in given:
            defaults.append(None)
        elif field.has_default():
            defaults.append(field.get_default())
        elif field.null:
            defaults.append(None)
        elif getattr(field, "auto_now_add", False) or getattr(field, "auto_now", False):
            defaults.append(now)
        elif isinstance(field, models.CharField | models.TextField | models.FileField):
            defaults.append("")
        else:
            raise ValueError(f"{model.__name__}.{field.attname} needs a value")
    return columns, defaults


def copy_rows(model, rows) -> int:
    """COPY dict rows (attnames, including `id`) into the model's table."""
    from core.bulk import copy_insert

    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return 0
    columns, defaults = _columns(model, first)
    pairs = list(zip(columns, defaults, strict=True))
    return copy_insert(
        model,
        columns,
        (tuple(r.get(c, d) for c, d in pairs) for r in itertools.chain([first], rows)),
    )


def generate(instalments_goal: int, seed: int = 2026) -> dict[str, int]:
    from django.core.management.color import no_style
    from django.db import connection

    from calls.models import Call, CallMode, CallState, Programme
    from core.models import QPV, Funder, Organisation, Pillar, Role, RoleAssignment, TransitionTheme
    from core.models import User as UserModel
    from cpo.models import (
        Agreement,
        AgreementFunder,
        AgreementYear,
        Evaluation,
        Instalment,
        Recovery,
    )
    from grants.models import Application, CompletionRequest
    from tests.factories import siret_for

    rng = random.Random(seed)
    year = datetime.date.today().year
    years = [year - 2, year - 1, year]
    tz = datetime.UTC

    manager = UserModel.objects.create_user("responsable@bench.example.org", None)
    RoleAssignment.objects.create(user=manager, role=Role.PROGRAMME_MANAGER)
    funders = [
        Funder.objects.create(name=name, kind=kind)
        for name, kind in [
            ("État (ANCT)", Funder.Kind.STATE),
            ("Métropole", Funder.Kind.MUNICIPALITY),
            ("Région", Funder.Kind.REGION),
            ("CAF", Funder.Kind.CAF),
        ]
    ]
    qpvs = QPV.objects.bulk_create(
        [QPV(code=f"QN013{i:02d}M", name=f"Quartier {i}", commune_insee="13055") for i in range(60)]
    )
    pillars = Pillar.objects.bulk_create(
        [
            Pillar(code="cohesion", label="Cohésion sociale"),
            Pillar(code="cadre", label="Cadre de vie"),
            Pillar(code="emploi", label="Emploi et développement économique"),
        ]
    )
    themes = TransitionTheme.objects.bulk_create(
        [
            TransitionTheme(code=c, label=label)
            for c, label in [
                ("alimentation", "Alimentation"),
                ("nature", "Nature en ville"),
                ("mobilite", "Mobilité"),
                ("energie", "Énergie"),
                ("circulaire", "Économie circulaire"),
            ]
        ]
    )
    programmes = []
    for fy in years:
        for name in ("Contrat de ville", "Soutien structurel"):
            p = Programme.objects.create(name=name, fiscal_year=fy, envelope=Decimal("60000000"))
            p.funders.set(rng.sample(funders, 2))
            programmes.append(p)
    modes = [CallMode.PROJECT_CALL] * 6 + [CallMode.SOLUTIONS_CALL, CallMode.STRUCTURAL_SUPPORT]
    calls = []
    for p in programmes:
        opens = datetime.datetime(p.fiscal_year - 1, 10, 1, tzinfo=tz)
        for i in range(10):
            calls.append(
                Call(
                    programme=p,
                    mode=modes[i % len(modes)],
                    title=f"{p.name} {p.fiscal_year} — appel {i + 1}",
                    state=CallState.DECIDED,
                    opens_at=opens,
                    closes_at=opens + datetime.timedelta(days=60),
                    decision_expected_on=(opens + datetime.timedelta(days=150)).date()
                    if i % 2
                    else None,
                    envelope=Decimal("5000000"),
                )
            )
    calls = Call.objects.bulk_create(calls)

    # Enough approved files for the instalments wanted (≈ 8 instalments per agreement).
    n_orgs = max(500, instalments_goal // 25)
    n_apps = max(2_000, instalments_goal // 4)
    copy_rows(
        Organisation,
        (
            {
                "id": i + 1,
                "name": f"Association {i:05d}",
                "siret": siret_for(i + 1),
                "legal_form": "association",
            }
            for i in range(n_orgs)
        ),
    )

    # Applications: most decided; approved ones get an agreement until the instalments are there.
    states = ["approved"] * 60 + ["rejected"] * 18 + ["under_review"] * 8 + ["submitted"] * 4
    states += ["dismissed"] * 4 + ["ineligible"] * 3 + ["withdrawn"] * 3
    apps, qpv_links, theme_links, completions = [], [], [], []
    for i in range(n_apps):
        call = calls[i % len(calls)]
        state = rng.choice(states)
        submitted = datetime.datetime(call.programme.fiscal_year - 1, 11, 1, tzinfo=tz)
        submitted += datetime.timedelta(minutes=rng.randrange(0, 60 * 24 * 300))
        decided = None
        if state in ("approved", "rejected", "dismissed", "ineligible"):
            decided = submitted + datetime.timedelta(days=rng.randrange(5, 150))
        requested = Decimal(rng.randrange(2_000, 120_000, 100))
        apps.append(
            {
                "id": i + 1,
                "reference": f"AAP-{i + 1:07d}",
                "kind": call.mode,
                "programme_id": call.programme_id,
                "call_id": call.pk,
                "organisation_id": rng.randrange(1, n_orgs + 1),
                "state": state,
                "title": f"Projet {i + 1}",
                "pillar_id": rng.choice(pillars).pk,
                "requested_amount": requested,
                "approved_amount": (requested * Decimal("0.8")).quantize(Decimal("1"))
                if state == "approved"
                else None,
                "submitted_at": submitted,
                "decided_at": decided,
            }
        )
        for q in rng.sample(qpvs, rng.choice([1, 1, 2])):
            qpv_links.append({"id": len(qpv_links) + 1, "application_id": i + 1, "qpv_id": q.pk})
        if rng.random() < 0.4:
            theme_links.append(
                {
                    "id": len(theme_links) + 1,
                    "application_id": i + 1,
                    "transitiontheme_id": rng.choice(themes).pk,
                }
            )
        if rng.random() < 0.2:
            completions.append(
                {
                    "id": len(completions) + 1,
                    "application_id": i + 1,
                    "message": "Pièce manquante",
                    "deadline": (submitted + datetime.timedelta(days=15)).date(),
                    "answered_at": submitted + datetime.timedelta(days=10),
                }
            )
    copy_rows(Application, apps)
    copy_rows(Application.qpvs.through, qpv_links)
    copy_rows(Application.themes.through, theme_links)
    copy_rows(CompletionRequest, completions)

    agreements, ag_funders, ag_years, evaluations, recoveries = [], [], [], [], []
    # (agreement id, state, fiscal year, year id, [(agreement funder id, part)]) for the
    # instalments, written afterwards by a generator (1 000 000 rows are never held in memory).
    plans: list[tuple[int, str, int, int, list[tuple[int, Decimal]]]] = []
    planned = 0
    approved = [a for a in apps if a["state"] == "approved"]
    rng.shuffle(approved)
    ag_states = ["active"] * 60 + ["signed"] * 10 + ["completed"] * 15 + ["suspended"] * 5
    ag_states += ["terminated"] * 5 + ["draft"] * 5
    for app in approved:
        if planned >= instalments_goal:
            break
        ag_id = len(agreements) + 1
        first = rng.choice(years)
        duration = rng.choice([1, 1, 2, 3, 3, 4, 5])
        state = rng.choice(ag_states)
        total = app["approved_amount"] * duration
        signed = None if state == "draft" else (app["decided_at"] + datetime.timedelta(days=20))
        agreements.append(
            {
                "id": ag_id,
                "reference": f"CONV-{ag_id:07d}",
                "application_id": app["id"],
                "organisation_id": app["organisation_id"],
                "programme_id": app["programme_id"],
                "kind": "agreement",
                "state": state,
                "title": app["title"],
                "first_year": first,
                "duration_years": duration,
                "total_amount": total,
                "profile": "flat",
                "instalment_template": "advance_balance",
                "signed_on": signed.date() if signed else None,
            }
        )
        shares = [Decimal("1")] if rng.random() < 0.5 else [Decimal("0.6"), Decimal("0.4")]
        parts = []
        for share, funder in zip(shares, rng.sample(funders, len(shares)), strict=False):
            af_id = len(ag_funders) + 1
            ag_funders.append(
                {"id": af_id, "agreement_id": ag_id, "funder_id": funder.pk, "share": share}
            )
            parts.append((af_id, (app["approved_amount"] * share).quantize(Decimal("0.01"))))
        for fy in range(first, first + duration):
            year_id = len(ag_years) + 1
            ag_years.append(
                {
                    "id": year_id,
                    "agreement_id": ag_id,
                    "fiscal_year": fy,
                    "amount": app["approved_amount"],
                }
            )
            plans.append((ag_id, state, fy, year_id, parts))
            planned += 2 * len(parts)
            if fy < year and state != "draft":
                evaluations.append(
                    {
                        "id": len(evaluations) + 1,
                        "agreement_id": ag_id,
                        "fiscal_year": fy,
                        "due_on": datetime.date(fy + 1, 6, 30),
                        "state": rng.choice(
                            ["accepted"] * 6
                            + ["accepted_with_reservations", "rejected", "submitted", "expected"]
                        ),
                    }
                )
        if state in ("active", "completed") and rng.random() < 0.03:
            recoveries.append(
                {
                    "id": len(recoveries) + 1,
                    "agreement_id": ag_id,
                    "fiscal_year": first,
                    "reason": "Non consommé",
                    "unspent": Decimal("1500.00"),
                    "amount": Decimal("1500.00"),
                    "state": rng.choice(["issued", "collected", "offset"]),
                }
            )

    def instalment_rows():
        count = 0
        numbers: dict[int, int] = {}
        for ag_id, state, fy, year_id, parts in plans:
            for af_id, part in parts:
                advance = (part / 2).quantize(Decimal("0.01"))
                for kind, amount, month in (
                    ("advance", advance, 3),
                    ("balance", part - advance, 9),
                ):
                    if count >= instalments_goal:
                        return
                    numbers[ag_id] = numbers.get(ag_id, 0) + 1
                    if state == "draft":
                        st = "planned"
                    elif state == "terminated":
                        st = "paid" if fy < year else "cancelled"
                    elif fy < year:
                        st = "paid"
                    elif fy == year:
                        st = rng.choice(["paid", "paid", "due", "approved", "planned", "on_hold"])
                    else:
                        st = rng.choice(["planned"] * 5 + ["on_hold"])
                    count += 1
                    yield {
                        "id": count,
                        "agreement_id": ag_id,
                        "year_id": year_id,
                        "funder_id": af_id,
                        "number": numbers[ag_id],
                        "kind": kind,
                        "amount": amount,
                        "earliest_date": datetime.date(fy, month, 1),
                        "state": st,
                        "paid_on": datetime.date(fy, month, 15) if st == "paid" else None,
                        "charged_year": fy + 1 if st == "paid" and rng.random() < 0.02 else None,
                    }

    copy_rows(Agreement, agreements)
    copy_rows(AgreementFunder, ag_funders)
    copy_rows(AgreementYear, ag_years)
    n_instalments = copy_rows(Instalment, instalment_rows())
    copy_rows(Evaluation, evaluations)
    copy_rows(Recovery, recoveries)
    seq_models = [
        Organisation,
        Application,
        Application.qpvs.through,
        Application.themes.through,
        CompletionRequest,
        Agreement,
        AgreementFunder,
        AgreementYear,
        Instalment,
        Evaluation,
        Recovery,
    ]
    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), seq_models):
            cursor.execute(sql)
        cursor.execute("ANALYZE")
    return {
        "organisations": n_orgs,
        "applications": len(apps),
        "agreements": len(agreements),
        "instalments": n_instalments,
        "evaluations": len(evaluations),
        "recoveries": len(recoveries),
    }


# --------------------------------------------------------------------------- measures


PAGES = [
    ("home", "/pilotage/"),
    ("money · programme", "/pilotage/montants/?dimension=programme"),
    ("money · call", "/pilotage/montants/?dimension=call"),
    ("money · mode", "/pilotage/montants/?dimension=mode"),
    ("money · pillar", "/pilotage/montants/?dimension=pillar"),
    ("money · qpv", "/pilotage/montants/?dimension=qpv"),
    ("money · funder", "/pilotage/montants/?dimension=funder"),
    ("money · theme", "/pilotage/montants/?dimension=theme"),
    ("money · fiscal year", "/pilotage/montants/?dimension=fiscal_year"),
    ("envelopes", "/pilotage/enveloppes/"),
    ("forecast", "/pilotage/restes-a-payer/"),
    ("processing times", "/pilotage/delais/"),
    ("neighbourhoods", "/pilotage/quartiers/"),
    ("multi-year & residents", "/pilotage/pluriannualite-et-habitants/"),
    ("money · qpv, one funder + year", "/pilotage/montants/?dimension=qpv&funder=1&fiscal_year=Y"),
    ("CSV download (times by call)", "/pilotage/delais/?format=csv&table=by_call"),
    ("XLSX download (money by call)", "/pilotage/montants/?dimension=call&format=xlsx"),
]


def measure_pages(runs: int) -> bool:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from core.models import User

    client = Client()
    client.force_login(User.objects.get(email="responsable@bench.example.org"))
    year = str(datetime.date.today().year)
    ok = True
    print(f"{'page':<36} {'median':>8} {'max':>7} {'queries':>8}   status")
    for label, url in PAGES:
        url = url.replace("fiscal_year=Y", f"fiscal_year={year}")
        times = []
        for i in range(runs + 1):
            with CaptureQueriesContext(connection) as ctx:
                started = time.perf_counter()
                response = client.get(url)
                elapsed = time.perf_counter() - started
            if i:
                times.append(elapsed)
        median = statistics.median(times)
        ok &= median <= GOAL_SECONDS and response.status_code == 200
        print(
            f"{label:<36} {median:7.2f}s {max(times):6.2f}s {len(ctx.captured_queries):8d}   "
            f"{response.status_code}"
        )
    print(f"\npeak RSS of the measuring process: {rss_mb():.0f} MB")
    print(f"Goal ≤ {GOAL_SECONDS:.0f} s per page (median): {'met' if ok else 'NOT met'}")
    return ok


def setup_existing(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    import logging
    import warnings

    import django

    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
    django.setup()
    logging.getLogger("django.request").setLevel(logging.ERROR)


def drop_database(url: str) -> None:
    import dj_database_url
    import psycopg

    cfg = dj_database_url.parse(url)
    with psycopg.connect(
        host=cfg.get("HOST") or "127.0.0.1",
        port=cfg.get("PORT") or 5432,
        user=cfg.get("USER") or "postgres",
        password=cfg.get("PASSWORD") or None,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{cfg["NAME"]}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instalments", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3, help="measured runs per page (median)")
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    parser.add_argument("--measure-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL") or DEFAULT_PG

    if args.measure_only:
        setup_existing(url)
        sys.exit(0 if measure_pages(args.runs) else 1)

    from bench_queue import prepare_database, setup_django

    os.environ["DATABASE_URL"] = url
    prepare_database(argparse.Namespace(sqlite=False))
    setup_django(url)
    from django.db import connection

    print(f"Database: {connection.vendor} ({connection.settings_dict['NAME']})")
    started = time.perf_counter()
    counts = generate(args.instalments)
    print(
        "Setup (not measured): "
        + ", ".join(f"{n:,} {what}" for what, n in counts.items())
        + f" in {time.perf_counter() - started:.0f} s (peak RSS {rss_mb():.0f} MB)\n"
    )
    connection.close()
    env = {**os.environ, "DATABASE_URL": url}
    code = subprocess.call(
        [sys.executable, __file__, "--measure-only", "--runs", str(args.runs)], env=env
    )
    if not args.keep:
        drop_database(url)
        print("Bench database dropped.")
    sys.exit(code)


if __name__ == "__main__":
    main()
