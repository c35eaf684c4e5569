"""Tamper-evident audit trail. Every `core.AuditLog` row carries the SHA-256 of its content
(`content_hash`, computed in Python when the row is built) and the id of the transaction that
wrote it (`txid`). The rows of one transaction are sealed together by one `core.AuditSeal`, and
the seals form one global hash chain ordered by `seq`, made in the writing transaction:

    digest   = SHA-256(the content hashes of the transaction's rows, in id order, comma-joined)
    row_hash = SHA-256(prev_hash ":" seq ":" digest)

On PostgreSQL the seal is made at COMMIT by a deferred constraint trigger on core_auditseal
(`zz_audit_seal`, migration 0005): every audit write opens the transaction's seal (idempotent) in
the statement that inserts its rows (`chain_insert`: one round trip a write; the COPY path opens
it in a statement of its own first, `chain_prepare`); at commit the trigger takes a transaction-level advisory lock, reads
the head of the chain and closes the seal. The lock is held only from the commit's start to its
end, after every row lock of the transaction was taken, so sealing never deadlocks with row locks
and costs one UPDATE per transaction, not per row; COPY-inserted rows are covered like any other.
On SQLite (development) each write is sealed at once in Python (one writer at a time).
See docs/decisions/2026-12-06-audit-hash-chain.md.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction

GENESIS = "0" * 64
# Any constant: the key of the transaction-level advisory lock that serialises sealing.
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


#: Returned as they are by _normalise (exact types: a str or int subclass takes the long way).
_SCALARS = frozenset({str, int, bool, type(None)})


def _normalise(value: Any) -> Any:
    """The same value whether it comes from Python or back from the database (jsonb turns 1.0
    into 1 and may reorder keys: keys are sorted when dumped)."""
    if type(value) in _SCALARS:
        return value
    if isinstance(value, dict):
        return {str(k): v if type(v) in _SCALARS else _normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalise(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.UTC).isoformat()
    return value


# One encoder for every row: json.dumps with options builds a new encoder (and loses the C
# fast path's setup) at each call, which was most of the chain's cost on bulk writes.
_encode = json.JSONEncoder(
    sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
).encode


def content_digest(values: dict[str, Any]) -> str:
    """SHA-256 (hex) of the row's canonical JSON content."""
    content = _encode([_normalise(values[name]) for name in HASHED_FIELDS])
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


#: The fields that vary from row to row in a set-based write (the others are one value a batch).
_PER_ROW = ("object_id", "object_repr", "source_state", "target_state", "reason")


def hash_batch(values: list[dict[str, Any]], *, plain: bool = False) -> None:
    """Set `content_hash` on rows that share actor, content type, action and time (a set-based
    write, core.audit.audit_log_many), and `payload_json`, the payload's canonical JSON, which the
    COPY path stores as is rather than dumping it a second time.

    The same bytes as `content_digest` (a JSON array is its items' encodings joined by commas),
    checked by tests/core/test_audit_chain.py; only the payload goes through `_normalise`, the
    other fields being text, integers or the batch's one timestamp. `plain`: the caller vouches
    that every payload holds only str, int, bool, None and dicts (str keys) or lists of them,
    which `_normalise` would return unchanged: it is not walked."""
    if not values:
        return
    first = values[0]
    shared = ("actor_id", "content_type_id", "action", "created_at")
    if any(row[name] != first[name] for row in values for name in shared) or any(
        not isinstance(row[name], str) for row in values for name in _PER_ROW
    ):
        for row in values:  # not a uniform batch: the general path
            row["content_hash"] = content_digest(row)
        return
    head = "[" + ",".join(
        _encode(_normalise(first[name])) for name in ("actor_id", "content_type_id")
    )
    action = first["action"]
    tail = "," + _encode(_normalise(first["created_at"])) + "]"
    sha256 = hashlib.sha256
    for row in values:
        payload = _encode(row["payload"] if plain else _normalise(row["payload"]))
        row["payload_json"] = payload
        # The six text fields in one call: « ["a","b"] » is « "a" » and « "b" » joined by ",".
        texts = _encode(
            [
                row["object_id"],
                row["object_repr"],
                action,
                row["source_state"],
                row["target_state"],
                row["reason"],
            ]
        )
        content = f"{head},{texts[1:-1]},{payload}{tail}"
        row["content_hash"] = sha256(content.encode("utf-8")).hexdigest()


