"""Completion requests: the instruction asks for more, the applicant answers, deadlines lapse."""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from core.clock import now, today
from core.errors import DomainError
from core.fsm import lock
from core.models import User
from core.notifications import Msg, notify

from ..models import (
    Application,
    CompletionRequest,
)
from ..selectors import (
    pending_completion_request,
)
from .workflow import (
    S,
    _check,
    _notify_applicants,
    _transition,
    _url,
)


def application_request_completion(
    *, actor: User, application: Application, message: str, deadline: date
) -> Application:
    """Ask the applicant to complete the file by a deadline."""
    message = (message or "").strip()
    if not message:
        raise DomainError(_("Précisez ce qui doit être complété."), field="message")
    if deadline is None or deadline <= today():
        raise DomainError(_("La date limite doit être dans le futur."), field="deadline")
    with transaction.atomic():
        application = lock(application)
        if application.state == S.RETURNED:
            return application
        request_payload = {"message": message, "deadline": deadline}
        application = _transition(
            application, "request_completion", actor=actor, reason=message, payload=request_payload
        )
        CompletionRequest.objects.create(
            application=application, message=message, deadline=deadline, requested_by=actor
        )
        _notify_applicants(
            application,
            Msg(
                gettext_noop("Compléments demandés sur le dossier %(ref)s"),
                ref=application.reference,
            ),
            Msg(
                gettext_noop(
                    "%(message)s\n\nÀ fournir avant le %(deadline)s : répondez depuis la page "
                    "du dossier et déposez les pièces demandées."
                ),
                message=message,
                deadline=deadline.strftime("%d/%m/%Y"),
            ),
        )
    return application


def application_resubmit(*, actor: User, application: Application, answer: str) -> Application:
    """Answer the pending completion request and send the file back to instruction."""
    answer = (answer or "").strip()
    if not answer:
        raise DomainError(_("Répondez à la demande de compléments."), field="answer")
    with transaction.atomic():
        application = lock(application)
        if application.state == S.SUBMITTED:
            return application
        _check(actor, application, "resubmit")
        request = pending_completion_request(application)
        if request is not None:
            request.answer, request.answered_at, request.answered_by = answer, now(), actor
            request.save(update_fields=["answer", "answered_at", "answered_by"])
        application = _transition(application, "resubmit", actor=actor, payload={"answer": answer})
        if application.assigned_to:
            notify(
                users=[application.assigned_to],
                title=Msg(gettext_noop("Dossier %(ref)s complété"), ref=application.reference),
                body=Msg(
                    gettext_noop(
                        "%(org)s a répondu à votre demande de compléments sur le dossier "
                        "« %(name)s » :\n\n%(answer)s\n\nRelisez la réponse et les pièces, "
                        "puis reprenez l'instruction."
                    ),
                    org=application.organisation.name,
                    name=application.title,
                    answer=answer,
                ),
                url=_url(application),
            )
    return application


def completion_requests_flag_overdue() -> int:
    """Flag pending completion requests whose deadline has passed. Idempotent."""
    return CompletionRequest.objects.filter(
        answered_at__isnull=True, deadline__lt=today(), is_overdue=False
    ).update(is_overdue=True)
