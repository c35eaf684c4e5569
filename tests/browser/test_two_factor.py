"""A finance officer enrols an authenticator app (the code computed as the app would, with
django_otp.oath) and logs in with it; every page waits for the second factor."""

import base64

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.models import Role

from .. import factories as f
from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def code_of(device: TOTPDevice, ahead: int = 0) -> str:
    t0 = device.t0 - ahead * device.step
    return f"{totp(device.bin_key, step=device.step, t0=t0, digits=device.digits):06d}"


def test_a_finance_officer_enrols_totp_and_logs_in_with_it(page, settings):
    settings.TWO_FACTOR_REQUIRED = True
    user = f.UserFactory(email="finances@ville.example.org")
    f.give_role(user, Role.FINANCE_OFFICER)

    login(page, user.email)
    page.wait_for_url("**/compte/securite/totp/**")
    assert page.get_by_role("heading", name="Activer la double authentification").is_visible()
    secret = page.get_by_test_id("totp-secret").inner_text()
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    assert secret.replace(" ", "") == base64.b32encode(device.bin_key).decode()
    page.get_by_label("Code").fill(code_of(device))
    page.get_by_role("button", name="Activer").click()
    codes = page.get_by_test_id("recovery-codes").locator("li")
    assert codes.count() == 10
    page.get_by_role("link", name="Continuer").click()
    page.goto("/compte/")
    assert page.get_by_role("heading", name="Mon compte").is_visible()

    page.get_by_role("button", name="Se déconnecter").click()
    login(page, user.email)
    page.wait_for_url("**/compte/securite/verifier/**")
    page.goto("/finances/")
    assert "/compte/securite/verifier/" in page.url
    page.get_by_label("Code").fill(code_of(device, ahead=1))
    page.get_by_role("button", name="Valider").click()
    page.wait_for_load_state()
    assert "/finances/" in page.url
    assert page.get_by_role("button", name="Se déconnecter").is_visible()
