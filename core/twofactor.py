"""Two-factor authentication (django-otp: TOTP; our own hashed recovery codes; django-otp-webauthn:
passkeys) for the roles of `TWO_FACTOR_ROLES`, enforced on every page by `TwoFactorMiddleware` and
on the admin by `TwoFactorAdminSite`; personal API tokens for the same people (the password token
endpoint refuses them, since a password alone would bypass the second factor). Every attempt at a
second factor, passed or refused, is audited with its method and client address.

`TWO_FACTOR_REQUIRED=false` (the development default, `make run`) makes the second factor optional:
enrolment and verification still work, nobody is forced."""

from __future__ import annotations

import secrets
from base64 import b32encode
from collections.abc import Callable
from datetime import timedelta
from typing import Any, cast
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib.admin import AdminSite
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp import devices_for_user, match_token
from django_otp.admin import OTPAdminSite
from django_otp.models import Device
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import AbstractWebAuthnCredential
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, TokenAuthentication

from .audit import audit_log
from .auth import user_by_pk
from .compiled_reads import TEXT_PLACEHOLDER, CompiledRead, concrete_values
from .errors import DomainError
from .models import User
from .models_security import (
    TOKEN_PREFIX,
    PersonalApiToken,
    RecoveryCode,
    RecoveryCodeDevice,
    recovery_code_digest,
    token_digest,
)
from .permissions import roles_of

RECOVERY_CODES = 10
TOKEN_MAX_DAYS = 366


def requires_two_factor(user: Any) -> bool:
    """True if this user must pass a second factor (setting TWO_FACTOR_REQUIRED and the roles)."""
    if not settings.TWO_FACTOR_REQUIRED or not getattr(user, "is_authenticated", False):
        return False
    if user.is_staff or user.is_superuser:
        return True
    return bool(roles_of(user) & set(settings.TWO_FACTOR_ROLES))


def has_confirmed_device(user: User) -> bool:
    return any(True for _ in devices_for_user(user, confirmed=True))


def is_verified(request: HttpRequest) -> bool:
    user = request.user
    return bool(getattr(user, "is_verified", lambda: False)())


# --------------------------------------------------------------------------- services


