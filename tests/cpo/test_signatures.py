"""Electronic signature (PAdES, pyHanko): the document frozen when sent, the association's
representative signing with an e-mailed code, the funder's signatory with its certificate, the
agreement signed only when every signature is in, and each bad input refused with its reason."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.core import mail

from core.clock import now
from core.errors import DomainError, PermissionDenied, TransitionNotAllowed
from core.models import AuditLog, Role
from cpo import services
from cpo.models import Agreement, AgreementState, FunderCertificate
from cpo.models_signatures import Signature, SignatureCode, SignatureRequest
from cpo.signatures import pdf as pades
from cpo.signatures import services as signing_services
from cpo.signatures.services import (
    signature_code_send,
    signature_request_send,
    signature_sign_as_funder,
    signature_sign_with_code,
    signed_document_bytes,
)

from .. import factories as f
from .signing import last_code

pytestmark = pytest.mark.django_db


def actions(agreement: Agreement) -> list[str]:
    """The signature audit rows, on the agreement, its request and its signatures (one agreement
    per test)."""
    return list(
        AuditLog.objects.filter(action__startswith="cpo.signature")
        .order_by("id")
        .values_list("action", flat=True)
    )


def sign_as_representative(
    request: SignatureRequest, user, capture, ip: str = "203.0.113.7"
) -> Signature:
    first = request.signatures.get(position=1)
    with capture(execute=True):
        signature_code_send(actor=user, signature=first)
    return signature_sign_with_code(actor=user, signature=first, code=last_code(), ip_address=ip)


@pytest.fixture
def sent(instructor, to_sign) -> SignatureRequest:
    return signature_request_send(actor=instructor, agreement=to_sign)


# --------------------------------------------------------------------------- the whole flow


def test_both_sign_in_order_and_the_agreement_becomes_signed(
    sent, representative, funder_signatory, django_capture_on_commit_callbacks
):
    agreement = Agreement.objects.get(pk=sent.agreement_id)
    assert agreement.state == AgreementState.SENT_FOR_SIGNATURE
    assert [(s.position, s.party) for s in sent.signatures.all()] == [
        (1, "organisation"),
        (2, "funder"),
    ]
    assert len(sent.document_sha256) == 64

    first = sign_as_representative(sent, representative, django_capture_on_commit_callbacks)
    assert first.state == "signed" and first.ip_address == "203.0.113.7"
    assert first.hash_before == sent.document_sha256 and first.hash_after != first.hash_before
    assert "cachet de la plateforme" in first.certificate_subject
    # Not signed yet: the funder has not signed.
    assert Agreement.objects.get(pk=agreement.pk).state == AgreementState.SENT_FOR_SIGNATURE

    second = signature_sign_as_funder(
        actor=funder_signatory, signature=sent.signatures.get(position=2), ip_address="198.51.100.2"
    )
    assert second.hash_before == first.hash_after
    request = SignatureRequest.objects.get(pk=sent.pk)
    assert request.state == "completed" and request.completed_at is not None
    agreement = Agreement.objects.get(pk=agreement.pk)
    assert agreement.state == AgreementState.SIGNED and agreement.signed_on == now().date()
    assert agreement.signed_document.read() == signed_document_bytes(
        actor=funder_signatory, request=request
    )
    assert actions(agreement) == [
        "cpo.signature.requested",
        "cpo.signature.code_sent",
        "cpo.signature.signed",
        "cpo.signature.signed",
        "cpo.signature.completed",
    ]
    signed_row = AuditLog.objects.get(object_id=str(agreement.pk), action="cpo.agreement.signed")
    assert signed_row.payload["electronic"] is True

    # Both signatures validate, the first one untouched by the second (incremental update).
    content = signed_document_bytes(actor=representative, request=request)
    checked = pades.validate_signed_pdf(content, signing_services._expected(request))
    assert [c.field_name for c in checked] == ["Signature1", "Signature2"]
    assert "signataire habilité" in checked[1].signer
    # The evidence of the simple signature is embedded in the PDF.
    evidence = pades.embedded_evidence(content)["preuve-signature1.json"]
    assert evidence["ip_address"] == "203.0.113.7"
    assert evidence["signer"]["email"] == representative.email
    assert evidence["document_sha256"] == sent.document_sha256
    assert evidence["code_verified_at"]


def test_the_code_is_hashed_and_mailed_to_the_representative(
    sent, representative, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        row = signature_code_send(actor=representative, signature=sent.signatures.get(position=1))
    assert mail.outbox[-1].to == [representative.email]
    code = last_code()
    assert code not in row.code_hash and len(row.code_hash) == 64
    assert row.expires_at - row.created_at == datetime.timedelta(minutes=10)


def test_sending_twice_returns_the_pending_request(instructor, sent):
    again = signature_request_send(actor=instructor, agreement=sent.agreement)
    assert again.pk == sent.pk and SignatureRequest.objects.count() == 1


def test_manual_signature_refused_while_the_electronic_one_is_pending(instructor, sent):
    with pytest.raises(TransitionNotAllowed, match="signature électronique"):
        services.agreement_sign(actor=instructor, agreement=sent.agreement, signed_on=now().date())
    assert Agreement.objects.get(pk=sent.agreement_id).state == AgreementState.SENT_FOR_SIGNATURE


# --------------------------------------------------------------------------- bad input


def test_wrong_code_is_refused_and_counted(
    sent, representative, django_capture_on_commit_callbacks
):
    first = sent.signatures.get(position=1)
    with django_capture_on_commit_callbacks(execute=True):
        signature_code_send(actor=representative, signature=first)
    wrong = "000000" if last_code() != "000000" else "111111"
    with pytest.raises(DomainError, match="Code incorrect") as exc:
        signature_sign_with_code(actor=representative, signature=first, code=wrong, ip_address=None)
    assert exc.value.code == "code_wrong"
    assert SignatureCode.objects.get().attempts == 1
    assert "cpo.signature.code_failed" in actions(sent.agreement)
    assert Signature.objects.get(pk=first.pk).state == "pending"


def test_too_many_attempts_burn_the_code(sent, representative, django_capture_on_commit_callbacks):
    first = sent.signatures.get(position=1)
    with django_capture_on_commit_callbacks(execute=True):
        signature_code_send(actor=representative, signature=first)
    code = last_code()
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        with pytest.raises(DomainError):
            signature_sign_with_code(
                actor=representative, signature=first, code=wrong, ip_address=None
            )
    # Even the right code is refused now.
    with pytest.raises(DomainError, match="Trop d'essais") as exc:
        signature_sign_with_code(actor=representative, signature=first, code=code, ip_address=None)
    assert exc.value.code == "code_attempts"
    assert Signature.objects.get(pk=first.pk).state == "pending"


def test_expired_code_is_refused(sent, representative, django_capture_on_commit_callbacks):
    first = sent.signatures.get(position=1)
    with django_capture_on_commit_callbacks(execute=True):
        signature_code_send(actor=representative, signature=first)
    code = last_code()
    with (
        time_machine.travel(now() + datetime.timedelta(minutes=11)),
        pytest.raises(DomainError, match="expiré") as exc,
    ):
        signature_sign_with_code(actor=representative, signature=first, code=code, ip_address=None)
    assert exc.value.code == "code_expired"


def test_codes_are_throttled(sent, representative, django_capture_on_commit_callbacks):
    first = sent.signatures.get(position=1)
    with django_capture_on_commit_callbacks(execute=True):
        signature_code_send(actor=representative, signature=first)
    with pytest.raises(DomainError, match="attendez une minute"):
        signature_code_send(actor=representative, signature=first)
    start = now()
    for minute in range(1, 5):
        with time_machine.travel(start + datetime.timedelta(minutes=2 * minute)):
            signature_code_send(actor=representative, signature=first)
    with (
        time_machine.travel(start + datetime.timedelta(minutes=12)),
        pytest.raises(DomainError, match="Trop de codes"),
    ):
        signature_code_send(actor=representative, signature=first)
    assert SignatureCode.objects.count() == 5


def test_a_member_without_the_power_to_sign_is_refused(sent, applicant):
    with pytest.raises(PermissionDenied, match="pouvoir de signer"):
        signature_code_send(actor=applicant, signature=sent.signatures.get(position=1))
    assert SignatureCode.objects.count() == 0


def test_funder_staff_without_signing_power_is_refused(
    sent, representative, ville, django_capture_on_commit_callbacks
):
    sign_as_representative(sent, representative, django_capture_on_commit_callbacks)
    agent = f.UserFactory(email="agent@ville.example.org")
    f.give_role(agent, Role.INSTRUCTOR, funder=ville)  # represents the city, cannot sign
    with pytest.raises(PermissionDenied, match="habilité"):
        signature_sign_as_funder(
            actor=agent, signature=sent.signatures.get(position=2), ip_address=None
        )


def test_the_funder_cannot_sign_before_the_association(sent, funder_signatory):
    with pytest.raises(TransitionNotAllowed, match="dans l'ordre"):
        signature_sign_as_funder(
            actor=funder_signatory, signature=sent.signatures.get(position=2), ip_address=None
        )


@pytest.mark.parametrize(
    "certificate,code,message",
    [
        ("expired", "certificate_expired", "a expiré"),
        ("revoked", "certificate_revoked", "révoqué"),
    ],
)
def test_expired_or_revoked_funder_certificate_is_refused(
    sent,
    representative,
    funder_signatory,
    ville,
    signing,
    certificate,
    code,
    message,
    django_capture_on_commit_callbacks,
):
    sign_as_representative(sent, representative, django_capture_on_commit_callbacks)
    FunderCertificate.objects.filter(funder=ville).update(
        pkcs12_path=str(getattr(signing, certificate))
    )
    with pytest.raises(DomainError, match=message) as exc:
        signature_sign_as_funder(
            actor=funder_signatory, signature=sent.signatures.get(position=2), ip_address=None
        )
    assert exc.value.code == code
    assert Signature.objects.get(position=2, request=sent).state == "pending"
    refused = AuditLog.objects.get(action="cpo.signature.refused")
    assert refused.payload["code"] == code
    assert Agreement.objects.get(pk=sent.agreement_id).state == AgreementState.SENT_FOR_SIGNATURE


def test_a_document_changed_since_it_was_sent_is_refused(
    sent, representative, django_capture_on_commit_callbacks
):
    Agreement.objects.filter(pk=sent.agreement_id).update(title="Un autre objet")
    with (
        pytest.raises(DomainError, match="a changé depuis son envoi") as exc,
        django_capture_on_commit_callbacks(execute=True),
    ):
        signature_code_send(actor=representative, signature=sent.signatures.get(position=1))
    assert exc.value.code == "document_changed"
    assert SignatureRequest.objects.get(pk=sent.pk).state == "invalidated"
    assert "cpo.signature.invalidated" in actions(sent.agreement)
    assert mail.outbox == []


def test_a_modified_byte_in_the_stored_signed_pdf_is_detected(
    sent, representative, funder_signatory, django_capture_on_commit_callbacks
):
    sign_as_representative(sent, representative, django_capture_on_commit_callbacks)
    signature_sign_as_funder(
        actor=funder_signatory, signature=sent.signatures.get(position=2), ip_address=None
    )
    request = SignatureRequest.objects.get(pk=sent.pk)
    content = bytearray(request.signed.open("rb").read())
    middle = len(content) // 3  # inside the first revision, covered by both signatures
    content[middle] ^= 0x01
    with open(request.signed.path, "wb") as handle:
        handle.write(bytes(content))
    with pytest.raises(pades.BrokenSignedDocument, match="Téléchargement refusé") as exc:
        signed_document_bytes(actor=representative, request=request)
    assert exc.value.status_code == 409
    rejected = AuditLog.objects.get(action="cpo.signature.document_rejected")
    assert "ne peut pas être validé" in rejected.reason or "n'est pas celui" in rejected.reason


def test_a_byte_appended_after_the_last_signature_is_detected(
    sent, representative, funder_signatory, django_capture_on_commit_callbacks
):
    sign_as_representative(sent, representative, django_capture_on_commit_callbacks)
    signature_sign_as_funder(
        actor=funder_signatory, signature=sent.signatures.get(position=2), ip_address=None
    )
    request = SignatureRequest.objects.get(pk=sent.pk)
    with open(request.signed.path, "ab") as handle:
        handle.write(b"%% ajout\n")
    with pytest.raises(pades.BrokenSignedDocument):
        signed_document_bytes(actor=representative, request=request)


def test_only_instruction_sends_for_signature(representative, to_sign):
    with pytest.raises(PermissionDenied):
        signature_request_send(actor=representative, agreement=to_sign)
    assert SignatureRequest.objects.count() == 0


def test_a_funder_without_certificate_is_refused_at_sending(instructor, to_sign, ville):
    FunderCertificate.objects.filter(funder=ville).delete()
    with pytest.raises(DomainError, match="Aucun certificat"):
        signature_request_send(actor=instructor, agreement=to_sign)
    assert Agreement.objects.get(pk=to_sign.pk).state == AgreementState.DRAFT
