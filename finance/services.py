"""The finance side of instalments (docs/domain.md §5): liquidation (service done certified), payment
runs with segregation of duties, the export handed to the accounting system, the confirmations it
returns, and the closing of a fiscal year.

Instalment life, finance side: due → approved → in_run → exported → paid; exported → due when the
accounting system rejects the payment (with its reason). Every step writes one audit row per
instalment, in the same transaction, set-based so a run of 20 000 payments stays a few queries.

Safety: the run row is locked (`select_for_update`) by every step that changes it, so two people
approving or exporting the same run at once get one success and one clear refusal; an instalment
belongs to at most one open run (a partial unique constraint on the run items); confirmations apply
only to items still pending, so re-applying a file, or a worker restarting halfway, pays nothing twice.
"""

from __future__ import annotations

import datetime
import hashlib
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F, Q, QuerySet, Sum
from django.urls import reverse
from django.utils.translation import gettext as _

from core.audit import audit_log, audit_log_many
from core.bulk import copy_insert
from core.clock import now, today
from core.errors import DomainError, PermissionDenied, TransitionNotAllowed
from core.fsm import apply_transition, lock
from core.models import Membership, Organisation, Role, User
from core.notifications import notify
from core.permissions import has_role
from core.references import next_reference
from cpo.models import AgreementState, Instalment, instalment_reference
from cpo.models import InstalmentState as I  # noqa: N817
from cpo.transitions import instalments_transition
from finance.models import (
    FiscalYear,
    PaymentRun,
    PaymentRunApproval,
    PaymentRunItem,
    PaymentRunState,
)

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


# --------------------------------------------------------------------------- fiscal years


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


CANCELLABLE = (I.PLANNED, I.DUE, I.ON_HOLD, I.APPROVED)


def _row_repr(r: dict[str, Any]) -> str:
    return f"{r['agreement__reference']} {r['year__fiscal_year']} n° {r['number']}"


# --------------------------------------------------------------------------- liquidation

ROW = ("pk", "state", "number", "agreement__reference", "year__fiscal_year")


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


# --------------------------------------------------------------------------- runs

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
    "agreement__organisation_id",
    "agreement__organisation__name",
    "agreement__organisation__siret",
    "agreement__organisation__iban",
    "agreement__organisation__bic",
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
            .values(*SNAPSHOT)
        )
        without_bank = [r for r in rows if not r["agreement__organisation__iban"]]
        rows = [r for r in rows if r["agreement__organisation__iban"]]
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
    run.without_bank_details = len(without_bank)  # type: ignore[attr-defined]
    return run


def _item_row(run: PaymentRun, r: dict[str, Any]) -> tuple:
    return (
        run.pk,
        r["pk"],
        r["agreement__organisation_id"],
        r["amount"],
        ItemStatus.PENDING,
        r["agreement__organisation__name"][:255],
        r["agreement__organisation__siret"] or "",
        r["agreement__organisation__iban"] or "",
        r["agreement__organisation__bic"] or "",
        r["agreement__programme__budget_line__code"] or "",
        r["funder__ej_number"] or "",
        run.fiscal_year,
        r["agreement__reference"],
        instalment_reference(r["agreement__reference"], r["pk"]),
        None,
        "",
        None,
    )


def _entry(r: dict[str, Any], source: str, target: str, run_reference: str, reason: str = ""):
    return {
        "object_id": r["pk"],
        "object_repr": _row_repr(r),
        "source": source,
        "target": target,
        "reason": reason,
        "payload": {"run": run_reference},
    }


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


# --------------------------------------------------------------------------- export


