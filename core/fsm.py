"""The shared shape of a transition service (docs/style.md): lock, check, transition, save, audit."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import models
from django.utils.translation import gettext as _
from django_fsm import can_proceed

from .audit import audit_log
from .errors import TransitionNotAllowed
from .models import User

M = TypeVar("M", bound=models.Model)


def lock(obj: M) -> M:
    """Re-read the row under SELECT … FOR UPDATE (a no-op lock on SQLite)."""
    return type(obj)._default_manager.select_for_update().get(pk=obj.pk)


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
    method = getattr(obj, name)
    if not can_proceed(method):
        raise TransitionNotAllowed(
            _("Action « %(action)s » impossible dans l'état « %(state)s ».")
            % {"action": name, "state": _state_label(obj, field)},
            allowed=allowed_transition_names(obj, field),
        )
    source = getattr(obj, field)
    method(**kwargs)
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


def _state_label(obj: models.Model, field: str) -> str:
    display = getattr(obj, f"get_{field}_display", None)
    return str(display()) if display else str(getattr(obj, field))
