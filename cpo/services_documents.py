"""Writes about an agreement's files: the signed copy uploaded at signature (private storage)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from core.audit import audit_log
from core.errors import DomainError, PermissionDenied, TransitionNotAllowed
from core.fsm import lock
from core.models import Role, User
from core.permissions import has_role
from core.uploads import validate_upload

from .models import Agreement, AgreementState

CLOSED = (AgreementState.TERMINATED, AgreementState.COMPLETED)


def agreement_attach_signed(*, actor: User, agreement: Agreement, file: Any) -> Agreement:
    """Store the signed copy of the agreement (a PDF) in private storage, replacing any earlier one.

    Only instruction and programme managers; the file is checked by core.uploads (size, type,
    content matching its name). One audit row with the file's size."""
    if not has_role(actor, Role.INSTRUCTOR, Role.PROGRAMME_MANAGER):
        raise PermissionDenied(_("Réservé à l'instruction et aux responsables de programme."))
    if file is None:
        raise DomainError(_("Joignez l'exemplaire signé (PDF)."), field="signed_document")
    name = (getattr(file, "name", "") or "").lower()
    if not name.endswith(".pdf"):
        raise DomainError(
            _("L'exemplaire signé doit être un fichier PDF."), field="signed_document"
        )
    validate_upload(file, field="signed_document")
    with transaction.atomic():
        agreement = lock(agreement)
        if agreement.state in CLOSED:
            raise TransitionNotAllowed(
                _("La convention est close : son exemplaire signé ne peut plus être remplacé."),
                allowed=[],
            )
        previous = agreement.signed_document.name
        agreement.signed_document.save(file.name, file, save=False)
        agreement.save(update_fields=["signed_document"])
        audit_log(
            actor=actor,
            obj=agreement,
            action="cpo.agreement.signed_copy_attached",
            payload={"size": file.size, "replaces": bool(previous)},
        )
    return agreement
