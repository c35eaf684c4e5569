"""Payment runs (docs/domain.md §5): creation from the payable instalments, removal of items,
cancellation, approval with segregation of duties, and what happens to open runs when bank details
change or an agreement stops.

Safety: the run row is locked (`select_for_update`) by every step that changes it, so two people
approving the same run at once get one success and one clear refusal; an instalment belongs to at
most one open run (a partial unique constraint on the run items)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import QuerySet, Sum
from django.utils.translation import gettext as _

from core.audit import audit_log
from core.bulk import copy_insert
from core.clock import now, today
from core.errors import DomainError, PermissionDenied, TransitionNotAllowed
from core.fsm import apply_transition, lock
from core.models import Organisation, Role, User
from core.permissions import has_role
from core.references import next_reference
from cpo.models import Instalment, instalment_reference, payee_values
from cpo.models import InstalmentState as I  # noqa: N817
from cpo.transitions import instalments_transition
from finance.models import PaymentRun, PaymentRunApproval, PaymentRunItem

from .common import (
    OPEN_RUN_STATES,
    ROW,
    RS,
    ItemStatus,
    _entry,
    _finance,
    second_approval_threshold,
)
from .fiscal_years import _check_year_open
from .liquidation import payable_instalments

ITEM_COLUMNS = (
    "run_id",
    "instalment_id",
    "organisation_id",
    "amount",
    "status",
    "beneficiary_name",
    "siret",
    "iban",
    "bic",
    "budget_line",
    "ej_number",
    "fiscal_year",
    "agreement_reference",
    "instalment_reference",
    "paid_on",
    "reject_reason",
    "confirmed_at",
)
SNAPSHOT = (
    "pk",
    "state",
    "number",
    "amount",
    "agreement__reference",
    "agreement__programme__budget_line__code",
    "funder__ej_number",
    "year__fiscal_year",
)


def payment_run_create(
    *,
    actor: User,
    criteria: dict[str, Any] | None = None,
    instalment_ids: Iterable[int] | None = None,
    fiscal_year: int | None = None,
    label: str = "",
) -> PaymentRun:
    """Create a run from the payable instalments matching the criteria (or the ones chosen). Due
    instalments are certified (liquidated) by the creator on the way; another person approves the
    run. Instalments without bank details stay out and are reported."""
    _finance(actor)
    criteria = {k: v for k, v in (criteria or {}).items() if v not in (None, "", False)}
    fiscal_year = fiscal_year or today().year
    _check_year_open(fiscal_year)
    with transaction.atomic():
        qs = payable_instalments(criteria)
        if instalment_ids is not None:
            qs = qs.filter(pk__in=list(instalment_ids))
        rows = list(
            qs.select_for_update(of=("self",))
            .order_by("agreement__reference", "pk")
            .values(*SNAPSHOT, **payee_values())
        )
        without_bank = [r for r in rows if not r["payee_iban"]]
        rows = [r for r in rows if r["payee_iban"]]
        if not rows:
            if without_bank:
                raise DomainError(
                    _("Aucune échéance payable : %(count)d sans coordonnées bancaires.")
                    % {"count": len(without_bank)}
                )
            raise DomainError(_("Aucune échéance exigible ne correspond à ces critères."))
        reference = next_reference("LOT", fiscal_year)
        total = sum((r["amount"] for r in rows), Decimal("0"))
        run = PaymentRun.objects.create(
            reference=reference,
            fiscal_year=fiscal_year,
            label=label.strip()[:255],
            criteria={k: str(v) for k, v in criteria.items()},
            total=total,
            item_count=len(rows),
            approvals_required=2 if total > second_approval_threshold() else 1,
            created_by=actor,
        )
        copy_insert(PaymentRunItem, ITEM_COLUMNS, (_item_row(run, r) for r in rows))
        due = [r for r in rows if r["state"] == I.DUE]
        stamp = now()
        if due:
            # A due instalment put in a run is certified on the way (liquidation, then the run).
            instalments_transition(
                [r["pk"] for r in due],
                transition="approve",
                actor=actor,
                values={"certified_at": stamp, "certified_by": actor},
                entries=[_entry(r, I.DUE, I.APPROVED, run.reference) for r in due],
            )
        instalments_transition(
            [r["pk"] for r in rows],
            transition="add_to_run",
            actor=actor,
            entries=[_entry(r, I.APPROVED, I.IN_RUN, run.reference) for r in rows],
        )
        audit_log(
            actor=actor,
            obj=run,
            action="cpo.payment_run.created",
            target=RS.DRAFT,
            payload={
                "items": len(rows),
                "total": total,
                "criteria": run.criteria,
                "without_bank_details": [r["pk"] for r in without_bank],
            },
        )
    run.without_bank_details = len(without_bank)
    return run


def _item_row(run: PaymentRun, r: dict[str, Any]) -> tuple[Any, ...]:
    return (
        run.pk,
        r["pk"],
        r["payee_id"],
        r["amount"],
        ItemStatus.PENDING,
        r["payee_name"][:255],
        r["payee_siret"] or "",
        r["payee_iban"] or "",
        r["payee_bic"] or "",
        r["agreement__programme__budget_line__code"] or "",
        r["funder__ej_number"] or "",
        run.fiscal_year,
        r["agreement__reference"],
        instalment_reference(r["agreement__reference"], r["pk"]),
        None,
        "",
        None,
    )


def _recount(run: PaymentRun) -> None:
    totals = run.items.filter(status=ItemStatus.PENDING).aggregate(s=Sum("amount"))
    run.item_count = run.items.filter(status=ItemStatus.PENDING).count()
    run.total = totals["s"] or Decimal("0")
    run.approvals_required = 2 if run.total > second_approval_threshold() else 1
    run.save(update_fields=["item_count", "total", "approvals_required"])


def _release_items(
    run: PaymentRun, items: QuerySet[PaymentRunItem], *, actor: User | None, reason: str
) -> int:
    """Take pending items out of an unexported run: their instalments are approved again."""
    rows = list(
        Instalment.objects.filter(
            pk__in=items.filter(status=ItemStatus.PENDING).values("instalment_id")
        ).values(*ROW)
    )
    if not rows:
        return 0
    items.filter(status=ItemStatus.PENDING).update(
        status=ItemStatus.REMOVED, reject_reason=reason[:255]
    )
    instalments_transition(
        [r["pk"] for r in rows],
        transition="remove_from_run",
        actor=actor,
        entries=[_entry(r, I.IN_RUN, I.APPROVED, run.reference, reason) for r in rows],
    )
    return len(rows)


def _invalidate_approvals(run: PaymentRun, *, actor: User | None, reason: str) -> None:
    """Approvals no longer hold once the run changed; an approved run goes back for approval."""
    run.approvals.filter(is_valid=True).update(is_valid=False)
    if run.state == RS.APPROVED:
        run.blocked_reason = reason[:255]
        run.approved_at = None
        apply_transition(
            run,
            "reopen",
            actor=actor,
            action="cpo.payment_run.reopened",
            reason=reason,
            update_fields=["blocked_reason", "approved_at"],
        )


def payment_run_remove_items(
    *, actor: User, run: PaymentRun, item_ids: Iterable[int], reason: str = ""
) -> PaymentRun:
    """Take payments out of a run still in preparation; approvals already given lapse."""
    _finance(actor)
    with transaction.atomic():
        run = lock(run)
        if run.state != RS.DRAFT:
            raise TransitionNotAllowed(
                _("Seul un lot en préparation peut être modifié."),
                allowed=[],
            )
        ids = set(item_ids)
        pending = set(
            run.items.filter(pk__in=ids, status=ItemStatus.PENDING).values_list("pk", flat=True)
        )
        unknown = sorted(ids - pending)
        if unknown:
            raise DomainError(
                _("Ces paiements ne sont pas en cours dans le lot %(ref)s : %(ids)s.")
                % {"ref": run.reference, "ids": ", ".join(str(i) for i in unknown[:20])},
                field="item_ids",
            )
        removed = _release_items(
            run,
            run.items.filter(pk__in=ids),
            actor=actor,
            reason=reason or _("Retiré du lot"),
        )
        if removed:
            _invalidate_approvals(run, actor=actor, reason=_("Lot modifié"))
            _recount(run)
            audit_log(
                actor=actor,
                obj=run,
                action="cpo.payment_run.items_removed",
                reason=reason,
                payload={"removed": removed, "total": run.total},
            )
    return run


def payment_run_cancel(*, actor: User, run: PaymentRun, reason: str) -> PaymentRun:
    """Abandon a run before approval: its instalments go back to approved, free for another run."""
    _finance(actor)
    if not reason.strip():
        raise DomainError(_("Un motif est obligatoire pour cette action."), field="reason")
    with transaction.atomic():
        run = lock(run)
        if run.state == RS.CANCELLED:
            return run
        if run.state == RS.APPROVED:
            _invalidate_approvals(run, actor=actor, reason=reason)
        _release_items(run, run.items.all(), actor=actor, reason=reason.strip())
        return apply_transition(
            run, "cancel", actor=actor, action="cpo.payment_run.cancelled", reason=reason.strip()
        )


def approval_refusal(actor: User, run: PaymentRun) -> str | None:
    """Why `actor` may not approve `run` now (segregation of duties), or None."""
    if not has_role(actor, Role.FINANCE_OFFICER):
        return _("Réservé au service financier.")
    if run.created_by_id == actor.pk:
        return _("La personne qui a préparé le lot ne peut pas le valider.")
    if run.approvals.filter(user=actor, is_valid=True).exists():
        return _(
            "Vous avez déjà validé ce lot : une autre personne doit donner la seconde validation."
        )
    changed = list(
        Organisation.objects.filter(
            pk__in=run.items.filter(status=ItemStatus.PENDING).values("organisation_id"),
            bank_details_changed_by=actor,
        ).values_list("name", flat=True)[:5]
    )
    if changed:
        return _(
            "Vous avez modifié les coordonnées bancaires de %(orgs)s : vous ne pouvez pas valider "
            "un lot qui paie ce compte."
        ) % {"orgs": ", ".join(changed)}
    return None


def payment_run_approve(*, actor: User, run: PaymentRun) -> PaymentRun:
    """Approve a run. Not by its creator, nor by someone who changed the bank details of an account
    it pays; above the configured total a second, different approver is needed. The run's row lock
    makes concurrent approvals queue: exactly one completes it, the other is told."""
    with transaction.atomic():
        run = lock(run)
        if run.state != RS.DRAFT:
            raise TransitionNotAllowed(
                _("Le lot %(ref)s est déjà « %(state)s » : il ne peut plus être validé.")
                % {"ref": run.reference, "state": run.get_state_display()},
                allowed=[],
            )
        refusal = approval_refusal(actor, run)
        if refusal:
            raise PermissionDenied(refusal)
        if run.item_count == 0:
            raise DomainError(_("Le lot est vide."))
        missing = run.items.filter(status=ItemStatus.PENDING, iban="").count()
        if missing:
            raise DomainError(
                _("%(count)d paiement(s) sans IBAN : retirez-les du lot.") % {"count": missing}
            )
        PaymentRunApproval.objects.create(
            run=run, user=actor, total=run.total, item_count=run.item_count
        )
        valid = run.approvals.filter(is_valid=True).count()
        audit_log(
            actor=actor,
            obj=run,
            action="cpo.payment_run.approval_given",
            payload={"total": run.total, "items": run.item_count, "approval": valid},
        )
        if valid >= run.approvals_required:
            run.approved_at = now()
            run.blocked_reason = ""
            run = apply_transition(
                run,
                "approve",
                actor=actor,
                action="cpo.payment_run.approved",
                payload={"total": run.total, "items": run.item_count},
                update_fields=["approved_at", "blocked_reason"],
            )
    return run


def bank_details_changed(organisation: Organisation, actor: User | None) -> None:
    """Hook run when an organisation's bank details change: the pending payments of runs not yet
    exported take the new details, and approved runs paying it go back for approval."""
    # Lock the runs first, then re-read their state: a run being exported meanwhile is left to
    # the export (which compares the details itself) and keeps the items its file was made from.
    runs = list(
        PaymentRun.objects.select_for_update()
        .filter(
            state__in=OPEN_RUN_STATES,
            pk__in=PaymentRunItem.objects.filter(
                organisation=organisation, status=ItemStatus.PENDING
            ).values("run_id"),
        )
        .order_by("pk")
    )
    if not runs:
        return
    PaymentRunItem.objects.filter(
        organisation=organisation, status=ItemStatus.PENDING, run__in=runs
    ).update(iban=organisation.iban, bic=organisation.bic)
    reason = _("Coordonnées bancaires de %(org)s modifiées") % {"org": organisation.name}
    for run in runs:
        _invalidate_approvals(run, actor=actor, reason=reason)
        if run.state == RS.DRAFT:
            run.blocked_reason = reason[:255]
            run.save(update_fields=["blocked_reason"])


# --------------------------------------------------------------------------- agreement hooks


def instalments_withdraw_from_open_runs(
    instalments: QuerySet[Instalment], *, actor: User | None, reason: str
) -> int:
    """An agreement is suspended or terminated: its payments in runs not yet exported come out
    (approved runs go back for approval). Exported ones are with the accountant already."""
    items = PaymentRunItem.objects.filter(instalment__in=instalments, status=ItemStatus.PENDING)
    count = 0
    for run in (
        PaymentRun.objects.select_for_update()
        .filter(state__in=OPEN_RUN_STATES, pk__in=items.values("run_id"))
        .order_by("pk")
    ):
        count += _release_items(run, items.filter(run=run), actor=actor, reason=reason)
        _invalidate_approvals(run, actor=actor, reason=reason)
        _recount(run)
    return count
