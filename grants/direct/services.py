"""Direct awards (hors appel) and structural support (3–5 years): the modes that skip or extend the
classic call (docs/domain.md §2)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from calls.models import Programme
from core.audit import audit_log
from core.clock import now
from core.errors import DomainError, PermissionDenied, TransitionNotAllowed
from core.fsm import apply_transition, lock
from core.models import Organisation, Role, User
from core.notifications import Msg, notify
from core.permissions import has_role

from ..models import Application, ApplicationKind, ApplicationState, ApplicationYear
from ..services import application_create
from ..services.approval import DIRECT_AWARD, Approval, application_grant
from ..services.cofunding import part_follow_file
from .selectors import multi_year_share  # noqa: F401 (a read, moved to the selectors)

S = ApplicationState
STRUCTURAL_MIN_YEARS, STRUCTURAL_MAX_YEARS = 3, 5


def direct_award_open_check_permission(actor: User) -> None:
    """Instructors and programme managers open a direct award; the API calls it before reading the
    body (issue 11)."""
    if not has_role(actor, Role.INSTRUCTOR, Role.PROGRAMME_MANAGER):
        raise PermissionDenied(_("Seule l'instruction ouvre un dossier hors appel."))


def direct_award_open(
    *,
    actor: User,
    organisation: Organisation,
    programme: Programme,
    title: str,
    summary: str,
    requested_amount: Decimal,
    urgency_reason: str,
    data: dict[str, Any] | None = None,
) -> Application:
    """An instructor opens a file on behalf of an organisation for an urgent need, outside any call,
    and files it at once for a programme manager's decision. The reason is recorded."""
    direct_award_open_check_permission(actor)
    errors: dict[str, list[str]] = {}
    if not (urgency_reason or "").strip():
        errors["urgency_reason"] = [_("Motivez l'attribution hors appel (urgence, besoin).")]
    if not (title or "").strip():
        errors["title"] = [_("Le titre du projet est obligatoire.")]
    if not (summary or "").strip():
        errors["summary"] = [_("Le résumé du projet est obligatoire.")]
    if requested_amount is None or requested_amount <= 0:
        errors["requested_amount"] = [_("Le montant doit être supérieur à zéro.")]
    if errors:
        raise DomainError(_("Le dossier hors appel est incomplet."), errors=errors)
    with transaction.atomic():
        application = application_create(
            actor=actor,
            organisation=organisation,
            call=None,
            programme=programme,
            kind=ApplicationKind.DIRECT_AWARD,
            data={
                **(data or {}),
                "title": title,
                "summary": summary,
                "requested_amount": requested_amount,
            },
        )
        application.urgency_reason = urgency_reason.strip()
        application.submitted_at = now()
        application.save(update_fields=["urgency_reason", "submitted_at"])
        apply_transition(
            application,
            "submit",
            actor=actor,
            action="grants.application.submitted",
            reason=application.urgency_reason,
            payload={"direct_award": True},
        )
        managers = list(programme.managers.all())
        if managers:
            notify(
                users=managers,
                title=Msg(
                    gettext_noop("Attribution hors appel à décider : %(ref)s"),
                    ref=application.reference,
                ),
                body=application.urgency_reason,
                url=f"/dossiers/{application.pk}/",
            )
    return application


def direct_award_decide(
    *,
    actor: User,
    application: Application,
    approve: bool,
    amount: Decimal | None = None,
    reason: str = "",
    envelope_override_reason: str = "",
) -> Application:
    """The programme manager decides a direct award on the fast path. It counts against the
    programme's envelope; going beyond it needs an explicit, audited reason."""
    if not has_role(actor, Role.PROGRAMME_MANAGER):
        raise PermissionDenied(
            _("Seul·e un·e responsable de programme décide d'une attribution hors appel.")
        )
    with transaction.atomic():
        application = lock(application)
        target = S.APPROVED if approve else S.REJECTED
        if application.state == target:
            return application
        if application.kind != ApplicationKind.DIRECT_AWARD:
            raise TransitionNotAllowed(
                _("Ce dossier n'est pas une attribution hors appel."), allowed=[]
            )
        application.decided_at, application.decided_by = now(), actor
        application.decision_reason = (reason or "").strip()
        if not approve:
            if not application.decision_reason:
                raise DomainError(_("Un motif est obligatoire pour cette action."), field="reason")
            application = apply_transition(
                application,
                "refuse_directly",
                actor=actor,
                action="grants.application.refused_directly",
                reason=reason,
                update_fields=["decided_at", "decided_by", "decision_reason"],
            )
            part_follow_file(actor=actor, application=application)
            return application
        return application_grant(
            actor=actor,
            application=application,
            path=DIRECT_AWARD,
            approval=Approval(
                amount=amount,
                reason=reason,
                envelope_override_reason=envelope_override_reason,
                payload={"urgency_reason": application.urgency_reason},
            ),
        )


def application_set_years(
    *, actor: User, application: Application, years: list[dict[str, Any]]
) -> list[ApplicationYear]:
    """Set the yearly amounts of a multi-year request: consecutive fiscal years, 3 to 5 for structural
    support (1 to 5 otherwise); the requested amount becomes their total."""
    from core.permissions import is_member

    if not is_member(actor, application.organisation):
        raise PermissionDenied(_("Vous n'agissez pas pour cette organisation."))
    if not application.is_editable_by_applicant:
        raise TransitionNotAllowed(_("Le dossier n'est plus modifiable."), allowed=[])
    structural = application.kind == ApplicationKind.STRUCTURAL_SUPPORT
    low, high = (STRUCTURAL_MIN_YEARS, STRUCTURAL_MAX_YEARS) if structural else (1, 5)
    rows = sorted(
        ((int(y["fiscal_year"]), Decimal(str(y["amount"]))) for y in years), key=lambda r: r[0]
    )
    if not low <= len(rows) <= high:
        raise DomainError(
            _("Indiquez de %(low)d à %(high)d exercices.") % {"low": low, "high": high},
            field="years",
        )
    if [y for y, _a in rows] != list(range(rows[0][0], rows[0][0] + len(rows))):
        raise DomainError(_("Les exercices doivent se suivre sans interruption."), field="years")
    if any(a <= 0 or a != a.quantize(Decimal("0.01")) for _y, a in rows):
        raise DomainError(
            _("Chaque montant annuel doit être positif, au centime près."), field="years"
        )
    with transaction.atomic():
        application = lock(application)
        application.years.all().delete()
        created = ApplicationYear.objects.bulk_create(
            [
                ApplicationYear(application=application, fiscal_year=y, requested_amount=a)
                for y, a in rows
            ]
        )
        application.requested_amount = sum((a for _y, a in rows), Decimal("0"))
        application.wants_multi_year = len(rows) > 1
        application.duration_years = len(rows)
        application.save(
            update_fields=["requested_amount", "wants_multi_year", "duration_years", "updated_at"]
        )
        audit_log(
            actor=actor,
            obj=application,
            action="grants.application.years_set",
            payload={str(y): a for y, a in rows},
        )
    return created
