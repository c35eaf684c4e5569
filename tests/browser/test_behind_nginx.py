"""Smoke tests of production as it runs: nginx (deploy/nginx.conf) terminating TLS in front of
gunicorn with config.settings.production. `.ci/prod_smoke.sh` starts both and runs this file with
PLURIEL_PROD_URL; elsewhere it is skipped."""

from __future__ import annotations

import os
import urllib.request
import uuid

import pytest

from .conftest import assert_no_csp_violation, watch_csp

pytestmark = pytest.mark.browser

BASE = os.environ.get("PLURIEL_PROD_URL", "")
HTTP_BASE = os.environ.get("PLURIEL_PROD_HTTP_URL", "")
PASSWORD = "secret-pass-123"


@pytest.fixture
def prod_context(browser):
    if not BASE:
        pytest.skip("needs nginx + gunicorn in production settings: run by .ci/prod_smoke.sh")
    context = browser.new_context(base_url=BASE, locale="fr-FR", ignore_https_errors=True)
    context.set_default_timeout(15_000)
    violations = watch_csp(context)
    yield context
    context.close()
    assert_no_csp_violation(violations)


def login(page, email: str, password: str = PASSWORD):
    page.goto("/connexion/")
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe").fill(password)
    with page.expect_response(lambda r: r.url.endswith("/connexion/")) as posted:
        page.get_by_role("button", name="Se connecter").click()
    page.wait_for_load_state()
    return posted.value


def test_plain_http_is_sent_to_https(prod_context):
    if not HTTP_BASE:
        pytest.skip("PLURIEL_PROD_HTTP_URL not set")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as answer:
        opener.open(f"{HTTP_BASE}/connexion/", timeout=10)
    assert answer.value.code == 301
    assert answer.value.headers["Location"].startswith("https://")


def test_an_instructor_logs_in_over_tls_with_secure_cookies_and_hsts(prod_context):
    page = prod_context.new_page()
    first = page.goto("/connexion/")
    assert first.status == 200
    assert "max-age=31536000" in first.headers["strict-transport-security"]
    assert "script-src 'self'" in first.headers["content-security-policy"]
    assert "camera=()" in first.headers["permissions-policy"]
    # Static files come from collectstatic (WhiteNoise, hashed names) through nginx.
    stylesheets = page.locator("link[rel=stylesheet]")
    href = stylesheets.first.get_attribute("href")
    assert page.request.get(href).status == 200
    login(page, "instructeur@ville.example.org")
    assert page.get_by_role("button", name="Se déconnecter").is_visible()
    cookies = {c["name"]: c for c in prod_context.cookies()}
    assert cookies["sessionid"]["secure"] and cookies["sessionid"]["httpOnly"]
    assert cookies["csrftoken"]["secure"]


def test_a_finance_officer_is_sent_to_two_factor_enrolment(prod_context):
    page = prod_context.new_page()
    login(page, "finances@ville.example.org")
    assert "/compte/securite/totp/" in page.url
    page.goto("/finances/")
    assert "/compte/securite/totp/" in page.url


def test_a_forged_forwarded_for_does_not_escape_the_lockout(prod_context):
    """nginx replaces the client's X-Forwarded-For: changing it at each try changes nothing."""
    page = prod_context.new_page()
    email = f"{uuid.uuid4().hex[:10]}@example.org"
    statuses = []
    for n in range(6):
        prod_context.set_extra_http_headers({"X-Forwarded-For": f"192.0.2.{n + 1}"})
        statuses.append(login(page, email, "wrong").status)
    prod_context.set_extra_http_headers({})
    assert statuses[:4] == [200] * 4 and statuses[4:] == [429, 429]
