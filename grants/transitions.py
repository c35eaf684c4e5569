"""The classic application workflow, each transition declared once.

A `Transition` says what the step is called, who may run it, the audit action it writes, the page's
form and the API's input serializer that gather its inputs, and the service that runs it. From this
table come:

- the buttons and forms of the file's page (grants.views.detail: the transitions the user may run
  now, in this order, each with its form);
- the API route `POST /api/applications/{id}/transitions/{name}/` and its input
  (grants.api, `TRANSITION_INPUTS`);
- the permission check of every transition service (grants.services.workflow reads `who` and
  `action` from here);
- the expected « allowed » cells of the API's permission matrix (tests/api/test_permission_matrix.py
  reads `who.roles`).

The input serializer's fields are the service's keyword arguments: `Transition.run` passes each one
(its default when the client left it out), plus the transition's `fixed` arguments.

The FSM itself (which state each transition leaves from and goes to) stays on the model
(grants.models.applications), where django-fsm declares it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.fields import empty

from core.fsm import ManyResult
from core.models import Role, User

from . import forms as f
from . import serializers as s
from .direct.services import direct_award_decide
from .models import Application
from .services import completion, decision, instruction, submission
from .services.workflow import (
    applicant_of,
    decider_of,
    instructor_of,
    instructor_of_many,
    manager_of,
)


@dataclass(frozen=True)
class Actors:
    """Who may run a transition: the roles that can in principle (the permission matrix reads
    them) and the check on one file (membership of its organisation, scope of the staff role)."""

    roles: tuple[str, ...]
    check: Callable[[User, Application], bool]
    check_many: Callable[[User, Sequence[Application]], set[int]] | None = None

    def __call__(self, actor: User, application: Application) -> bool:
        return self.check(actor, application)

    def allowed(self, actor: User, applications: Sequence[Application]) -> set[int]:
        """The ids of the files the check allows (set-based when the check has a variant for
        many files, the same rule)."""
        if self.check_many is not None:
            return self.check_many(actor, applications)
        return {a.pk for a in applications if self.check(actor, a)}


APPLICANT = Actors((Role.APPLICANT,), applicant_of)
INSTRUCTION = Actors((Role.INSTRUCTOR, Role.PROGRAMME_MANAGER), instructor_of, instructor_of_many)
DECIDERS = Actors((Role.COMMITTEE_MEMBER, Role.PROGRAMME_MANAGER), decider_of)
MANAGER = Actors((Role.PROGRAMME_MANAGER,), manager_of)


@dataclass(frozen=True)
class Transition:
    name: str
    label: str | Promise
    action: str
    who: Actors
    form: type[f.TransitionForm]
    input: type[serializers.Serializer]
    service: Callable[..., Application]
    needs_reason: bool = False
    style: str = "secondary"
    fixed: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    many: Callable[..., ManyResult[Application]] | None = None
    """The set-based variant of `service` (same rules, a few statements for many files), used by
    bulk actions when present."""

    def service_kwargs(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """The service's keyword arguments: one per input field (its default when absent)."""
        kwargs: dict[str, Any] = {}
        for key, input_field in self.input().fields.items():
            if key in data:
                kwargs[key] = data[key]
            elif input_field.default is not empty:
                kwargs[key] = input_field.default
            else:
                kwargs[key] = "" if isinstance(input_field, serializers.CharField) else None
        return {**kwargs, **self.fixed}

    def run(self, *, actor: User, application: Application, data: Mapping[str, Any]) -> Application:
        return self.service(actor=actor, application=application, **self.service_kwargs(data))

    def run_many(
        self, *, actor: User, applications: Sequence[Application], data: Mapping[str, Any]
    ) -> ManyResult[Application]:
        if self.many is None:
            raise ValueError(f"transition {self.name!r} has no set-based service")
        return self.many(actor=actor, applications=applications, **self.service_kwargs(data))


def _declare(*transitions: Transition) -> Mapping[str, Transition]:
    return MappingProxyType({t.name: t for t in transitions})