def payment_run_export(*, actor: User, run: PaymentRun) -> PaymentRun:
    """Hand an approved run to the accounting system: the CSV and XLSX files are written once and
    kept, so every later download is the same file. Refused if the bank details of an account it
    pays changed since approval (the run then goes back for approval)."""
    _finance(actor)
    from finance.resources import payment_run_files

    blocked = None
    with transaction.atomic():
        run = lock(run)
        if run.state != RS.APPROVED:
            raise TransitionNotAllowed(
                _("Le lot %(ref)s est « %(state)s » : seul un lot validé peut être transmis.")
                % {"ref": run.reference, "state": run.get_state_display()},
                allowed=[],
            )
        stale = list(
            run.items.filter(status=ItemStatus.PENDING)
            .exclude(iban=F("organisation__iban"), bic=F("organisation__bic"))
            .values_list("beneficiary_name", flat=True)[:5]
        ) + list(
            run.items.filter(
                status=ItemStatus.PENDING, organisation__bank_details_changed_at__gt=run.approved_at
            ).values_list("beneficiary_name", flat=True)[:5]
        )
        if stale:
            blocked = _(
                "Coordonnées bancaires modifiées depuis la validation (%(orgs)s) : le lot doit être "
                "validé à nouveau."
            ) % {"orgs": ", ".join(sorted(set(stale)))}
            for organisation in Organisation.objects.filter(
                pk__in=run.items.filter(status=ItemStatus.PENDING).values("organisation_id")
            ):
                run.items.filter(status=ItemStatus.PENDING, organisation=organisation).update(
                    iban=organisation.iban, bic=organisation.bic
                )
            _invalidate_approvals(run, actor=actor, reason=blocked)
        else:
            csv_bytes, xlsx_bytes = payment_run_files(run)
            run.export_sha256 = hashlib.sha256(csv_bytes).hexdigest()
            run.export_csv.save(f"{run.reference}.csv", ContentFile(csv_bytes), save=False)
            run.export_xlsx.save(f"{run.reference}.xlsx", ContentFile(xlsx_bytes), save=False)
            run.exported_at, run.exported_by = now(), actor
            pending = run.items.filter(status=ItemStatus.PENDING)
            rows = list(
                Instalment.objects.filter(pk__in=pending.values("instalment_id")).values(*ROW)
            )
            instalments_transition(
                [r["pk"] for r in rows],
                transition="export",
                actor=actor,
                entries=[_entry(r, I.IN_RUN, I.EXPORTED, run.reference) for r in rows],
            )
            run = apply_transition(
                run,
                "export",
                actor=actor,
                action="cpo.payment_run.exported",
                payload={"sha256": run.export_sha256, "items": len(rows), "total": run.total},
                update_fields=[
                    "export_csv",
                    "export_xlsx",
                    "export_sha256",
                    "exported_at",
                    "exported_by",
                ],
            )
    if blocked:
        raise DomainError(blocked)
    return run


# --------------------------------------------------------------------------- confirmations


