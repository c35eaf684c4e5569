"""Applying the retention rules (daily) and handling a person's erasure request, both written to
the audit trail."""

from __future__ import annotations

import datetime
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from ..audit import audit_log
from ..clock import now
from ..errors import DomainError, PermissionDenied
from ..models import ErasureRequest, RetentionRun, User
from .retention import rules


def retention_apply(*, actor: User | None = None) -> RetentionRun:
    """Apply every declared rule to what has passed its term; one audit row per rule that changed
    something, on the run. Each rule in its own transaction (a failure leaves the others done)."""
    run = RetentionRun.objects.create()
    results: dict[str, Any] = {}
    stamp = now()
    for rule in rules():
        cutoff = stamp - datetime.timedelta(days=rule.days)
        with transaction.atomic():
            count = rule.apply(cutoff)
            results[rule.code] = {"action": rule.action, "count": count}
            if count:
                audit_log(
                    actor=actor,
                    obj=run,
                    action="core.retention.applied",
                    reason=str(rule.data),
                    payload={
                        "rule": rule.code,
                        "action": rule.action,
                        "count": count,
                        "cutoff": cutoff,
                    },
                )
    RetentionRun.objects.filter(pk=run.pk).update(results=results)
    run.results = results
    return run


def _can_handle(actor: User) -> None:
    if not (actor.is_authenticated and actor.is_superuser):
        raise PermissionDenied(
            _("Seul·e un·e administrateur·rice traite les demandes d'effacement.")
        )


def erasure_request_create(*, actor: User, person: User, reason: str) -> ErasureRequest:
    """Record a person's request (made by themselves, or entered by an administrator)."""
    if actor.pk != person.pk:
        _can_handle(actor)
    if not reason.strip():
        raise DomainError(_("Indiquez le motif de la demande."))
    with transaction.atomic():
        request = ErasureRequest.objects.create(person=person, reason=reason, requested_by=actor)
        audit_log(actor=actor, obj=request, action="core.erasure.requested", reason=reason)
    return request


def erasure_holds(person: User) -> list[str]:
    """The legal duties that forbid erasing this person's data now (empty: none)."""
    holds = []
    for rule in rules():
        if rule.hold is not None:
            reason = rule.hold(person)
            if reason:
                holds.append(reason)
    return holds


def erasure_request_process(*, actor: User, request: ErasureRequest) -> ErasureRequest:
    """Carry out the request through every rule's `erase`, or refuse it with the reasons when a
    legal retention duty applies. Either way written to the audit trail, with the request's
    reason. A request already processed is refused."""
    _can_handle(actor)
    with transaction.atomic():
        request = ErasureRequest.objects.select_for_update().get(pk=request.pk)
        if request.state != ErasureRequest.State.RECEIVED:
            raise DomainError(_("Cette demande a déjà été traitée."))
        person = User.objects.get(pk=request.person_id)
        holds = erasure_holds(person)
        request.processed_at = now()
        if holds:
            request.state = ErasureRequest.State.REFUSED
            request.refusal_reason = "\n".join(holds)
            request.save(update_fields=["state", "refusal_reason", "processed_at"])
            audit_log(
                actor=actor,
                obj=request,
                action="core.erasure.refused",
                reason=request.reason,
                payload={"holds": holds},
            )
            return request
        outcome: dict[str, int] = {}
        for rule in rules():
            if rule.erase is not None:
                outcome[rule.code] = rule.erase(person)
        request.state = ErasureRequest.State.DONE
        request.outcome = outcome
        request.save(update_fields=["state", "outcome", "processed_at"])
        audit_log(
            actor=actor,
            obj=request,
            action="core.erasure.done",
            reason=request.reason,
            payload=outcome,
        )
    return request
