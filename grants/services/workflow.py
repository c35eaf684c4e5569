"""The classic workflow's transitions: who may run each one, and the helper every transition
service goes through (permission check, reason, FSM step, one audit row).

Every transition service follows docs/style.md: one transaction, the row locked, early return when
already in the target state, permission check, transition, save, one audit row, notifications
after commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from core.errors import DomainError, PermissionDenied
from core.fsm import allowed_transition_names, apply_transition
from core.models import Role, User
from core.notifications import notify
from core.permissions import has_role, is_member, scope_of

from ..models import (
    Application,
    ApplicationState,
)
from ..selectors import (
    is_staff_viewer,
)

S = ApplicationState


# --------------------------------------------------------------------------- permissions


def _applicant_of(actor: User, application: Application) -> bool:
    return is_member(actor, application.organisation)


def _instructor_of(actor: User, application: Application) -> bool:
    if has_role(actor, Role.PROGRAMME_MANAGER):
        return True
    return scope_of(actor, Role.INSTRUCTOR) is not None and is_staff_viewer(actor, application)


def _decider_of(actor: User, application: Application) -> bool:
    if has_role(actor, Role.PROGRAMME_MANAGER):
        return True
    return scope_of(actor, Role.COMMITTEE_MEMBER) is not None and is_staff_viewer(
        actor, application
    )


def _manager(actor: User, application: Application) -> bool:
    return has_role(actor, Role.PROGRAMME_MANAGER)


def _instructor_or_manager(actor: User, application: Application) -> bool:
    return _instructor_of(actor, application)


@dataclass(frozen=True)
class TransitionSpec:
    """What a transition needs: who may run it and which inputs it takes."""

    name: str
    label: str
    action: str
    who: Any
    needs_reason: bool = False
    style: str = "secondary"


def _specs() -> dict[str, TransitionSpec]:
    return {
        "submit": TransitionSpec(
            "submit",
            _("Déposer le dossier"),
            "grants.application.submitted",
            _applicant_of,
            style="primary",
        ),
        "resubmit": TransitionSpec(
            "resubmit",
            _("Renvoyer le dossier complété"),
            "grants.application.resubmitted",
            _applicant_of,
            style="primary",
        ),
        "withdraw": TransitionSpec(
            "withdraw",
            _("Retirer le dossier"),
            "grants.application.withdrawn",
            _applicant_of,
            style="danger",
        ),
        "request_completion": TransitionSpec(
            "request_completion",
            _("Demander des compléments"),
            "grants.application.completion_requested",
            _instructor_of,
        ),
        "declare_eligible": TransitionSpec(
            "declare_eligible",
            _("Déclarer recevable"),
            "grants.application.declared_eligible",
            _instructor_of,
            style="primary",
        ),
        "declare_ineligible": TransitionSpec(
            "declare_ineligible",
            _("Déclarer irrecevable"),
            "grants.application.declared_ineligible",
            _instructor_of,
            needs_reason=True,
            style="danger",
        ),
        "start_review": TransitionSpec(
            "start_review",
            _("Commencer l'instruction"),
            "grants.application.review_started",
            _instructor_of,
            style="primary",
        ),
        "send_to_committee": TransitionSpec(
            "send_to_committee",
            _("Inscrire en comité"),
            "grants.application.sent_to_committee",
            _instructor_of,
            style="primary",
        ),
        "approve": TransitionSpec(
            "approve", _("Accorder"), "grants.application.approved", _decider_of, style="primary"
        ),
        "reject": TransitionSpec(
            "reject",
            _("Refuser"),
            "grants.application.rejected",
            _decider_of,
            needs_reason=True,
            style="danger",
        ),
        "dismiss": TransitionSpec(
            "dismiss",
            _("Classer sans suite"),
            "grants.application.dismissed",
            _instructor_or_manager,
            needs_reason=True,
            style="danger",
        ),
        "reopen": TransitionSpec(
            "reopen",
            _("Rouvrir la décision"),
            "grants.application.reopened",
            _manager,
            needs_reason=True,
        ),
        "award_directly": TransitionSpec(
            "award_directly",
            _("Accorder hors appel"),
            "grants.application.awarded_directly",
            _manager,
            style="primary",
        ),
        "refuse_directly": TransitionSpec(
            "refuse_directly",
            _("Refuser l'attribution hors appel"),
            "grants.application.refused_directly",
            _manager,
            needs_reason=True,
            style="danger",
        ),
    }


def transition_specs() -> dict[str, TransitionSpec]:
    return _specs()


def available_transitions(*, actor: User, application: Application) -> list[TransitionSpec]:
    """The transitions this actor may run on this file now (the UI shows exactly these)."""
    specs = _specs()
    names = allowed_transition_names(application)
    return [specs[n] for n in names if n in specs and specs[n].who(actor, application)]


def _check(actor: User, application: Application, name: str) -> TransitionSpec:
    spec = _specs()[name]
    if not spec.who(actor, application):
        raise PermissionDenied(
            _("Vous n'avez pas le droit d'effectuer cette action sur ce dossier.")
        )
    return spec


def _require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Un motif est obligatoire pour cette action."), field="reason")
    return reason


def _transition(
    application: Application,
    name: str,
    *,
    actor: User,
    reason: str = "",
    payload: dict | None = None,
    update_fields: list[str] | None = None,
) -> Application:
    spec = _check(actor, application, name)
    if spec.needs_reason:
        reason = _require_reason(reason)
    return apply_transition(
        application,
        name,
        actor=actor,
        action=spec.action,
        reason=reason,
        payload=payload,
        update_fields=[*(update_fields or []), "updated_at"],
    )


def _url(application: Application) -> str:
    return f"/dossiers/{application.pk}/"


def _notify_applicants(application: Application, title: str, body: str = "") -> None:
    notify(
        users=application.organisation.members.all(), title=title, body=body, url=_url(application)
    )
