"""Consistent backups and proven restores (PostgreSQL only).

A backup is a folder: `database.dump` (pg_dump custom format), `files.tar` (the private files),
`audit-anchors.jsonl` (the audit chain's exported anchors) and `manifest.json`: SHA-256 of those,
of every private file, and the row count of every table. The dump and the counts come from one
snapshot (a REPEATABLE READ transaction whose snapshot pg_dump reuses with --snapshot), so they
agree even while the site is in use. The files are archived after the dump: a document is written
before its row commits, so every file the dump refers to is in the archive.

A restore checks the manifest's checksums, restores the dump into the configured (empty) database
and the files into the configured folder, then proves it: row counts equal to the manifest's,
every file's checksum, and the audit chain verified (with the anchors)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils import timezone


class BackupError(Exception):
    pass


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _pg_env() -> dict[str, str]:
    db = settings.DATABASES["default"]
    env = dict(os.environ)
    env.update(
        {
            "PGHOST": str(db.get("HOST") or "127.0.0.1"),
            "PGPORT": str(db.get("PORT") or 5432),
            "PGUSER": str(db.get("USER") or "postgres"),
            "PGDATABASE": str(db["NAME"]),
        }
    )
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    return env


def _require_postgresql() -> None:
    if connection.vendor != "postgresql":
        raise BackupError("backup and restore need PostgreSQL (DATABASE_URL)")


def _tables() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
        return [row[0] for row in cursor.fetchall()]


def _counts(tables: list[str]) -> dict[str, int]:
    counts = {}
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(table)}")
            counts[table] = cursor.fetchone()[0]
    return counts


def media_root() -> Path:
    return Path(default_storage.location)  # type: ignore[attr-defined]


def backup_create(output: Path) -> Path:
    """Write a backup folder under `output`; returns its path."""
    _require_postgresql()
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    folder = Path(output) / f"pluriel-{stamp}"
    folder.mkdir(parents=True, exist_ok=False)
    dump = folder / "database.dump"
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
        counts = _counts(_tables())
        subprocess.run(
            ["pg_dump", "--format=custom", f"--snapshot={snapshot}", f"--file={dump}"],
            env=_pg_env(),
            check=True,
        )
    root = media_root()
    files: dict[str, str] = {}
    with tarfile.open(folder / "files.tar", "w") as archive:
        if root.exists():
            for path in sorted(p for p in root.rglob("*") if p.is_file()):
                name = path.relative_to(root).as_posix()
                files[name] = _sha256(path)
                archive.add(path, arcname=name)
    anchors = Path(str(settings.AUDIT_ANCHOR_DIR)) / "audit-anchors.jsonl"
    if anchors.exists():
        shutil.copy2(anchors, folder / "audit-anchors.jsonl")
    manifest = {
        "created_at": timezone.now().isoformat(),
        "database": str(settings.DATABASES["default"]["NAME"]),
        "checksums": {
            name: _sha256(folder / name)
            for name in ("database.dump", "files.tar", "audit-anchors.jsonl")
            if (folder / name).exists()
        },
        "row_counts": counts,
        "files": files,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return folder


@dataclass
class RestoreReport:
    tables: int = 0
    rows: int = 0
    files: int = 0
    audit: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def backup_restore(folder: Path, *, media: Path | None = None) -> RestoreReport:
    """Restore `folder` into the configured database (which must hold no table yet) and the
    private-files folder, then check rows, files and the audit chain."""
    _require_postgresql()
    folder = Path(folder)
    manifest: dict[str, Any] = json.loads((folder / "manifest.json").read_text())
    for name, digest in manifest["checksums"].items():
        if _sha256(folder / name) != digest:
            raise BackupError(f"{name}: checksum differs from the manifest (damaged backup)")
    if _tables():
        raise BackupError("the target database is not empty: restore into a fresh database")
    subprocess.run(
        [
            "pg_restore",
            "--no-owner",
            "--exit-on-error",
            "--dbname",
            _pg_env()["PGDATABASE"],
            str(folder / "database.dump"),
        ],
        env=_pg_env(),
        check=True,
    )
    root = Path(media) if media is not None else media_root()
    root.mkdir(parents=True, exist_ok=True)
    with tarfile.open(folder / "files.tar") as archive:
        archive.extractall(root, filter="data")
    anchors = folder / "audit-anchors.jsonl"
    if anchors.exists():
        target = Path(str(settings.AUDIT_ANCHOR_DIR))
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(anchors, target / "audit-anchors.jsonl")

    report = RestoreReport()
    connection.close()  # see the restored tables
    counts = _counts(_tables())
    expected: dict[str, int] = manifest["row_counts"]
    report.tables, report.rows = len(counts), sum(counts.values())
    for table, count in expected.items():
        if counts.get(table) != count:
            report.problems.append(f"table {table}: {counts.get(table)} rows, expected {count}")
    for name, digest in manifest["files"].items():
        path = root / name
        if not path.is_file() or _sha256(path) != digest:
            report.problems.append(f"file {name}: missing or checksum differs")
        else:
            report.files += 1
    from .audit_chain import chain_verify

    result = chain_verify()
    report.audit = (
        f"audit chain OK: {result.rows} rows, head seq {result.head_seq}, {result.anchors} anchors"
        if result.ok
        else f"audit chain broken at {result.first_break}"
    )
    if not result.ok:
        report.problems.append(report.audit)
    # The data versions came back with the database: pages cached by the running site under those
    # values show what was there after the backup. New values make every such entry unreachable.
    from .data_version import renew_versions

    renew_versions()
    return report