def batch_digest(content_hashes: list[str]) -> str:
    return hashlib.sha256(",".join(content_hashes).encode()).hexdigest()


def link_digest(prev_hash: str, seq: int, digest: str) -> str:
    """The chain's link, as the PostgreSQL trigger computes it."""
    return hashlib.sha256(f"{prev_hash}:{seq}:{digest}".encode()).hexdigest()


OPEN_SEAL_SQL = """
WITH t AS (SELECT txid_current() AS txid),
     i AS (INSERT INTO core_auditseal (txid, count, digest, prev_hash, row_hash)
           SELECT txid, 0, '', '', '' FROM t
           ON CONFLICT (txid) WHERE seq IS NULL DO NOTHING)
SELECT txid FROM t
"""


def chain_prepare(values: list[dict[str, Any]], *, plain: bool = False) -> int:
    """Prepare rows (dicts of HASHED_FIELDS) for insertion in the current transaction: their
    content hash and transaction id (on PostgreSQL, the transaction's seal is opened). `plain`:
    see hash_batch."""
    if not connection.in_atomic_block:
        raise RuntimeError("audit rows are written inside a transaction")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(OPEN_SEAL_SQL)
            txid = int(cursor.fetchone()[0])
    else:
        txid = secrets.randbits(62)
    if len(values) > 1:
        hash_batch(values, plain=plain)
    else:
        for row in values:
            row["content_hash"] = content_digest(row)
    for row in values:
        row["txid"] = txid
    return txid


#: The rows' columns besides `id` and `txid` (attnames), in the order `chain_insert` writes them.
INSERTED_COLUMNS = (*HASHED_FIELDS, "content_hash")


def chain_insert(values: list[dict[str, Any]], *, plain: bool = False) -> list[tuple[int, int]]:
    """PostgreSQL: hash rows (dicts of HASHED_FIELDS) and insert them in the current transaction
    with its id, opening its seal, in one statement; each row's (id, txid), in order. `plain`:
    see hash_batch.

    The same as chain_prepare then an INSERT (the seal's `INSERT … ON CONFLICT DO NOTHING` in a
    data-modifying CTE), without the round trip that reads the transaction id first. A row's
    `payload_json` (hash_batch's canonical payload) is stored as is."""
    if not connection.in_atomic_block:
        raise RuntimeError("audit rows are written inside a transaction")
    if len(values) > 1:
        hash_batch(values, plain=plain)
    else:
        for row in values:
            row["content_hash"] = content_digest(row)
    return insert_rows(values, sealed=True)


def insert_rows(values: list[dict[str, Any]], *, sealed: bool) -> list[tuple[int, int]]:
    """One INSERT of the rows (INSERTED_COLUMNS) into core_auditlog on PostgreSQL; `sealed`: with
    the transaction's id, its seal opened in the same statement (otherwise the row's own `txid`,
    for the unchained reference of bench/audit_reference.py)."""
    from .models import AuditLog

    fields = {f.attname: f for f in AuditLog._meta.concrete_fields}
    columns = [*INSERTED_COLUMNS, "txid"]
    names = ", ".join(connection.ops.quote_name(str(fields[c].column)) for c in columns)
    params: list[Any] = []
    lines = []
    for row in values:
        for name in INSERTED_COLUMNS:
            if name == "payload" and "payload_json" in row:
                params.append(row["payload_json"])
            else:
                params.append(fields[name].get_db_prep_save(row[name], connection))
        holders = ["%s"] * len(INSERTED_COLUMNS)
        if "payload_json" in row:
            holders[INSERTED_COLUMNS.index("payload")] = "%s::jsonb"
        if sealed:
            holders.append("(SELECT txid FROM t)")
        else:
            holders.append("%s")
            params.append(row.get("txid"))
        lines.append(f"({', '.join(holders)})")
    insert = f"INSERT INTO core_auditlog ({names}) VALUES {', '.join(lines)} RETURNING id, txid"
    with connection.cursor() as cursor:
        cursor.execute(OPEN_SEAL_CTE + insert if sealed else insert, params)
        return [(int(i), t) for i, t in cursor.fetchall()]


