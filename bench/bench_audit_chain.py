"""Cost of the audit hash chain (core.audit_chain) on PostgreSQL, as a ratio against the pre-chain
code path in the same process: 10 transactions of 2 000 audit rows (a confirmation chunk's worth)
through core.audit.audit_log_many (content hashes, seal at commit) versus the same COPY of the same
rows without hash nor seal, interleaved, 6 rounds (median and best).

Run:  .venv/bin/python bench/bench_audit_chain.py   (PostgreSQL: DATABASE_URL or the default below;
      the bench database is emptied first)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_queue import prepare_database, setup_django  # noqa: E402

DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/pluriel_bench_audit"
COLUMNS = [
    "actor_id",
    "content_type_id",
    "object_id",
    "object_repr",
    "action",
    "source_state",
    "target_state",
    "reason",
    "payload",
    "created_at",
]


def main() -> None:
    os.environ.setdefault("DATABASE_URL", DEFAULT_PG)
    setup_django(prepare_database(argparse.Namespace(sqlite=False)))
    from django.contrib.contenttypes.models import ContentType
    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone

    from core.audit import _jsonable, audit_log_many
    from core.audit_chain import chain_verify
    from core.bulk import copy_insert
    from core.models import AuditLog, Organisation

    call_command("migrate", verbosity=0)
    Organisation.objects.create(name="Bench", siret="")
    entries = [
        {
            "object_id": i,
            "object_repr": f"ECH-2026-{i:06d}",
            "source": "in_run",
            "target": "paid",
            "payload": {"run": "LOT-2026-0001", "amount": "1234.50", "paid_on": "2026-12-06"},
        }
        for i in range(2000)
    ]

    def unchained() -> None:
        content_type = ContentType.objects.get_for_model(Organisation)
        stamp = timezone.now()
        copy_insert(
            AuditLog,
            COLUMNS,
            (
                (None, content_type.pk, str(e["object_id"]), e["object_repr"],
                 "core.organisation.updated", e["source"], e["target"], "",
                 _jsonable(e["payload"]), stamp)
                for e in entries
            ),
        )  # fmt: skip

    def chained() -> None:
        audit_log_many(
            actor=None, model=Organisation, action="core.organisation.updated", entries=entries
        )

    runs: dict[str, list[float]] = {"before (no chain)": [], "after (chained)": []}
    pairs = [("before (no chain)", unchained), ("after (chained)", chained)]
    for round_ in range(6):
        for label, fn in pairs if round_ % 2 == 0 else pairs[::-1]:
            started = time.perf_counter()
            for _ in range(10):
                with transaction.atomic():
                    fn()
            runs[label].append(time.perf_counter() - started)
    for label, seconds in runs.items():
        print(
            f"{label:<20} median {statistics.median(seconds):.2f} s   best {min(seconds):.2f} s"
            "   (10 transactions × 2 000 rows)"
        )
    before, after = runs["before (no chain)"], runs["after (chained)"]
    print(
        f"ratio after/before: median {statistics.median(after) / statistics.median(before):.2f}, "
        f"best {min(after) / min(before):.2f}"
    )
    AuditLog.objects.filter(txid__isnull=True).delete()  # the unchained rows
    print("chain of the chained rows:", "OK" if chain_verify().ok else chain_verify().first_break)


if __name__ == "__main__":
    main()
