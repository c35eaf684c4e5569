import pytest

from .. import factories as f
from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_login_shows_the_dashboard_and_wrong_password_is_explained(page):
    f.UserFactory(email="porteur@asso.example.org")
    page.goto("/connexion/")
    page.get_by_label("Adresse e-mail").fill("porteur@asso.example.org")
    page.get_by_label("Mot de passe").fill("wrong-password")
    page.get_by_role("button", name="Se connecter").click()
    assert page.get_by_text("Adresse e-mail ou mot de passe incorrect.").is_visible()
    login(page, "porteur@asso.example.org")
    assert page.get_by_role("button", name="Se déconnecter").is_visible()
