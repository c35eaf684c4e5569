"""Public entry points: the document to sign or notify, as a RenderedDocument or PDF bytes."""

from __future__ import annotations

from ..models import Agreement, Amendment
from .agreement import (
    render_agreement,
)
from .amendment import render_amendment
from .notification import render_notification
from .rendering import (
    RenderedDocument,
)

# --------------------------------------------------------------------------------------------
# Public entry points (the views of Engineer N call these)
# --------------------------------------------------------------------------------------------


def agreement_document(agreement: Agreement) -> RenderedDocument:
    """The document to sign or notify for this agreement: the convention (written agreement,
    mandatory above 23 000 € a year) or, for a decision, the notification letter."""
    if agreement.kind == Agreement.Kind.DECISION:
        return render_notification(agreement)
    return render_agreement(agreement)


def amendment_document(amendment: Amendment) -> RenderedDocument:
    return render_amendment(amendment)


def agreement_pdf(agreement: Agreement) -> bytes:
    """The convention (or convention pluriannuelle d'objectifs), as PDF bytes."""
    return render_agreement(agreement).content


def notification_pdf(agreement: Agreement) -> bytes:
    """The notification letter (décision attributive), as PDF bytes."""
    return render_notification(agreement).content


def amendment_pdf(amendment: Amendment) -> bytes:
    """The amendment (avenant n° X), as PDF bytes."""
    return render_amendment(amendment).content
