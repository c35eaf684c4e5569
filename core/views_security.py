"""Account security pages: two-factor enrolment and verification, recovery codes, personal API
tokens. The rules live in core.twofactor."""

from __future__ import annotations

import json
from typing import Any, cast

import segno
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from django_otp import devices_for_user
from django_otp import login as otp_login
from django_otp_webauthn.exceptions import OTPWebAuthnApiError
from django_otp_webauthn.utils import get_credential_model
from django_otp_webauthn.views import (
    CompleteCredentialAuthenticationView,
    CompleteCredentialRegistrationView,
)

from . import twofactor
from .auth import client_ip
from .errors import DomainError
from .forms import add_domain_error
from .models import User
from .models_security import PersonalApiToken, RecoveryCodeDevice


class CodeForm(forms.Form):
    token = forms.CharField(
        label=gettext_lazy("Code"),
        max_length=16,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


class ApiTokenForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Nom du jeton"), max_length=100)
    days = forms.TypedChoiceField(
        label=gettext_lazy("Validité"),
        coerce=int,
        choices=[
            (30, gettext_lazy("30 jours")),
            (90, gettext_lazy("90 jours")),
            (365, gettext_lazy("1 an")),
        ],
        initial=90,
    )


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return "/"


@login_required
def security(request: HttpRequest) -> HttpResponse:
    user = cast(User, request.user)
    # The recovery codes have their own line on the page, not a line among the devices.
    devices = [
        d for d in devices_for_user(user, confirmed=True) if not isinstance(d, RecoveryCodeDevice)
    ]
    return render(
        request,
        "core/security.html",
        {
            "devices": devices,
            "required": twofactor.requires_two_factor(user),
            "verified": twofactor.is_verified(request),
            "recovery_codes_left": twofactor.recovery_codes_left(user),
            "tokens": PersonalApiToken.objects.filter(user=user),
            "token_form": ApiTokenForm(),
        },
    )


@login_required
def two_factor_enrol(request: HttpRequest) -> HttpResponse:
    """Add an authenticator app (TOTP): scan, type one code, keep the recovery codes."""
    user = cast(User, request.user)
    if twofactor.has_confirmed_device(user):
        if not twofactor.is_verified(request):
            return redirect("core:two_factor_verify")
        if twofactor.recovery_codes_left(user) == 0:
            # A passkey enrolled on this page (the page is reloaded after it): its recovery codes,
            # shown once, as after an authenticator app.
            codes = twofactor.recovery_codes_generate(actor=user)
            return render(
                request,
                "core/two_factor_codes.html",
                {"codes": codes, "next": _next_url(request)},
            )
    device = twofactor.totp_device_start(actor=user)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = twofactor.totp_device_confirm(
                actor=user, device=device, token=form.cleaned_data["token"]
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            otp_login(request, device)
            return render(
                request,
                "core/two_factor_codes.html",
                {"codes": codes, "next": _next_url(request)},
            )
    qr = segno.make(device.config_url, error="m")
    return render(
        request,
        "core/two_factor_enrol.html",
        {
            "form": form,
            "qr_svg": mark_safe(qr.svg_inline(scale=4, dark="#000", light="#fff")),  # noqa: S308
            "secret": _secret_b32(device),
            "next": _next_url(request),
            "required": twofactor.requires_two_factor(user),
        },
    )


def _secret_b32(device: Any) -> str:
    from base64 import b32encode

    secret = b32encode(device.bin_key).decode()
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@login_required
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    """Second step of a login: a code of the app, a recovery code, or a passkey."""
    user = cast(User, request.user)
    if not twofactor.has_confirmed_device(user):
        return redirect("core:two_factor_enrol")
    if twofactor.is_verified(request):
        return redirect(_next_url(request))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = twofactor.two_factor_verify(
            actor=user, token=form.cleaned_data["token"], ip=client_ip(request)
        )
        if device is None:
            form.add_error("token", _("Code incorrect ou déjà utilisé."))
        else:
            otp_login(request, device)
            return redirect(_next_url(request))
    return render(
        request, "core/two_factor_verify.html", {"form": form, "next": _next_url(request)}
    )


@login_required
@require_POST
def two_factor_recovery_codes(request: HttpRequest) -> HttpResponse:
    if not twofactor.is_verified(request):
        return redirect("core:two_factor_verify")
    codes = twofactor.recovery_codes_generate(actor=cast(User, request.user))
    return render(
        request, "core/two_factor_codes.html", {"codes": codes, "next": "/compte/securite/"}
    )


@login_required
@require_POST
def api_token_create(request: HttpRequest) -> HttpResponse:
    form = ApiTokenForm(request.POST)
    if form.is_valid():
        try:
            token, key = twofactor.api_token_create(
                actor=cast(User, request.user),
                name=form.cleaned_data["name"],
                days=form.cleaned_data["days"],
            )
        except DomainError as exc:
            messages.error(request, str(exc.message))
        else:
            return render(request, "core/api_token_created.html", {"token": token, "key": key})
    else:
        messages.error(request, _("Le jeton n'a pas été créé : vérifiez son nom et sa durée."))
    return redirect("core:security")


@login_required
@require_POST
def api_token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(PersonalApiToken, pk=pk, user=cast(User, request.user))
    twofactor.api_token_revoke(actor=cast(User, request.user), token=token)
    messages.success(request, _("Le jeton « %(name)s » est révoqué.") % {"name": token.name})
    return redirect("core:security")


class PasskeyRegistrationCompleteView(CompleteCredentialRegistrationView):  # type: ignore[misc]
    """django-otp-webauthn's registration, plus the audit row of the new passkey."""

    def post(self, *args: Any, **kwargs: Any) -> HttpResponse:
        response: HttpResponse = super().post(*args, **kwargs)
        if response.status_code == 200:
            credentials = get_credential_model()._default_manager
            device = credentials.get(pk=json.loads(response.content)["id"])
            twofactor.passkey_registered(actor=cast(User, self.request.user), device=device)
        return response


class PasskeyAuthenticationCompleteView(CompleteCredentialAuthenticationView):  # type: ignore[misc]
    """django-otp-webauthn's second step with a passkey, plus its audit row, passed or refused."""

    def complete_auth(self, device: Any) -> Any:
        result = super().complete_auth(device)
        twofactor.two_factor_passed(actor=device.user, device=device, ip=client_ip(self.request))
        return result

    def handle_exception(self, exc: Exception) -> HttpResponse:
        user = getattr(self.request, "user", None)
        if isinstance(exc, OTPWebAuthnApiError) and getattr(user, "is_authenticated", False):
            twofactor.two_factor_failed(
                actor=cast(User, user),
                method="passkey",
                ip=client_ip(self.request),
                code=str(exc.code),
            )
        response: HttpResponse = super().handle_exception(exc)
        return response
