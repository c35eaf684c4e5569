"""What every agreement page shares: finding the agreement the user may see, and error display."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy

from core.errors import DomainError
from core.forms import transition_error_message
from core.http import AuthenticatedHttpRequest

from ..models import Agreement
from ..selectors import agreement_detail_queryset, agreements_visible_to

ACTION_LABELS = {
    "send_for_signature": gettext_lazy("Envoyer pour signature"),
    "sign": gettext_lazy("Enregistrer la signature"),
    "activate": gettext_lazy("Mettre en cours"),
    "suspend": gettext_lazy("Suspendre"),
    "resume": gettext_lazy("Reprendre"),
    "complete": gettext_lazy("Solder"),
    "terminate": gettext_lazy("Résilier"),
}


def get_visible(request: AuthenticatedHttpRequest, pk: int, *, detail: bool = False) -> Agreement:
    """The agreement if the user may see it; 404 otherwise (existence not leaked)."""
    qs = agreements_visible_to(request.user)
    if detail:
        qs = agreement_detail_queryset(qs)
    return get_object_or_404(qs, pk=pk)


def error_message(exc: DomainError) -> str:
    return transition_error_message(exc, ACTION_LABELS)