# In the order the file's page shows the buttons.
TRANSITIONS: Mapping[str, Transition] = _declare(
    Transition(
        "submit",
        _("Déposer le dossier"),
        "grants.application.submitted",
        APPLICANT,
        f.EmptyTransitionForm,
        s.NoInput,
        submission.application_submit,
        style="primary",
    ),
    Transition(
        "resubmit",
        _("Renvoyer le dossier complété"),
        "grants.application.resubmitted",
        APPLICANT,
        f.ResubmitForm,
        s.ResubmitInput,
        completion.application_resubmit,
        style="primary",
    ),
    Transition(
        "withdraw",
        _("Retirer le dossier"),
        "grants.application.withdrawn",
        APPLICANT,
        f.OptionalReasonForm,
        s.ReasonInput,
        submission.application_withdraw,
        style="danger",
    ),
    Transition(
        "request_completion",
        _("Demander des compléments"),
        "grants.application.completion_requested",
        INSTRUCTION,
        f.RequestCompletionForm,
        s.RequestCompletionInput,
        completion.application_request_completion,
    ),
    Transition(
        "declare_eligible",
        _("Déclarer recevable"),
        "grants.application.declared_eligible",
        INSTRUCTION,
        f.OptionalReasonForm,
        s.ReasonInput,
        instruction.application_declare_eligible,
        style="primary",
        many=instruction.applications_declare_eligible,
    ),
    Transition(
        "declare_ineligible",
        _("Déclarer irrecevable"),
        "grants.application.declared_ineligible",
        INSTRUCTION,
        f.ReasonForm,
        s.RequiredReasonInput,
        instruction.application_declare_ineligible,
        needs_reason=True,
        style="danger",
    ),
    Transition(
        "start_review",
        _("Commencer l'instruction"),
        "grants.application.review_started",
        INSTRUCTION,
        f.OptionalReasonForm,
        s.ReasonInput,
        instruction.application_start_review,
        style="primary",
        many=instruction.applications_start_review,
    ),
    Transition(
        "send_to_committee",
        _("Inscrire en comité"),
        "grants.application.sent_to_committee",
        INSTRUCTION,
        f.SendToCommitteeForm,
        s.SendToCommitteeInput,
        instruction.application_send_to_committee,
        style="primary",
    ),
    Transition(
        "approve",
        _("Accorder"),
        "grants.application.approved",
        DECIDERS,
        f.ApproveForm,
        s.ApproveInput,
        decision.application_approve,
        style="primary",
    ),
    Transition(
        "reject",
        _("Refuser"),
        "grants.application.rejected",
        DECIDERS,
        f.ReasonForm,
        s.RequiredReasonInput,
        decision.application_reject,
        needs_reason=True,
        style="danger",
    ),
    Transition(
        "dismiss",
        _("Classer sans suite"),
        "grants.application.dismissed",
        INSTRUCTION,
        f.ReasonForm,
        s.RequiredReasonInput,
        instruction.application_dismiss,
        needs_reason=True,
        style="danger",
    ),
    Transition(
        "reopen",
        _("Rouvrir la décision"),
        "grants.application.reopened",
        MANAGER,
        f.ReasonForm,
        s.RequiredReasonInput,
        decision.application_reopen,
        needs_reason=True,
    ),
    Transition(
        "award_directly",
        _("Accorder hors appel"),
        "grants.application.awarded_directly",
        MANAGER,
        f.ApproveForm,
        s.DirectAwardInput,
        direct_award_decide,
        style="primary",
        fixed=MappingProxyType({"approve": True}),
    ),
    Transition(
        "refuse_directly",
        _("Refuser l'attribution hors appel"),
        "grants.application.refused_directly",
        MANAGER,
        f.ReasonForm,
        s.RequiredReasonInput,
        direct_award_decide,
        needs_reason=True,
        style="danger",
        fixed=MappingProxyType({"approve": False}),
    ),
)

TRANSITION_NAMES = list(TRANSITIONS)
TRANSITION_INPUTS: Mapping[str, type[serializers.Serializer]] = MappingProxyType(
    {name: t.input for name, t in TRANSITIONS.items()}
)
