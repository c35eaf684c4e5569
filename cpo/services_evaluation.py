"""Filing the annual evaluation with its approved accounts (docs/domain.md §4): the reports go through
`cpo.services.evaluation_submit`; the approved accounts are a document of the organisation's
profile (uploaded once, reused), attached to the evaluation in the same transaction."""

from __future__ import annotations

from typing import Any, cast

from django.db import transaction
from django.utils.translation import gettext as _

from core.clock import today
from core.errors import DomainError
from core.models import DocumentKind, OrganisationDocument, User

from . import services
from .models import Evaluation


def _accounts_errors(evaluation: Evaluation, document: OrganisationDocument | None) -> list[str]:
    if document is None:
        return [_("Joignez les derniers comptes approuvés de l'association.")]
    if (
        document.organisation_id != evaluation.agreement.organisation_id
        or document.kind != DocumentKind.APPROVED_ACCOUNTS
    ):
        return [_("Choisissez des comptes approuvés de l'organisation.")]
    if document.valid_until is not None and document.valid_until < today():
        return [_("Ces comptes ne sont plus valides : déposez les comptes approuvés à jour.")]
    return []


def evaluation_file(
    *,
    actor: User,
    evaluation: Evaluation,
    activity_report: str,
    budget_lines: list[dict[str, Any]],
    indicators: list[dict[str, Any]],
    approved_accounts: OrganisationDocument | None,
) -> Evaluation:
    """The association files its annual evaluation: activity report, financial report (CERFA
    n° 15059), indicator values and approved accounts — all mandatory (circulaire n° 5811/SG of
    29 September 2015, annual report within 6 months of the end of the year). Every problem is
    reported at once; nothing is written unless everything is valid."""
    accounts_errors = _accounts_errors(evaluation, approved_accounts)
    with transaction.atomic():
        try:
            evaluation = services.evaluation_submit(
                actor=actor,
                evaluation=evaluation,
                activity_report=activity_report,
                budget_lines=budget_lines,
                indicators=indicators,
            )
        except DomainError as exc:
            if accounts_errors and exc.status_code == 400:
                exc.errors = {**exc.errors, "approved_accounts": accounts_errors}
            raise
        if accounts_errors:
            raise DomainError(
                _("L'évaluation est incomplète."), errors={"approved_accounts": accounts_errors}
            )
        # Without approved accounts, `_accounts_errors` refused above.
        if evaluation.approved_accounts_id != cast(OrganisationDocument, approved_accounts).pk:
            evaluation.approved_accounts = approved_accounts
            evaluation.save(update_fields=["approved_accounts"])
    return evaluation
