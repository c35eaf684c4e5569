"""Historical grants import at scale: a 100 000-row SCDL file, three ways, on PostgreSQL.

Run:  .venv/bin/python bench/bench_import.py                 (DATABASE_URL or the default below)
      .venv/bin/python bench/bench_import.py --rows 20000

The bench database is dropped and rebuilt, and dropped again at the end. A valid SCDL 2.1.1 file
is generated in bench/out/ (20 funders, 25 000 beneficiaries, fiscal years 2019–2025). Measured,
each in its own process so that its peak RSS is its own (Django's import cost included: the
baseline after setup is printed too):

a) Pluriel's import, end to end as a user does it: the dry run (`import_check`: read, check
   every cell against the schema, match organisations, funders and earlier imports) then the
   apply (`import_apply`: read and check again, then in one transaction create the organisations,
   funders, programmes, agreements, their funders and years, with COPY, and one audit row per
   agreement and per organisation);
b) PostgreSQL `COPY … FROM STDIN (FORMAT csv)` of the same file into a flat typed table (the
   floor: no validation, no relation, one table);
c) django-import-export's default import (`ModelResource` over a flat model, `import_data` with
   default settings: row by row, a diff kept per row). Run on a 10 000-row sample first; if
   100 000 rows would take more than 3 minutes it is extrapolated (and the output says so),
   otherwise it is run on the whole file.

d) the floor for this schema: the rows (a) wrote — organisations, funders, programmes,
   agreements, their funders and years, audit rows — already normalised, copied back with
   `COPY … FROM STDIN (FORMAT binary)` into the same tables, with the same constraints, indexes
   and deferred foreign keys (checked at COMMIT, included).

Goal: (a) ≥ 20× faster than (c), within 2× of (d), peak RSS ≤ 500 MB.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import random
import resource
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/pluriel_bench_import"
OUT = ROOT / "bench" / "out"
SAMPLE = 10_000
EXTRAPOLATE_OVER_S = 180
HEADER = [
    "nomAttribuant", "idAttribuant", "dateConvention", "referenceDecision", "nomBeneficiaire",
    "idBeneficiaire", "rnaBeneficiaire", "objet", "montant", "nature", "conditionsVersement",
    "datesPeriodeVersement", "idRAE", "notificationUE", "pourcentageSubvention", "dispositifAide",
]  # fmt: skip
FLAT_TABLE = "bench_flat_grant"
DATA_VERSION_TABLE = "core_dataversion"


def rss_mb() -> float:
    """Peak RSS of this process since it started (VmHWM: ru_maxrss would include the parent's
    memory at fork time)."""
    with open("/proc/self/status") as status:
        for row in status:
            if row.startswith("VmHWM:"):
                return int(row.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --------------------------------------------------------------------------- the file


def siret(n: int) -> str:
    from stdnum import luhn

    siren = f"{(30000000 + n) % 100000000:08d}"
    siren += luhn.calc_check_digit(siren)
    body = f"{siren}{n % 10000:04d}"
    return body + luhn.calc_check_digit(body)


def generate(path: Path, rows: int) -> None:
    rng = random.Random(2026)
    funders = [(f"Ville de Banlieue {i}", siret(900_000 + i)) for i in range(20)]
    beneficiaries = [
        (f"Association du quartier {i}", siret(i + 1), f"W75{i:07d}" if i % 3 == 0 else "")
        for i in range(25_000)
    ]
    objects = ["Fonctionnement", "Actions éducatives", "Fête de quartier", "Accès aux droits",
               "Jardins partagés", "Soutien scolaire", "Insertion professionnelle"]  # fmt: skip
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for n in range(rows):
            funder = funders[n % len(funders)]
            name, beneficiary, rna = beneficiaries[rng.randrange(len(beneficiaries))]
            year = 2019 + n % 7
            signed = datetime.date(year, 1, 1) + datetime.timedelta(days=rng.randrange(150))
            paid = signed + datetime.timedelta(days=30)
            amount = Decimal(rng.randrange(50_000, 20_000_000)) / 100
            writer.writerow([
                funder[0], funder[1], signed.isoformat(), f"DEL-{year}-{n:06d}", name,
                beneficiary, rna, f"{objects[n % len(objects)]} {year}", str(amount),
                "aide en numéraire", "unique" if n % 4 else "échelonné",
                paid.isoformat() if n % 4 else f"{paid.isoformat()}/{year}-12-31", "",
                "non", "1" if n % 10 else "0.5", "",
            ])  # fmt: skip


# --------------------------------------------------------------------------- the steps


def setup_child(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    import logging
    import warnings

    import django

    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
    django.setup()
    logging.getLogger("django.request").setLevel(logging.ERROR)


def step_domain(path: Path, floor_before=None) -> dict:  # noqa: ANN001
    from django.core.files.uploadedfile import SimpleUploadedFile

    from core.models import Role, RoleAssignment, User
    from cpo.models import Agreement
    from reporting.imports.services import import_apply, import_check

    user = User.objects.create_user("responsable@bench.example.org", None)
    RoleAssignment.objects.create(user=user, role=Role.PROGRAMME_MANAGER)
    upload = SimpleUploadedFile(path.name, path.read_bytes(), content_type="text/csv")
    before = floor_before() if floor_before else None
    baseline = rss_mb()
    start = time.perf_counter()
    batch = import_check(actor=user, kind="grants", file=upload, options={"strict": True})
    checked = time.perf_counter()
    if batch.report["error_count"]:
        raise SystemExit(f"bench file refused: {batch.report['errors'][:3]}")
    batch = import_apply(actor=user, batch=batch)
    end = time.perf_counter()
    batch.file.delete(save=False)  # the stored upload (test settings: a temporary folder)
    return {
        "seconds": end - start,
        "check_s": checked - start,
        "apply_s": end - checked,
        "rows": batch.row_count,
        "result": batch.result,
        "agreements": Agreement.objects.count(),
        "baseline_mb": baseline,
        "peak_mb": rss_mb(),
        **({"before": before} if floor_before else {}),
    }


def _table_state(cursor) -> dict[str, tuple[int, int | None]]:
    """Every public table: (row count, highest id or None)."""
    cursor.execute(
        "SELECT t.tablename, EXISTS (SELECT 1 FROM information_schema.columns c "
        "WHERE c.table_name = t.tablename AND c.column_name = 'id') "
        "FROM pg_tables t WHERE t.schemaname = 'public' ORDER BY 1"
    )
    state = {}
    for name, has_id in cursor.fetchall():
        cursor.execute(f'SELECT count(*){", max(id)" if has_id else ""} FROM "{name}"')
        row = cursor.fetchone()
        state[name] = (row[0], row[1] if has_id else None)
    return state


def step_floor(path: Path) -> dict:
    """The floor for this schema: the rows the import wrote (already normalised: organisations,
    funders, programmes, agreements, their funders and years, audit rows, the batch), copied
    back with COPY into the same tables, with the same constraints, indexes and deferred foreign
    keys checked at COMMIT. Measured: COPY FROM of every table + COMMIT, in one transaction."""
    import io

    from django.db import connection, transaction

    imported = step_domain(path, floor_before=lambda: _table_state(connection.cursor()))
    before = imported.pop("before")
    with connection.cursor() as cursor:
        after = _table_state(cursor)
        # core_dataversion is written by the data-version triggers at COMMIT (core.data_version),
        # not by the import: the floor's COPY fires the same triggers, which write it again.
        tables = [
            t
            for t in after
            if after[t][0] > before.get(t, (0, None))[0] and t != DATA_VERSION_TABLE
        ]
        dumps: dict[str, bytes] = {}
        for table in tables:
            low = before[table][1]
            query = f'SELECT * FROM "{table}"' + (f" WHERE id > {low}" if low is not None else "")
            buffer = io.BytesIO()
            with cursor.cursor.copy(f"COPY ({query}) TO STDOUT (FORMAT binary)") as copy:
                for data in copy:
                    buffer.write(data)
            dumps[table] = buffer.getvalue()
        # Foreign keys are deferred: the rows go in any order, checked at COMMIT. (TRUNCATE is
        # refused: empty tables such as calls_call reference these.)
        with transaction.atomic():
            for table in tables:
                low = before[table][1]
                cursor.execute(f'DELETE FROM "{table}"' + (f" WHERE id > {low}" if low else ""))
    connection.close()  # VACUUM needs autocommit, outside any transaction
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    baseline = rss_mb()
    start = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        for table in tables:
            with cursor.cursor.copy(f'COPY "{table}" FROM STDIN (FORMAT binary)') as copy:
                copy.write(dumps[table])
    seconds = time.perf_counter() - start
    rows = {t: after[t][0] - before.get(t, (0, None))[0] for t in tables}
    floor = {
        "seconds": seconds,
        "rows": imported["rows"],
        "tables": rows,
        "baseline_mb": baseline,
        "peak_mb": rss_mb(),
    }
    return {**imported, "floor": floor}


def step_copy(path: Path) -> dict:
    from django.db import connection

    columns = {
        "dateConvention": "date", "montant": "numeric(14,2)", "pourcentageSubvention": "numeric(5,2)",
        "idAttribuant": "char(14)",
    }  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE {FLAT_TABLE} ("
            + ", ".join(f'"{c}" {columns.get(c, "text")}' for c in HEADER)
            + ")"
        )
    baseline = rss_mb()
    start = time.perf_counter()
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {FLAT_TABLE} FROM STDIN (FORMAT csv, HEADER true)") as copy,
        path.open("rb") as handle,
    ):
        while chunk := handle.read(1 << 20):
            copy.write(chunk)
    seconds = time.perf_counter() - start
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {FLAT_TABLE}")
        count = cursor.fetchone()[0]
        cursor.execute(f"DROP TABLE {FLAT_TABLE}")
    return {"seconds": seconds, "rows": count, "baseline_mb": baseline, "peak_mb": rss_mb()}


def step_import_export(path: Path, rows: int) -> dict:
    import tablib
    from django.db import connection, models
    from import_export import resources

    class FlatGrant(models.Model):
        nomAttribuant = models.CharField(max_length=255)  # the SCDL names
        idAttribuant = models.CharField(max_length=14)
        dateConvention = models.DateField()
        referenceDecision = models.CharField(max_length=255, blank=True)
        nomBeneficiaire = models.CharField(max_length=255)
        idBeneficiaire = models.CharField(max_length=14, blank=True)
        rnaBeneficiaire = models.CharField(max_length=10, blank=True)
        objet = models.CharField(max_length=256)
        montant = models.DecimalField(max_digits=14, decimal_places=2)
        nature = models.CharField(max_length=40)
        conditionsVersement = models.CharField(max_length=256)
        datesPeriodeVersement = models.CharField(max_length=21)
        idRAE = models.CharField(max_length=5, blank=True)
        notificationUE = models.CharField(max_length=3)
        pourcentageSubvention = models.DecimalField(max_digits=5, decimal_places=2)
        dispositifAide = models.CharField(max_length=255, blank=True)

        class Meta:
            app_label = "reporting"
            db_table = "bench_ie_flat_grant"

        def __str__(self) -> str:
            return self.referenceDecision

    class FlatGrantResource(resources.ModelResource):
        class Meta:
            model = FlatGrant

    with connection.schema_editor() as editor:
        editor.create_model(FlatGrant)
    with path.open(encoding="utf-8") as handle:
        lines = [next(handle) for _ in range(rows + 1)]
    dataset = tablib.Dataset().load("".join(lines), format="csv")
    baseline = rss_mb()
    start = time.perf_counter()
    result = FlatGrantResource().import_data(dataset)
    seconds = time.perf_counter() - start
    count = FlatGrant.objects.count()
    with connection.schema_editor() as editor:
        editor.delete_model(FlatGrant)
    if result.has_errors() or result.has_validation_errors():
        raise SystemExit("import-export refused the bench file")
    return {"seconds": seconds, "rows": count, "baseline_mb": baseline, "peak_mb": rss_mb()}


def child(args: argparse.Namespace) -> None:
    setup_child(args.url)
    path = Path(args.file)
    if args.step == "domain":
        out = step_domain(path)
    elif args.step == "copy":
        out = step_copy(path)
    elif args.step == "floor":
        out = step_floor(path)
    else:
        out = step_import_export(path, args.rows)
    print("RESULT " + json.dumps(out, default=str))


def run_child(url: str, step: str, path: Path, rows: int) -> dict:
    completed = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            step,
            "--url",
            url,
            "--file",
            str(path),
            "--rows",
            str(rows),
        ],  # fmt: skip
        capture_output=True,
        text=True,
        check=False,
    )
    for line in completed.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise SystemExit(f"step {step} failed:\n{completed.stdout}\n{completed.stderr}")


def line(label: str, r: dict, note: str = "") -> None:
    print(
        f"{label:<52} {r['seconds']:8.2f} s   peak RSS {r['peak_mb']:6.0f} MB "
        f"(after setup {r['baseline_mb']:4.0f} MB){note}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--child", choices=["domain", "copy", "import_export", "floor"])
    parser.add_argument("--steps", default="a,b,c,d", help="measures to run (default a,b,c,d)")
    parser.add_argument("--url")
    parser.add_argument("--file")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the bench database")
    args = parser.parse_args()
    if args.child:
        args.step = args.child
        child(args)
        return
    steps = set(args.steps.split(","))

    from bench_queue import prepare_database, setup_django

    os.environ.setdefault("DATABASE_URL", DEFAULT_PG)
    url = prepare_database(argparse.Namespace(sqlite=False))
    setup_django(url)  # migrates the fresh database
    from django.db import connection

    print(f"Database: {connection.vendor} ({connection.settings_dict['NAME']})")
    connection.close()
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"scdl_{args.rows}.csv"
    start = time.perf_counter()
    generate(path, args.rows)
    size = path.stat().st_size / 2**20
    print(
        f"File: {path.relative_to(ROOT)} — {args.rows:,} rows, {size:.1f} MB "
        f"(generated in {time.perf_counter() - start:.1f} s, not measured)\n"
    )
    results: dict[str, dict] = {}
    try:
        if "a" in steps:
            a = results["a"] = run_child(
                url, "floor" if "d" in steps else "domain", path, args.rows
            )
            if "d" in steps:
                results["d"] = a.pop("floor")
            line(f"a) Pluriel import, dry run + apply ({a['rows']:,} rows)", a)
            print(f"     dry run {a['check_s']:.2f} s + apply {a['apply_s']:.2f} s → {a['result']}")
        if "b" in steps:
            b = results["b"] = run_child(url, "copy", path, args.rows)
            line(f"b) PostgreSQL COPY into a flat table ({b['rows']:,} rows)", b)
        if "d" in results:
            d = results["d"]
            line("d) COPY of the import's normalised rows (the floor)", d)
            print(f"     rows by table: {d['tables']}")
        if "c" in steps:
            sample = min(SAMPLE, args.rows)
            c = run_child(url, "import_export", path, sample)
            projected = c["seconds"] * args.rows / sample
            if sample < args.rows and projected <= EXTRAPOLATE_OVER_S:
                c = run_child(url, "import_export", path, args.rows)
                c["full_s"] = c["seconds"]
                line(f"c) django-import-export default ({c['rows']:,} rows)", c)
            else:
                c["full_s"] = projected
                line(f"c) django-import-export default ({c['rows']:,} rows)", c)
                if sample < args.rows:
                    growth = (c["peak_mb"] - c["baseline_mb"]) * args.rows / sample
                    print(
                        f"     EXTRAPOLATED to {args.rows:,} rows: {projected:.0f} s, peak RSS "
                        f"about {growth + c['baseline_mb']:.0f} MB (linear from the "
                        f"{sample:,}-row sample)"
                    )
            results["c"] = c
        summarise(results)
    finally:
        if not args.keep_db:
            drop(url)


def summarise(results: dict[str, dict]) -> None:
    b, c = results.get("b"), results.get("c")
    r = results.get("a")
    if r is not None:
        print(
            f"\na) {r['rows'] / r['seconds']:,.0f} rows/s end to end (dry run + apply); "
            f"apply alone {r['rows'] / r['apply_s']:,.0f} rows/s"
        )
        if c:
            print(
                f"   vs django-import-export: {c['full_s'] / r['seconds']:.1f}× faster end to end, "
                f"{c['full_s'] / r['apply_s']:.1f}× the apply alone (goal ≥ 20×)"
            )
        if b:
            print(
                f"   vs bare COPY: {r['seconds'] / b['seconds']:.1f}× the time end to end, "
                f"{r['apply_s'] / b['seconds']:.1f}× the apply alone (goal ≤ 3×)"
            )
        d = results.get("d")
        if d:
            print(
                f"   vs the floor (COPY of the same normalised rows into the same tables): "
                f"{r['seconds'] / d['seconds']:.1f}× end to end, {r['apply_s'] / d['seconds']:.1f}× "
                f"the apply alone (goal ≤ 2×)"
            )
        print(f"   peak RSS {r['peak_mb']:.0f} MB (goal ≤ 500 MB)")


def drop(url: str) -> None:
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
    print(f"\nDropped the bench database {cfg['NAME']}.")


if __name__ == "__main__":
    main()
