"""`Idempotency-Key` on the API's creations and transitions (as payment APIs do).

A client that sends `Idempotency-Key: <its own unique value>` with a POST, PUT, PATCH or DELETE
under /api/ can retry the request safely, for instance after a timeout whose response was lost:

- the same key with the same method, path and body within 24 h → the first response is replayed
  (same status and body, header `Idempotent-Replayed: true`); the view does not run again;
- the same key with another method, path or body → 422, nothing done;
- the same key while the first request is still running → 409, nothing done;
- a first answer of 5xx is not kept, so the retry runs the request again.

Keys are scoped to the authenticated user (token or session) and stored in core.IdempotencyKey,
whose unique (user, key) constraint lets one concurrent duplicate run and refuses the others.
Anonymous requests ignore the header (there is nobody to scope the key to). Why not a library:
docs/decisions/2026-12-06-api-idempotency-keys.md."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from .models_idempotency import IdempotencyKey

HEADER = "Idempotency-Key"
META_KEY = "HTTP_IDEMPOTENCY_KEY"
TTL = timedelta(hours=24)
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
MAX_KEY_LENGTH = 255


def _error(status: int, detail: str, code: str) -> JsonResponse:
    return JsonResponse({"detail": detail, "code": code}, status=status)


def _user(request: HttpRequest) -> Any:
    """The caller as DRF will see it: a valid token first, else the session user."""
    try:
        found = TokenAuthentication().authenticate(request)  # type: ignore[arg-type]
    except AuthenticationFailed:
        return None  # DRF answers 401 itself
    if found is not None:
        return found[0]
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def _view_handles(request: HttpRequest) -> bool:
    """Whether the view behind the path answers this method. A method the view does not declare
    is left to it (405 with its `Allow` header), never stored nor refused as a reused key."""
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return False
    method = (request.method or "").lower()
    actions = getattr(match.func, "actions", None)  # a DRF viewset route: {method: action}
    if actions is not None:
        return method in actions
    view_class = getattr(match.func, "cls", None) or getattr(match.func, "view_class", None)
    return view_class is None or hasattr(view_class, method)


def _fingerprint(request: HttpRequest) -> str:
    digest = hashlib.sha256()
    for part in (request.method or "", request.get_full_path()):
        digest.update(part.encode("utf-8", "surrogateescape") + b"\0")
    digest.update(request.body)
    return digest.hexdigest()


def _replay(row: IdempotencyKey) -> HttpResponse:
    response = HttpResponse(
        bytes(row.body), status=row.status_code or 200, content_type=row.content_type or None
    )
    response["Idempotent-Replayed"] = "true"
    return response


class IdempotencyKeyMiddleware:
    """Django middleware (after authentication) applying the rules of this module to /api/."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.META.get(META_KEY)
        if key is None or request.method not in UNSAFE or not request.path.startswith("/api/"):
            return self.get_response(request)
        if not key or len(key) > MAX_KEY_LENGTH or not all(" " <= c <= "~" for c in key):
            return _error(
                400,
                _("La clé d'idempotence doit compter de 1 à %(n)s caractères ASCII imprimables.")
                % {"n": MAX_KEY_LENGTH},
                "invalid_idempotency_key",
            )
        user = _user(request)
        if user is None or not _view_handles(request):
            return self.get_response(request)
        fingerprint = _fingerprint(request)
        now = timezone.now()
        try:
            with transaction.atomic():
                IdempotencyKey.objects.filter(user=user, key=key, expires_at__lte=now).delete()
                row = IdempotencyKey.objects.create(
                    user=user,
                    key=key,
                    fingerprint=fingerprint,
                    method=request.method or "",
                    path=request.path[:2000],
                    expires_at=now + TTL,
                )
        except IntegrityError:
            existing = IdempotencyKey.objects.filter(user=user, key=key).first()
            if existing is None:  # purged between the insert and the read: a plain conflict
                return _error(409, _("Requête identique en cours ; réessayez."), "idempotency_busy")
            if existing.fingerprint != fingerprint:
                return _error(
                    422,
                    _("Cette clé d'idempotence a déjà servi pour une autre requête."),
                    "idempotency_key_reused",
                )
            if existing.status_code is None:
                return _error(
                    409,
                    _("La même requête est encore en cours de traitement ; réessayez."),
                    "idempotency_busy",
                )
            return _replay(existing)
        try:
            response = self.get_response(request)
        except Exception:
            row.delete()
            raise
        if response.status_code >= 500 or getattr(response, "streaming", False):
            row.delete()
            return response
        IdempotencyKey.objects.filter(pk=row.pk).update(
            status_code=response.status_code,
            content_type=response.get("Content-Type", ""),
            body=response.content,
        )
        return response


def idempotency_keys_purge(*, now: Any = None) -> int:
    """Delete the expired keys; returns how many."""
    deleted, _detail = IdempotencyKey.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted
