"""Fiscal years (docs/domain.md §5): which instalments are charged to a year, and the closing of a
year, after which nothing more can be paid from it: every instalment still unpaid is named, either
carried to the next year or cancelled."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from core.audit import audit_log, audit_log_many
from core.clock import now
from core.errors import DomainError
from core.models import User
from cpo.models import Instalment
from cpo.models import InstalmentState as I  # noqa: N817
from cpo.transitions import instalments_transition
from finance.models import FiscalYear, PaymentRun

from .common import RS, _finance, _row_repr

CANCELLABLE = (I.PLANNED, I.DUE, I.ON_HOLD, I.APPROVED)


def fiscal_year_is_closed(year: int) -> bool:
    return FiscalYear.objects.filter(year=year, closed_at__isnull=False).exists()


def effective_year_q(year: int) -> Q:
    """Instalments charged to `year`: their own year unless carried to another one."""
    return Q(charged_year=year) | Q(charged_year__isnull=True, year__fiscal_year=year)


def _check_year_open(year: int) -> None:
    if fiscal_year_is_closed(year):
        raise DomainError(
            _("L'exercice %(year)d est clos : plus aucun paiement ne peut lui être imputé.")
            % {"year": year},
            field="fiscal_year",
        )


def fiscal_year_close(
    *,
    actor: User,
    year: int,
    carry_ids: Iterable[int] = (),
    cancel_ids: Iterable[int] = (),
    note: str = "",
) -> FiscalYear:
    """Close a fiscal year. Every instalment still unpaid and charged to it must be named, either
    carried to the next year (still owed, paid from next year's credits) or cancelled; no run of
    that year may still be open or awaiting confirmation. All or nothing."""
    _finance(actor)
    carry, cancel = set(carry_ids), set(cancel_ids)
    if carry & cancel:
        raise DomainError(_("Une échéance ne peut pas être à la fois reportée et annulée."))
    with transaction.atomic():
        fy, _created = FiscalYear.objects.select_for_update().get_or_create(year=year)
        if fy.is_closed:
            return fy
        open_runs = list(
            PaymentRun.objects.filter(
                fiscal_year=year, state__in=[RS.DRAFT, RS.APPROVED, RS.EXPORTED]
            ).values_list("reference", flat=True)
        )
        if open_runs:
            raise DomainError(
                _("Des lots de l'exercice %(year)d ne sont pas soldés : %(runs)s.")
                % {"year": year, "runs": ", ".join(open_runs)}
            )
        remaining = (
            Instalment.objects.select_for_update()
            .filter(effective_year_q(year))
            .exclude(state__in=[I.PAID, I.CANCELLED])
        )
        rows = list(
            remaining.values("pk", "state", "number", "agreement__reference", "year__fiscal_year")
        )
        ids = {r["pk"] for r in rows}
        unknown = (carry | cancel) - ids
        if unknown:
            raise DomainError(
                _("Ces échéances ne restent pas à payer sur %(year)d : %(ids)s.")
                % {"year": year, "ids": ", ".join(str(i) for i in sorted(unknown))}
            )
        undecided = ids - carry - cancel
        if undecided:
            raise DomainError(
                _(
                    "%(count)d échéance(s) restent à payer sur %(year)d : reportez-les ou "
                    "annulez-les explicitement avant de clore l'exercice."
                )
                % {"count": len(undecided), "year": year}
            )
        not_cancellable = [r for r in rows if r["pk"] in cancel and r["state"] not in CANCELLABLE]
        if not_cancellable:
            raise DomainError(
                _("Échéances en cours de paiement, impossibles à annuler : %(refs)s.")
                % {"refs": ", ".join(_row_repr(r) for r in not_cancellable)}
            )
        by_pk = {r["pk"]: r for r in rows}
        if carry:
            Instalment.objects.filter(pk__in=carry).update(charged_year=year + 1)
            audit_log_many(
                actor=actor,
                model=Instalment,
                action="cpo.instalment.carried",
                entries=[
                    {
                        "object_id": pk,
                        "object_repr": _row_repr(by_pk[pk]),
                        "reason": note,
                        "payload": {"from": year, "to": year + 1},
                    }
                    for pk in sorted(carry)
                ],
            )
        if cancel:
            instalments_transition(
                sorted(cancel),
                transition="cancel",
                actor=actor,
                values={"hold_reason": (_("Exercice %(year)d clos") % {"year": year})[:255]},
                entries=[
                    {
                        "object_id": pk,
                        "object_repr": _row_repr(by_pk[pk]),
                        "source": by_pk[pk]["state"],
                        "target": I.CANCELLED,
                        "reason": note or _("Clôture de l'exercice %(year)d") % {"year": year},
                    }
                    for pk in sorted(cancel)
                ],
            )
        fy.closed_at, fy.closed_by, fy.closing_note = now(), actor, note
        fy.save(update_fields=["closed_at", "closed_by", "closing_note"])
        audit_log(
            actor=actor,
            obj=fy,
            action="cpo.fiscal_year.closed",
            reason=note,
            payload={"carried": len(carry), "cancelled": len(cancel)},
        )
    return fy
