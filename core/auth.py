"""Login throttling with django-axes: the client's address, the account's name, the counting rule
and what a locked-out client sees.

- The client address is `REMOTE_ADDR`, unless the request comes from a trusted proxy
  (`TRUSTED_PROXIES`): then it is the right-most address of `X-Forwarded-For` that is not itself a
  trusted proxy (the one the outermost trusted proxy saw). A client that sends its own
  `X-Forwarded-For` directly is ignored; through the proxy its forged entries sit to the left of
  the one the proxy appended, so they are never read.
- Failures are counted per account *from one client address* (`AXES_FAILURE_LIMIT`) and per client
  address over all accounts (`LOGIN_ADDRESS_FAILURE_FACTOR` times more): one client's failures
  never lock out another client, nor an account for someone logging in from elsewhere.
- Failures older than `AXES_COOLOFF_TIME` are deleted by axes on every new failure; lockouts are
  listed in the admin (« Access attempts ») and lifted by deleting them there or with
  `manage.py axes_reset_username` / `axes_reset_ip`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.handlers.database import AxesDatabaseHandler
from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from .compiled_reads import CompiledRead, concrete_values

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry)


def _parse(value: str | None) -> IPAddress | None:
    """An address from a header or REMOTE_ADDR: `[v6]:port`, `v4:port` and IPv4-mapped v6 accepted."""
    if not value:
        return None
    text = value.strip().strip('"')
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_trusted_proxy(address: IPAddress | None, trusted: Iterable[str] | None = None) -> bool:
    if address is None:
        return False
    networks = _networks(tuple(trusted if trusted is not None else settings.TRUSTED_PROXIES))
    return any(address.version == net.version and address in net for net in networks)


def client_ip(request: HttpRequest | None) -> str | None:
    """The address of the client that sent `request` (see the module's docstring)."""
    if request is None:
        return None
    remote = _parse(request.META.get("REMOTE_ADDR"))
    if remote is None:
        return None
    if not is_trusted_proxy(remote):
        return str(remote)
    hops = [h for h in (request.META.get("HTTP_X_FORWARDED_FOR") or "").split(",") if h.strip()]
    for hop in reversed(hops):
        address = _parse(hop)
        if address is None:
            # Garbage where a proxy should have written an address: trust nothing further left.
            break
        if not is_trusted_proxy(address):
            return str(address)
    return str(remote)


def login_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str | None:
    """The account name axes counts failures for: the e-mail as typed, trimmed and lower-cased."""
    value = None
    if credentials:
        value = credentials.get("username") or credentials.get("email")
    if value is None and request is not None and request.method == "POST":
        value = request.POST.get("username") or request.POST.get("email")
    if not isinstance(value, str):
        return None
    return value.strip().lower()[:255] or None


def lockout_parameters(request: Any, credentials: dict[str, Any] | None) -> list[Any]:
    return [["username", "ip_address"], "ip_address"]


class LoginThrottleHandler(AxesDatabaseHandler):  # type: ignore[misc]
    """axes' database handler where an address gets `LOGIN_ADDRESS_FAILURE_FACTOR` times more
    failures (over all accounts) than one account from that address."""

    def get_failures(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> int:
        per_account, per_address = (
            int(sum(attempt.failures_since_start for attempt in attempts))
            for attempts in self.get_user_attempts(request, credentials)
        )
        factor = max(1, int(settings.LOGIN_ADDRESS_FAILURE_FACTOR))
        return max(per_account, per_address // factor)


def cooloff_minutes() -> int:
    return max(1, int(settings.AXES_COOLOFF_TIME.total_seconds() // 60))


def throttled_message() -> str:
    return _(
        "Trop de tentatives de connexion infructueuses. Réessayez dans %(minutes)s "
        "minutes ou réinitialisez votre mot de passe."
    ) % {"minutes": cooloff_minutes()}


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """What a locked-out client gets (429): JSON under /api/, else the login page it posted to
    (whose form already says why), else a page saying so."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": throttled_message(), "code": "throttled"}, status=429)
    match = getattr(request, "resolver_match", None)
    if original_response is not None and match is not None and match.view_name == "core:login":
        original_response.status_code = 429
        return original_response
    return render(request, "core/locked_out.html", {"message": throttled_message()}, status=429)


class LoginThrottleBackend(AxesStandaloneBackend):  # type: ignore[misc]
    """axes' backend, which refuses once a client is locked out. Every login of the site passes
    the request (form, API, admin); a call without one (test client, shell) has no client to
    count, so it is left to the next backend instead of failing."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def _user_query(pk: int) -> Any:
    from .models import User

    return concrete_values(User.objects.filter(pk=pk))


# The signed-in user, read on every request (django.contrib.auth.get_user → get_user below, and
# the API's personal tokens): compiled once per process (core.compiled_reads; issue 17), ~1 ms of
# ORM a request less.
USER_BY_PK = CompiledRead(_user_query)


def user_by_pk(pk: int) -> Any:
    """The user with this id, built as `User.objects.get(pk=pk)` builds it, or None."""
    return USER_BY_PK.instance(pk)


class EmailBackend(ModelBackend):
    """ModelBackend for e-mail logins: the address is matched case-insensitively (the form and the
    API lower-case it; axes' backend, listed first, refuses before this one once locked out)."""

    def get_user(self, user_id: Any) -> Any:
        """ModelBackend's, with the row read by a query compiled once: the same user (every
        concrete field, built as the ORM builds it) or None, for a missing, malformed or inactive
        id."""
        from .models import User

        try:
            pk = User._meta.pk.to_python(user_id)
        except ValidationError:
            return None
        if pk is None or not -(2**63) <= pk < 2**63:  # as the ORM: no such row, not a DB error
            return None
        user = user_by_pk(pk)
        return user if user is not None and self.user_can_authenticate(user) else None

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        email = (username or kwargs.pop("email", None) or "").strip().lower()
        return super().authenticate(request, username=email, password=password, **kwargs)
