"""Writes for programmes and calls."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from core.audit import audit_log
from core.clock import now
from core.errors import DomainError, PermissionDenied
from core.fsm import apply_transition, lock
from core.models import Role, User
from core.permissions import has_role

from .models import Call, CallState

CALL_TRANSITION_ACTIONS = {
    "publish": "calls.call.published",
    "open": "calls.call.opened",
    "close": "calls.call.closed",
    "deliberate": "calls.call.deliberating",
    "decide": "calls.call.decided",
    "archive": "calls.call.archived",
}


def call_transition(*, call: Call, name: str, actor: User | None, reason: str = "") -> Call:
    """Move a call through its life (draft → published → open → closed → deliberating → decided →
    archived). Programme managers only; the scheduler (actor None) may open and close."""
    if name not in CALL_TRANSITION_ACTIONS:
        raise DomainError(_("Action inconnue."))
    if actor is not None and not has_role(actor, Role.PROGRAMME_MANAGER):
        raise PermissionDenied(_("Seul·e un·e responsable de programme peut modifier l'état d'un appel."))
    with transaction.atomic():
        call = lock(call)
        if name == "publish" and call.closes_at <= call.opens_at:
            raise DomainError(_("La clôture doit suivre l'ouverture."), field="closes_at")
        return apply_transition(call, name, actor=actor, action=CALL_TRANSITION_ACTIONS[name], reason=reason)


def calls_advance_by_dates() -> dict[str, int]:
    """Open published calls whose opening date has passed; close open calls past their closing
    date. Idempotent: a call already in the target state is left alone."""
    moment = now()
    opened = closed = 0
    for call_id in Call.objects.filter(
        state__in=[CallState.PUBLISHED], opens_at__lte=moment, closes_at__gt=moment
    ).values_list("pk", flat=True):
        with transaction.atomic():
            call = lock(Call(pk=call_id))
            if call.state == CallState.PUBLISHED and call.opens_at <= moment < call.closes_at:
                apply_transition(call, "open", actor=None, action="calls.call.opened",
                                 reason=_("Ouverture automatique à la date prévue."))
                opened += 1
    for call_id in Call.objects.filter(
        state__in=[CallState.OPEN, CallState.PUBLISHED], closes_at__lte=moment
    ).values_list("pk", flat=True):
        with transaction.atomic():
            call = lock(Call(pk=call_id))
            if call.state == CallState.PUBLISHED:
                apply_transition(call, "open", actor=None, action="calls.call.opened",
                                 reason=_("Ouverture automatique à la date prévue."))
            if call.state == CallState.OPEN and call.closes_at <= moment:
                apply_transition(call, "close", actor=None, action="calls.call.closed",
                                 reason=_("Clôture automatique à la date prévue."))
                closed += 1
    return {"opened": opened, "closed": closed}


def programme_set_envelope(*, programme, envelope, actor: User, reason: str = ""):
    if not has_role(actor, Role.PROGRAMME_MANAGER):
        raise PermissionDenied(_("Seul·e un·e responsable de programme peut modifier l'enveloppe."))
    if envelope < 0:
        raise DomainError(_("L'enveloppe ne peut pas être négative."), field="envelope")
    with transaction.atomic():
        programme = lock(programme)
        before = programme.envelope
        programme.envelope = envelope
        programme.save(update_fields=["envelope"])
        audit_log(actor=actor, obj=programme, action="calls.programme.envelope_changed", reason=reason,
                  payload={"before": before, "after": envelope})
    return programme
