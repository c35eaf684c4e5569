"""Filing and withdrawing an application (the applicant's transitions)."""

from __future__ import annotations

from django.db import transaction
from django.db.models import prefetch_related_objects
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from core.clock import now
from core.errors import DomainError, TransitionNotAllowed
from core.fsm import allowed_transition_names, lock
from core.models import User
from core.notifications import Msg

from ..eligibility import eligibility_errors
from ..models import (
    Application,
    CompletionRequest,
)
from ..selectors import (
    valid_documents_by_kind,
)
from .instruction import assignment_rule, audit_assigned
from .workflow import (
    S,
    _check,
    _notify_applicants,
    _transition,
)

# --------------------------------------------------------------------------- applicant transitions


def application_submit(*, actor: User, application: Application) -> Application:
    """File the dossier. The call's eligibility rules must hold; the organisation's valid documents
    are attached; the file is assigned by the call's rules."""
    with transaction.atomic():
        # With its call and organisation (the rules and the documents read them), the file's row
        # alone locked; its neighbourhoods read once for the rules and the assignment (issue 17).
        application = (
            Application.objects.select_for_update(of=("self",))
            .select_related("call", "organisation")
            .get(pk=application.pk)
        )
        if application.state == S.SUBMITTED:
            return application
        _check(actor, application, "submit")
        if application.state != S.DRAFT:
            raise TransitionNotAllowed(
                _("Seul un brouillon peut être déposé."),
                allowed=allowed_transition_names(application),
            )
        prefetch_related_objects([application], "qpvs")
        # Read once: checked by the rules when the call requires some, then attached.
        call = application.call
        documents = (
            valid_documents_by_kind(application) if call and call.required_documents else None
        )
        errors = eligibility_errors(application, documents=documents)
        if errors:
            raise DomainError(_("Le dossier ne respecte pas les règles de l'appel."), errors=errors)
        # The instructor the call's rules give is written with the new state (one UPDATE of the
        # file's row, whose triggers then run once); its audit row still follows the filing's.
        rule = assignment_rule(application, qpv_ids={q.pk for q in application.qpvs.all()})
        fields = ["submitted_at"]
        if rule is not None:
            application.assigned_to_id = rule.instructor_id
            fields.append("assigned_to")
        application.submitted_at = now()
        application = _transition(application, "submit", actor=actor, update_fields=fields)
        if documents is None:
            documents = valid_documents_by_kind(application)
        application.documents.add(*documents.values())
        if rule is not None:
            audit_assigned(application, rule, actor=actor)
        _notify_applicants(
            application,
            Msg(gettext_noop("Dossier %(ref)s déposé"), ref=application.reference),
            Msg(
                gettext_noop(
                    "Votre dossier a bien été déposé. Vous serez informé·e de chaque étape."
                )
            ),
        )
    return application


def application_withdraw(*, actor: User, application: Application, reason: str = "") -> Application:
    with transaction.atomic():
        application = lock(application)
        if application.state == S.WITHDRAWN:
            return application
        application = _transition(application, "withdraw", actor=actor, reason=reason)
        CompletionRequest.objects.filter(application=application, answered_at__isnull=True).update(
            answered_at=now(), answer=_("Dossier retiré")
        )
    return application
