"""RGAA basics on every page of the core app: one <h1>, every field labelled, errors linked."""

import re
from html.parser import HTMLParser

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from core import services
from tests import factories as f


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.h1 = 0
        self.inputs: list[dict] = []
        self.label_for: set[str] = set()
        self.ths_without_scope = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "h1":
            self.h1 += 1
        elif tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit"):
            self.inputs.append(a)
        elif tag == "label" and a.get("for"):
            self.label_for.add(a["for"])
        elif tag == "th" and "scope" not in a:
            self.ths_without_scope += 1


def _check(html: str) -> None:
    page = _Page()
    page.feed(html)
    assert page.h1 == 1
    for field in page.inputs:
        assert field.get("id") in page.label_for, f"unlabelled field {field}"
    assert page.ths_without_scope == 0


@pytest.fixture
def pages(organisation, applicant):
    document = services.document_upload(
        actor=applicant,
        organisation=organisation,
        kind="statutes",
        file=SimpleUploadedFile("s.pdf", b"%PDF-1.4 x"),
        valid_until=None,
    )
    invitation = services.membership_invite(
        actor=applicant, organisation=organisation, email="n@example.org"
    )
    pk = organisation.pk
    return {
        "signed_in": [
            reverse("core:home"),
            reverse("core:profile"),
            reverse("core:notifications"),
            reverse("core:password_change"),
            reverse("core:organisation_detail", args=[pk]),
            reverse("core:organisation_edit", args=[pk]),
            reverse("core:organisation_bank", args=[pk]),
            reverse("core:documents", args=[pk]),
            reverse("core:members", args=[pk]),
        ],
        "anonymous": [
            reverse("core:home"),
            reverse("core:login"),
            reverse("core:signup"),
            reverse("core:signup_done"),
            reverse("core:verify_email_resend"),
            reverse("core:verify_email", args=["x"]),
            reverse("core:password_reset"),
            reverse("core:password_reset_done"),
            reverse("core:password_reset_complete"),
            reverse("core:invitation_accept", args=[invitation.token]),
        ],
        "document": document,
    }


def test_signed_in_pages(client, applicant, pages):
    client.force_login(applicant)
    for url in pages["signed_in"]:
        response = client.get(url)
        assert response.status_code == 200, url
        _check(response.content.decode())


def test_anonymous_pages(client, pages):
    for url in pages["anonymous"]:
        response = client.get(url)
        assert response.status_code in (200, 400), url
        _check(response.content.decode())


def test_staff_invite_page(client, db):
    manager = f.UserFactory(email="m@ville.example.org")
    f.give_role(manager, "programme_manager")
    client.force_login(manager)
    _check(client.get(reverse("core:staff_invite")).content.decode())


def test_errors_are_linked_to_their_field(client, db):
    body = client.post(reverse("core:signup"), {"email": "pas-un-email"}).content.decode()
    tag = re.search(r"<input[^>]*name=\"email\"[^>]*>", body).group(0)
    assert 'aria-invalid="true"' in tag and "id_email_error" in tag
    assert 'id="id_email_error"' in body
