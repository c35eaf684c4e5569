"""Tamper-evident audit trail: every `core.AuditLog` row carries the SHA-256 of its content
(`content_hash`) chained to the previous row's hash (`row_hash`), one global chain ordered by `seq`,
computed in the transaction that writes the row. See docs/decisions/2026-12-06-audit-hash-chain.md.

    content_hash = SHA-256(canonical JSON of the row's content)          — Python, at insertion
    row_hash     = SHA-256(prev_hash ":" seq ":" content_hash)            — at commit

On PostgreSQL the link is made by a deferred constraint trigger (`zz_audit_chain_seal`, created by
migration 0005) at commit time: it takes a transaction-level advisory lock, reads the head and
seals the transaction's new rows in id order. The lock is held only from the commit's start to its
end, after every row lock of the transaction was taken, so chaining never waits inside the
transaction nor deadlocks with row locks; COPY inserts fire the trigger too. On SQLite (development)
the link is made at once, in Python (its single writer lock serialises writers).
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction

GENESIS = "0" * 64
# Any constant: the key of the transaction-level advisory lock that serialises chain writers.
LOCK_KEY = 0x504C5552  # "PLUR"
HASHED_FIELDS = (
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
)


def _normalise(value: Any) -> Any:
    """The same value whether it comes from Python or back from the database (jsonb turns 1.0
    into 1 and may reorder keys: keys are sorted when dumped)."""
    if isinstance(value, dict):
        return {str(k): _normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalise(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.UTC).isoformat()
    return value


def content_digest(values: dict[str, Any]) -> str:
    """SHA-256 (hex) of the row's canonical JSON content (every hashed field but seq)."""
    content = json.dumps(
        [_normalise(values[name]) for name in HASHED_FIELDS],
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def link_digest(prev_hash: str, seq: int, content_hash: str) -> str:
    """The chain's link, as the PostgreSQL trigger computes it."""
    return hashlib.sha256(f"{prev_hash}:{seq}:{content_hash}".encode()).hexdigest()


def _head() -> tuple[int, str]:
    from .models import AuditLog

    head = (
        AuditLog.objects.filter(seq__isnull=False)
        .order_by("-seq")
        .values_list("seq", "row_hash")[:1]
    )
    row = next(iter(head), None)
    return (row[0], row[1]) if row else (0, GENESIS)


def chain_lock() -> tuple[int, str]:
    """Lock the chain for the rest of the current transaction and return its head (seq, hash)."""
    if not connection.in_atomic_block:
        raise RuntimeError("audit rows are chained inside a transaction")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # A separate statement: under READ COMMITTED the head is read by the next statement,
            # whose snapshot is taken after the lock was granted (after the previous writer's
            # commit).
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
    return _head()


def chain_values(values: list[dict[str, Any]]) -> None:
    """Prepare rows (dicts of HASHED_FIELDS) for insertion in the current transaction: their
    content hash, and on SQLite their place in the chain (PostgreSQL links them at commit)."""
    for row in values:
        row["content_hash"] = content_digest(row)
        row["seq"] = None
        row["prev_hash"] = row["row_hash"] = ""
    if connection.vendor == "postgresql":
        return
    seq, prev = chain_lock()
    for row in values:
        seq += 1
        row["seq"], row["prev_hash"] = seq, prev
        prev = row["row_hash"] = link_digest(prev, seq, row["content_hash"])


def chain_seal_pending() -> None:
    """Link the current transaction's rows now rather than at commit (PostgreSQL; no-op
    elsewhere): used before reading the chain inside the transaction that wrote it."""
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS zz_audit_chain_seal IMMEDIATE")
            cursor.execute("SET CONSTRAINTS zz_audit_chain_seal DEFERRED")


SEAL_FUNCTION_SQL = f"""
CREATE OR REPLACE FUNCTION core_audit_chain_seal() RETURNS trigger
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    head_seq bigint;
    head_hash varchar(64);
    upto bigint;
    r record;
BEGIN
    upto := coalesce(nullif(current_setting('pluriel.audit_sealed_upto', true), ''), '0')::bigint;
    IF NEW.id <= upto THEN
        RETURN NULL;  -- sealed with an earlier row of this transaction
    END IF;
    PERFORM pg_advisory_xact_lock({LOCK_KEY});
    SELECT seq, row_hash INTO head_seq, head_hash
      FROM core_auditlog WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1;
    head_seq := coalesce(head_seq, 0);
    head_hash := coalesce(head_hash, '{GENESIS}');
    FOR r IN SELECT id, content_hash FROM core_auditlog WHERE seq IS NULL ORDER BY id LOOP
        head_seq := head_seq + 1;
        UPDATE core_auditlog
           SET seq = head_seq,
               prev_hash = head_hash,
               row_hash = encode(sha256(convert_to(
                   head_hash || ':' || head_seq::text || ':' || r.content_hash, 'UTF8')), 'hex')
         WHERE id = r.id
        RETURNING row_hash INTO head_hash;
        upto := greatest(upto, r.id);
    END LOOP;
    PERFORM set_config('pluriel.audit_sealed_upto', upto::text, true);
    RETURN NULL;
END $$;
"""
SEAL_TRIGGER_SQL = """
CREATE CONSTRAINT TRIGGER zz_audit_chain_seal AFTER INSERT ON core_auditlog
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION core_audit_chain_seal();
"""
DROP_SQL = """
DROP TRIGGER IF EXISTS zz_audit_chain_seal ON core_auditlog;
DROP FUNCTION IF EXISTS core_audit_chain_seal();
"""


# --------------------------------------------------------------------------- verification


@dataclass
class Break:
    seq: int | None
    row_id: int | None
    reason: str

    def __str__(self) -> str:
        return f"seq {self.seq} (row id {self.row_id}): {self.reason}"


@dataclass
class Verification:
    rows: int
    head_seq: int
    head_hash: str
    anchors: int
    first_break: Break | None

    @property
    def ok(self) -> bool:
        return self.first_break is None


def _rows(chunk: int = 5000) -> Iterator[dict[str, Any]]:
    from .models import AuditLog

    fields = ["id", "prev_hash", "row_hash", "content_hash", "seq", *HASHED_FIELDS]
    last = 0
    while True:
        batch = list(AuditLog.objects.filter(seq__gt=last).order_by("seq").values(*fields)[:chunk])
        if not batch:
            return
        yield from batch
        last = batch[-1]["seq"]


def anchor_file() -> Path:
    return Path(settings.AUDIT_ANCHOR_DIR) / "audit-anchors.jsonl"


def _anchors() -> dict[int, str]:
    """Every known anchor: the database's and the exported file's (the file survives a
    truncation of both tables)."""
    from .models import AuditAnchor

    anchors = dict(AuditAnchor.objects.values_list("seq", "row_hash"))
    path = anchor_file()
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                item = json.loads(line)
                anchors.setdefault(int(item["seq"]), str(item["row_hash"]))
    return anchors


def chain_verify() -> Verification:
    """Recompute the whole chain; the first row whose content, link or sequence is wrong, or the
    first anchor the chain no longer matches."""
    from .models import AuditLog

    chain_seal_pending()
    anchors = _anchors()
    prev, expected_seq, count = GENESIS, 1, 0
    first_break: Break | None = None
    unchained = AuditLog.objects.filter(seq__isnull=True).order_by("id").first()
    if unchained is not None:
        first_break = Break(None, unchained.pk, "row outside the chain (no sequence number)")
    for row in _rows():
        count += 1
        if first_break is not None:
            continue
        if row["seq"] != expected_seq:
            first_break = Break(
                row["seq"],
                row["id"],
                f"sequence gap: rows {expected_seq}..{row['seq'] - 1} are missing",
            )
        elif content_digest(row) != row["content_hash"]:
            first_break = Break(row["seq"], row["id"], "content altered (hash mismatch)")
        elif row["prev_hash"] != prev:
            first_break = Break(row["seq"], row["id"], "link to the previous row broken")
        elif link_digest(prev, row["seq"], row["content_hash"]) != row["row_hash"]:
            first_break = Break(row["seq"], row["id"], "link hash altered")
        elif row["seq"] in anchors and anchors[row["seq"]] != row["row_hash"]:
            first_break = Break(row["seq"], row["id"], "hash differs from the exported anchor")
        prev = row["row_hash"]
        expected_seq += 1
    head_seq = expected_seq - 1
    if first_break is None and anchors:
        top = max(anchors)
        if top > head_seq:
            first_break = Break(
                head_seq + 1,
                None,
                f"chain truncated: an anchor records row {top} but the chain ends at {head_seq}",
            )
    return Verification(count, head_seq, prev, len(anchors), first_break)


def audit_anchor_export() -> dict[str, Any]:
    """Record the chain head (daily, Celery beat): a row in AuditAnchor and a line appended to the
    anchor file kept outside the database (AUDIT_ANCHOR_DIR, to be copied off-site)."""
    from .models import AuditAnchor

    with transaction.atomic():
        chain_seal_pending()
        seq, head = chain_lock()
        anchor = AuditAnchor.objects.create(seq=seq, row_hash=head)
    item = {"seq": seq, "row_hash": head, "at": anchor.created_at.isoformat()}
    path = anchor_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(item) + "\n")
    return item
