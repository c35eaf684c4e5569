"""`manage.py make_test_pki <dir>`: a throwaway PKI for tests and the demo (cpo/signatures/pki.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from cpo.signatures.pki import make_test_pki


class Command(BaseCommand):
    help = (
        "Generate a throwaway test PKI (CA, platform seal, funder certificates — valid, expired, "
        "revoked —, a time-stamping authority and a CRL) into a directory. For tests and the demo only."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        pki = make_test_pki(options["directory"])
        self.stdout.write(
            f"Test PKI written to {pki.directory} (passphrase of every .p12: {pki.passphrase})"
        )
