"""Trusted time and long-term validation of the electronic signature (PAdES B-T / B-LT): every
signature carries an RFC 3161 timestamp from a trusted authority and the certificates and CRLs to
validate it later; a signature still validates once its signer's certificate has expired, and a
tampered timestamp is refused."""

from __future__ import annotations

import datetime
import io

import pytest
import time_machine
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.dss import DocumentSecurityStore

from core.clock import now
from core.errors import DomainError
from core.models import AuditLog
from cpo.models_signatures import Signature, SignatureRequest
from cpo.signatures import pdf as pades
from cpo.signatures import services as signing_services
from cpo.signatures.pki import make_test_pki

from .signing import sign_in_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed(
    instructor, to_sign, representative, funder_signatory, django_capture_on_commit_callbacks
):
    request = signing_services.signature_request_send(actor=instructor, agreement=to_sign)
    sign_in_order(request, representative, funder_signatory, django_capture_on_commit_callbacks)
    request = SignatureRequest.objects.get(pk=request.pk)
    assert request.state == "completed"
    return request


def content_of(request: SignatureRequest) -> bytes:
    with request.signed.open("rb") as handle:
        return bytes(handle.read())


def test_each_signature_is_timestamped_and_carries_its_validation_data(signed, pki):
    content = content_of(signed)
    for signature in signed.signatures.all():
        assert signature.timestamped_at is not None
        assert abs(signature.timestamped_at - signature.signed_at) < datetime.timedelta(minutes=1)
    checked = pades.validate_signed_pdf(content, signing_services._expected(signed))
    assert [c.timestamp for c in checked] == [s.timestamped_at for s in signed.signatures.all()]
    # B-LT: the document security store holds the CA, the signers', the authority's certificates
    # and the CA's revocation list.
    dss = DocumentSecurityStore.read_dss(PdfFileReader(io.BytesIO(content), strict=False))
    subjects = {c.subject.native["common_name"] for c in dss.load_certs()}
    assert "Pluriel — autorité d'horodatage (test)" in subjects
    assert "Financeur — signataire habilité (test)" in subjects
    assert len(dss.crls) >= 1
    row = AuditLog.objects.filter(action="cpo.signature.signed").last()
    assert row.payload["timestamp"]


def test_a_signature_still_validates_after_its_certificate_has_expired(signed):
    content = content_of(signed)
    expected = signing_services._expected(signed)
    # The signers' certificates of the test PKI end three years from now, and so does the CA's
    # revocation list; the authority's and the CA's certificates ten years from now. Four years on:
    later = now() + datetime.timedelta(days=4 * 365)
    # Validated as of that moment without the timestamp, the signer's certificate has expired…
    embedded = PdfFileReader(io.BytesIO(content), strict=False).embedded_signatures[1]
    plain = validate_pdf_signature(embedded, signer_validation_context=pades.trust_context(later))
    assert plain.intact and plain.valid and not plain.trusted
    # …but the timestamp proves it signed while it was valid, and the embedded validation data
    # (the CRL of that time) proves it was not revoked: on that day the file still validates.
    with time_machine.travel(later, tick=False):
        checked = pades.validate_signed_pdf(content, expected)
        with pytest.raises(pades.CertificateRefused, match="a expiré"):
            pades.check_certificate(plain.signing_cert, owner="la Ville")
    assert [c.field_name for c in checked] == ["Signature1", "Signature2"]
    assert checked[1].timestamp == Signature.objects.get(request=signed, position=2).timestamped_at


def test_a_tampered_timestamp_is_refused(signed, representative):
    content = content_of(signed)
    embedded = PdfFileReader(io.BytesIO(content), strict=False).embedded_signatures[1]
    token = next(iter(pades.extract_tst_data_iter(embedded.signer_info, signed=False)))
    imprint = token["encap_content_info"]["content"].parsed["message_imprint"]["hashed_message"]
    needle = imprint.native.hex().encode()
    if needle not in content:
        needle = needle.upper()
    assert content.count(needle) == 1
    first = needle[:1]
    forged = content.replace(needle, (b"0" if first != b"0" else b"1") + needle[1:])
    # The document's bytes covered by the signature are untouched; only the token inside the
    # signature's /Contents (outside the signed byte range) says another imprint.
    with pytest.raises(pades.BrokenSignedDocument, match="horodatage de la signature n° 2"):
        pades.validate_signed_pdf(forged, signing_services._expected(signed))
    # On download the refusal reaches the user with its reason, and is audited.
    with open(signed.signed.path, "wb") as handle:
        handle.write(forged)
    with pytest.raises(DomainError, match="horodatage"):
        signing_services.signed_document_bytes(actor=representative, request=signed)
    assert AuditLog.objects.filter(action="cpo.signature.document_rejected").exists()


def test_a_signature_recorded_before_timestamps_is_validated_as_of_its_recorded_time(signed):
    """Signatures given before timestamps existed (nothing recorded in `timestamped_at`) are
    still validated, as before: as of the time the platform recorded."""
    content = content_of(signed)
    expected = signing_services._expected(signed)
    assert all(e.timestamped for e in expected)
    legacy = [pades.Expected(e.field_name, e.certificate_subject, e.signed_at) for e in expected]
    # An old signature (before timestamps) is validated as of its recorded time, as before.
    assert len(pades.validate_signed_pdf(content, legacy)) == 2


def test_an_untrusted_time_stamping_authority_is_refused_before_signing(
    settings, tmp_path, instructor, to_sign, representative, django_capture_on_commit_callbacks
):
    stranger = make_test_pki(tmp_path / "other")
    settings.SIGNATURE_TSA_PKCS12 = str(stranger.tsa)
    request = signing_services.signature_request_send(actor=instructor, agreement=to_sign)
    first = request.signatures.get(position=1)
    with pytest.raises(DomainError, match="autorité d.horodatage") as exc:
        sign_in_order(request, representative, None, django_capture_on_commit_callbacks)
    assert exc.value.code == "validation_data_missing"
    assert Signature.objects.get(pk=first.pk).state == "pending"
    assert not SignatureRequest.objects.get(pk=request.pk).signed


def test_without_a_time_stamping_authority_nothing_is_signed(
    settings, instructor, to_sign, representative, django_capture_on_commit_callbacks
):
    settings.SIGNATURE_TSA_PKCS12 = ""
    settings.SIGNATURE_TSA_URL = ""
    request = signing_services.signature_request_send(actor=instructor, agreement=to_sign)
    with pytest.raises(DomainError, match="horodatage") as exc:
        sign_in_order(request, representative, None, django_capture_on_commit_callbacks)
    assert exc.value.code == "tsa_missing"
    assert not SignatureRequest.objects.get(pk=request.pk).signed
