"""Annual evaluations: prefill, submission, review (which releases or blocks the next payments),
reminders and overdue marks."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from core.audit import audit_log, audit_log_many
from core.clock import now, today
from core.errors import DomainError, PermissionDenied
from core.fsm import apply_transition, lock
from core.models import User
from core.notifications import Msg, notify
from core.permissions import is_member
from grants.budget import CHARGE_ACCOUNTS, PRODUCT_ACCOUNTS
from grants.selectors import file_members

from ..models import (
    AgreementState,
    Evaluation,
    EvaluationBudgetLine,
    EvaluationIndicator,
    EvaluationState,
    InstalmentState,
)
from ..selectors_partner_reports import pending_partners
from .common import (
    ACCEPTED_EVALUATIONS,
    REMINDER_DAYS,
    _staff,
)
from .lifecycle import (
    AGREEMENT_ACTIONS,
    instalments_refresh,
)

A, E, I = AgreementState, EvaluationState, InstalmentState  # noqa: E741


# --------------------------------------------------------------------------- evaluations


def evaluation_prefill(evaluation: Evaluation) -> list[dict[str, Any]]:
    """The planned column of the financial report, from the application's CERFA budget (the same
    accounts, so figures compare), and the indicators with their targets."""
    planned: dict[str, Decimal] = {}
    application = evaluation.agreement.application
    for item in application.budget_items.all() if application else []:
        planned[item.account] = planned.get(item.account, Decimal("0")) + item.amount
    return [
        {"account": a, "planned": planned.get(a, Decimal("0"))}
        for a in CHARGE_ACCOUNTS + PRODUCT_ACCOUNTS
        if a in planned
    ]


def evaluation_submit_check_permission(actor: User, evaluation: Evaluation) -> None:
    """Only the organisation's members file its evaluation; the API calls it before the body."""
    if not is_member(actor, evaluation.agreement.organisation):
        raise PermissionDenied(_("Vous n'agissez pas pour cette organisation."))


def evaluation_submit(
    *,
    actor: User,
    evaluation: Evaluation,
    activity_report: str,
    budget_lines: list[dict[str, Any]],
    indicators: list[dict[str, Any]],
) -> Evaluation:
    """The association files its annual evaluation: activity report, financial report (planned vs
    actual by account group, CERFA n° 15059) and indicator values against their targets."""
    evaluation_submit_check_permission(actor, evaluation)
    errors: dict[str, list[str]] = {}
    if not (activity_report or "").strip():
        errors["activity_report"] = [_("Le rapport d'activité est obligatoire.")]
    valid_accounts = set(CHARGE_ACCOUNTS + PRODUCT_ACCOUNTS)
    lines = []
    for i, row in enumerate(budget_lines, start=1):
        try:
            planned, actual = Decimal(str(row["planned"])), Decimal(str(row["actual"]))
        except Exception:
            errors.setdefault("budget_lines", []).append(
                _("Ligne %(n)d : montant invalide.") % {"n": i}
            )
            continue
        if row.get("account") not in valid_accounts or planned < 0 or actual < 0:
            errors.setdefault("budget_lines", []).append(
                _("Ligne %(n)d : compte inconnu ou montant négatif.") % {"n": i}
            )
            continue
        lines.append(
            EvaluationBudgetLine(
                evaluation=evaluation, account=row["account"], planned=planned, actual=actual
            )
        )
    if not lines and "budget_lines" not in errors:
        errors["budget_lines"] = [_("Le compte rendu financier est vide.")]
    values = []
    for row in indicators:
        if row.get("actual") in (None, ""):
            errors.setdefault("indicators", []).append(
                _("Indiquez la valeur atteinte pour « %(label)s ».")
                % {"label": row.get("label", "")}
            )
            continue
        values.append(
            EvaluationIndicator(
                evaluation=evaluation,
                label=row["label"],
                unit=row.get("unit", ""),
                target=Decimal(str(row["target"])),
                actual=Decimal(str(row["actual"])),
            )
        )
    if errors:
        raise DomainError(_("L'évaluation est incomplète."), errors=errors)
    with transaction.atomic():
        evaluation = lock(evaluation)
        if evaluation.state == E.SUBMITTED:
            return evaluation
        if awaited := pending_partners(evaluation):
            # A collective file: every partner files its part first, or the lead marks it
            # missing with a reason (docs/domain.md §9).
            raise DomainError(
                _(
                    "Part attendue de : %(orgs)s. Attendez leur dépôt ou déclarez la part "
                    "manquante avec un motif."
                )
                % {"orgs": ", ".join(o.name for o in awaited)},
                field="partners",
                code="partner_reports_pending",
            )
        evaluation.budget_lines.all().delete()
        evaluation.indicator_values.all().delete()
        EvaluationBudgetLine.objects.bulk_create(lines)
        EvaluationIndicator.objects.bulk_create(values)
        evaluation.activity_report = activity_report.strip()
        evaluation.submitted_at, evaluation.submitted_by = now(), actor
        evaluation = apply_transition(
            evaluation,
            "submit",
            actor=actor,
            action="cpo.evaluation.submitted",
            update_fields=["activity_report", "submitted_at", "submitted_by"],
        )
    return evaluation


