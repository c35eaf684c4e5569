"""Check the audit trail's hash chain: `manage.py audit_verify` (exit code 1 if broken)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from core.audit_chain import audit_anchor_export, chain_verify


class Command(BaseCommand):
    help = "Recompute the audit trail's hash chain and report the first broken row."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--anchor", action="store_true", help="export the chain head as an anchor afterwards"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        result = chain_verify()
        if not result.ok:
            raise CommandError(
                f"Audit chain broken at {result.first_break} "
                f"({result.rows} rows checked, {result.anchors} anchors)."
            )
        self.stdout.write(
            f"Audit chain OK: {result.rows} rows, head seq {result.head_seq} "
            f"hash {result.head_hash}, {result.anchors} anchors checked."
        )
        if options["anchor"]:
            item = audit_anchor_export()
            self.stdout.write(f"Anchor exported: seq {item['seq']} hash {item['row_hash']}")
