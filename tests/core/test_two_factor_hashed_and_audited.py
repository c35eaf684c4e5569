"""Recovery codes stored as digests only, and every second-factor attempt audited (who, method,
client address, when), passed or refused: app codes, recovery codes, passkeys (issue 11)."""

from __future__ import annotations

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client, RequestFactory
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.models import AuditLog, Role
from core.models_security import RecoveryCode, RecoveryCodeDevice, recovery_code_digest
from core.twofactor import recovery_codes_generate, recovery_codes_left, two_factor_verify
from core.views_security import PasskeyAuthenticationCompleteView
from tests import factories as f

from .test_two_factor import code_of, enrol, passkey_of, password_login

pytestmark = pytest.mark.django_db

CLIENT = "203.0.113.9"


@pytest.fixture(autouse=True)
def _required(settings):
    settings.TWO_FACTOR_REQUIRED = True


@pytest.fixture
def officer(db):
    user = f.UserFactory(email="finances@ville.example.org")
    f.give_role(user, Role.FINANCE_OFFICER)
    return user


# --------------------------------------------------------------------------- hashed at rest


def test_recovery_codes_are_stored_as_digests_only(officer):
    codes = recovery_codes_generate(actor=officer)
    assert len(set(codes)) == 10 and all(len(c) == 8 for c in codes)
    stored = list(
        RecoveryCode.objects.filter(device__user=officer).values_list("digest", flat=True)
    )
    assert len(stored) == 10
    assert all(len(d) == 64 and not any(c in d for c in codes) for d in stored)
    assert sorted(stored) == sorted(recovery_code_digest(officer.pk, c) for c in codes)
    # Nothing left in django-otp's clear-text table.
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM otp_static_statictoken")
        assert cursor.fetchone()[0] == 0


def test_a_digest_is_bound_to_its_owner(officer):
    """A digest copied onto another account's device opens nothing."""
    other = f.UserFactory(email="autre@ville.example.org")
    codes = recovery_codes_generate(actor=officer)
    recovery_codes_generate(actor=other)
    RecoveryCode.objects.create(
        device=RecoveryCodeDevice.objects.get(user=other),
        digest=recovery_code_digest(officer.pk, codes[0]),
    )
    assert two_factor_verify(actor=other, token=codes[0]) is None
    assert two_factor_verify(actor=officer, token=codes[0]) is not None


def test_codes_survive_a_secret_key_rotation_through_the_fallbacks(officer, settings):
    codes = recovery_codes_generate(actor=officer)
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY = "rotated-" + old_key
    settings.SECRET_KEY_FALLBACKS = []
    assert two_factor_verify(actor=officer, token=codes[0]) is None
    RecoveryCodeDevice.objects.get(user=officer).throttle_reset()
    settings.SECRET_KEY_FALLBACKS = [old_key]
    assert two_factor_verify(actor=officer, token=codes[0]) is not None
    assert recovery_codes_left(officer) == 9


def test_a_code_is_accepted_whatever_its_case_and_spaces_but_once(officer):
    codes = recovery_codes_generate(actor=officer)
    typed = f"{codes[2][:4].upper()} {codes[2][4:]}"
    assert two_factor_verify(actor=officer, token=typed) is not None
    RecoveryCodeDevice.objects.get(user=officer).throttle_reset()
    assert two_factor_verify(actor=officer, token=codes[2]) is None
    assert recovery_codes_left(officer) == 9


def test_regenerating_keeps_one_device(officer):
    recovery_codes_generate(actor=officer)
    recovery_codes_generate(actor=officer)
    assert RecoveryCodeDevice.objects.filter(user=officer).count() == 1
    assert recovery_codes_left(officer) == 10


def test_the_security_page_lists_devices_but_not_the_recovery_codes_as_one(officer):
    client = password_login(officer.email)
    enrol(client, officer)
    page = client.get(reverse("core:security"))
    assert [d.__class__ for d in page.context["devices"]] == [TOTPDevice]
    assert "10 codes de secours inutilisés." in page.content.decode()


