"""Request types for views (typing only)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest

if TYPE_CHECKING:
    from .models import User


class AuthenticatedHttpRequest(HttpRequest):
    """The request of a view behind `@login_required`: its `user` is a signed-in `User`, never
    `AnonymousUser` (the pattern django-stubs recommends)."""

    user: User
