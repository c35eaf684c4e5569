"""Notification e-mails: absolute links, what happened and what to do, text + HTML, the
recipient's language (stored message id + parameters, rendered per reader)."""

import datetime

from django.core import mail
from django.utils import translation

from core.models import Notification
from core.notifications import Msg, notify
from grants.services import (
    application_request_completion,
    application_resubmit,
    application_submit,
)


def _send(django_capture_on_commit_callbacks, **kwargs):
    with django_capture_on_commit_callbacks(execute=True):
        return notify(**kwargs)


def test_each_recipient_gets_an_email_in_their_language_with_absolute_links(
    settings, applicant, other_applicant, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "https://pluriel.example.org/"
    other_applicant.language = "en"
    other_applicant.save(update_fields=["language"])
    _send(
        django_capture_on_commit_callbacks,
        users=[applicant, other_applicant],
        title=Msg("Dossier %(ref)s complété", ref="AAP-2026-0007"),
        url="/dossiers/7/",
    )
    assert len(mail.outbox) == 2
    by_recipient = {m.to[0]: m for m in mail.outbox}  # one e-mail each: no address disclosed
    fr, en = by_recipient[applicant.email], by_recipient[other_applicant.email]
    assert fr.subject == "[Pluriel] Dossier AAP-2026-0007 complété"
    assert en.subject == "[Pluriel] Application AAP-2026-0007 completed"
    for message in (fr, en):
        assert "https://pluriel.example.org/dossiers/7/" in message.body
        html, mimetype = message.alternatives[0]
        assert mimetype == "text/html"
        assert 'href="https://pluriel.example.org/dossiers/7/"' in html
        assert 'href="/' not in html and "\n/dossiers" not in message.body
    assert "Ouvrir dans Pluriel" in fr.alternatives[0][0]
    assert "Open in Pluriel" in en.alternatives[0][0]
    assert "ouvrez ce lien" in fr.body and "open this link" in en.body


def test_in_app_notification_follows_the_readers_language(
    applicant, django_capture_on_commit_callbacks
):
    _send(
        django_capture_on_commit_callbacks,
        users=[applicant],
        title=Msg("Dossier %(ref)s complété", ref="AAP-2026-0007"),
    )
    row = Notification.objects.get(user=applicant)
    assert row.title == "Dossier AAP-2026-0007 complété"  # stored in the recipient's language
    with translation.override("en"):
        assert row.display_title == "Application AAP-2026-0007 completed"
    with translation.override("fr"):
        assert row.display_title == "Dossier AAP-2026-0007 complété"


def test_plain_string_notifications_still_work_and_link_to_the_notifications_page(
    settings, applicant, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "http://127.0.0.1:8000"
    _send(django_capture_on_commit_callbacks, users=[applicant], title="Bonjour")
    (message,) = mail.outbox
    assert message.subject == "[Pluriel] Bonjour"
    assert "http://127.0.0.1:8000/notifications/" in message.body or (
        "http://127.0.0.1:8000/" in message.body
    )
    assert Notification.objects.get(user=applicant).display_title == "Bonjour"


def test_completed_file_email_tells_the_instructor_what_happened_and_what_to_do(
    settings, draft, instructor, applicant, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "https://pluriel.example.org"
    submitted = application_submit(actor=applicant, application=draft)
    submitted.assigned_to = instructor
    submitted.save(update_fields=["assigned_to"])
    with django_capture_on_commit_callbacks(execute=True):
        application_request_completion(
            actor=instructor,
            application=submitted,
            message="Il manque le budget signé.",
            deadline=datetime.date.today() + datetime.timedelta(days=10),
        )
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        application_resubmit(actor=applicant, application=submitted, answer="Budget ajouté.")
    (message,) = [m for m in mail.outbox if m.to == [instructor.email]]
    assert message.subject == f"[Pluriel] Dossier {submitted.reference} complété"
    assert "Budget ajouté." in message.body
    assert "reprenez l'instruction" in message.body
    assert f"https://pluriel.example.org/dossiers/{submitted.pk}/" in message.body
    assert "Budget ajouté." in message.alternatives[0][0]


def test_amounts_and_labels_in_a_stored_message_follow_the_readers_language():
    """Parameters that are amounts (Euros) or choice labels (Msg.of_label) are kept as such and
    written the reader's way, also after a round trip through the stored JSON."""
    from decimal import Decimal

    from core.notifications import Euros, render_stored
    from cpo.models import EvaluationState

    message = Msg(
        "Évaluation %(year)s : %(outcome)s",
        year=2026,
        outcome=Msg.of_label(EvaluationState.ACCEPTED.label),
    )
    amount = Msg(
        "Paiement de %(amount)s effectué le %(date)s",
        amount=Euros(Decimal("45000")),
        date="07/12/2026",
    )
    stored, stored_amount = message.as_json(), amount.as_json()
    with translation.override("en"):
        assert render_stored(stored, "?") == "2026 evaluation: Accepted"
        assert render_stored(stored_amount, "?") == "Payment of €45,000.00 made on 07/12/2026"
    with translation.override("fr"):
        assert render_stored(stored, "?") == "Évaluation 2026 : Acceptée"
        assert (
            render_stored(stored_amount, "?") == "Paiement de 45\xa0000,00 € effectué le 07/12/2026"
        )
