"""Documents on the organisation's profile: upload checks, private storage, download permissions."""

import io
import zipfile
from datetime import date, timedelta

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from core import services
from core.errors import DomainError, PermissionDenied
from core.models import AuditLog, OrganisationDocument

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64


def _upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content)


def _office(kind: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        if kind == "odt":
            archive.writestr("mimetype", "application/vnd.oasis.opendocument.text")
            archive.writestr("content.xml", "<office:document-content/>")
        else:
            archive.writestr("[Content_Types].xml", "<Types/>")
            archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


def _doc(actor, organisation, name="statuts.pdf", content=PDF, **kwargs):
    return services.document_upload(
        actor=actor,
        organisation=organisation,
        kind=kwargs.pop("kind", "statutes"),
        file=_upload(name, content),
        valid_until=kwargs.pop("valid_until", None),
        title=kwargs.pop("title", "Statuts 2025"),
    )


# --------------------------------------------------------------------------- upload rules


def test_member_uploads_pdf_stored_privately_and_audited(organisation, applicant):
    document = _doc(applicant, organisation, valid_until=date.today() + timedelta(days=365))
    assert document.original_name == "statuts.pdf" and document.size == len(PDF)
    assert document.file.name.startswith(f"documents/{organisation.pk}/")
    assert default_storage.exists(document.file.name)
    # Private storage: no public URL is configured for uploaded files.
    with default_storage.open(document.file.name) as handle:
        assert handle.read() == PDF
    row = AuditLog.objects.get(action="core.document.uploaded")
    assert row.payload["kind"] == "statutes" and row.actor == applicant


@pytest.mark.parametrize(
    "name,content",
    [
        ("logo.png", PNG),
        ("photo.JPG", b"\xff\xd8\xff\xe0" + b"\x00" * 20),
        ("rapport.odt", _office("odt")),
        ("budget.docx", _office("docx")),
    ],
)
def test_accepted_formats(organisation, applicant, name, content):
    assert _doc(applicant, organisation, name=name, content=content).pk


def test_too_big_refused(organisation, applicant, settings):
    settings.UPLOAD_MAX_BYTES = 1024
    with pytest.raises(DomainError) as exc:
        _doc(applicant, organisation, content=PDF + b"0" * 2048)
    assert "taille maximale" in str(exc.value.errors["file"][0])
    assert not OrganisationDocument.objects.exists()


def test_wrong_extension_refused(organisation, applicant):
    with pytest.raises(DomainError) as exc:
        _doc(applicant, organisation, name="virus.exe", content=EXE)
    assert "Type de fichier refusé" in str(exc.value.errors["file"][0])


@pytest.mark.parametrize(
    "name,content",
    [
        ("statuts.pdf", EXE),
        ("rib.png", PDF),
        ("compte.docx", b"PK\x03\x04garbage"),
        ("rapport.odt", _office("docx")),
    ],
)
def test_renamed_or_fake_files_refused(organisation, applicant, name, content):
    with pytest.raises(DomainError) as exc:
        _doc(applicant, organisation, name=name, content=content)
    assert "ne correspond pas" in str(exc.value.errors["file"][0])
    assert not OrganisationDocument.objects.exists()


def test_expired_validity_refused(organisation, applicant):
    with pytest.raises(DomainError) as exc:
        _doc(applicant, organisation, valid_until=date.today() - timedelta(days=1))
    assert "valid_until" in exc.value.errors


def test_non_member_cannot_upload(organisation, other_applicant, instructor):
    for actor in (other_applicant, instructor):
        with pytest.raises(PermissionDenied):
            _doc(actor, organisation)


def test_delete_removes_row_and_file(organisation, applicant, django_capture_on_commit_callbacks):
    document = _doc(applicant, organisation)
    name = document.file.name
    with django_capture_on_commit_callbacks(execute=True):
        services.document_delete(actor=applicant, document=document)
    assert not OrganisationDocument.objects.exists()
    assert not default_storage.exists(name)
    assert AuditLog.objects.filter(action="core.document.deleted").exists()


def test_document_attached_to_a_filed_application_is_kept(organisation, applicant, draft):
    document = _doc(applicant, organisation)
    draft.documents.add(document)
    with pytest.raises(DomainError):
        services.document_delete(actor=applicant, document=document)
    assert OrganisationDocument.objects.filter(pk=document.pk).exists()


# --------------------------------------------------------------------------- pages


def test_upload_page_shows_errors_next_to_the_file_field(client, organisation, applicant):
    client.force_login(applicant)
    url = reverse("core:documents", args=[organisation.pk])
    response = client.post(
        url,
        {"kind": "statutes", "title": "", "valid_until": "", "file": _upload("statuts.pdf", EXE)},
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert 'id="id_file_error"' in body and "ne correspond pas" in body
    response = client.post(
        url,
        {
            "kind": "statutes",
            "title": "Statuts",
            "valid_until": "",
            "file": _upload("statuts.pdf", PDF),
        },
    )
    assert response.status_code == 302
    assert "Statuts" in client.get(url).content.decode()


def test_staff_see_the_list_without_upload_form(client, organisation, applicant, instructor):
    _doc(applicant, organisation)
    client.force_login(instructor)
    response = client.get(reverse("core:documents", args=[organisation.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Statuts 2025" in body and 'enctype="multipart/form-data"' not in body


def test_delete_page_by_other_applicant_is_404(client, organisation, applicant, other_applicant):
    document = _doc(applicant, organisation)
    client.force_login(other_applicant)
    response = client.post(reverse("core:document_delete", args=[organisation.pk, document.pk]))
    assert response.status_code == 404
    assert OrganisationDocument.objects.filter(pk=document.pk).exists()


@pytest.mark.parametrize("who", ["applicant", "instructor", "finance_officer", "auditor"])
def test_download_by_member_or_staff(client, organisation, applicant, who, request):
    document = _doc(applicant, organisation)
    client.force_login(request.getfixturevalue(who))
    response = client.get(reverse("core:document_download", args=[document.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert 'attachment; filename="statuts.pdf"' in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("who", ["other_applicant", "panel_member"])
def test_download_by_others_is_404(client, organisation, applicant, who, request):
    document = _doc(applicant, organisation)
    client.force_login(request.getfixturevalue(who))
    assert client.get(reverse("core:document_download", args=[document.pk])).status_code == 404


def test_download_anonymous_redirects_to_login(client, organisation, applicant):
    document = _doc(applicant, organisation)
    response = client.get(reverse("core:document_download", args=[document.pk]))
    assert response.status_code == 302 and response.url.startswith(reverse("core:login"))