OPEN_SEAL_CTE = """
WITH t AS (SELECT txid_current() AS txid),
     s AS (INSERT INTO core_auditseal (txid, count, digest, prev_hash, row_hash)
           SELECT txid, 0, '', '', '' FROM t
           ON CONFLICT (txid) WHERE seq IS NULL DO NOTHING)
"""


def chain_finish(txid: int) -> None:
    """After the rows are inserted: seal them now on SQLite (PostgreSQL seals at commit)."""
    if connection.vendor == "postgresql":
        return
    from .models import AuditLog, AuditSeal

    rows = list(AuditLog.objects.filter(txid=txid).order_by("id").values_list("id", "content_hash"))
    if not rows:
        return
    seq, prev = _head()
    seq += 1
    digest = batch_digest([r[1] for r in rows])
    AuditSeal.objects.create(
        txid=txid,
        seq=seq,
        first_id=rows[0][0],
        last_id=rows[-1][0],
        count=len(rows),
        digest=digest,
        prev_hash=prev,
        row_hash=link_digest(prev, seq, digest),
    )


def _head() -> tuple[int, str]:
    from .models import AuditSeal

    head = (
        AuditSeal.objects.filter(seq__isnull=False)
        .order_by("-seq")
        .values_list("seq", "row_hash")[:1]
    )
    row = next(iter(head), None)
    return (int(row[0] or 0), row[1]) if row else (0, GENESIS)


def chain_seal_pending() -> None:
    """Seal the current transaction's rows now rather than at commit (PostgreSQL; no-op
    elsewhere): used before reading the chain inside the transaction that wrote it."""
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS zz_audit_seal IMMEDIATE")
            cursor.execute("SET CONSTRAINTS zz_audit_seal DEFERRED")


def chain_lock() -> tuple[int, str]:
    """Lock the chain until the end of the transaction; its head (seq, hash)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
    return _head()


SEAL_FUNCTION_SQL = f"""
CREATE OR REPLACE FUNCTION core_audit_seal() RETURNS trigger
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    lo bigint;
    lo_id bigint;
    hi_id bigint;
    n integer;
    d text;
    head_seq bigint;
    head_hash varchar(64);
BEGIN
    PERFORM pg_advisory_xact_lock({LOCK_KEY});
    SELECT coalesce(max(last_id), 0) INTO lo
      FROM core_auditseal WHERE txid = NEW.txid AND seq IS NOT NULL;
    SELECT min(id), max(id), count(*),
           encode(sha256(convert_to(string_agg(content_hash, ',' ORDER BY id), 'UTF8')), 'hex')
      INTO lo_id, hi_id, n, d
      FROM core_auditlog WHERE txid = NEW.txid AND id > lo;
    IF n = 0 THEN
        DELETE FROM core_auditseal WHERE id = NEW.id;  -- its rows were rolled back
        RETURN NULL;
    END IF;
    SELECT seq, row_hash INTO head_seq, head_hash
      FROM core_auditseal WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1;
    head_seq := coalesce(head_seq, 0) + 1;
    head_hash := coalesce(head_hash, '{GENESIS}');
    UPDATE core_auditseal
       SET seq = head_seq, first_id = lo_id, last_id = hi_id, count = n, digest = d,
           prev_hash = head_hash, sealed_at = now(),
           row_hash = encode(sha256(convert_to(
               head_hash || ':' || head_seq::text || ':' || d, 'UTF8')), 'hex')
     WHERE id = NEW.id;
    RETURN NULL;
