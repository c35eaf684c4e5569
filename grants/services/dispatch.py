"""Running a classic-workflow transition by name with its inputs (the API's and the pages' entry)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from core.errors import TransitionNotAllowed
from core.fsm import allowed_transition_names
from core.models import User

from ..models import (
    Application,
)
from .completion import application_request_completion, application_resubmit
from .decision import application_approve, application_reject, application_reopen
from .instruction import (
    application_declare_eligible,
    application_declare_ineligible,
    application_dismiss,
    application_send_to_committee,
    application_start_review,
)
from .submission import application_submit, application_withdraw


def _direct():
    from ..direct import services as services_direct  # the direct-award module builds on this one

    return services_direct


# The registry the API and views use to run a transition by name.
def run_transition(
    *, name: str, actor: User, application: Application, data: dict[str, Any]
) -> Application:
    """Dispatch a transition by name with its inputs (API: POST …/transitions/{name}/)."""
    services = {
        "submit": lambda: application_submit(actor=actor, application=application),
        "resubmit": lambda: application_resubmit(
            actor=actor, application=application, answer=data.get("answer", "")
        ),
        "withdraw": lambda: application_withdraw(
            actor=actor, application=application, reason=data.get("reason", "")
        ),
        "request_completion": lambda: application_request_completion(
            actor=actor,
            application=application,
            message=data.get("message", ""),
            deadline=data.get("deadline"),
        ),
        "declare_eligible": lambda: application_declare_eligible(
            actor=actor, application=application, reason=data.get("reason", "")
        ),
        "declare_ineligible": lambda: application_declare_ineligible(
            actor=actor, application=application, reason=data.get("reason", "")
        ),
        "start_review": lambda: application_start_review(
            actor=actor, application=application, reason=data.get("reason", "")
        ),
        "send_to_committee": lambda: application_send_to_committee(
            actor=actor,
            application=application,
            proposed_amount=data.get("proposed_amount"),
            session=data.get("session"),
            note=data.get("note", ""),
        ),
        "approve": lambda: application_approve(
            actor=actor,
            application=application,
            amount=data.get("amount"),
            conditions=data.get("conditions", ""),
            is_multi_year=bool(data.get("is_multi_year")),
            envelope_override_reason=data.get("envelope_override_reason", ""),
            reason=data.get("reason", ""),
            yearly_amounts=data.get("yearly_amounts"),
        ),
        "reject": lambda: application_reject(
            actor=actor, application=application, reason=data.get("reason", "")
        ),
        "dismiss": lambda: application_dismiss(
            actor=actor, application=application, reason=data.get("reason", "")
        ),
        "reopen": lambda: application_reopen(
            actor=actor, application=application, reason=data.get("reason", "")
        ),
        "award_directly": lambda: _direct().direct_award_decide(
            actor=actor,
            application=application,
            approve=True,
            amount=data.get("amount"),
            reason=data.get("reason", ""),
            envelope_override_reason=data.get("envelope_override_reason", ""),
        ),
        "refuse_directly": lambda: _direct().direct_award_decide(
            actor=actor, application=application, approve=False, reason=data.get("reason", "")
        ),
    }
    if name not in services:
        raise TransitionNotAllowed(
            _("Action inconnue : « %(name)s ».") % {"name": name},
            allowed=allowed_transition_names(application),
        )
    return services[name]()
