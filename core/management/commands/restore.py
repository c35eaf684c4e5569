"""`manage.py restore FOLDER [--media-root DIR]`: restore a backup into the configured (empty)
database and private-files folder, then check row counts, file checksums and the audit chain
(exit code 1 if anything differs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from core.backup import BackupError, backup_restore


class Command(BaseCommand):
    help = "Restore a backup made by `manage.py backup` and prove it (rows, files, audit chain)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("folder")
        parser.add_argument("--media-root", help="private files folder (default: the setting's)")

    def handle(self, *args: Any, **options: Any) -> None:
        media = Path(options["media_root"]) if options.get("media_root") else None
        try:
            report = backup_restore(Path(options["folder"]), media=media)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Restored {report.tables} tables, {report.rows} rows (counts equal to the "
            f"manifest's: {'yes' if not any(p.startswith('table') for p in report.problems) else 'NO'}); "
            f"{report.files} files with matching checksums; {report.audit}."
        )
        if not report.ok:
            raise CommandError("Restore check failed:\n" + "\n".join(report.problems[:50]))
