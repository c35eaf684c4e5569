"""Two-factor authentication for finance officers, programme managers and admins; personal API
tokens (core/twofactor.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import Token

from core.models import AuditLog, Role
from core.models_security import (
    PersonalApiToken,
    RecoveryCode,
    RecoveryCodeDevice,
    recovery_code_digest,
)
from tests import factories as f

pytestmark = pytest.mark.django_db

PASSWORD = "secret-pass-123"


@pytest.fixture(autouse=True)
def _required(settings):
    settings.TWO_FACTOR_REQUIRED = True


@pytest.fixture
def finance_officer(db):
    user = f.UserFactory(email="finances@ville.example.org")
    f.give_role(user, Role.FINANCE_OFFICER)
    return user


def password_login(email: str) -> Client:
    client = Client()
    response = client.post(reverse("core:login"), {"username": email, "password": PASSWORD})
    assert response.status_code == 302
    return client


def code_of(device: TOTPDevice, ahead: int = 0) -> str:
    """The code the app shows now, or `ahead` steps later (a code is accepted once, and the device
    tolerates one step of drift: the test needs no sleep)."""
    t0 = device.t0 - ahead * device.step
    return f"{totp(device.bin_key, step=device.step, t0=t0, digits=device.digits):06d}"


def enrol(client: Client, user) -> list[str]:
    client.get(reverse("core:two_factor_enrol"))
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    response = client.post(reverse("core:two_factor_enrol"), {"token": code_of(device)})
    assert response.status_code == 200
    return list(response.context["codes"])


def test_every_page_sends_an_unenrolled_finance_officer_to_enrolment(finance_officer):
    client = password_login(finance_officer.email)
    for path in ["/", "/compte/", "/finances/", "/admin/"]:
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith(reverse("core:two_factor_enrol")), path
    api = client.get("/api/applications/")
    assert api.status_code == 403 and api.json()["code"] == "two_factor_required"


def test_enrolment_then_login_with_a_code(finance_officer):
    client = password_login(finance_officer.email)
    codes = enrol(client, finance_officer)
    assert len(codes) == 10
    assert client.get("/compte/").status_code == 200
    assert AuditLog.objects.filter(action="core.user.two_factor_enrolled").count() == 1

    # The next login asks for a code before any page.
    client = password_login(finance_officer.email)
    response = client.get("/compte/")
    assert response["Location"].startswith(reverse("core:two_factor_verify"))
    wrong = client.post(reverse("core:two_factor_verify"), {"token": "000000", "next": "/compte/"})
    assert wrong.status_code == 200 and "Code incorrect" in wrong.content.decode()
    device = TOTPDevice.objects.get(user=finance_officer, confirmed=True)
    device.refresh_from_db()
    device.throttle_reset()
    ok = client.post(
        reverse("core:two_factor_verify"), {"token": code_of(device, ahead=1), "next": "/compte/"}
    )
    assert ok.status_code == 302 and ok["Location"] == "/compte/"
    assert client.get("/compte/").status_code == 200


def test_a_recovery_code_works_once(finance_officer):
    codes = enrol(password_login(finance_officer.email), finance_officer)
    client = password_login(finance_officer.email)
    assert client.post(reverse("core:two_factor_verify"), {"token": codes[0]}).status_code == 302
    assert not RecoveryCode.objects.filter(
        digest=recovery_code_digest(finance_officer.pk, codes[0])
    ).exists()
    again = password_login(finance_officer.email)
    response = again.post(reverse("core:two_factor_verify"), {"token": codes[0]})
    assert response.status_code == 200


def test_a_password_alone_does_not_open_a_second_device_enrolment(finance_officer):
    enrol(password_login(finance_officer.email), finance_officer)
    client = password_login(finance_officer.email)
    response = client.get(reverse("core:two_factor_enrol"))
    assert response["Location"] == reverse("core:two_factor_verify")
    begin = client.post(reverse("otp_webauthn:credential-registration-begin"))
    assert begin.status_code == 302


def test_roles_without_the_requirement_are_not_asked(instructor):
    client = password_login(instructor.email)
    assert client.get("/compte/").status_code == 200


def test_the_roles_are_configurable(instructor, settings):
    settings.TWO_FACTOR_ROLES = ["instructor"]
    client = password_login(instructor.email)
    assert client.get("/compte/")["Location"].startswith(reverse("core:two_factor_enrol"))


def test_admin_needs_the_second_factor(settings):
    admin = f.UserFactory(email="admin@ville.example.org", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    assert client.get("/admin/").status_code == 302
    # Even past the middleware, the admin site itself refuses an unverified session.
    settings.TWO_FACTOR_REQUIRED = True
    from django.contrib import admin as django_admin
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = admin
    request.user.is_verified = lambda: False
    assert django_admin.site.has_permission(request) is False
    request.user.is_verified = lambda: True
    assert django_admin.site.has_permission(request) is True


def test_password_tokens_are_refused_to_two_factor_roles(finance_officer):
    client = Client()
    response = client.post(
        "/api/auth/token/",
        {"email": finance_officer.email, "password": PASSWORD},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert response.json()["code"] == "personal_token_required"
    # A token obtained before the requirement no longer opens the API.
    legacy = Token.objects.create(user=finance_officer)
    refused = client.get("/api/applications/", HTTP_AUTHORIZATION=f"Token {legacy.key}")
    assert refused.status_code in (401, 403)


def test_personal_tokens_are_named_listed_expiring_and_revocable(finance_officer, time_machine):
    client = password_login(finance_officer.email)
    enrol(client, finance_officer)
    created = client.post(reverse("core:api_token_create"), {"name": "Tableur", "days": 30})
    assert created.status_code == 200
    key = created.context["key"]
    token = PersonalApiToken.objects.get(user=finance_officer)
    assert token.name == "Tableur" and key not in (token.digest, token.hint)
    page = client.get(reverse("core:security")).content.decode()
    assert "Tableur" in page and token.hint in page

    api = Client()
    assert api.get("/api/applications/", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None

    time_machine.move_to(timezone.now() + timedelta(days=31))
    expired = api.get("/api/applications/", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert expired.status_code == 401  # bad credentials: 401 with WWW-Authenticate (issue 11)
    assert expired.json()["detail"] == "Jeton inconnu, expiré ou révoqué."
    time_machine.move_to(timezone.now() - timedelta(days=31))

    client = password_login(finance_officer.email)
    device = TOTPDevice.objects.get(user=finance_officer, confirmed=True)
    client.post(reverse("core:two_factor_verify"), {"token": code_of(device, ahead=1)})
    assert client.post(reverse("core:api_token_revoke", args=[token.pk])).status_code == 302
    revoked = api.get("/api/applications/", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert revoked.status_code == 401
    assert revoked.json()["detail"] == "Jeton inconnu, expiré ou révoqué."
    assert AuditLog.objects.filter(action="core.user.api_token_revoked").count() == 1


def test_someone_elses_token_cannot_be_revoked(finance_officer, instructor):
    client = password_login(instructor.email)
    from core.twofactor import api_token_create

    token, _key = api_token_create(actor=finance_officer, name="Script", days=30)
    response = client.post(reverse("core:api_token_revoke", args=[token.pk]))
    assert response.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_token_names_and_durations_are_checked(finance_officer):
    from core.errors import DomainError
    from core.twofactor import api_token_create

    with pytest.raises(DomainError):
        api_token_create(actor=finance_officer, name="", days=30)
    with pytest.raises(DomainError):
        api_token_create(actor=finance_officer, name="x", days=5000)


def test_admins_list_and_revoke_personal_tokens(finance_officer, settings):
    from core.twofactor import api_token_create

    settings.TWO_FACTOR_REQUIRED = False
    admin = f.UserFactory(email="admin@ville.example.org", is_staff=True, is_superuser=True)
    token, _key = api_token_create(actor=finance_officer, name="Export nocturne", days=30)
    client = Client()
    client.force_login(admin)
    listing = client.get(reverse("admin:core_personalapitoken_changelist"))
    assert listing.status_code == 200 and "Export nocturne" in listing.content.decode()
    client.post(
        reverse("admin:core_personalapitoken_changelist"),
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_each_recovery_code_use_is_audited_and_refused_the_second_time(finance_officer):
    from core.twofactor import recovery_codes_left, two_factor_verify

    codes = enrol(password_login(finance_officer.email), finance_officer)
    assert recovery_codes_left(finance_officer) == 10
    device = two_factor_verify(actor=finance_officer, token=f" {codes[3]} ")
    assert device is not None and device.name == "recovery"
    assert recovery_codes_left(finance_officer) == 9
    used = AuditLog.objects.get(action="core.user.recovery_code_used")
    assert used.payload == {"method": "recovery", "ip": None, "left": 9}
    assert used.actor == finance_officer
    assert two_factor_verify(actor=finance_officer, token=codes[3]) is None
    assert AuditLog.objects.filter(action="core.user.recovery_code_used").count() == 1
    refused = AuditLog.objects.get(action="core.user.two_factor_failed")
    assert refused.payload == {"method": "code", "ip": None}


def test_a_lost_phone_the_recovery_code_opens_the_session_and_the_history_says_so(
    finance_officer,
):
    codes = enrol(password_login(finance_officer.email), finance_officer)
    client = password_login(finance_officer.email)
    response = client.post(
        reverse("core:two_factor_verify"), {"token": codes[0], "next": "/finances/"}
    )
    assert response.status_code == 302 and response["Location"] == "/finances/"
    assert client.get("/finances/").status_code == 200
    page = client.get(reverse("core:security")).content.decode()
    assert "9 codes de secours inutilisés." in page
    assert AuditLog.objects.filter(
        action="core.user.recovery_code_used", object_id=str(finance_officer.pk)
    ).exists()


def test_regenerating_recovery_codes_voids_the_old_ones(finance_officer):
    old = enrol(password_login(finance_officer.email), finance_officer)
    client = password_login(finance_officer.email)
    client.post(reverse("core:two_factor_verify"), {"token": old[0]})
    response = client.post(reverse("core:two_factor_recovery_codes"))
    new = list(response.context["codes"])
    assert len(new) == 10 and not set(new) & set(old)
    assert not RecoveryCode.objects.filter(
        digest__in=[recovery_code_digest(finance_officer.pk, c) for c in old]
    ).exists()
    again = password_login(finance_officer.email)
    refused = again.post(reverse("core:two_factor_verify"), {"token": old[1]})
    assert refused.status_code == 200
    assert "Code incorrect ou déjà utilisé." in refused.content.decode()
    # A failure throttles the device for a second (django-otp); the test does not wait.
    RecoveryCodeDevice.objects.get(user=finance_officer).throttle_reset()
    accepted = again.post(reverse("core:two_factor_verify"), {"token": new[0]})
    assert accepted.status_code == 302


def test_regenerating_needs_a_verified_session(finance_officer):
    old = enrol(password_login(finance_officer.email), finance_officer)
    client = password_login(finance_officer.email)
    response = client.post(reverse("core:two_factor_recovery_codes"))
    assert response.status_code == 302
    digests = [recovery_code_digest(finance_officer.pk, c) for c in old]
    assert RecoveryCode.objects.filter(digest__in=digests).count() == 10


def test_a_passkey_only_account_gets_recovery_codes_once_verified(finance_officer):
    """A passkey enrolled on the enrolment page marks the session verified (django-otp-webauthn);
    the page, reloaded, then shows the recovery codes once."""
    client = password_login(finance_officer.email)
    credential = passkey_of(finance_officer)
    session = client.session
    session["otp_device_id"] = credential.persistent_id
    session.save()
    shown = client.get(reverse("core:two_factor_enrol"))
    assert shown.status_code == 200 and len(shown.context["codes"]) == 10
    assert AuditLog.objects.filter(action="core.user.recovery_codes_generated").count() == 1
    again = client.get(reverse("core:two_factor_enrol"))
    assert "codes" not in again.context


def passkey_of(user):
    """A confirmed passkey of `user` (django-otp-webauthn), as enrolment leaves it."""
    from django_otp_webauthn.models import WebAuthnCredential

    return WebAuthnCredential.objects.create(
        user=user,
        name="Clé",
        confirmed=True,
        public_key=b"k",
        credential_id=b"c",
        sign_count=0,
        transports=[],
        discoverable=True,
        backup_eligible=False,
        backup_state=False,
        aaguid="00000000-0000-0000-0000-000000000000",
    )
