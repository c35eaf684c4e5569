"""API plumbing shared by every app: pagination and the mapping of domain errors to HTTP."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
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

    def get_page_size(self, request: Any) -> int | None:
        """`page_size` from 1 to `max_page_size`; anything else is a 400 (DRF would ignore it)."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            raise ValidationError(
                {
                    self.page_size_query_param: [
                        _("Saisissez un nombre entier de 1 à %(n)s.") % {"n": self.max_page_size}
                    ]
                }
            )
        return int(raw)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
            elif parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": self.max_page_size,
                }
        return parameters

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


def _flatten(errors: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail → {"field" | "parent.0.field": [messages]}."""
    out: dict[str, list[str]] = {}
    if isinstance(errors, dict):
        for key, value in errors.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            for field, messages in _flatten(value, name).items():
                out.setdefault(field, []).extend(messages)
    elif isinstance(errors, list):
        if all(not isinstance(item, dict | list) for item in errors):
            out[prefix or "non_field_errors"] = [str(item) for item in errors]
        else:
            for index, item in enumerate(errors):
                if item:
                    name = f"{prefix}.{index}" if prefix else str(index)
                    for field, messages in _flatten(item, name).items():
                        out.setdefault(field, []).extend(messages)
    else:
        out[prefix or "non_field_errors"] = [str(errors)]
    return out


def error_body(
    detail: str, code: str, errors: dict[str, list[str]] | None = None
) -> dict[str, Any]:
    """The one shape of every error body of the API (schema component `Error`)."""
    body: dict[str, Any] = {"detail": detail, "code": code}
    if errors:
        body["errors"] = errors
    return body


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Every error as `{"detail", "code", "errors"?}`: DomainError → 400 (403, 409) with its own
    fields; validation errors (DRF or Django) → 400 with the messages per field in `errors`."""
    if isinstance(exc, DomainError):
        return domain_error_response(exc)
    if isinstance(exc, DjangoValidationError):
        errors = (
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
        return Response(
            error_body(_("Données invalides."), "invalid", _flatten(errors)),
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, Http404):
        return Response(
            error_body(_("Introuvable."), "not_found"), status=status.HTTP_404_NOT_FOUND
        )
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, APIException):
        return response
    if isinstance(exc, ValidationError):
        response.data = error_body(_("Données invalides."), "invalid", _flatten(exc.detail))
    else:
        detail: Any = exc.detail
        if isinstance(detail, dict | list):
            response.data = error_body(
                str(exc.default_detail), str(exc.default_code), _flatten(detail)
            )
        else:
            code = getattr(detail, "code", None) or exc.default_code
            response.data = error_body(str(detail), str(code))
    return response