def confirmations_apply_rows(
    *, actor: User | None, rows: list[dict[str, Any]], source: str = ""
) -> dict[str, int]:
    """Apply checked confirmation rows ({item: pk, status: paid|rejected, paid_on, reason}) in one
    transaction. Only items still pending change, so a repeated or resumed application changes
    nothing twice. Instalments become paid (charged to the run's year) or due again."""
    counts = {"paid": 0, "rejected": 0, "unchanged": 0}
    if not rows:
        return counts
    with transaction.atomic():
        wanted = {r["item"]: r for r in rows}
        pending = list(
            PaymentRunItem.objects.select_for_update(of=("self",))
            .filter(pk__in=list(wanted), status=ItemStatus.PENDING, run__state=RS.EXPORTED)
            .values("pk", "run_id", "instalment_id", "organisation_id", "amount", "fiscal_year")
        )
        counts["unchanged"] = len(wanted) - len(pending)
        stamp = now()
        paid = [p for p in pending if wanted[p["pk"]]["status"] == ItemStatus.PAID]
        rejected = [p for p in pending if wanted[p["pk"]]["status"] == ItemStatus.REJECTED]
        info = {
            r["pk"]: r
            for r in Instalment.objects.filter(pk__in=[p["instalment_id"] for p in pending]).values(
                *ROW
            )
        }
        run_refs = dict(
            PaymentRun.objects.filter(pk__in={p["run_id"] for p in pending}).values_list(
                "pk", "reference"
            )
        )
        by_date: dict[datetime.date, list[dict]] = defaultdict(list)
        for p in paid:
            by_date[wanted[p["pk"]]["paid_on"]].append(p)
        for paid_on, group in by_date.items():
            PaymentRunItem.objects.filter(pk__in=[p["pk"] for p in group]).update(
                status=ItemStatus.PAID, paid_on=paid_on, confirmed_at=stamp
            )
            for year in {p["fiscal_year"] for p in group}:
                of_year = [p for p in group if p["fiscal_year"] == year]
                instalments_transition(
                    [p["instalment_id"] for p in of_year],
                    transition="pay",
                    actor=actor,
                    values={
                        "paid_on": paid_on,
                        "charged_year": year,
                        "is_late": False,
                        "reject_reason": "",
                    },
                    entries=[
                        {
                            **_entry(
                                info[p["instalment_id"]], I.EXPORTED, I.PAID, run_refs[p["run_id"]]
                            ),
                            "payload": {
                                "run": run_refs[p["run_id"]],
                                "paid_on": paid_on,
                                "amount": p["amount"],
                                "source": source,
                            },
                        }
                        for p in of_year
                    ],
                )
        for p in rejected:
            reason = wanted[p["pk"]]["reason"][:255]
            PaymentRunItem.objects.filter(pk=p["pk"]).update(
                status=ItemStatus.REJECTED, reject_reason=reason, confirmed_at=stamp
            )
            instalments_transition(
                [p["instalment_id"]],
                transition="reject",
                actor=actor,
                values={"reject_reason": reason, "certified_at": None, "certified_by": None},
                entries=[
                    _entry(
                        info[p["instalment_id"]],
                        I.EXPORTED,
                        I.DUE,
                        run_refs[p["run_id"]],
                        wanted[p["pk"]]["reason"],
                    )
                ],
            )
        for run in PaymentRun.objects.select_for_update().filter(pk__in=run_refs).order_by("pk"):
            _settle(run, actor=actor)
        counts["paid"], counts["rejected"] = len(paid), len(rejected)
        _notify_paid(paid, wanted)
    return counts


def _settle(run: PaymentRun, *, actor: User | None) -> None:
    sums = dict(
        run.items.filter(status__in=[ItemStatus.PAID, ItemStatus.REJECTED])
        .values_list("status")
        .annotate(s=Sum("amount"))
    )
    run.paid_total = sums.get(ItemStatus.PAID) or Decimal("0")
    run.rejected_total = sums.get(ItemStatus.REJECTED) or Decimal("0")
    run.save(update_fields=["paid_total", "rejected_total"])
    if run.state == RS.EXPORTED and not run.items.filter(status=ItemStatus.PENDING).exists():
        run.closed_at = now()
        apply_transition(
            run,
            "close",
            actor=actor,
            action="cpo.payment_run.closed",
            payload={"paid": run.paid_total, "rejected": run.rejected_total},
            update_fields=["closed_at"],
        )


def _notify_paid(paid: list[dict], wanted: dict[int, dict]) -> None:
    """One notification per organisation and payment date, to its members."""
    if not paid:
        return
    groups: dict[tuple[int, datetime.date], Decimal] = defaultdict(Decimal)
    for p in paid:
        groups[(p["organisation_id"], wanted[p["pk"]]["paid_on"])] += p["amount"]
    members: dict[int, list[User]] = defaultdict(list)
    for m in Membership.objects.filter(organisation_id__in={k[0] for k in groups}).select_related(
        "user"
    ):
        members[m.organisation_id].append(m.user)
    url = reverse("cpo:my_payments")
    for (organisation_id, paid_on), amount in groups.items():
        notify(
            users=members[organisation_id],
            title=_("Paiement de %(amount)s effectué le %(date)s")
            % {"amount": _eur(amount), "date": paid_on.strftime("%d/%m/%Y")},
            body=_("Le virement a été confirmé par la comptabilité."),
            url=url,
        )


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
