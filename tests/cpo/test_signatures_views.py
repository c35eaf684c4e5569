"""The electronic signature on the agreement page and through the API: each party signs in turn,
the signed PDF is validated on download, and refusals come back with their reason and status."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail
from rest_framework.test import APIClient

from core.models import AuditLog
from cpo.models import Agreement, AgreementState, Amendment
from cpo.models_signatures import Signature, SignatureRequest

from .signing import last_code

pytestmark = pytest.mark.django_db


def logged(client, user):
    client.force_login(user)
    return client


def page(agreement: Agreement) -> str:
    return f"/conventions/{agreement.pk}/"


def test_the_whole_signature_through_the_pages(
    client,
    instructor,
    representative,
    funder_signatory,
    to_sign,
    django_capture_on_commit_callbacks,
):
    url = page(to_sign)
    assert "Envoyer pour signature" in logged(client, instructor).get(url).content.decode()
    assert client.post(f"{url}signature/").status_code == 302
    request = SignatureRequest.objects.get(agreement=to_sign)
    first, second = request.signatures.order_by("position")

    html = logged(client, representative).get(url).content.decode()
    assert "Recevoir mon code par e-mail" in html and "Signer pour" not in html
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{url}signature/{first.pk}/code/")
    assert response.status_code == 302 and mail.outbox[-1].to == [representative.email]
    response = client.post(
        f"{url}signature/{first.pk}/signer/", {"code": last_code()}, REMOTE_ADDR="192.0.2.10"
    )
    assert response.status_code == 302
    assert Signature.objects.get(pk=first.pk).ip_address == "192.0.2.10"

    html = logged(client, funder_signatory).get(url).content.decode()
    assert "Signer pour Ville de Marseille" in html
    assert client.post(f"{url}signature/{second.pk}/signer/").status_code == 302
    assert Agreement.objects.get(pk=to_sign.pk).state == AgreementState.SIGNED

    response = logged(client, representative).get(f"{url}exemplaire-signe/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF") and b"/ByteRange" in response.content


def test_a_wrong_code_on_the_page_is_400_with_the_reason(
    client, instructor, representative, to_sign, django_capture_on_commit_callbacks
):
    logged(client, instructor).post(f"{page(to_sign)}signature/")
    first = SignatureRequest.objects.get().signatures.get(position=1)
    logged(client, representative)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"{page(to_sign)}signature/{first.pk}/code/")
    wrong = "000000" if last_code() != "000000" else "111111"
    response = client.post(f"{page(to_sign)}signature/{first.pk}/signer/", {"code": wrong})
    assert response.status_code == 400
    assert "Code incorrect" in response.content.decode()


def test_a_member_without_the_power_to_sign_gets_403(client, instructor, applicant, to_sign):
    logged(client, instructor).post(f"{page(to_sign)}signature/")
    first = SignatureRequest.objects.get().signatures.get(position=1)
    response = logged(client, applicant).post(f"{page(to_sign)}signature/{first.pk}/code/")
    assert response.status_code == 403
    assert "pouvoir de signer" in response.content.decode()


def test_another_organisation_sees_nothing(client, instructor, other_applicant, to_sign):
    logged(client, instructor).post(f"{page(to_sign)}signature/")
    first = SignatureRequest.objects.get().signatures.get(position=1)
    response = logged(client, other_applicant).post(f"{page(to_sign)}signature/{first.pk}/code/")
    assert response.status_code == 404


def test_a_tampered_signed_copy_is_refused_on_download(
    client,
    instructor,
    representative,
    funder_signatory,
    to_sign,
    django_capture_on_commit_callbacks,
):
    api = APIClient()
    api.force_login(instructor)
    assert api.post(f"/api/agreements/{to_sign.pk}/signature-request/").status_code == 200
    first, second = SignatureRequest.objects.get().signatures.order_by("position")

    api.force_login(representative)
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post(f"/api/signatures/{first.pk}/code/").status_code == 202
    body = api.post(f"/api/signatures/{first.pk}/sign/", {"code": last_code()}, format="json")
    assert body.status_code == 200 and body.json()["state"] == "signed"
    api.force_login(funder_signatory)
    body = api.post(f"/api/signatures/{second.pk}/sign/", {}, format="json")
    assert body.status_code == 200
    assert api.get(f"/api/signatures/{second.pk}/document/").status_code == 200

    agreement = Agreement.objects.get(pk=to_sign.pk)
    request = SignatureRequest.objects.get()
    content = bytearray(request.signed.open("rb").read())
    content[len(content) // 2] ^= 0x20
    with open(request.signed.path, "wb") as handle:
        handle.write(bytes(content))
    response = logged(client, representative).get(f"{page(agreement)}exemplaire-signe/")
    assert response.status_code == 409
    assert "Téléchargement refusé" in response.content.decode()
    assert api.get(f"/api/signatures/{second.pk}/document/").status_code == 409
    assert AuditLog.objects.filter(action="cpo.signature.document_rejected").count() == 2


def test_api_sign_checks_the_power_before_the_body(client, instructor, applicant, to_sign):
    api = APIClient()
    api.force_login(instructor)
    api.post(f"/api/agreements/{to_sign.pk}/signature-request/")
    first = SignatureRequest.objects.get().signatures.get(position=1)
    api.force_login(applicant)
    response = api.post(f"/api/signatures/{first.pk}/sign/", {"code": ["bad"]}, format="json")
    assert response.status_code == 403
    assert api.get("/api/signatures/").json()["count"] == 2


def test_an_amendment_is_signed_through_the_api_and_the_agreement_stays_signed(
    instructor, representative, funder_signatory, to_sign, django_capture_on_commit_callbacks
):
    api = APIClient()
    api.force_login(instructor)
    api.post(f"/api/agreements/{to_sign.pk}/signature-request/")
    first, second = SignatureRequest.objects.get().signatures.order_by("position")
    api.force_login(representative)
    with django_capture_on_commit_callbacks(execute=True):
        api.post(f"/api/signatures/{first.pk}/code/")
    api.post(f"/api/signatures/{first.pk}/sign/", {"code": last_code()}, format="json")
    api.force_login(funder_signatory)
    api.post(f"/api/signatures/{second.pk}/sign/", {}, format="json")
    agreement = Agreement.objects.get(pk=to_sign.pk)
    assert agreement.state == AgreementState.SIGNED

    amendment = Amendment.objects.create(
        agreement=agreement,
        version=2,
        reason="Changement d'intitulé.",
        effective_on=datetime.date(2027, 1, 1),
        before={"title": "Jardins"},
        after={"title": "Jardins et vergers"},
    )
    api.force_login(representative)  # no power to send: refused before the body is read
    response = api.post(
        f"/api/agreements/{agreement.pk}/signature-request/", {"amendment": "x"}, format="json"
    )
    assert response.status_code == 403
    api.force_login(instructor)
    response = api.post(
        f"/api/agreements/{agreement.pk}/signature-request/",
        {"amendment": amendment.pk},
        format="json",
    )
    assert response.status_code == 200
    request = SignatureRequest.objects.get(amendment=amendment)
    assert request.document_kind == "amendment"
    first, second = request.signatures.order_by("position")
    api.force_login(representative)
    with django_capture_on_commit_callbacks(execute=True):
        api.post(f"/api/signatures/{first.pk}/code/")
    api.post(f"/api/signatures/{first.pk}/sign/", {"code": last_code()}, format="json")
    api.force_login(funder_signatory)
    assert api.post(f"/api/signatures/{second.pk}/sign/", {}, format="json").status_code == 200
    assert SignatureRequest.objects.get(pk=request.pk).state == "completed"
    assert Agreement.objects.get(pk=agreement.pk).state == AgreementState.SIGNED
