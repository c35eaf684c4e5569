"""Login throttling: too many failures for an account or an address locks it out for a while."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.utils import timezone

from .models import LoginFailure, User


def client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    ip: str | None = request.META.get("REMOTE_ADDR")
    return ip


def is_throttled(email: str, ip: str | None) -> bool:
    since = timezone.now() - timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)
    recent = LoginFailure.objects.filter(created_at__gte=since)
    if recent.filter(email=(email or "").lower()).count() >= settings.LOGIN_MAX_FAILURES:
        return True
    return bool(ip) and recent.filter(ip=ip).count() >= settings.LOGIN_MAX_FAILURES * 4


class ThrottledModelBackend(ModelBackend):
    """ModelBackend that refuses to check passwords once an account or address is throttled."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        email = (username or kwargs.get("email") or "").lower()
        ip = client_ip(request)
        if is_throttled(email, ip):
            raise PermissionDenied("too many login failures")
        user = super().authenticate(request, username=email, password=password, **kwargs)
        if user is None:
            LoginFailure.objects.create(email=email, ip=ip)
        else:
            LoginFailure.objects.filter(email=email).delete()
        return user
