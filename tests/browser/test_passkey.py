"""A finance officer enrols a passkey (django-otp-webauthn) with Chromium's virtual authenticator
(Chrome DevTools Protocol, WebAuthn domain), keeps the recovery codes shown once, logs out, then
logs in with the password and the passkey as second factor and reaches the finance pages.

WebAuthn needs a secure context and a relying party that matches the host: the live server is
`http://localhost:<port>` (localhost is a secure context), and the test points `SITE_URL` (from
which core.twofactor.webauthn_rp_id takes the RP ID) and `OTP_WEBAUTHN_ALLOWED_ORIGINS` at it.
The strict CSP holds: the page fixture fails the test on any violation."""

import re
from urllib.parse import urlsplit

import pytest
from django_otp_webauthn.models import WebAuthnCredential
from playwright.sync_api import expect

from core.models import AuditLog, Role

from .. import factories as f
from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def add_virtual_authenticator(page) -> tuple[object, str]:
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )
    return cdp, added["authenticatorId"]


def test_a_finance_officer_enrols_a_passkey_and_logs_in_with_it(page, live_server, settings):
    settings.TWO_FACTOR_REQUIRED = True
    assert urlsplit(live_server.url).hostname == "localhost"
    settings.SITE_URL = live_server.url
    settings.WEBAUTHN_RP_ID = ""
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = [live_server.url]
    user = f.UserFactory(email="finances@ville.example.org")
    f.give_role(user, Role.FINANCE_OFFICER)

    page.goto("/")
    cdp, authenticator = add_virtual_authenticator(page)

    login(page, user.email)
    page.wait_for_url("**/compte/securite/totp/**")
    page.get_by_role("button", name="Enregistrer une clé d'accès").click()
    expect(page.locator("#passkey-register-status-message")).to_have_text(re.compile(r"\S"))
    credential = WebAuthnCredential.objects.get(user=user)
    assert credential.confirmed
    assert cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
    enrolled = AuditLog.objects.get(action="core.user.two_factor_enrolled")
    assert enrolled.payload["kind"] == "passkey"

    # As the page says: reloaded, it shows the recovery codes, once.
    page.reload()
    assert page.get_by_role("heading", name="Codes de secours").is_visible()
    assert page.get_by_test_id("recovery-codes").locator("li").count() == 10
    page.get_by_role("link", name="Continuer").click()
    page.goto("/compte/securite/")
    assert (
        "10 codes de secours inutilisés." in page.get_by_test_id("recovery-codes-left").inner_text()
    )

    page.get_by_role("button", name="Se déconnecter").click()
    login(page, user.email)
    page.wait_for_url("**/compte/securite/verifier/**")
    page.goto("/compte/securite/verifier/?next=/finances/")
    page.get_by_role("button", name="Utiliser une clé d'accès").click()
    # The script sends the browser on to `next` once the server accepted the passkey.
    page.wait_for_url(lambda url: urlsplit(url).path == "/finances/")
    page.wait_for_load_state()
    expect(page.get_by_role("heading", name="Finances", exact=True)).to_be_visible()
    # The session is verified: another page that needs the second factor opens too.
    page.goto("/compte/securite/")
    expect(page.get_by_role("heading", name="Sécurité du compte")).to_be_visible()
    # The passkey login is in the account's history, with its method and client address.
    passed = AuditLog.objects.get(action="core.user.two_factor_passed")
    assert passed.actor == user and passed.payload["method"] == "passkey"
    assert passed.payload["device"] == credential.pk and passed.payload["ip"]
