"""Guards and figures shared by the agreement services."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.utils.translation import gettext as _

from core.errors import PermissionDenied
from core.models import Funder, Role, User
from core.permissions import has_role

from ..models import (
    Agreement,
    AgreementState,
    EvaluationState,
    InstalmentState,
)

A, E, I = AgreementState, EvaluationState, InstalmentState  # noqa: E741


ACCEPTED_EVALUATIONS = (E.ACCEPTED, E.ACCEPTED_WITH_RESERVATIONS)
LATE_AFTER_DAYS = 60  # loi n° 2021-875 art. 2: paid within 60 days of the notified decision
REMINDER_DAYS = (30, 7)


def _staff(actor: User) -> None:
    if not has_role(actor, Role.INSTRUCTOR, Role.PROGRAMME_MANAGER):
        raise PermissionDenied(_("Réservé à l'instruction et aux responsables de programme."))


def _threshold() -> Decimal:
    return Decimal(str(settings.AGREEMENT_THRESHOLD))


def funder_of(agreement: Agreement) -> Funder | None:
    link = agreement.funders.select_related("funder").first()
    return link.funder if link else None
