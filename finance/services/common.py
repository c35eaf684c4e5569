"""What the finance services share: the role check, the run and item states, the instalment
columns read for audit rows, and the formatting of amounts."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from core.errors import PermissionDenied
from core.models import Role, User
from core.permissions import has_role
from cpo.models import AgreementState
from finance.models import PaymentRunItem, PaymentRunState

RS = PaymentRunState
ItemStatus = PaymentRunItem.Status
OPEN_RUN_STATES = (RS.DRAFT, RS.APPROVED)
#: Agreements whose instalments may be paid. A completed agreement still pays its last balance,
#: which the final evaluation released.
PAYABLE_AGREEMENTS = (AgreementState.SIGNED, AgreementState.ACTIVE, AgreementState.COMPLETED)


def _eur(amount: Decimal) -> str:
    return f"{amount:,.2f} €".replace(",", "\u202f").replace(".", ",")


def _finance(actor: User) -> None:
    if not has_role(actor, Role.FINANCE_OFFICER):
        raise PermissionDenied(_("Réservé au service financier."))


def second_approval_threshold() -> Decimal:
    return Decimal(str(settings.PAYMENT_RUN_SECOND_APPROVAL_ABOVE))


def _row_repr(r: Mapping[str, Any]) -> str:
    return f"{r['agreement__reference']} {r['year__fiscal_year']} n° {r['number']}"


ROW = ("pk", "state", "number", "agreement__reference", "year__fiscal_year")


def _entry(
    r: Mapping[str, Any], source: str, target: str, run_reference: str, reason: str = ""
) -> dict[str, Any]:
    return {
        "object_id": r["pk"],
        "object_repr": _row_repr(r),
        "source": source,
        "target": target,
        "reason": reason,
        "payload": {"run": run_reference},
    }