@pytest.mark.django_db(transaction=True)
def test_the_migration_hashes_the_clear_codes_and_they_still_work(officer):
    """Codes django-otp kept in clear before the move still open the session, once, and only
    their digests remain."""
    from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

    executor = MigrationExecutor(connection)
    executor.migrate([("core", "0015_recovery_code_device")])
    static = StaticDevice.objects.create(user=officer, name="recovery", confirmed=True)
    StaticToken.objects.bulk_create(
        [StaticToken(device=static, token=t) for t in ("abcdefgh", "ijklmnop", "qrstuvwx")]
    )
    executor = MigrationExecutor(connection)
    executor.migrate([("core", "0016_hash_existing_recovery_codes")])

    assert not StaticToken.objects.exists() and not StaticDevice.objects.exists()
    device = RecoveryCodeDevice.objects.get(user=officer)
    assert sorted(device.codes.values_list("digest", flat=True)) == sorted(
        recovery_code_digest(officer.pk, t) for t in ("abcdefgh", "ijklmnop", "qrstuvwx")
    )
    assert two_factor_verify(actor=officer, token="ijklmnop") == device
    device.refresh_from_db()
    device.throttle_reset()
    assert two_factor_verify(actor=officer, token="ijklmnop") is None
    assert recovery_codes_left(officer) == 2


# --------------------------------------------------------------------------- every login audited


def test_an_app_code_login_and_a_wrong_code_are_audited_with_the_client_address(officer):
    enrol(password_login(officer.email), officer)
    AuditLog.objects.all().delete()
    client = Client(REMOTE_ADDR=CLIENT)
    client.post(reverse("core:login"), {"username": officer.email, "password": "secret-pass-123"})
    client.post(reverse("core:two_factor_verify"), {"token": "000000"})
    device = TOTPDevice.objects.get(user=officer, confirmed=True)
    device.refresh_from_db()
    device.throttle_reset()
    RecoveryCodeDevice.objects.get(user=officer).throttle_reset()
    ok = client.post(reverse("core:two_factor_verify"), {"token": code_of(device, ahead=1)})
    assert ok.status_code == 302

    failed = AuditLog.objects.get(action="core.user.two_factor_failed")
    assert failed.actor == officer and failed.object_id == str(officer.pk)
    assert failed.payload == {"method": "code", "ip": CLIENT}
    passed = AuditLog.objects.get(action="core.user.two_factor_passed")
    assert passed.actor == officer and passed.created_at >= failed.created_at
    assert passed.payload == {"method": "totp", "device": device.pk, "ip": CLIENT}


def test_a_recovery_code_login_is_audited_with_the_client_address(officer):
    codes = enrol(password_login(officer.email), officer)
    client = Client(REMOTE_ADDR=CLIENT)
    client.post(reverse("core:login"), {"username": officer.email, "password": "secret-pass-123"})
    client.post(reverse("core:two_factor_verify"), {"token": codes[5]})
    used = AuditLog.objects.get(action="core.user.recovery_code_used")
    assert used.payload == {"method": "recovery", "ip": CLIENT, "left": 9}
    assert not AuditLog.objects.filter(action="core.user.two_factor_passed").exists()


def test_a_passkey_login_is_audited(officer):
    credential = passkey_of(officer)
    request = RequestFactory().post("/", REMOTE_ADDR=CLIENT)
    request.user = officer
    request.session = SessionStore()
    view = PasskeyAuthenticationCompleteView()
    view.setup(request)
    view.complete_auth(credential)
    assert request.session["otp_device_id"] == credential.persistent_id
    passed = AuditLog.objects.get(action="core.user.two_factor_passed")
    assert passed.actor == officer
    assert passed.payload == {"method": "passkey", "device": credential.pk, "ip": CLIENT}


def test_a_refused_passkey_is_audited(officer):
    passkey_of(officer)
    client = Client(REMOTE_ADDR=CLIENT)
    client.post(reverse("core:login"), {"username": officer.email, "password": "secret-pass-123"})
    # No ceremony started (or a replayed answer): the server refuses, and says so in the history.
    response = client.post(
        reverse("otp_webauthn:credential-authentication-complete"),
        data="{}",
        content_type="application/json",
    )
    assert response.status_code == 400
    failed = AuditLog.objects.get(action="core.user.two_factor_failed")
    assert failed.actor == officer
    assert failed.payload["method"] == "passkey" and failed.payload["ip"] == CLIENT
    assert failed.payload["code"]
