"""Association signup by SIRET, email confirmation, login throttling."""

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from core import services
from core.errors import DomainError
from core.models import AuditLog, Membership, Organisation, User
from tests import factories as f

PASSWORD = "Quartier-Nord-2026!"
LA_POSTE_SIRET = "35600000000048"


def _signup_post(client, **overrides):
    data = {
        "first_name": "Samia",
        "last_name": "Benali",
        "email": "Samia@Asso-Nord.example.org",
        "password": PASSWORD,
        "password_confirm": PASSWORD,
        "name": "Les Ateliers du Nord",
        "siret": "443 061 841 00047",
        "rna": "W133000001",
        "legal_form": "association",
        "postcode": "13015",
        "city": "Marseille",
    }
    data.update(overrides)
    return client.post(reverse("core:signup"), data)


def _link_from_last_email() -> str:
    return re.search(r"https?://\S+", mail.outbox[-1].body).group(0)


# --------------------------------------------------------------------------- service


@pytest.mark.django_db(transaction=True)
def test_signup_creates_inactive_user_and_organisation_with_admin_and_sends_link():
    user = services.user_signup(
        email="Samia@Asso.example.org",
        password=PASSWORD,
        first_name="Samia",
        last_name="Benali",
        organisation_data={"name": "Asso", "siret": LA_POSTE_SIRET},
    )
    assert user.email == "samia@asso.example.org"
    assert not user.is_active and user.email_verified_at is None
    org = Organisation.objects.get(siret=LA_POSTE_SIRET)
    assert Membership.objects.get(user=user, organisation=org).is_admin
    assert set(AuditLog.objects.values_list("action", flat=True)) >= {
        "core.user.signed_up",
        "core.organisation.created",
        "core.organisation.member_added",
    }
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["samia@asso.example.org"]
    assert "/inscription/confirmer/" in mail.outbox[0].body


def test_signup_refuses_existing_siret_without_attaching_the_person(db):
    organisation = f.OrganisationFactory(siret="73282932000074")
    with pytest.raises(DomainError) as exc:
        services.user_signup(
            email="intrus@example.org",
            password=PASSWORD,
            first_name="A",
            last_name="B",
            organisation_data={"name": "Copie", "siret": organisation.siret},
        )
    assert "invit" in str(exc.value.errors["siret"][0])
    assert not User.objects.filter(email="intrus@example.org").exists()
    assert organisation.memberships.count() == 0


def test_signup_refuses_invalid_siret_in_french(db):
    with pytest.raises(DomainError) as exc:
        services.user_signup(
            email="a@example.org",
            password=PASSWORD,
            first_name="A",
            last_name="B",
            organisation_data={"name": "Asso", "siret": "12345678901234"},
        )
    assert "n'est pas un SIRET valide" in str(exc.value.errors["siret"][0])
    assert not User.objects.exists() and not Organisation.objects.exists()


def test_signup_reports_every_error_at_once(db):
    f.UserFactory(email="pris@example.org")
    with pytest.raises(DomainError) as exc:
        services.user_signup(
            email="pris@example.org",
            password="123",
            first_name="",
            last_name="B",
            organisation_data={"name": "", "siret": "1", "rna": "X1"},
        )
    assert {"email", "password", "first_name", "siret", "name", "rna"} <= set(exc.value.errors)


# --------------------------------------------------------------------------- pages


