"""The one domain error type. Views show it next to the field; the API maps it to 400/409."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A business rule was broken. `message` is translatable; `field` names the input at fault."""

    status_code = 400

    def __init__(
        self,
        message: Any,
        *,
        field: str | None = None,
        code: str = "invalid",
        errors: dict[str, list[Any]] | None = None,
    ) -> None:
        super().__init__(str(message))
        self.message = message
        self.field = field
        self.code = code
        self.errors = errors or ({field: [message]} if field else {})


class TransitionNotAllowed(DomainError):
    """The transition is not possible from the object's current state (HTTP 409)."""

    status_code = 409

    def __init__(self, message: Any, *, allowed: list[str] | None = None) -> None:
        super().__init__(message, code="transition_not_allowed")
        self.allowed = allowed or []


class PermissionDenied(DomainError):
    """The actor may not do this (HTTP 403)."""

    status_code = 403

    def __init__(self, message: Any) -> None:
        super().__init__(message, code="permission_denied")
