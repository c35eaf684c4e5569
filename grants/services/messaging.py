"""Messages from the instruction to a file's applicants."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from core.audit import audit_log
from core.errors import DomainError, PermissionDenied
from core.fsm import lock
from core.models import User
from core.notifications import Msg

from ..models import Application
from .workflow import _notify_applicants, instructor_of


def application_message_applicants(
    *, actor: User, application: Application, subject: str, message: str
) -> Application:
    """Send a message to the members of the file's organisation (in-app and by email), with one
    audit row."""
    subject, message = (subject or "").strip(), (message or "").strip()
    if not message:
        raise DomainError(_("Écrivez le message à envoyer."), field="message")
    if not instructor_of(actor, application):
        raise PermissionDenied(_("Vous n'avez pas le droit d'écrire aux porteurs de ce dossier."))
    with transaction.atomic():
        application = lock(application)
        audit_log(
            actor=actor,
            obj=application,
            action="grants.application.applicants_messaged",
            payload={"subject": subject[:200]},
        )
        _notify_applicants(
            application,
            subject
            or Msg(gettext_noop("Message sur le dossier %(ref)s"), ref=application.reference),
            message,
        )
    return application