@pytest.mark.django_db(transaction=True)
def test_signup_page_happy_path_then_confirmation_then_login(client):
    response = _signup_post(client)
    assert response.status_code == 302 and response.url == reverse("core:signup_done")
    assert "samia@asso-nord.example.org" in client.get(response.url).content.decode()

    # Before confirming, login is refused with an explanation (not "wrong password").
    response = client.post(
        reverse("core:login"), {"username": "samia@asso-nord.example.org", "password": PASSWORD}
    )
    assert response.status_code == 200
    assert "pas encore confirmée" in response.content.decode()
    assert "_auth_user_id" not in client.session

    link = _link_from_last_email()
    response = client.get(urlsplit(link).path)
    assert response.status_code == 302 and response.url == reverse("core:login")
    user = User.objects.get(email="samia@asso-nord.example.org")
    assert user.is_active and user.email_verified_at is not None

    response = client.post(
        reverse("core:login"), {"username": "Samia@asso-nord.example.org", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert int(client.session["_auth_user_id"]) == user.pk
    page = client.get(reverse("core:home")).content.decode()
    assert "Les Ateliers du Nord" in page


def test_signup_page_existing_siret_says_to_ask_for_an_invitation(client, db):
    organisation = f.OrganisationFactory(siret="73282932000074")
    response = _signup_post(client, siret=organisation.siret)
    assert response.status_code == 200
    body = response.content.decode()
    assert "déjà inscrite" in body and "inviter" in body
    assert (
        'id="id_siret_error"' in body
        and 'aria-describedby="id_siret_helptext id_siret_error"' in body
    )
    assert not User.objects.filter(email="samia@asso-nord.example.org").exists()


def test_signup_page_invalid_siret_shows_french_message_next_to_field(client, db):
    response = _signup_post(client, siret="12345678901234")
    body = response.content.decode()
    assert "n&#x27;est pas un SIRET valide" in body or "n'est pas un SIRET valide" in body
    assert 'aria-invalid="true"' in body
    assert not Organisation.objects.exists()


def test_signup_page_password_mismatch(client, db):
    response = _signup_post(client, password_confirm="autre-chose-2026")
    assert "ne correspondent pas" in response.content.decode()
    assert not User.objects.exists()


# --------------------------------------------------------------------------- email confirmation


def test_verify_email_is_idempotent_and_audited_once(db):
    user = f.UserFactory(is_active=False, email_verified_at=None)
    token = services.email_verification_token(user)
    assert services.user_verify_email(token=token).is_active
    services.user_verify_email(token=token)
    assert (
        AuditLog.objects.filter(action="core.user.email_verified", object_id=str(user.pk)).count()
        == 1
    )


def test_verify_email_rejects_tampered_or_expired_token(db, client, settings):
    user = f.UserFactory(is_active=False, email_verified_at=None)
    token = services.email_verification_token(user)
    with pytest.raises(DomainError):
        services.user_verify_email(token=token[:-2] + "xx")
    response = client.get(reverse("core:verify_email", args=["nimportequoi"]))
    assert response.status_code == 400
    assert "invalide ou a expiré" in response.content.decode()
    user.refresh_from_db()
    assert not user.is_active


def test_verify_email_token_dies_when_address_changes(db):
    user = f.UserFactory(is_active=False, email_verified_at=None)
    token = services.email_verification_token(user)
    user.email = "nouvelle@example.org"
    user.save()
    with pytest.raises(DomainError):
        services.user_verify_email(token=token)


def test_verify_email_expires_after_seven_days(db, time_machine):
    user = f.UserFactory(is_active=False, email_verified_at=None)
    token = services.email_verification_token(user)
    time_machine.move_to(timezone.now() + timedelta(days=8))
    with pytest.raises(DomainError):
        services.user_verify_email(token=token)


@pytest.mark.django_db(transaction=True)
def test_resend_link_only_for_pending_accounts(client):
    f.UserFactory(email="attente@example.org", is_active=False, email_verified_at=None)
    f.UserFactory(email="actif@example.org")
    client.post(reverse("core:verify_email_resend"), {"email": "actif@example.org"})
    assert len(mail.outbox) == 0
    response = client.post(reverse("core:verify_email_resend"), {"email": "attente@example.org"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["attente@example.org"]


# --------------------------------------------------------------------------- login


def test_login_with_email(client, applicant):
    response = client.post(
        reverse("core:login"),
        {"username": "PORTEUR@asso.example.org", "password": "secret-pass-123"},
    )
    assert response.status_code == 302
    assert int(client.session["_auth_user_id"]) == applicant.pk


def test_login_wrong_password_message(client, applicant):
    response = client.post(
        reverse("core:login"), {"username": applicant.email, "password": "mauvais"}
    )
    assert response.status_code == 200
    assert "Adresse e-mail ou mot de passe incorrect." in response.content.decode()


def test_sixth_attempt_refused_even_with_right_password(client, applicant):
    url = reverse("core:login")
    for _ in range(5):
        client.post(url, {"username": applicant.email, "password": "mauvais"})
    response = client.post(url, {"username": applicant.email, "password": "secret-pass-123"})
    assert response.status_code == 429
    assert "Trop de tentatives" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_throttle_lifts_after_the_window(client, applicant, time_machine):
    url = reverse("core:login")
    for _ in range(5):
        client.post(url, {"username": applicant.email, "password": "mauvais"})
    time_machine.move_to(timezone.now() + timedelta(minutes=16))
    response = client.post(url, {"username": applicant.email, "password": "secret-pass-123"})
    assert response.status_code == 302


def test_password_reset_sends_french_email_with_working_link(
    client, applicant, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("core:password_reset"), {"email": applicant.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert "Réinitialisation" in message.subject
    path = re.search(r"/mot-de-passe/reinitialiser/\S+", message.body).group(0)
    response = client.get(path, follow=True)
    assert "Choisir un nouveau mot de passe" in response.content.decode()
    form_url = response.redirect_chain[-1][0]
    response = client.post(
        form_url, {"new_password1": "Nouveau-Mot-2026!", "new_password2": "Nouveau-Mot-2026!"}
    )
    assert response.status_code == 302
    applicant.refresh_from_db()
    assert applicant.check_password("Nouveau-Mot-2026!")
