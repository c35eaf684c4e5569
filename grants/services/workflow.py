"""The classic workflow's plumbing: the permission predicates the declaration of the transitions
(grants.transitions) refers to, and the helper every transition service goes through (permission
check, reason, FSM step, one audit row).

Every transition service follows docs/style.md: one transaction, the row locked, early return when
already in the target state, permission check, transition, save, one audit row, notifications
after commit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from django.utils.translation import gettext as _

from core.errors import DomainError, PermissionDenied
from core.fsm import ManyResult, allowed_transition_names, apply_transition, apply_transition_many
from core.models import Role, User
from core.notifications import Text, absolute_url, notify
from core.permissions import has_role, organisation_ids_of, scope_of

from ..models import (
    Application,
    ApplicationState,
)
from ..selectors import (
    file_members,
    is_staff_viewer,
    staff_viewable_ids,
)

if TYPE_CHECKING:
    from ..transitions import Transition

S = ApplicationState


# --------------------------------------------------------------------------- permissions


def applicant_of(actor: User, application: Application) -> bool:
    """is_member of the file's organisation, by its id (the organisation is not read)."""
    return application.organisation_id in organisation_ids_of(actor)


def instructor_of(actor: User, application: Application) -> bool:
    if has_role(actor, Role.PROGRAMME_MANAGER):
        return True
    return scope_of(actor, Role.INSTRUCTOR) is not None and is_staff_viewer(actor, application)


def instructor_of_many(actor: User, applications: Sequence[Application]) -> set[int]:
    """The ids of the files `instructor_of` allows, for many files in at most one query (the same
    rule: programme managers everywhere, instructors within their staff scope)."""
    if has_role(actor, Role.PROGRAMME_MANAGER):
        return {a.pk for a in applications}
    if scope_of(actor, Role.INSTRUCTOR) is None:
        return set()
    return staff_viewable_ids(actor, [a.pk for a in applications])


def decider_of(actor: User, application: Application) -> bool:
    if has_role(actor, Role.PROGRAMME_MANAGER):
        return True
    return scope_of(actor, Role.COMMITTEE_MEMBER) is not None and is_staff_viewer(
        actor, application
    )


def manager_of(actor: User, application: Application) -> bool:
    return has_role(actor, Role.PROGRAMME_MANAGER)


def transition_specs() -> Mapping[str, Transition]:
    """The declared transitions (grants.transitions), by name, in the page's order."""
    from ..transitions import TRANSITIONS  # the declaration sits above the services it runs

    return TRANSITIONS


def available_transitions(*, actor: User, application: Application) -> list[Transition]:
    """The transitions this actor may run on this file now (the UI shows exactly these)."""
    specs = transition_specs()
    names = allowed_transition_names(application)
    return [specs[n] for n in names if n in specs and specs[n].who(actor, application)]


def _check(actor: User, application: Application, name: str) -> Transition:
    spec = transition_specs()[name]
    if not spec.who(actor, application):
        raise PermissionDenied(
            _("Vous n'avez pas le droit d'effectuer cette action sur ce dossier.")
        )
    return spec


def application_transition_check_permission(
    *, name: str, actor: User, application: Application
) -> None:
    """The transition's `who` on this file, as its service checks it; the API calls it before
    reading the body, so that the answer never depends on the body (issue 11). An unknown name is
    left to run_transition (409)."""
    if name in transition_specs():
        _check(actor, application, name)


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


def _transition_many(
    applications: Sequence[Application],
    name: str,
    *,
    actor: User,
    reason: str = "",
    payload: dict | None = None,
    update_fields: list[str] | None = None,
) -> ManyResult[Application]:
    """_transition for many locked files at once: the same permission check (the transition's
    `who`, for all the files in one go), reason rule, FSM check and audit row per file
    (core.fsm.apply_transition_many). Files refused are left unchanged and listed with their
    error; bad input common to all (a missing reason) raises as _transition does."""
    spec = transition_specs()[name]
    if spec.needs_reason:
        reason = _require_reason(reason)
    allowed = spec.who.allowed(actor, applications)
    denied = PermissionDenied(
        _("Vous n'avez pas le droit d'effectuer cette action sur ce dossier.")
    )
    result = apply_transition_many(
        [a for a in applications if a.pk in allowed],
        name,
        actor=actor,
        action=spec.action,
        reason=reason,
        payload=payload,
        update_fields=[*(update_fields or []), "updated_at"],
    )
    refused: dict[int, DomainError] = {a.pk: denied for a in applications if a.pk not in allowed}
    refused.update(result.refused)
    return ManyResult(done=result.done, refused=refused)


def _url(application: Application) -> str:
    return f"/dossiers/{application.pk}/"


def _notify_applicants(application: Application, title: Text, body: Text = "") -> None:
    notify(
        users=file_members(application),
        title=title,
        body=body,
        url=absolute_url(_url(application)),
    )
