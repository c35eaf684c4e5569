"""The budget revision of a co-funded file (docs/domain.md §9): when a funder refuses or cuts its
part, the action is under-funded; the applicant confirms its plan as is (it finds the money
elsewhere, or carries the action on fewer means) or revises its budget so that it balances with
the amounts granted. Either answer is audited; the file then shows the plan as decided."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from core.audit import audit_log
from core.errors import DomainError, PermissionDenied
from core.fsm import apply_transition, lock
from core.models import User
from core.notifications import notify

from ..budget import SUBSIDIES
from ..eligibility import euros
from ..models import Application, BudgetItem, BudgetRevision, FunderPart
from ..selectors import budget_totals, file_members
from .drafting import application_set_budget_rows
from .workflow import applicant_of


def budget_revision_request(
    *, actor: User, application: Application, parts: list[FunderPart]
) -> BudgetRevision:
    """Ask the applicant to confirm or revise its budget (a part was refused or cut). Audited,
    the applicants notified."""
    existing = application.budget_revisions.filter(state=BudgetRevision.State.REQUESTED).first()
    if existing is not None:
        return existing
    revision = BudgetRevision.objects.create(
        application=application,
        granted_total=sum((p.granted_amount for p in parts), Decimal("0")),
        asked_total=sum((p.requested_amount for p in parts), Decimal("0")),
    )
    audit_log(
        actor=actor,
        obj=revision,
        action="grants.budget_revision.requested",
        target=revision.state,
        payload={
            "application": application.reference,
            "granted": revision.granted_total,
            "asked": revision.asked_total,
        },
    )
    notify(
        users=file_members(application),
        title=_("Plan de financement à confirmer : dossier %(ref)s")
        % {"ref": application.reference},
        body=_(
            "Un financeur a refusé ou réduit sa part (%(granted)s accordés sur %(asked)s "
            "sollicités). Confirmez votre budget ou révisez-le."
        )
        % {"granted": euros(revision.granted_total), "asked": euros(revision.asked_total)},
        url=f"/dossiers/{application.pk}/",
    )
    return revision


def _lock_revision(actor: User, revision: BudgetRevision) -> BudgetRevision:
    revision = lock(revision)
    if not applicant_of(actor, revision.application):
        raise PermissionDenied(_("Vous n'agissez pas pour cette organisation."))
    return revision


def budget_revision_confirm(
    *, actor: User, revision: BudgetRevision, comment: str = ""
) -> BudgetRevision:
    """The applicant keeps its budget as it is, knowing what was granted."""
    with transaction.atomic():
        revision = _lock_revision(actor, revision)
        if revision.state == BudgetRevision.State.CONFIRMED:
            return revision
        revision.comment = (comment or "").strip()[:2000]
        revision.answered_by = actor
        return apply_transition(
            revision,
            "confirm",
            actor=actor,
            action="grants.budget_revision.confirmed",
            reason=revision.comment,
            update_fields=["comment", "answered_by", "answered_at"],
        )


def revision_errors(application: Application) -> list[str]:
    """What keeps the budget from matching the decisions: each funder's account-74 lines must equal
    what it granted (nothing from a funder that refused), and the budget must balance."""
    errors = []
    named: dict[int, Decimal] = defaultdict(Decimal)
    for funder_id, amount in BudgetItem.objects.filter(
        application=application, account=SUBSIDIES, funder__isnull=False
    ).values_list("funder_id", "amount"):
        named[funder_id] += amount
    for part in application.funder_parts.select_related("funder"):
        if named.get(part.funder_id, Decimal("0")) != part.granted_amount:
            errors.append(
                _(
                    "%(funder)s : le compte 74 doit indiquer %(granted)s (montant accordé), pas %(line)s."
                )
                % {
                    "funder": part.funder.name,
                    "granted": euros(part.granted_amount),
                    "line": euros(named.get(part.funder_id, Decimal("0"))),
                }
            )
    totals = budget_totals(application)
    if totals["balance"] != 0:
        errors.append(
            _("Le budget n'est pas équilibré : charges %(c)s, produits %(p)s.")
            % {"c": euros(totals["charges"]), "p": euros(totals["products"])}
        )
    return errors


def budget_revision_submit(
    *, actor: User, revision: BudgetRevision, rows: list[dict[str, Any]], comment: str = ""
) -> BudgetRevision:
    """The applicant replaces its own budget lines with a plan that balances with the amounts
    granted (`revision_errors`); nothing is kept unless it does. The amounts asked of each funder
    stay as they were decided."""
    with transaction.atomic():
        revision = _lock_revision(actor, revision)
        if revision.state == BudgetRevision.State.REVISED:
            return revision
        application = revision.application
        before = budget_totals(application)
        application_set_budget_rows(application, rows, sync_parts=False)
        errors = revision_errors(application)
        if errors:
            raise DomainError(
                " ".join(errors),
                field="budget",
                code="budget_not_revised",
                errors={"budget": list(errors)},
            )
        after = budget_totals(application)
        revision.comment = (comment or "").strip()[:2000]
        revision.answered_by = actor
        return apply_transition(
            revision,
            "revise",
            actor=actor,
            action="grants.budget_revision.revised",
            reason=revision.comment,
            payload={"charges_before": before["charges"], "charges_after": after["charges"]},
            update_fields=["comment", "answered_by", "answered_at"],
        )
