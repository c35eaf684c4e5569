"""Single sign-on for staff with OpenID Connect (mozilla-django-oidc), shaped for ProConnect.

- Accounts are matched by e-mail (case-insensitive) or created on first login with no role: an
  admin grants roles. Roles are taken from the identity provider only if OIDC_ROLES_CLAIM is set,
  and then only the roles listed in OIDC_ROLES_ALLOWED.
- ProConnect's claims: given_name, usual_name (the family name), email, siret, uid.
- Logout ends the provider's session too (RP-initiated logout with the ID token as hint).
- Associations keep logging in with e-mail and password; SSO is off unless OIDC_RP_CLIENT_ID is set.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from csp.constants import SELF
from django.conf import settings
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django.utils import timezone
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import OIDCAuthenticationRequestView

from .audit import audit_log
from .models import Role, RoleAssignment, User


def oidc_enabled() -> bool:
    return bool(settings.OIDC_RP_CLIENT_ID)


class ProConnectBackend(OIDCAuthenticationBackend):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Instantiated for every login (even by password): idle when SSO is not configured.
        if oidc_enabled():
            super().__init__(*args, **kwargs)

    def authenticate(self, request: HttpRequest | None, **kwargs: Any) -> Any:
        if not oidc_enabled():
            return None
        return super().authenticate(request, **kwargs)

    def verify_claims(self, claims: dict[str, Any]) -> bool:
        return bool(str(claims.get("email") or "").strip())

    def filter_users_by_claims(self, claims: dict[str, Any]) -> Any:
        email = str(claims.get("email") or "").strip().lower()
        return self.UserModel.objects.filter(email__iexact=email)

    @transaction.atomic
    def create_user(self, claims: dict[str, Any]) -> User:
        user = User.objects.create_user(
            email=str(claims["email"]).strip().lower(),
            password=None,
            first_name=str(claims.get("given_name") or "")[:150],
            last_name=str(claims.get("usual_name") or claims.get("family_name") or "")[:150],
        )
        user.email_verified_at = timezone.now()  # vouched for by the identity provider
        user.save(update_fields=["email_verified_at"])
        audit_log(
            actor=user,
            obj=user,
            action="core.user.created_by_sso",
            payload={"siret": str(claims.get("siret") or ""), "uid": str(claims.get("uid") or "")},
        )
        self._grant_roles(user, claims)
        return user

    @transaction.atomic
    def update_user(self, user: User, claims: dict[str, Any]) -> User:
        changed = []
        for field, claim in (("first_name", "given_name"), ("last_name", "usual_name")):
            value = str(claims.get(claim) or "")[:150]
            if value and getattr(user, field) != value:
                setattr(user, field, value)
                changed.append(field)
        if user.email_verified_at is None:
            user.email_verified_at = timezone.now()
            changed.append("email_verified_at")
        if changed:
            user.save(update_fields=changed)
        self._grant_roles(user, claims)
        return user

    def _grant_roles(self, user: User, claims: dict[str, Any]) -> None:
        """Only with OIDC_ROLES_CLAIM configured; never a role outside OIDC_ROLES_ALLOWED."""
        claim = settings.OIDC_ROLES_CLAIM
        if not claim:
            return
        values = claims.get(claim) or []
        if isinstance(values, str):
            values = [values]
        allowed = set(settings.OIDC_ROLES_ALLOWED) & set(Role.values)
        for role in sorted({str(v) for v in values} & allowed):
            assignment, created = RoleAssignment.objects.get_or_create(user=user, role=role)
            if created:
                audit_log(
                    actor=None,
                    obj=user,
                    action="core.user.role_granted",
                    payload={"role": role, "source": "oidc"},
                )


def provider_logout_url(request: HttpRequest) -> str:
    """Where to send the browser after logging out locally: the provider's end-session endpoint."""
    params = {
        "post_logout_redirect_uri": request.build_absolute_uri(
            resolve_url(settings.LOGOUT_REDIRECT_URL)
        )
    }
    id_token = request.session.get("oidc_id_token")
    if id_token:
        params["id_token_hint"] = id_token
    params["client_id"] = settings.OIDC_RP_CLIENT_ID
    return f"{settings.OIDC_OP_LOGOUT_ENDPOINT}?{urlencode(params)}"


class ProConnectLoginView(OIDCAuthenticationRequestView):  # type: ignore[misc]
    """Starts a single sign-on (404 when SSO is not configured)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not oidc_enabled():
            raise Http404
        response: HttpResponse = super().get(request)
        return response


def provider_origin() -> str:
    """scheme://host[:port] of the provider's logout endpoint, if single sign-on is on."""
    url = settings.OIDC_OP_LOGOUT_ENDPOINT if oidc_enabled() else ""
    return "/".join(url.split("/")[:3]) if url.startswith(("http://", "https://")) else ""


class ProviderFormActionMiddleware:
    """The logout form of a single sign-on session ends at the provider (a redirect after a POST):
    CSP's form-action must allow the provider's origin on every page that shows that form."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        origin = provider_origin()
        if origin:
            update: dict[str, Any] = dict(getattr(response, "_csp_update", None) or {})
            update["form-action"] = [*update.get("form-action", []), SELF, origin]
            response._csp_update = update  # type: ignore[attr-defined]
        return response
