"""The language a person uses the interface in is kept on their account (sign-up, invitation,
language switch), so notifications and e-mails reach them in it; account e-mails carry an HTML
part with the same absolute links (issue 16)."""

import re

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import translation

from core import services
from core.models import User
from core.notifications import Msg, notify
from tests.core.test_signup import _signup_post

pytestmark = pytest.mark.django_db


def test_switching_to_english_keeps_it_for_notifications(
    client, applicant, django_capture_on_commit_callbacks
):
    assert applicant.language == "fr"
    client.force_login(applicant)
    response = client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert response.status_code == 302
    applicant.refresh_from_db()
    assert applicant.language == "en"
    with django_capture_on_commit_callbacks(execute=True):
        notify(users=[applicant], title=Msg("Dossier %(ref)s complété", ref="AAP-2026-0007"))
    assert mail.outbox[-1].subject == "[Pluriel] Application AAP-2026-0007 completed"

    client.post(reverse("set_language"), {"language": "fr", "next": "/"})
    applicant.refresh_from_db()
    assert applicant.language == "fr"


def test_an_unknown_language_or_an_anonymous_switch_changes_no_account(client, applicant):
    client.force_login(applicant)
    client.post(reverse("set_language"), {"language": "xx", "next": "/"})
    applicant.refresh_from_db()
    assert applicant.language == "fr"
    client.logout()
    response = client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert response.status_code == 302 and response.cookies["django_language"].value == "en"
    applicant.refresh_from_db()
    assert applicant.language == "fr"


def test_signing_up_in_english_keeps_english_and_the_email_has_an_html_part(
    client, settings, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "https://pluriel.example.org"
    client.cookies["django_language"] = "en"  # the interface was switched before signing up
    with django_capture_on_commit_callbacks(execute=True):
        response = _signup_post(client)
    assert response.status_code == 302
    user = User.objects.get(email="samia@asso-nord.example.org")
    assert user.language == "en"
    message = mail.outbox[-1]
    assert message.subject == "[Pluriel] Confirm your email address"
    link = re.search(r"https://pluriel\.example\.org/\S+", message.body).group(0)
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert f'href="{link}"' in html
    assert '<html lang="en">' in html


def test_signing_up_in_french_keeps_french(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert _signup_post(client).status_code == 302
    assert User.objects.get(email="samia@asso-nord.example.org").language == "fr"
    html = mail.outbox[-1].alternatives[0][0]
    assert '<html lang="fr">' in html and "confirmez votre adresse e-mail" in html


def test_an_invitation_email_has_an_html_part_and_the_new_account_the_language_used(
    organisation, applicant, settings, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "https://pluriel.example.org"
    with django_capture_on_commit_callbacks(execute=True):
        invitation = services.membership_invite(
            actor=applicant, organisation=organisation, email="nouveau@asso.example.org"
        )
    message = mail.outbox[-1]
    link = f"https://pluriel.example.org/invitations/{invitation.token}/"
    assert link in message.body
    assert f'href="{link}"' in message.alternatives[0][0]
    with translation.override("en"):
        user = services.invitation_accept(
            token=invitation.token,
            user_or_new_user_data={
                "first_name": "Nour",
                "last_name": "Haddad",
                "password": "Quartier-Nord-2026!",
            },
        )
    assert user.language == "en"


def test_the_password_reset_email_has_an_absolute_link_an_html_part_and_the_account_language(
    client, applicant, settings, django_capture_on_commit_callbacks
):
    """The link's host is SITE_URL, never the Host header the request came with (a forged Host
    would otherwise send the reset token to another site)."""
    settings.SITE_URL = "https://pluriel.example.org"
    settings.ALLOWED_HOSTS = ["*"]
    applicant.language = "en"
    applicant.save(update_fields=["language"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("core:password_reset"),
            {"email": applicant.email},
            HTTP_HOST="attacker.example.com",
        )
    assert response.status_code == 302
    message = mail.outbox[-1]
    assert message.to == [applicant.email]
    assert message.subject == "[Pluriel] Reset your password"
    assert "Open this link to choose a new password:" in message.body
    assert "attacker.example.com" not in message.body
    link = re.search(
        r"https://pluriel\.example\.org/mot-de-passe/reinitialiser/\S+/", message.body
    ).group(0)
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert f'href="{link}"' in html and '<html lang="en">' in html
    assert "attacker.example.com" not in html
    # The link works (the path is what counts: the test client is the site).
    followed = client.get(link.removeprefix("https://pluriel.example.org"), follow=True)
    assert followed.status_code == 200
    assert "new_password1" in followed.content.decode()


def test_the_password_reset_email_is_french_for_a_french_account_under_english(
    client, applicant, django_capture_on_commit_callbacks
):
    client.cookies["django_language"] = "en"  # the person asking browses in English
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("core:password_reset"), {"email": applicant.email})
    message = mail.outbox[-1]
    assert message.subject == "[Pluriel] Réinitialisation de votre mot de passe"
    assert '<html lang="fr">' in message.alternatives[0][0]


def test_no_email_for_an_unknown_address(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("core:password_reset"), {"email": "personne@nulle.part"})
    assert response.status_code == 302 and not mail.outbox
