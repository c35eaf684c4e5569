"""Amendments and notification letters signed from the agreement page: « Envoyer l'avenant pour
signature » on each amendment of a signed agreement, the same steps as the agreement's (the
association's code, then each funder), the same permission checks, and the signed amendment
downloadable and validated on download; a decision's notification letter sent and signed by the
funder from the same page."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from core.models import AuditLog
from cpo import services
from cpo.models import Agreement, AgreementState, Amendment
from cpo.models_signatures import SignatureRequest
from cpo.services_changes import amendment_create
from cpo.signatures import services as signing_services

from .signing import approved_application, last_code, sign_in_order

pytestmark = pytest.mark.django_db


def page(agreement: Agreement) -> str:
    return f"/conventions/{agreement.pk}/"


@pytest.fixture
def amendment(
    instructor, to_sign, representative, funder_signatory, django_capture_on_commit_callbacks
) -> Amendment:
    request = signing_services.signature_request_send(actor=instructor, agreement=to_sign)
    sign_in_order(request, representative, funder_signatory, django_capture_on_commit_callbacks)
    agreement = Agreement.objects.get(pk=to_sign.pk)
    assert agreement.state == AgreementState.SIGNED
    return amendment_create(
        actor=instructor,
        agreement=agreement,
        reason="Report d'une action à l'automne.",
        effective_on=datetime.date(2027, 1, 1),
        objectives=["Jardins partagés", "Vergers"],
    )


def test_an_amendment_is_sent_and_signed_from_the_page(
    client,
    instructor,
    representative,
    funder_signatory,
    amendment,
    django_capture_on_commit_callbacks,
):
    agreement = amendment.agreement
    url = page(agreement)
    send = f"{url}avenants/{amendment.pk}/signature/"
    client.force_login(representative)
    assert "Envoyer l'avenant pour signature" not in client.get(url).content.decode()
    assert client.post(send).status_code == 404  # not the instruction: the route does not exist

    client.force_login(instructor)
    html = client.get(url).content.decode()
    assert f'id="amendment-signature-send-{amendment.pk}"' in html
    assert client.post(send).status_code == 302
    request = SignatureRequest.objects.get(amendment=amendment)
    assert request.document_kind == "amendment"
    html = client.get(url).content.decode()
    assert f'id="amendment-signature-send-{amendment.pk}"' not in html  # sent: no second button
    assert "Avenant n° 1" in html and f"#signature-request-{request.pk}" in html
    assert client.post(send).status_code == 302  # sending again: the same request
    assert SignatureRequest.objects.filter(amendment=amendment).count() == 1

    first, second = request.signatures.order_by("position")
    client.force_login(funder_signatory)  # the order of the agreement: the association first
    response = client.post(f"{url}signature/{second.pk}/signer/")
    assert response.status_code == 409 and "pas encore votre tour" in response.content.decode()

    client.force_login(representative)
    assert "Recevoir mon code par e-mail" in client.get(url).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"{url}signature/{first.pk}/code/").status_code == 302
    response = client.post(f"{url}signature/{first.pk}/signer/", {"code": last_code()})
    assert response.status_code == 302
    client.force_login(funder_signatory)
    assert "Signer pour Ville de Marseille" in client.get(url).content.decode()
    assert client.post(f"{url}signature/{second.pk}/signer/").status_code == 302

    request = SignatureRequest.objects.get(pk=request.pk)
    assert request.state == "completed"
    assert Agreement.objects.get(pk=agreement.pk).state == AgreementState.SIGNED
    client.force_login(representative)
    html = client.get(url).content.decode()
    assert f'id="amendment-{amendment.pk}-signed"' in html
    response = client.get(f"{url}signature/demandes/{request.pk}/document.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert "avenant-1-signe.pdf" in response["Content-Disposition"]
    assert response.content == request.signed.open("rb").read()

    # Validated on download: a modified byte is refused with the reason, and audited.
    content = bytearray(response.content)
    content[len(content) // 3] ^= 0x20
    with open(request.signed.path, "wb") as handle:
        handle.write(bytes(content))
    response = client.get(f"{url}signature/demandes/{request.pk}/document.pdf")
    assert response.status_code == 409 and "Téléchargement refusé" in response.content.decode()
    assert AuditLog.objects.filter(action="cpo.signature.document_rejected").exists()


def test_a_staff_member_without_the_instruction_role_cannot_send_an_amendment(
    client, amendment, funder_signatory
):
    """The page's route applies the service's check: instruction and programme managers only."""
    from core.models import Role

    from .. import factories as f

    finance = f.UserFactory(email="finances@ville.example.org")
    f.give_role(finance, Role.FINANCE_OFFICER)
    client.force_login(finance)
    response = client.post(f"{page(amendment.agreement)}avenants/{amendment.pk}/signature/")
    assert response.status_code in (403, 404)
    assert not SignatureRequest.objects.filter(amendment=amendment).exists()


def test_an_amendment_of_another_agreement_is_404(client, instructor, amendment, to_sign):
    other = services.agreement_create_from_application(
        actor=instructor,
        application=approved_application(to_sign.organisation),
        profile="flat",
        duration_years=1,
        first_year=2026,
        funders=[{"funder": to_sign.funders.get().funder, "share": Decimal("1")}],
    )
    client.force_login(instructor)
    response = client.post(f"{page(other)}avenants/{amendment.pk}/signature/")
    assert response.status_code == 404


def test_the_notification_letter_is_sent_and_signed_by_the_funder_from_the_page(
    client, instructor, organisation, ville, funder_signatory
):
    decision = services.agreement_create_from_application(
        actor=instructor,
        application=approved_application(organisation, "8000.00"),
        profile="flat",
        duration_years=1,
        first_year=2026,
        funders=[{"funder": ville, "share": Decimal("1")}],
    )
    assert decision.kind == Agreement.Kind.DECISION
    url = page(decision)
    client.force_login(instructor)
    assert "Envoyer pour signature électronique" in client.get(url).content.decode()
    assert client.post(f"{url}signature/").status_code == 302
    request = SignatureRequest.objects.get(agreement=decision)
    assert request.document_kind == "notification"
    (only,) = request.signatures.all()
    assert only.party == "funder"

    client.force_login(funder_signatory)
    html = client.get(url).content.decode()
    assert "Lettre de notification" in html and "Signer pour Ville de Marseille" in html
    assert client.post(f"{url}signature/{only.pk}/signer/").status_code == 302
    assert Agreement.objects.get(pk=decision.pk).state == AgreementState.SIGNED
    response = client.get(f"{url}exemplaire-signe/")
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
