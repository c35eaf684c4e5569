"""Reads of the personal-data pages."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db.models import QuerySet

from .models import AuditLog, Organisation, OrganisationDocument


def document_downloads(organisation: Organisation) -> QuerySet[AuditLog]:
    """Every download of the organisation's documents (audit rows), newest first."""
    ids = [str(pk) for pk in organisation.documents.values_list("pk", flat=True)]
    return (
        AuditLog.objects.filter(
            action="core.document.downloaded",
            content_type=ContentType.objects.get_for_model(OrganisationDocument),
            object_id__in=ids,
        )
        .select_related("actor")
        .order_by("-created_at", "-id")
    )
