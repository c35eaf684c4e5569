"""What every page of the finance workspace shares: who may read (finance officers, programme
managers, auditors; anyone else gets a 404), who may act (finance officers; a POST by a reader
is refused with 403 and the reason), and the refusal page."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.errors import DomainError
from core.forms import transition_error_message
from core.http import AuthenticatedHttpRequest
from finance.selectors import can_act_on_finance, can_read_finance

View = Callable[..., HttpResponseBase]

#: Transition code names in the services' messages → the buttons' labels.
ACTION_LABELS = {
    "approve": gettext_lazy("Valider le lot"),
    "export": gettext_lazy("Transmettre à la comptabilité"),
    "cancel": gettext_lazy("Abandonner le lot"),
    "reopen": gettext_lazy("Renvoyer en validation"),
    "close": gettext_lazy("Solder"),
    "collect": gettext_lazy("Enregistrer le recouvrement"),
    "offset": gettext_lazy("Compenser"),
}


def error_message(exc: DomainError) -> str:
    """A service's refusal as the page shows it."""
    return transition_error_message(exc, ACTION_LABELS)


def finance_page(view: View) -> View:
    """Readers only (404 for anyone else, existence not leaked); a POST needs a finance officer."""

    @login_required
    @wraps(view)
    def wrapper(request: AuthenticatedHttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not can_read_finance(request.user):
            raise Http404
        if request.method == "POST" and not can_act_on_finance(request.user):
            return refused(request, _("Réservé au service financier."))
        return view(request, *args, **kwargs)

    return wrapper


def refused(request: AuthenticatedHttpRequest, message: str, *, status: int = 403) -> HttpResponse:
    return render(request, "finance/refused.html", {"message": message}, status=status)


def base_context(request: AuthenticatedHttpRequest, section: str) -> dict[str, Any]:
    """The workspace's sub-navigation and whether the action buttons show."""
    return {"section": section, "can_act": can_act_on_finance(request.user)}


def query_without(request: AuthenticatedHttpRequest, *keys: str) -> str:
    """The page's query string without `keys` (pagination links keep the filters)."""
    query = request.GET.copy()
    for key in keys:
        query.pop(key, None)
    return query.urlencode()