END $$;
"""
SEAL_TRIGGER_SQL = """
CREATE CONSTRAINT TRIGGER zz_audit_seal AFTER INSERT ON core_auditseal
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION core_audit_seal();
"""
DROP_SQL = """
DROP TRIGGER IF EXISTS zz_audit_seal ON core_auditseal;
DROP FUNCTION IF EXISTS core_audit_seal();
"""


# --------------------------------------------------------------------------- verification


@dataclass
class Break:
    seq: int | None
    row_id: int | None
    reason: str

    def __str__(self) -> str:
        return f"seal {self.seq} (row id {self.row_id}): {self.reason}"


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


def _joined_rows(chunk: int = 500) -> Iterator[dict[str, Any]]:
    """Every sealed row with its seal's fields, in chain order (seals fetched by chunks, then
    their rows in one query a chunk)."""
    from .models import AuditLog, AuditSeal

    seal_fields = ["seq", "txid", "first_id", "last_id", "count", "digest", "prev_hash", "row_hash"]
    last = 0
    while True:
        seals = list(
            AuditSeal.objects.filter(seq__gt=last).order_by("seq").values(*seal_fields)[:chunk]
        )
        if not seals:
            return
        by_txid: dict[int, list[dict[str, Any]]] = {}
        for row in (
            AuditLog.objects.filter(txid__in={s["txid"] for s in seals})
            .order_by("id")
            .values("id", "txid", "content_hash", *HASHED_FIELDS)
        ):
            by_txid.setdefault(row["txid"], []).append(row)
        for seal in seals:
            for row in by_txid.get(seal["txid"], []):
                if seal["first_id"] <= row["id"] <= seal["last_id"]:
                    yield {**row, **seal}
        last = seals[-1]["seq"]


def anchor_file() -> Path:
    return Path(str(settings.AUDIT_ANCHOR_DIR)) / "audit-anchors.jsonl"


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
    """Recompute the whole chain; the first altered row, the first seal whose rows, link or
    sequence are wrong, rows outside any seal, or the first anchor the chain no longer matches."""
    from .models import AuditLog

    chain_seal_pending()
    anchors = _anchors()
    prev, expected_seq, rows = GENESIS, 1, 0
    first_break: Break | None = None
    seal: dict[str, Any] | None = None
    hashes: list[str] = []

    def close(seal: dict[str, Any]) -> Break | None:
        if seal["seq"] != expected_seq:
            return Break(seal["seq"], seal["first_id"], f"seal(s) {expected_seq}.. missing")
        if len(hashes) != seal["count"] or batch_digest(hashes) != seal["digest"]:
            return Break(
                seal["seq"],
                seal["first_id"],
                f"rows {seal['first_id']}..{seal['last_id']}: a row was deleted or added",
            )
        if seal["prev_hash"] != prev:
            return Break(seal["seq"], seal["first_id"], "link to the previous seal broken")
        if link_digest(prev, seal["seq"], seal["digest"]) != seal["row_hash"]:
            return Break(seal["seq"], seal["first_id"], "seal hash altered")
        if seal["seq"] in anchors and anchors[seal["seq"]] != seal["row_hash"]:
            return Break(seal["seq"], seal["first_id"], "hash differs from the exported anchor")
        return None

    for row in _joined_rows():
        rows += 1
        if first_break is not None:
            continue
        if seal is not None and row["seq"] != seal["seq"]:
            first_break = close(seal)
            prev, expected_seq, hashes = seal["row_hash"], expected_seq + 1, []
            if first_break is not None:
                continue
        seal = row
        if content_digest(row) != row["content_hash"]:
            first_break = Break(row["seq"], row["id"], "content altered (hash mismatch)")
            continue
        hashes.append(row["content_hash"])
    if seal is not None and first_break is None:
        first_break = close(seal)
        prev = seal["row_hash"]
        expected_seq += 1
    head_seq = expected_seq - 1
    total = AuditLog.objects.count()
    if first_break is None and total != rows:
        from django.db.models import Exists, OuterRef, Q

        from .models import AuditSeal

        covered = AuditSeal.objects.filter(
            Q(seq__isnull=False),
            txid=OuterRef("txid"),
            first_id__lte=OuterRef("id"),
            last_id__gte=OuterRef("id"),
        )
        stray = AuditLog.objects.filter(~Exists(covered)).order_by("id").first()
        first_break = Break(None, stray.pk if stray else None, "row outside the chain (no seal)")
    if first_break is None and anchors:
        top = max(anchors)
        if top > head_seq:
            first_break = Break(
                head_seq + 1,
                None,
                f"chain truncated: an anchor records seal {top} but the chain ends at {head_seq}",
            )
    return Verification(rows, head_seq, prev, len(anchors), first_break)


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
