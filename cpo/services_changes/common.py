"""Guards and figures shared by amendments and recoveries: who may write, money input, the
threshold above which an agreement (not a notification) is required."""

from __future__ import annotations

import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from core.audit import audit_log
from core.errors import DomainError, PermissionDenied, TransitionNotAllowed
from core.fsm import lock
from core.models import Role, User
from core.money import CENT, to_money
from core.permissions import has_role

from ..models import (
    Agreement,
    AgreementState,
    Amendment,
    InstalmentState,
    RecoveryState,
)

A, I, R = AgreementState, InstalmentState, RecoveryState  # noqa: E741


AMENDABLE = (A.SIGNED, A.ACTIVE, A.SUSPENDED)
REPLANNABLE = (I.PLANNED, I.ON_HOLD)
NOT_SETTLED = (I.PLANNED, I.ON_HOLD, I.CANCELLED)  # any other state (due, later paid) is settled
RECOVERABLE = (A.ACTIVE, A.SUSPENDED, A.COMPLETED, A.TERMINATED)
OFFSETTABLE = (I.PLANNED, I.ON_HOLD, I.DUE)
HUNDRED = Decimal("100")
NOMINAL = Decimal("1000.00")
MANAGERS = (Role.INSTRUCTOR, Role.PROGRAMME_MANAGER)
FINANCE = (Role.INSTRUCTOR, Role.PROGRAMME_MANAGER, Role.FINANCE_OFFICER)


def agreement_staff_check_permission(actor: User, roles: tuple[str, ...] = MANAGERS) -> None:
    """Instructors and programme managers (or `roles`) act on agreements. The API calls it before
    reading a body, so that the answer never depends on the body (issue 11)."""
    if not has_role(actor, *roles):
        raise PermissionDenied(_("Réservé à l'instruction et aux responsables de programme."))


_staff = agreement_staff_check_permission


def _eur(amount: Decimal) -> str:
    text = f"{to_money(amount):,.2f}".replace(",", "\u202f").replace(".", ",")
    return f"{text} €"


def _money(value: Any, field: str, label: str, *, positive: bool = True) -> Decimal:
    """An exact amount in cents: Decimal, int or decimal string; floats are refused."""
    if isinstance(value, bool | float) or not isinstance(value, Decimal | int | str):
        raise DomainError(
            _("%(label)s doit être un montant exact.") % {"label": label}, field=field
        )
    try:
        amount = Decimal(value.strip().replace(",", ".") if isinstance(value, str) else value)
    except InvalidOperation:
        raise DomainError(_("%(label)s n'est pas un montant.") % {"label": label}, field=field)
    if not amount.is_finite() or amount != amount.quantize(CENT):
        raise DomainError(
            _("%(label)s doit être exprimé au centime près.") % {"label": label}, field=field
        )
    if amount < 0 or (positive and amount == 0):
        raise DomainError(
            _("%(label)s doit être strictement positif.") % {"label": label}, field=field
        )
    return to_money(amount)


def amendment_reason(reason: str | None) -> str:
    """An amendment's reason, required."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Le motif de l'avenant est obligatoire."), field="reason")
    return reason


def check_effective_on(effective_on: Any) -> None:
    """An amendment takes effect on a date (not a datetime, not a string)."""
    if not isinstance(effective_on, datetime.date) or isinstance(effective_on, datetime.datetime):
        raise DomainError(_("La date d'effet doit être une date."), field="effective_on")


def lock_amendable(agreement: Agreement) -> Agreement:
    """The agreement, locked (inside the caller's transaction), if it may be amended now."""
    agreement = lock(agreement)
    if agreement.state not in AMENDABLE:
        raise TransitionNotAllowed(
            _("Une convention « %(state)s » ne peut pas faire l'objet d'un avenant.")
            % {"state": agreement.get_state_display()},
            allowed=[],
        )
    return agreement


def _threshold() -> Decimal:
    return Decimal(str(settings.AGREEMENT_THRESHOLD))


def record_amendment(
    *,
    agreement: Agreement,
    actor: User,
    version: int,
    reason: str,
    effective_on: Any,
    before: dict[str, Any],
    after: dict[str, Any],
    cancelled: int,
    created: int,
) -> Amendment:
    """The amendment row and its audit entry (`cpo.agreement.amended`), the same for every kind of
    amendment; the caller has already saved the agreement's new version."""
    amendment = Amendment.objects.create(
        agreement=agreement,
        version=version,
        reason=reason,
        effective_on=effective_on,
        before=before,
        after=after,
        author=actor,
    )
    audit_log(
        actor=actor,
        obj=agreement,
        action="cpo.agreement.amended",
        source=agreement.state,
        target=agreement.state,
        reason=reason,
        payload={
            "version": version,
            "effective_on": effective_on,
            "before": before,
            "after": after,
            "instalments_cancelled": cancelled,
            "instalments_created": created,
        },
    )
    return amendment
