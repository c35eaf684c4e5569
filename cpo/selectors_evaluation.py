"""Reads for the annual evaluation pages: who sees which evaluation, the staff's review queue, the
association's list of evaluations to file, approved accounts to attach, the panel's assessments."""

from __future__ import annotations

import datetime
from typing import cast

from django.db.models import Q, QuerySet

from core.clock import today
from core.models import DocumentKind, OrganisationDocument, Role, User
from core.permissions import has_role, organisation_ids_of
from grants.models import ApplicationPartner, PanelAssessment, PartnerState

from .models import AgreementState, Evaluation, EvaluationState
from .selectors import agreements_visible_to

A, E = AgreementState, EvaluationState
DUE_SOON_DAYS = 60
REVIEW_ROLES = (Role.INSTRUCTOR, Role.PROGRAMME_MANAGER)
READ_ROLES = (Role.INSTRUCTOR, Role.PROGRAMME_MANAGER, Role.FINANCE_OFFICER, Role.AUDITOR)
OPEN_AGREEMENTS = (A.SIGNED, A.ACTIVE, A.SUSPENDED)
TO_FILE = (E.EXPECTED, E.REJECTED)


def evaluations_visible_to(user: User) -> QuerySet[Evaluation]:
    """The evaluations of the agreements the user may read (cpo.selectors.agreements_visible_to:
    their organisations' agreements and their staff scope); anything else is a 404."""
    if not user.is_authenticated:
        return Evaluation.objects.none()
    return Evaluation.objects.filter(
        agreement_id__in=agreements_visible_to(user).values("pk")
    ).select_related("agreement__organisation", "agreement__application", "approved_accounts")


def can_review(user: User) -> bool:
    return has_role(user, *REVIEW_ROLES)


def can_read_as_staff(user: User) -> bool:
    return has_role(user, *READ_ROLES)


def review_queue(user: User, *, day: datetime.date | None = None) -> dict[str, list[Evaluation]]:
    """The staff's queue: submitted and waiting for review (oldest first), overdue, due soon."""
    day = day or today()
    visible = evaluations_visible_to(user).filter(agreement__state__in=OPEN_AGREEMENTS)
    return {
        "to_review": list(visible.filter(state=E.SUBMITTED).order_by("submitted_at", "pk")),
        "overdue": list(visible.filter(state__in=TO_FILE, due_on__lt=day).order_by("due_on", "pk")),
        "due_soon": list(
            visible.filter(
                state__in=TO_FILE,
                due_on__gte=day,
                due_on__lte=day + datetime.timedelta(days=DUE_SOON_DAYS),
            ).order_by("due_on", "pk")
        ),
    }


def evaluations_to_file(user: User) -> list[Evaluation]:
    """The association's evaluations of running agreements, those to file first (by due date);
    with those of the collective files it is a partner of, where it files its own part (§9)."""
    ids = organisation_ids_of(user)
    partner_of = ApplicationPartner.objects.filter(
        organisation_id__in=ids, state=PartnerState.ACCEPTED
    ).values("application_id")
    rows = Evaluation.objects.filter(
        Q(agreement__organisation_id__in=ids) | Q(agreement__application_id__in=partner_of),
        agreement__state__in=(*OPEN_AGREEMENTS, A.COMPLETED, A.TERMINATED),
    ).select_related("agreement__organisation")
    return sorted(rows, key=lambda e: (e.state not in TO_FILE, e.due_on, e.pk))


def approved_accounts_documents(evaluation: Evaluation) -> QuerySet[OrganisationDocument]:
    """The organisation's approved accounts still valid today (newest first)."""
    return (
        OrganisationDocument.objects.filter(
            organisation_id=evaluation.agreement.organisation_id,
            kind=DocumentKind.APPROVED_ACCOUNTS,
        )
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=today()))
        .order_by("-uploaded_at")
    )


def panel_assessments_for(evaluation: Evaluation) -> QuerySet[PanelAssessment]:
    """For a call for solutions, the panel members' assessments of the evaluated year."""
    return (
        PanelAssessment.objects.filter(
            application_id=cast(int, evaluation.agreement.application_id),
            fiscal_year=evaluation.fiscal_year,
        )
        .select_related("member__user")
        .order_by("created_at", "pk")
    )
