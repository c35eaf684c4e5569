"""API plumbing shared by every app: pagination and the mapping of domain errors to HTTP."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import DomainError, TransitionNotAllowed


class KnownCountPaginator(Paginator):  # type: ignore[type-arg]  # not subscriptable at runtime
    """A Django paginator told the total in advance (from maintained counters) instead of counting."""

    def __init__(self, *args: Any, known_count: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.count = known_count


class DefaultPagination(PageNumberPagination):
    """Page-number pagination; a view with `known_count()` returning an int skips the COUNT query."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> list[Any] | None:
        known = view.known_count() if view is not None and hasattr(view, "known_count") else None
        if known is not None:
            self.django_paginator_class = partial(KnownCountPaginator, known_count=known)  # type: ignore[assignment]
        return super().paginate_queryset(queryset, request, view)


def domain_error_response(exc: DomainError) -> Response:
    body: dict[str, Any] = {"detail": str(exc.message), "code": exc.code}
    if exc.errors:
        body["errors"] = {field: [str(m) for m in msgs] for field, msgs in exc.errors.items()}
    if isinstance(exc, TransitionNotAllowed):
        body["allowed_transitions"] = exc.allowed
    return Response(body, status=exc.status_code)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DomainError → 400 (403, 409); Django ValidationError → 400 with field messages."""
    if isinstance(exc, DomainError):
        return domain_error_response(exc)
    if isinstance(exc, DjangoValidationError):
        errors = (
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
        return Response(
            {"detail": _("Données invalides."), "errors": errors},
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, Http404):
        return Response({"detail": _("Introuvable.")}, status=status.HTTP_404_NOT_FOUND)
    return drf_exception_handler(exc, context)
