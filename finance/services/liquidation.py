"""Liquidation (docs/domain.md §5): the service done is certified for due instalments, which may then
be paid; and the selection of the instalments finance may put in a run."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from core.clock import now
from core.errors import DomainError
from core.fsm import apply_transition, lock
from core.models import User
from cpo.models import Instalment
from cpo.models import InstalmentState as I  # noqa: N817
from cpo.transitions import instalments_transition
from finance.models import FiscalYear

from .common import PAYABLE_AGREEMENTS, ROW, _finance, _row_repr
from .fiscal_years import effective_year_q


def instalments_approve(*, actor: User, instalment_ids: Iterable[int], note: str = "") -> int:
    """Liquidation: certify the service done for due instalments, which may then be paid. Set-based;
    already approved ones are skipped (idempotent); anything not due is refused, all or nothing."""
    _finance(actor)
    ids = sorted(set(instalment_ids))
    if not ids:
        raise DomainError(_("Choisissez au moins une échéance."))
    with transaction.atomic():
        rows = list(
            Instalment.objects.select_for_update(of=("self",))
            .filter(pk__in=ids)
            .values(*ROW, "agreement__state")
        )
        if len(rows) != len(ids):
            raise DomainError(_("Échéance introuvable."))
        wrong = [r for r in rows if r["state"] not in (I.DUE, I.APPROVED)]
        if wrong:
            raise DomainError(
                _("Seule une échéance exigible peut être liquidée : %(refs)s.")
                % {"refs": ", ".join(_row_repr(r) for r in wrong[:10])}
            )
        to_approve = [r for r in rows if r["state"] == I.DUE]
        if not to_approve:
            return 0
        instalments_transition(
            [r["pk"] for r in to_approve],
            transition="approve",
            actor=actor,
            values={"certified_at": now(), "certified_by": actor},
            entries=[
                {
                    "object_id": r["pk"],
                    "object_repr": _row_repr(r),
                    "source": I.DUE,
                    "target": I.APPROVED,
                    "reason": note,
                }
                for r in to_approve
            ],
        )
    return len(to_approve)


def instalment_unapprove(*, actor: User, instalment: Instalment, reason: str) -> Instalment:
    """Withdraw a certification (back to due), with a reason. Not once in a run."""
    _finance(actor)
    if not reason.strip():
        raise DomainError(_("Un motif est obligatoire pour cette action."), field="reason")
    with transaction.atomic():
        instalment = lock(instalment)
        if instalment.state == I.DUE:
            return instalment
        instalment.certified_at, instalment.certified_by = None, None
        return apply_transition(
            instalment,
            "unapprove",
            actor=actor,
            action="cpo.instalment.unapproved",
            reason=reason.strip(),
            update_fields=["certified_at", "certified_by"],
        )


# --------------------------------------------------------------------------- selection


def payable_instalments(criteria: dict[str, Any] | None = None) -> QuerySet[Instalment]:
    """Instalments finance may put in a run: due or approved, of a running agreement, charged to an
    open fiscal year, filtered by the criteria (due by a date, programme, funder, budget line)."""
    criteria = criteria or {}
    qs = Instalment.objects.filter(
        state__in=[I.DUE, I.APPROVED], agreement__state__in=PAYABLE_AGREEMENTS
    )
    if criteria.get("due_by"):
        qs = qs.filter(earliest_date__lte=criteria["due_by"])
    if criteria.get("programme"):
        qs = qs.filter(agreement__programme_id=criteria["programme"])
    if criteria.get("funder"):
        qs = qs.filter(funder__funder_id=criteria["funder"])
    if criteria.get("budget_line"):
        qs = qs.filter(agreement__programme__budget_line_id=criteria["budget_line"])
    if criteria.get("late_only"):
        qs = qs.filter(is_late=True)
    closed = list(FiscalYear.objects.filter(closed_at__isnull=False).values_list("year", flat=True))
    for year in closed:
        qs = qs.exclude(effective_year_q(year))
    return qs