def totp_device_start(*, actor: User) -> TOTPDevice:
    """An unconfirmed authenticator-app device for `actor` (the previous unconfirmed one is reused)."""
    device = TOTPDevice.objects.filter(user=actor, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(
            user=actor, name=_("Application d'authentification"), confirmed=False
        )
    return device


@transaction.atomic
def totp_device_confirm(*, actor: User, device: TOTPDevice, token: str) -> list[str]:
    """Confirms the device with a code it generated; returns fresh recovery codes (shown once)."""
    if device.user_id != actor.pk or device.confirmed:
        raise DomainError(_("Cet appareil ne peut pas être confirmé."))
    if not device.verify_token((token or "").strip().replace(" ", "")):
        raise DomainError(
            _("Code incorrect. Saisissez le code à 6 chiffres affiché par l'application."),
            errors={"token": [_("Code incorrect.")]},
        )
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    audit_log(
        actor=actor, obj=actor, action="core.user.two_factor_enrolled", payload={"kind": "totp"}
    )
    return recovery_codes_generate(actor=actor)


@transaction.atomic
def recovery_codes_generate(*, actor: User) -> list[str]:
    """Replaces the user's recovery codes by RECOVERY_CODES new single-use ones, returned once in
    clear for the page that shows them; only their digests are stored."""
    device, _created = RecoveryCodeDevice.objects.get_or_create(
        user=actor, defaults={"name": "recovery", "confirmed": True}
    )
    device.codes.all().delete()
    codes: list[str] = []
    while len(codes) < RECOVERY_CODES:
        code = b32encode(secrets.token_bytes(5)).decode().lower()
        if code not in codes:
            codes.append(code)
    RecoveryCode.objects.bulk_create(
        [RecoveryCode(device=device, digest=recovery_code_digest(actor.pk, c)) for c in codes]
    )
    audit_log(actor=actor, obj=actor, action="core.user.recovery_codes_generated")
    return codes


def recovery_codes_left(user: User) -> int:
    """How many unused recovery codes the user still has."""
    return int(RecoveryCode.objects.filter(device__user=user).count())


def _method(device: Device) -> str:
    if isinstance(device, RecoveryCodeDevice):
        return "recovery"
    if isinstance(device, TOTPDevice):
        return "totp"
    return "passkey" if isinstance(device, AbstractWebAuthnCredential) else "other"


@transaction.atomic
def two_factor_verify(*, actor: User, token: str, ip: str | None = None) -> Device | None:
    """The confirmed device that accepts `token` (a code of the app or a recovery code), or None.

    A recovery code is single-use: it is deleted as it is accepted, so the same code is refused
    the next time. Every attempt is audited (who, method, client address; the row has the time):
    a recovery code's use with the number of codes left, so a code used by someone else shows in
    the account's history; a refused code as a failure."""
    device = match_token(actor, (token or "").strip().replace(" ", ""))
    if device is None:
        two_factor_failed(actor=actor, method="code", ip=ip)
    elif isinstance(device, RecoveryCodeDevice):
        audit_log(
            actor=actor,
            obj=actor,
            action="core.user.recovery_code_used",
            payload={"method": "recovery", "ip": ip, "left": recovery_codes_left(actor)},
        )
    else:
        two_factor_passed(actor=actor, device=device, ip=ip)
    return device


def two_factor_passed(*, actor: User, device: Device, ip: str | None) -> None:
    """Audits a second factor passed with an app code or a passkey."""
    audit_log(
        actor=actor,
        obj=actor,
        action="core.user.two_factor_passed",
        payload={"method": _method(device), "device": device.pk, "ip": ip},
    )


def two_factor_failed(*, actor: User, method: str, ip: str | None, code: str = "") -> None:
    """Audits a refused second factor (a wrong or reused code, a passkey the server refused)."""
    payload: dict[str, Any] = {"method": method, "ip": ip}
    if code:
        payload["code"] = code
    audit_log(actor=actor, obj=actor, action="core.user.two_factor_failed", payload=payload)


@transaction.atomic
def passkey_registered(*, actor: User, device: Device) -> None:
    """Audits a passkey added to the account (django-otp-webauthn saves it)."""
    audit_log(
        actor=actor,
        obj=actor,
        action="core.user.two_factor_enrolled",
        payload={"kind": "passkey", "device": device.pk},
    )


@transaction.atomic
def api_token_create(*, actor: User, name: str, days: int) -> tuple[PersonalApiToken, str]:
    """A personal API token; returns it and its key, which is shown once and never stored."""
    name = (name or "").strip()
    errors: dict[str, list[str]] = {}
    if not name or len(name) > 100:
        errors["name"] = [_("Donnez un nom de 1 à 100 caractères.")]
    if not 1 <= days <= TOKEN_MAX_DAYS:
        errors["days"] = [
            _("La durée doit être comprise entre 1 et %(max)s jours.") % {"max": TOKEN_MAX_DAYS}
        ]
    if errors:
        raise DomainError(_("Le jeton n'a pas été créé."), errors=errors)
    key = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = PersonalApiToken.objects.create(
        user=actor,
        name=name,
        digest=token_digest(key),
        hint=key[:10],
        expires_at=timezone.now() + timedelta(days=days),
    )
    audit_log(
        actor=actor,
        obj=actor,
        action="core.user.api_token_created",
        payload={"name": name, "days": days},
    )
    return token, key


@transaction.atomic
def api_token_revoke(*, actor: User, token: PersonalApiToken) -> PersonalApiToken:
    if token.user_id != actor.pk and not actor.is_superuser:
        raise DomainError(_("Ce jeton n'est pas le vôtre."))
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_log(
            actor=actor,
            obj=token.user,
            action="core.user.api_token_revoked",
            payload={"name": token.name},
        )
    return token


# --------------------------------------------------------------------------- enforcement


def _exempt_paths() -> tuple[str, ...]:
    return (
        settings.STATIC_URL,
        "/i18n/",
        reverse("core:logout"),
        reverse("core:two_factor_enrol"),
        reverse("core:two_factor_verify"),
        reverse("core:two_factor_recovery_codes"),
        reverse("otp_webauthn:credential-authentication-begin"),
        reverse("otp_webauthn:credential-authentication-complete"),
        reverse("otp_webauthn:js-i18n-catalog"),
    )


class TwoFactorMiddleware:
    """Sends a logged-in user who must use a second factor, and has not passed it in this session,
    to enrolment (no device yet) or verification, whatever page they ask; JSON 403 under /api/."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            getattr(user, "is_authenticated", False)
            and not is_verified(request)
            and requires_two_factor(user)
        ):
            blocked = self._blocked(request, cast(User, user))
            if blocked is not None:
                return blocked
        return self.get_response(request)

    def _blocked(self, request: HttpRequest, user: User) -> HttpResponse | None:
        path = request.path
        if path.startswith(_exempt_paths()):
            return None
        enrolled = has_confirmed_device(user)
        registration = reverse("otp_webauthn:credential-registration-begin").rsplit("/", 2)[0]
        if not enrolled and path.startswith(registration):
            # A first passkey may be registered before any factor exists; never a second one.
            return None
        if path.startswith("/api/"):
            return JsonResponse(
                {
                    "detail": _("Validez votre double authentification avant d'utiliser l'API."),
                    "code": "two_factor_required",
                },
                status=403,
            )
        target = reverse("core:two_factor_verify" if enrolled else "core:two_factor_enrol")
        if request.method == "GET":
            target += "?" + urlencode({"next": request.get_full_path()})
        return redirect(target)


class TwoFactorAdminSite(OTPAdminSite):  # type: ignore[misc]
    """The admin of django-otp's OTPAdminSite: a staff member who must use a second factor gets in
    only once verified (the login itself is the site's, core:login)."""

    name = "admin"
    login_form = AdminSite.login_form
    login_template = AdminSite.login_template

    def __init__(self, name: str = "admin") -> None:
        super().__init__(name)

    def has_permission(self, request: HttpRequest) -> bool:
        if not AdminSite.has_permission(self, request):
            return False
        return not requires_two_factor(request.user) or is_verified(request)


def webauthn_rp_id(request: HttpRequest) -> str:
    """The relying party of passkeys: WEBAUTHN_RP_ID, else the host of SITE_URL."""
    return str(settings.WEBAUTHN_RP_ID or urlsplit(settings.SITE_URL).hostname or "localhost")


# --------------------------------------------------------------------------- API authentication


def _key_from_header(request: Any) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    parts = header.split()
    if len(parts) != 2 or parts[0].lower() not in {"token", "bearer"}:
        return None
    return parts[1] if parts[1].startswith(TOKEN_PREFIX) else None


# Read on every API request: compiled once per process (core.compiled_reads; issue 17), as the
# signed-in user is (core.auth.user_by_pk).
TOKEN_BY_DIGEST = CompiledRead(
    lambda digest: concrete_values(PersonalApiToken.objects.filter(digest=digest)),
    placeholder=TEXT_PLACEHOLDER,
)


class PersonalTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer plr_…` (or `Token plr_…`): a personal, expiring, revocable token."""

    def authenticate(self, request: Any) -> tuple[User, PersonalApiToken] | None:
        key = _key_from_header(request)
        if key is None:
            return None
        token = TOKEN_BY_DIGEST.instance(token_digest(key))
        user = user_by_pk(token.user_id) if token is not None else None
        if token is None or user is None or not token.is_active or not user.is_active:
            raise exceptions.AuthenticationFailed(_("Jeton inconnu, expiré ou révoqué."))
        token.user = user
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
            PersonalApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request: Any) -> str:
        return "Bearer"


class PasswordTokenAuthentication(TokenAuthentication):
    """DRF's token (obtained with a password); refused for people who must use a second factor."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        user, token = super().authenticate_credentials(key)
        if requires_two_factor(user):
            raise exceptions.AuthenticationFailed(
                _("Ce compte doit utiliser un jeton personnel, créé depuis la page « Mon compte ».")
            )
        return user, token


class PersonalTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """How the OpenAPI schema documents personal tokens."""

    target_class = "core.twofactor.PersonalTokenAuthentication"
    name = "personalToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": _(
                "Jeton personnel (plr_…), créé, listé et révoqué depuis la page « Mon compte »."
            ),
        }
