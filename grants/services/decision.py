"""Decisions on an application: approval (amount, years, envelope guard), refusal, reopening."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from core.clock import now
from core.errors import TransitionNotAllowed
from core.fsm import lock
from core.models import User
from core.notifications import Msg

from ..models import (
    Application,
)
from ..selectors import (
    pending_completion_request,
)
from .approval import COMMITTEE, Approval, application_grant, check_amount
from .workflow import (
    S,
    _check,
    _notify_applicants,
    _transition,
)

# --------------------------------------------------------------------------- decisions


def application_approve(
    *,
    actor: User,
    application: Application,
    amount: Decimal,
    conditions: str = "",
    is_multi_year: bool = False,
    envelope_override_reason: str = "",
    reason: str = "",
    yearly_amounts: dict[int, Decimal] | None = None,
    payment_flow: str = "",
) -> Application:
    """The committee grants the subsidy, under the rules every approval shares
    (grants.services.approval): amount ≤ requested, no pending completion request, years, the
    envelope guard with an audited override, one audit row, the notification."""
    check_amount(amount, amount)  # positive, to the cent; ≤ requested once the row is read
    with transaction.atomic():
        application = lock(application)
        if application.state == S.APPROVED:
            return application
        _check(actor, application, "approve")
        return application_grant(
            actor=actor,
            application=application,
            path=COMMITTEE,
            approval=Approval(
                amount=amount,
                reason=reason,
                conditions=conditions,
                is_multi_year=is_multi_year,
                yearly_amounts=yearly_amounts,
                envelope_override_reason=envelope_override_reason,
                payment_flow=payment_flow or None,
            ),
        )


def application_reject(*, actor: User, application: Application, reason: str) -> Application:
    with transaction.atomic():
        application = lock(application)
        if application.state == S.REJECTED:
            return application
        _check(actor, application, "reject")
        if pending_completion_request(application) is not None:
            raise TransitionNotAllowed(
                _(
                    "Une demande de compléments est en attente : le dossier ne peut pas "
                    "être décidé."
                ),
                allowed=[],
            )
        application.decision_reason = (reason or "").strip()
        application.decided_at = now()
        application.decided_by = actor
        application = _transition(
            application,
            "reject",
            actor=actor,
            reason=reason,
            update_fields=["decision_reason", "decided_at", "decided_by"],
        )
        _notify_applicants(
            application,
            Msg(gettext_noop("Subvention refusée : dossier %(ref)s"), ref=application.reference),
            reason,
        )
    return application


def application_reopen(*, actor: User, application: Application, reason: str) -> Application:
    """A programme manager reopens a decided file (back to instruction), with a reason."""
    with transaction.atomic():
        application = lock(application)
        if application.state == S.UNDER_REVIEW:
            return application
        before = {"approved_amount": application.approved_amount, "state": application.state}
        application = _transition(
            application,
            "reopen",
            actor=actor,
            reason=reason,
            payload=before,
            update_fields=["approved_amount", "decided_at", "decided_by"],
        )
    return application
