"""The register of processing (RGPD art. 30) in ODS and PDF, generated from the declared rules
(every kind of personal data the issue lists has its rule), linked from « Vos données »."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.urls import reverse
from pypdf import PdfReader

from core.privacy.retention import rules

pytestmark = pytest.mark.django_db

# The kinds of personal data issue 12 names, each with its declared rule.
ISSUE_KINDS = {
    "unsubmitted drafts": "grants.drafts",
    "refused or withdrawn files": "grants.closed_files",
    "panel members and their ballots": "grants.panels",
    "login failures": "core.login_failures",
    "sessions": "core.sessions",
    "contacts of organisations no longer funded": "cpo.organisation_contacts",
    "bank details of closed agreements": "finance.organisation_bank_details",
    "bank details copied into payments": "finance.payment_bank_details",
    "uploaded identity documents": "core.identity_documents",
}


def test_every_kind_of_personal_data_of_the_issue_has_a_rule():
    codes = {r.code for r in rules()}
    assert set(ISSUE_KINDS.values()) <= codes


def test_register_as_ods_has_a_row_per_rule(client):
    response = client.get(reverse("privacy_register:ods"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.oasis.opendocument.spreadsheet"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.read("mimetype") == b"application/vnd.oasis.opendocument.spreadsheet"
    content = archive.read("content.xml").decode()
    assert content.count("<table:table-row>") == len(rules()) + 1
    for rule in rules():
        assert f">{rule.code}<" in content
    assert "Catégorie de données" in content and "Durée de conservation" in content


def test_register_as_pdf_has_a_section_per_rule(client):
    response = client.get(reverse("privacy_register:pdf"))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    text = " ".join(text.split())
    assert "Registre des activités de traitement" in text
    for rule in rules():
        assert rule.code in text


def test_your_data_page_lists_the_new_rules_and_links_every_format(client):
    page = client.get(reverse("core:your_data")).content.decode()
    for code in ISSUE_KINDS.values():
        assert f'id="rule-{code}"' in page
    for name in ("core:processing_register", "privacy_register:ods", "privacy_register:pdf"):
        assert reverse(name) in page


def test_register_in_english(client):
    from django.utils import translation

    client.cookies["django_language"] = "en"
    try:
        response = client.get(reverse("privacy_register:ods"))
    finally:
        translation.activate("fr")  # the middleware leaves the thread in English
    content = zipfile.ZipFile(io.BytesIO(response.content)).read("content.xml").decode()
    assert "Retention period" in content and "Durée de conservation" not in content
