"""`manage.py backup --output DIR`: database (pg_dump, one snapshot), private files, anchors and a
manifest of checksums and row counts (core.backup)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from core.backup import BackupError, backup_create


class Command(BaseCommand):
    help = "Back up the database and the private files into a new folder under --output."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--output", required=True, help="folder receiving the backup")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            folder = backup_create(Path(options["output"]))
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(str(folder))
