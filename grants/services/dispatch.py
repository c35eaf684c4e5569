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
from .workflow import transition_specs


def run_transition(
    *, name: str, actor: User, application: Application, data: dict[str, Any]
) -> Application:
    """Run a declared transition (grants.transitions) by name with its inputs (API:
    POST …/transitions/{name}/, and the file's page)."""
    specs = transition_specs()
    if name not in specs:
        raise TransitionNotAllowed(
            _("Action inconnue : « %(name)s ».") % {"name": name},
            allowed=allowed_transition_names(application),
        )
    return specs[name].run(actor=actor, application=application, data=data)
