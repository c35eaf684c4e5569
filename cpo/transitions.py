"""Set-based transitions of instalments: the only way code changes `Instalment.state` for many rows
at once (the single-object path is core.fsm.apply_transition on the model's FSM methods).

Each transition is declared once here — its source states, its target, its audit action — and
`instalments_transition` runs it: one UPDATE guarded by the source states, then one batch of audit
rows (core.audit.audit_log_many, COPY on PostgreSQL above a few hundred rows), in the caller's
transaction. A row that is not in a source state (a caller's bug, or a concurrent change) makes the
whole call fail with TransitionNotAllowed, so nothing is half-written. tests/cpo/test_transitions_bulk.py
greps the code base so no bare `update(state=...)` on instalments comes back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from core.audit import audit_log_many
from core.errors import TransitionNotAllowed
from core.models import User

from .models import Instalment, InstalmentState

I = InstalmentState  # noqa: E741


@dataclass(frozen=True)
class InstalmentTransition:
    sources: tuple[str, ...]
    target: str
    action: str


#: Sources are the FSM's (cpo.models.Instalment) except where noted.
INSTALMENT_TRANSITIONS: dict[str, InstalmentTransition] = {
    "make_due": InstalmentTransition((I.PLANNED, I.ON_HOLD), I.DUE, "cpo.instalment.due"),
    # ON_HOLD → ON_HOLD: the daily job re-holds with a new reason (one audit row, as before).
    "hold": InstalmentTransition(
        (I.PLANNED, I.DUE, I.APPROVED, I.ON_HOLD), I.ON_HOLD, "cpo.instalment.on_hold"
    ),
    "approve": InstalmentTransition((I.DUE,), I.APPROVED, "cpo.instalment.approved"),
    "add_to_run": InstalmentTransition((I.APPROVED,), I.IN_RUN, "cpo.instalment.added_to_run"),
    "remove_from_run": InstalmentTransition(
        (I.IN_RUN,), I.APPROVED, "cpo.instalment.removed_from_run"
    ),
    "export": InstalmentTransition((I.IN_RUN,), I.EXPORTED, "cpo.instalment.exported"),
    "pay": InstalmentTransition((I.EXPORTED,), I.PAID, "cpo.instalment.paid"),
    "reject": InstalmentTransition((I.EXPORTED,), I.DUE, "cpo.instalment.rejected"),
    "cancel": InstalmentTransition(
        (I.PLANNED, I.DUE, I.ON_HOLD, I.APPROVED), I.CANCELLED, "cpo.instalment.cancelled"
    ),
}


def instalments_transition(
    ids: Sequence[int],
    *,
    transition: str,
    actor: User | None,
    entries: Sequence[dict[str, Any]],
    values: Mapping[str, Any] | None = None,
) -> int:
    """Move the instalments `ids` through `transition`: one UPDATE (state, plus `values`, such as
    hold_reason or paid_on) restricted to the transition's source states, then one audit row per
    entry of `entries` (object_id, object_repr, source, target, reason, payload — see
    core.audit.audit_log_many) under the transition's action. Returns the number moved.

    Raises TransitionNotAllowed, and rolls back, if any instalment is not in a source state."""
    spec = INSTALMENT_TRANSITIONS[transition]
    ids = list(ids)
    if not ids:
        return 0
    if len(entries) != len(ids):
        raise ValueError("instalments_transition: one audit entry per instalment")
    with transaction.atomic():
        moved = Instalment.objects.filter(pk__in=ids, state__in=spec.sources).update(
            state=spec.target, **dict(values or {})
        )
        if moved != len(set(ids)):
            wrong = list(
                Instalment.objects.filter(pk__in=ids)
                .exclude(state=spec.target)
                .values_list("pk", flat=True)[:10]
            )
            raise TransitionNotAllowed(
                _("Action impossible dans l'état actuel de ces échéances : %(ids)s.")
                % {"ids": ", ".join(str(pk) for pk in wrong)}
            )
        audit_log_many(actor=actor, model=Instalment, action=spec.action, entries=list(entries))
    return moved
