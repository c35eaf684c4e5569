"""Audit trail: a registry of action codes with human labels, and the one function that writes."""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.functional import Promise

from .audit_chain import chain_finish, chain_insert, chain_prepare
from .models import AuditLog, User

_ACTIONS: dict[str, Promise | str] = {}


def register_action(code: str, label: Promise | str) -> None:
    """Register an action code once, with the label the history page shows."""
    if code in _ACTIONS and _ACTIONS[code] != label:
        raise ValueError(f"audit action {code!r} registered twice")
    _ACTIONS[code] = label


def action_label(code: str) -> str:
    return str(_ACTIONS.get(code, code))


def registered_actions() -> dict[str, str]:
    return {code: str(label) for code, label in _ACTIONS.items()}


def audit_log(
    *,
    actor: User | None,
    obj: models.Model,
    action: str,
    source: str = "",
    target: str = "",
    reason: str = "",
    payload: dict[str, Any] | None = None,
) -> AuditLog:
    """Write one audit row. Call inside the transaction of the change it records."""
    if action not in _ACTIONS:
        raise ValueError(f"audit action {action!r} is not registered")
    return AuditLog.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        content_type=ContentType.objects.get_for_model(obj.__class__),
        object_id=str(obj.pk),
        object_repr=str(obj)[:255],
        action=action,
        source_state=source or "",
        target_state=target or "",
        reason=reason or "",
        payload=_jsonable(payload or {}),
    )


COPY_ABOVE = 500
CHAINED_COLUMNS = [
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
    "content_hash",
    "txid",
]


def audit_log_many(
    *,
    actor: User | None,
    model: type[models.Model],
    action: str,
    entries: list[dict[str, Any]],
    plain: bool = False,
) -> int:
    """Write one audit row per entry in a single INSERT (set-based jobs over many objects), chained
    (core.audit_chain) in the caller's transaction.

    Each entry: object_id, object_repr, and optionally source, target, reason, payload.
    `plain`: every payload is made only of str, int, bool, None and dicts (str keys) or lists of
    them (no Decimal, date, float, tuple or model): stored and hashed as given, not walked twice
    (`_jsonable`, the chain's `_normalise`), which is most of the cost of 100 000 rows."""
    if action not in _ACTIONS:
        raise ValueError(f"audit action {action!r} is not registered")
    if not entries:
        return 0
    content_type = ContentType.objects.get_for_model(model)
    actor_id = actor.pk if actor is not None and actor.is_authenticated else None
    stamp = timezone.now()
    values = [
        {
            "actor_id": actor_id,
            "content_type_id": content_type.pk,
            "object_id": str(e["object_id"]),
            "object_repr": str(e.get("object_repr", ""))[:255],
            "action": action,
            "source_state": e.get("source", "") or "",
            "target_state": e.get("target", "") or "",
            "reason": e.get("reason", "") or "",
            "payload": (e.get("payload") or {}) if plain else _jsonable(e.get("payload") or {}),
            "created_at": stamp,
        }
        for e in entries
    ]
    # No savepoint: the rows and their seal are written together or the transaction fails.
    with transaction.atomic(savepoint=False):
        if len(values) <= COPY_ABOVE and connection.vendor == "postgresql":
            chain_insert(values, plain=plain)  # one statement, the seal opened in it
            return len(values)
        txid = chain_prepare(values, plain=plain)
        if len(values) > COPY_ABOVE:
            # Large set-based jobs (payment runs, daily job): COPY on PostgreSQL, ~3× faster. The
            # payload goes in as the canonical JSON the content hash was computed from.
            from .bulk import RawJSON, copy_insert

            for v in values:
                if "payload_json" in v:
                    v["payload"] = RawJSON(v.pop("payload_json"))
            copy_insert(
                AuditLog, CHAINED_COLUMNS, ([v[c] for c in CHAINED_COLUMNS] for v in values)
            )
        else:
            for v in values:
                v.pop("payload_json", None)
            AuditLog.objects.bulk_create([AuditLog(**v) for v in values], batch_size=2000)
        chain_finish(txid)
    return len(values)


def history_for(obj: models.Model, *, state_field: str = "state") -> list[AuditLog]:
    """The audit rows of one object, newest first (one query, actor joined), with the states'
    human labels set as `source_label` / `target_label` for the history page."""
    rows = list(
        AuditLog.objects.filter(
            content_type=ContentType.objects.get_for_model(obj.__class__), object_id=str(obj.pk)
        ).select_related("actor")
    )
    try:
        labels = dict(obj._meta.get_field(state_field).choices or [])  # type: ignore[union-attr]
    except Exception:
        labels = {}
    for row in rows:
        row.source_label = str(labels.get(row.source_state, row.source_state))  # type: ignore[attr-defined]
        row.target_label = str(labels.get(row.target_state, row.target_state))  # type: ignore[attr-defined]
    return rows


#: Values _jsonable and the chain's _normalise return as they are (checked by exact type: the
#: usual payload of a set-based write is made of these, walked once per row).
_SCALARS = frozenset({str, int, bool, type(None)})


def _jsonable(value: Any) -> Any:
    from datetime import date, datetime
    from decimal import Decimal

    if type(value) in _SCALARS:
        return value
    if isinstance(value, dict):
        return {str(k): v if type(v) in _SCALARS else _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, models.Model):
        return value.pk
    return value