REVIEW_OUTCOMES = {
    "accept": ("cpo.evaluation.accepted", E.ACCEPTED),
    "accept_with_reservations": (
        "cpo.evaluation.accepted_with_reservations",
        E.ACCEPTED_WITH_RESERVATIONS,
    ),
    "reject": ("cpo.evaluation.rejected", E.REJECTED),
}


def evaluation_review(
    *, actor: User, evaluation: Evaluation, outcome: str, comment: str = ""
) -> Evaluation:
    """The instructor accepts, accepts with reservations, or rejects. Wired, not just recorded:
    acceptance releases the instalments that waited for it; rejection keeps them on hold; an
    accepted final evaluation completes the agreement."""
    _staff(actor)
    if outcome not in REVIEW_OUTCOMES:
        raise DomainError(_("Décision inconnue."), field="outcome")
    if outcome != "accept" and not (comment or "").strip():
        raise DomainError(_("Motivez les réserves ou le rejet."), field="comment")
    action, target = REVIEW_OUTCOMES[outcome]
    with transaction.atomic():
        evaluation = lock(evaluation)
        if evaluation.state == target:
            return evaluation
        evaluation.review_comment = (comment or "").strip()
        evaluation.reviewed_at, evaluation.reviewed_by = now(), actor
        evaluation = apply_transition(
            evaluation,
            outcome,
            actor=actor,
            action=action,
            reason=comment,
            update_fields=["review_comment", "reviewed_at", "reviewed_by"],
        )
        agreement = evaluation.agreement
        notify(
            # A collective file: its partners too, who filed their parts (docs/domain.md §9).
            users=file_members(agreement.application)
            if agreement.application is not None
            else agreement.organisation.members.all(),
            title=Msg(
                gettext_noop("Évaluation %(year)s : %(outcome)s"),
                year=evaluation.fiscal_year,
                outcome=Msg.of_label(evaluation.get_state_display()),
            ),
            url=reverse("cpo:agreement_detail", args=[agreement.pk]),
            body=evaluation.review_comment,
        )
        if evaluation.is_final and target in ACCEPTED_EVALUATIONS and agreement.state == A.ACTIVE:
            apply_transition(
                lock(agreement), "complete", actor=actor, action=AGREEMENT_ACTIONS["complete"]
            )
    instalments_refresh(agreement_ids=[evaluation.agreement_id])
    return evaluation


def evaluations_remind(*, day: datetime.date | None = None) -> dict[str, int]:
    """Daily: remind the association 30 and 7 days before an evaluation is due; flag it overdue
    after. Each reminder is sent once."""
    day = day or today()
    counts = {"reminded": 0, "overdue": 0}
    pending = Evaluation.objects.filter(
        state__in=[E.EXPECTED, E.REJECTED], agreement__state__in=[A.SIGNED, A.ACTIVE, A.SUSPENDED]
    ).select_related("agreement__organisation")
    for evaluation in pending.filter(
        due_on__gte=day, due_on__lte=day + datetime.timedelta(days=max(REMINDER_DAYS))
    ):
        left = (evaluation.due_on - day).days
        due_marks = [
            d for d in REMINDER_DAYS if left <= d and str(d) not in evaluation.reminders_sent
        ]
        if not due_marks:
            continue
        with transaction.atomic():
            evaluation.reminders_sent = [*evaluation.reminders_sent, *(str(d) for d in due_marks)]
            evaluation.save(update_fields=["reminders_sent"])
            notify(
                users=evaluation.agreement.organisation.members.all(),
                title=Msg(
                    gettext_noop("Évaluation %(year)s à déposer avant le %(date)s"),
                    year=evaluation.fiscal_year,
                    date=evaluation.due_on.strftime("%d/%m/%Y"),
                ),
                url=reverse("cpo:agreement_detail", args=[evaluation.agreement_id]),
            )
            audit_log(
                actor=None,
                obj=evaluation,
                action="cpo.evaluation.reminder_sent",
                payload={"days_left": left},
            )
        counts["reminded"] += 1
    overdue = list(
        pending.filter(due_on__lt=day, is_overdue=False).values_list(
            "pk", "agreement__reference", "fiscal_year"
        )
    )
    if overdue:
        Evaluation.objects.filter(pk__in=[pk for pk, _r, _y in overdue]).update(is_overdue=True)
        audit_log_many(
            actor=None,
            model=Evaluation,
            action="cpo.evaluation.overdue",
            entries=[
                {"object_id": pk, "object_repr": f"{ref} — {year}"} for pk, ref, year in overdue
            ],
        )
    counts["overdue"] = len(overdue)
    return counts
