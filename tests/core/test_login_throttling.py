"""Login throttling by django-axes (core/auth.py): per account from one client, per client address,
the client address read from X-Forwarded-For only behind a trusted proxy."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib import admin
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from core.auth import client_ip
from tests import factories as f

pytestmark = pytest.mark.django_db

PASSWORD = "secret-pass-123"


def login(client: Client, email: str, password: str, **extra: str):
    return client.post(reverse("core:login"), {"username": email, "password": password}, **extra)


def random_email() -> str:
    return f"{uuid.uuid4().hex[:12]}@example.org"


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_fifty_failures_for_random_emails_from_one_client_never_lock_out_another(applicant):
    attacker, colleague = Client(), Client()
    codes = [
        login(attacker, random_email(), "guess", REMOTE_ADDR="203.0.113.7").status_code
        for _ in range(50)
    ]
    # The attacker's address is locked out after 20 failures (4 × 5) and stays so.
    assert codes[:19] == [200] * 19
    assert set(codes[19:]) == {429}
    assert login(attacker, applicant.email, PASSWORD, REMOTE_ADDR="203.0.113.7").status_code == 429
    # Another client logs in at once, even into an account the attacker could have named.
    response = login(colleague, applicant.email, PASSWORD, REMOTE_ADDR="198.51.100.23")
    assert response.status_code == 302 and logged_in(colleague)


def test_an_account_is_locked_for_one_client_only(applicant):
    attacker, owner = Client(), Client()
    for _ in range(5):
        login(attacker, applicant.email, "guess", REMOTE_ADDR="203.0.113.7")
    assert login(attacker, applicant.email, PASSWORD, REMOTE_ADDR="203.0.113.7").status_code == 429
    assert not logged_in(attacker)
    response = login(owner, applicant.email, PASSWORD, REMOTE_ADDR="198.51.100.23")
    assert response.status_code == 302 and logged_in(owner)


def test_behind_a_trusted_proxy_each_real_client_is_counted_separately(applicant, settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    attacker, colleague = Client(), Client()
    proxied = {"REMOTE_ADDR": "127.0.0.1"}
    for _ in range(30):
        login(attacker, random_email(), "guess", HTTP_X_FORWARDED_FOR="203.0.113.7", **proxied)
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.7"}
    assert (
        login(
            attacker, applicant.email, PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.7", **proxied
        ).status_code
        == 429
    )
    response = login(
        colleague, applicant.email, PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.23", **proxied
    )
    assert response.status_code == 302 and logged_in(colleague)


def test_an_address_forged_by_the_client_behind_the_proxy_is_not_read(settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1", "10.0.0.0/8"]
    # nginx appends the address it saw to whatever the client sent: the right-most untrusted
    # address is the client's, whatever it wrote to the left.
    request = RequestFactory().get(
        "/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7, 10.1.2.3"
    )
    assert client_ip(request) == "203.0.113.7"


def test_a_spoofed_forwarded_for_from_an_untrusted_address_is_ignored(applicant, settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    attacker = Client()
    for n in range(30):
        login(
            attacker,
            random_email(),
            "guess",
            REMOTE_ADDR="203.0.113.7",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}",
        )
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.7"}
    response = login(
        attacker,
        applicant.email,
        PASSWORD,
        REMOTE_ADDR="203.0.113.7",
        HTTP_X_FORWARDED_FOR="192.0.2.200",
    )
    assert response.status_code == 429


def test_without_trusted_proxies_forwarded_for_is_never_read(settings):
    settings.TRUSTED_PROXIES = []
    request = RequestFactory().get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert client_ip(request) == "127.0.0.1"


def test_failures_older_than_the_cooloff_are_purged(applicant, time_machine):
    for _ in range(3):
        login(Client(), random_email(), "guess", REMOTE_ADDR="203.0.113.7")
    assert AccessAttempt.objects.count() == 3
    time_machine.move_to(timezone.now() + timedelta(minutes=16))
    login(Client(), random_email(), "guess", REMOTE_ADDR="198.51.100.23")
    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == ["198.51.100.23"]


def test_a_success_clears_the_account_failures(applicant):
    client = Client()
    for _ in range(4):
        login(client, applicant.email, "guess", REMOTE_ADDR="203.0.113.7")
    assert login(client, applicant.email, PASSWORD, REMOTE_ADDR="203.0.113.7").status_code == 302
    assert not AccessAttempt.objects.filter(username=applicant.email).exists()


def test_admins_see_lockouts_and_lift_them(applicant):
    admin_user = f.UserFactory(email="admin@ville.example.org", is_staff=True, is_superuser=True)
    for _ in range(5):
        login(Client(), applicant.email, "guess", REMOTE_ADDR="203.0.113.7")
    assert AccessAttempt in admin.site._registry
    staff = Client()
    staff.force_login(admin_user)
    listing = staff.get(reverse("admin:axes_accessattempt_changelist"))
    assert listing.status_code == 200
    assert applicant.email in listing.content.decode()
    attempt = AccessAttempt.objects.get(username=applicant.email)
    lifted = staff.post(
        reverse("admin:axes_accessattempt_delete", args=[attempt.pk]), {"post": "yes"}
    )
    assert lifted.status_code == 302
    response = login(Client(), applicant.email, PASSWORD, REMOTE_ADDR="203.0.113.7")
    assert response.status_code == 302


def test_the_api_token_endpoint_answers_json_when_locked_out(applicant):
    client = Client()
    url = "/api/auth/token/"
    for _ in range(5):
        client.post(
            url,
            {"email": applicant.email, "password": "guess"},
            content_type="application/json",
            REMOTE_ADDR="203.0.113.7",
        )
    response = client.post(
        url,
        {"email": applicant.email, "password": PASSWORD},
        content_type="application/json",
        REMOTE_ADDR="203.0.113.7",
    )
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert not Token.objects.filter(user=applicant).exists()
