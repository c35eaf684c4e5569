"""Single sign-on through a real OpenID provider (node's oidc-provider, `.ci/oidc/server.mjs`,
started on loopback by .ci/run): an instructor logs in with it and out of both."""

from __future__ import annotations

import os
import urllib.request

import pytest

from core.models import Role, RoleAssignment, User

from .. import factories as f

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ISSUER = os.environ.get("OIDC_TEST_ISSUER", "http://127.0.0.1:9090")


def provider_running() -> bool:
    try:
        with urllib.request.urlopen(f"{ISSUER}/.well-known/openid-configuration", timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture
def sso(settings):
    if not provider_running():
        reason = (
            f"no OpenID provider at {ISSUER}: start it with `npm ci --prefix .ci/oidc && "
            "node .ci/oidc/server.mjs` (.ci/run does)"
        )
        if os.environ.get("PLURIEL_REQUIRE_OIDC"):
            pytest.fail(reason)
        pytest.skip(reason)
    settings.OIDC_RP_CLIENT_ID = "pluriel-ci"
    settings.OIDC_RP_CLIENT_SECRET = "pluriel-ci-secret-not-for-production"
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = f"{ISSUER}/api/v2/authorize"
    settings.OIDC_OP_TOKEN_ENDPOINT = f"{ISSUER}/api/v2/token"
    settings.OIDC_OP_USER_ENDPOINT = f"{ISSUER}/api/v2/userinfo"
    settings.OIDC_OP_JWKS_ENDPOINT = f"{ISSUER}/api/v2/jwks"
    settings.OIDC_OP_LOGOUT_ENDPOINT = f"{ISSUER}/api/v2/session/end"


def provider_login(page, email: str) -> None:
    page.goto("/connexion/")
    page.get_by_role("link", name="Se connecter avec ProConnect").click()
    page.wait_for_url(f"{ISSUER}/**")
    page.locator("input[name=login]").fill(email)
    page.locator("input[name=password]").fill("anything")
    page.locator("button[type=submit]").click()
    # First visit: the provider asks to share the claims with Pluriel.
    page.locator("button[type=submit]").click()
    page.wait_for_url(lambda url: not url.startswith(ISSUER))
    page.wait_for_load_state()


def test_an_instructor_logs_in_through_the_provider_and_out_of_both(sso, page):
    instructor = f.UserFactory(email="instructeur@ville.example.org")
    f.give_role(instructor, Role.INSTRUCTOR)

    provider_login(page, "Instructeur@ville.example.org")
    assert page.get_by_role("button", name="Se déconnecter").is_visible()
    assert User.objects.filter(email__iexact="instructeur@ville.example.org").count() == 1
    page.goto("/compte/")
    assert page.get_by_text("instructeur@ville.example.org").is_visible()

    page.get_by_role("button", name="Se déconnecter").click()
    page.wait_for_url(f"{ISSUER}/**")
    page.locator("button[autofocus], button[type=submit]").first.click()
    page.wait_for_url(lambda url: not url.startswith(ISSUER))
    page.goto("/compte/")
    assert "/connexion/" in page.url
    # The provider's session ended too: the next SSO asks for the login again.
    page.goto("/connexion/")
    page.get_by_role("link", name="Se connecter avec ProConnect").click()
    page.wait_for_url(f"{ISSUER}/**")
    assert page.locator("input[name=login]").is_visible()


def test_a_new_agent_gets_an_account_with_no_role(sso, page):
    provider_login(page, "camille.durand@prefecture.example.org")
    user = User.objects.get(email="camille.durand@prefecture.example.org")
    assert (user.first_name, user.last_name) == ("Camille", "DURAND")
    assert not RoleAssignment.objects.filter(user=user).exists()
    assert not user.has_usable_password()
