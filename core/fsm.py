"""The shared shape of a transition service (docs/style.md): lock, check, transition, save, audit."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import can_proceed

from .audit import audit_log, audit_log_many
from .errors import DomainError, TransitionNotAllowed
from .models import User

M = TypeVar("M", bound=models.Model)


def lock(obj: M) -> M:
    """Re-read the row under SELECT … FOR UPDATE (a no-op lock on SQLite)."""
    return type(obj)._default_manager.select_for_update().get(pk=obj.pk)


def lock_many(model: type[M], pks: Sequence[Any]) -> list[M]:
    """Re-read many rows under one SELECT … FOR UPDATE, in primary-key order (the order every
    locker uses, so two of them never deadlock)."""
    return list(model._default_manager.select_for_update().filter(pk__in=list(pks)).order_by("pk"))


def allowed_transition_names(obj: models.Model, field: str = "state") -> list[str]:
    method = getattr(obj, f"get_available_{field}_transitions")
    return sorted({t.name for t in method()})


def apply_transition(
    obj: M,
    name: str,
    *,
    actor: User | None,
    action: str,
    reason: str = "",
    payload: dict[str, Any] | None = None,
    field: str = "state",
    update_fields: list[str] | None = None,
    **kwargs: Any,
) -> M:
    """Run transition `name` on an already locked `obj`, save it and write the audit row.

    The caller holds the transaction. Refuses with TransitionNotAllowed (HTTP 409) listing the
    transitions allowed now when `name` is not possible from the current state.
    """
    source = transition_step(obj, name, field=field, **kwargs)
    fields = [field, *(update_fields or [])]
    obj.save(update_fields=list(dict.fromkeys(fields)))
    audit_log(
        actor=actor,
        obj=obj,
        action=action,
        source=source,
        target=getattr(obj, field),
        reason=reason,
        payload=payload,
    )
    return obj


def transition_step(obj: models.Model, name: str, *, field: str = "state", **kwargs: Any) -> str:
    """Run transition `name` on `obj` in memory (nothing saved); return the source state.
    Refuses with TransitionNotAllowed, `obj` unchanged, when it is not possible now."""
    method = getattr(obj, name)
    if not can_proceed(method):
        raise TransitionNotAllowed(
            _("Action « %(action)s » impossible dans l'état « %(state)s ».")
            % {"action": name, "state": _state_label(obj, field)},
            allowed=allowed_transition_names(obj, field),
        )
    source = str(getattr(obj, field))
    method(**kwargs)
    return source


@dataclasses.dataclass
class ManyResult(Generic[M]):
    """What a set-based transition did: the objects moved, and why each other one was not."""

    done: list[M] = dataclasses.field(default_factory=list)
    refused: dict[Any, DomainError] = dataclasses.field(default_factory=dict)


def apply_transition_many(
    objs: Sequence[M],
    name: str,
    *,
    actor: User | None,
    action: str,
    reason: str = "",
    payload: dict[str, Any] | None = None,
    field: str = "state",
    update_fields: list[str] | None = None,
    **kwargs: Any,
) -> ManyResult[M]:
    """apply_transition for many already locked objects of one model, in a few statements: each
    object goes through the same FSM check and transition body in memory; those refused are left
    unchanged (and listed with their TransitionNotAllowed); the others are saved in one
    bulk_update and get one audit row each, with the same content apply_transition writes, in one
    INSERT (core.audit.audit_log_many). The caller holds the transaction."""
    result: ManyResult[M] = ManyResult()
    entries: list[dict[str, Any]] = []
    for obj in objs:
        try:
            source = transition_step(obj, name, field=field, **kwargs)
        except TransitionNotAllowed as exc:
            result.refused[obj.pk] = exc
            continue
        result.done.append(obj)
        entries.append(
            {
                "object_id": obj.pk,
                "object_repr": str(obj),
                "source": source,
                "target": getattr(obj, field),
                "reason": reason,
                "payload": payload,
            }
        )
    if not result.done:
        return result
    model = type(result.done[0])
    _save_many(model, result.done, [e["source"] for e in entries], field, update_fields or [])
    audit_log_many(actor=actor, model=model, action=action, entries=entries)
    return result


def _save_many(
    model: type[M], objs: list[M], sources: list[str], field: str, update_fields: list[str]
) -> None:
    """Save the transition's fields of `objs`: one UPDATE per group of objects that left the same
    source state with the same new values (usually one), guarded by that source state. (Django's
    bulk_update builds a CASE per row and field: ~1 ms a row in Python.)"""
    fields = [
        f
        for f in model._meta.concrete_fields
        if f.name in {field, *update_fields} or f.attname in {field, *update_fields}
    ]
    stamp = timezone.now()
    for f in fields:  # an UPDATE skips pre_save: set auto_now fields as save() would
        if getattr(f, "auto_now", False):
            for obj in objs:
                setattr(obj, f.attname, stamp)
    groups: dict[Any, tuple[dict[str, Any], list[Any]]] = {}
    for obj, source in zip(objs, sources, strict=True):
        values = {f.attname: getattr(obj, f.attname) for f in fields}
        try:
            key: Any = (source, tuple(values.items()))
            hash(key)
        except TypeError:  # an unhashable value (JSON): a group of its own
            key = (source, id(obj))
        groups.setdefault(key, (values, []))[1].append(obj.pk)
    manager = model._default_manager
    for (source, _values), (values, pks) in groups.items():
        for first in range(0, len(pks), 500):
            chunk = pks[first : first + 500]
            moved = manager.filter(pk__in=chunk, **{field: source}).update(**values)
            if moved != len(chunk):  # the caller locked the rows: a bug, never half-write
                raise RuntimeError(f"{model.__name__}: {len(chunk) - moved} row(s) left {source}")


def _state_label(obj: models.Model, field: str) -> str:
    display = getattr(obj, f"get_{field}_display", None)
    return str(display()) if display else str(getattr(obj, field))
