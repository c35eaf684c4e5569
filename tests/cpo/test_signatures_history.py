"""The file's history page shows its agreements' electronic signature rows — the document sent,
the code, each signature with the party it was given for, the document signed by all — in the
same timeline as the file's own rows, each in French with who and when."""

from __future__ import annotations

import datetime
import html
import re

import pytest
from django.test import Client

from cpo.services_changes import amendment_create
from cpo.signatures import services as signing_services

from .signing import sign_in_order

pytestmark = pytest.mark.django_db


def history(user, application) -> list[str]:
    client = Client()
    client.force_login(user)
    page = client.get(f"/dossiers/{application.pk}/").content.decode()
    section = page[page.index('id="history-title"') :]
    section = section[: section.index("</section>")]
    items = re.findall(r"<li>(.*?)</li>", section, flags=re.S)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", i)).split()) for i in items]


def test_the_signature_rows_are_in_the_files_history(
    instructor, to_sign, representative, funder_signatory, django_capture_on_commit_callbacks
):
    request = signing_services.signature_request_send(actor=instructor, agreement=to_sign)
    sign_in_order(request, representative, funder_signatory, django_capture_on_commit_callbacks)
    ref = to_sign.reference
    amendment = amendment_create(
        actor=instructor,
        agreement=to_sign,
        reason="Nouvel objectif.",
        effective_on=datetime.date(2027, 1, 1),
        objectives=["Vergers"],
    )
    signing_services.signature_request_send(
        actor=instructor, agreement=to_sign, amendment=amendment
    )

    for reader in (representative, instructor):
        rows = history(reader, to_sign.application)
        sent = next(
            r
            for r in rows
            if r.startswith(f"Document envoyé pour signature électronique — Convention {ref}")
        )
        assert instructor.get_full_name() in sent
        association = next(
            r
            for r in rows
            if r.startswith("Signature électronique apposée") and to_sign.organisation.name in r
        )
        assert f"Convention {ref}, pour {to_sign.organisation.name}" in association
        assert representative.get_full_name() in association
        assert re.search(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}", association)
        funder = next(
            r for r in rows if r.startswith("Signature électronique apposée") and "Ville de" in r
        )
        assert f"Convention {ref}, pour Ville de Marseille" in funder
        assert funder_signatory.get_full_name() in funder
        completed = next(r for r in rows if r.startswith("Document signé par toutes les parties"))
        assert any(r.startswith("Code de signature envoyé par e-mail") for r in rows)
        # Newest first: the amendment sent after the agreement was signed by all.
        amendment_sent = next(r for r in rows if "Document envoyé" in r and "Avenant n° 1" in r)
        assert rows.index(amendment_sent) < rows.index(completed) < rows.index(funder)
        assert rows.index(funder) < rows.index(association) < rows.index(sent)


def test_a_file_without_agreement_has_no_signature_rows(representative, to_sign):
    rows = history(representative, to_sign.application)
    assert not any("Signature électronique" in r for r in rows)
