"""Access and portability (RGPD art. 15, 20): a person's data as a ZIP built by a background job,
everything about them and nothing about anyone else; the « Vos données » page and the register
of processing generated from the rules; who downloaded an organisation's documents."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest
from axes.models import AccessFailureLog
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from core import services
from core.errors import PermissionDenied
from core.models import AuditLog, BackgroundJob, Notification
from core.privacy.export import personal_data_export_start
from core.privacy.retention import rules

from .. import factories as f

pytestmark = pytest.mark.django_db
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def upload(actor, organisation, name: str, content: bytes):  # noqa: ANN001, ANN201
    return services.document_upload(
        actor=actor,
        organisation=organisation,
        kind="statutes",
        file=SimpleUploadedFile(name, content),
        valid_until=None,
        title="Statuts",
    )


def read_zip(client, job_id: int) -> zipfile.ZipFile:  # noqa: ANN001
    response = client.get(reverse("core:job_download", args=[job_id]))
    assert response.status_code == 200
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def test_my_export_holds_everything_about_me_and_nothing_about_anyone_else(
    client, applicant, other_applicant, organisation, django_capture_on_commit_callbacks
):
    other_org = f.OrganisationFactory(name="Autre association")
    f.add_member(other_applicant, other_org)
    mine = upload(applicant, organisation, "mes-statuts.pdf", PDF + b"moi")
    upload(other_applicant, other_org, "leurs-statuts.pdf", PDF + b"autre")
    Notification.objects.create(user=applicant, title="Votre dossier est complet")
    Notification.objects.create(user=other_applicant, title="Secret de quelqu'un d'autre")
    AccessFailureLog.objects.create(username=applicant.email, ip_address="10.0.0.1")
    AccessFailureLog.objects.create(username=other_applicant.email, ip_address="10.9.9.9")

    client.force_login(applicant)
    assert client.get(reverse("core:my_data")).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("core:my_data_export"))
    job = BackgroundJob.objects.get(owner=applicant, kind="core.personal_data_export")
    assert response.url == reverse("core:job_detail", args=[job.pk])
    assert job.state == "done" and job.percent == 100
    archive = read_zip(client, job.pk)
    data = json.loads(archive.read("donnees.json"))
    assert data["compte"]["email"] == applicant.email
    assert [n["title"] for n in data["notifications"]] == ["Votre dossier est complet"]
    assert [x["ip_address"] for x in data["echecs_de_connexion"]] == ["10.0.0.1"]
    assert [o["organisation__name"] for o in data["organisations"]] == [organisation.name]
    assert any(a["action"] == "core.document.uploaded" for a in data["actions_au_journal"])
    [document] = data["documents_deposes"]
    assert archive.read(document["fichier"]) == PDF + b"moi"
    assert document["fichier"].endswith(f"{mine.pk}-mes-statuts.pdf")
    everything = b"".join(archive.read(name) for name in archive.namelist())
    for foreign in (
        other_applicant.email,
        "Secret de quelqu'un",
        "10.9.9.9",
        "Autre association",
        "leurs-statuts",
    ):
        assert foreign.encode() not in everything, foreign
    assert b"autre" not in everything.replace(b"Autre", b"")  # the other file's content
    assert AuditLog.objects.filter(
        action="core.personal_data.export_requested", actor=applicant
    ).exists()


def test_someone_elses_export_is_404(
    client, applicant, other_applicant, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = personal_data_export_start(actor=applicant, person=applicant)
    client.force_login(other_applicant)
    assert client.get(reverse("core:job_detail", args=[job.pk])).status_code == 404
    assert client.get(reverse("core:job_download", args=[job.pk])).status_code == 404
    with pytest.raises(PermissionDenied):
        personal_data_export_start(actor=other_applicant, person=applicant)


def test_an_administrator_exports_on_someones_behalf(
    admin_client, admin_user, applicant, django_capture_on_commit_callbacks
):
    Notification.objects.create(user=applicant, title="Pour la personne")
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse("admin:core_user_changelist"),
            {"action": "export_personal_data", "_selected_action": [applicant.pk]},
        )
    job = BackgroundJob.objects.get(owner=admin_user, kind="core.personal_data_export")
    data = json.loads(read_zip(admin_client, job.pk).read("donnees.json"))
    assert data["compte"]["email"] == applicant.email
    assert [n["title"] for n in data["notifications"]] == ["Pour la personne"]


def test_your_data_page_and_register_are_generated_from_the_rules(client):
    page = client.get(reverse("core:your_data")).content.decode()
    for rule in rules():
        assert f'id="rule-{rule.code}"' in page
    response = client.get(reverse("core:processing_register"))
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert len(rows) == len(rules()) + 1
    header = rows[0]
    assert {"Catégorie de données", "Durée de conservation", "Finalité et base légale"} <= set(
        header
    )
    codes = [row[header.index("Règle")] for row in rows[1:]]
    assert codes == [r.code for r in rules()]


def test_document_downloads_are_logged_and_shown_to_the_organisations_admin(
    client, applicant, instructor, organisation, other_applicant
):
    document = upload(applicant, organisation, "statuts.pdf", PDF)
    client.force_login(instructor)
    assert client.get(reverse("core:document_download", args=[document.pk])).status_code == 200
    row = AuditLog.objects.get(action="core.document.downloaded")
    assert row.actor == instructor and row.object_id == str(document.pk)
    client.force_login(applicant)  # the organisation's admin
    page = client.get(reverse("core:organisation_downloads", args=[organisation.pk]))
    assert page.status_code == 200 and instructor.email in page.content.decode()
    client.force_login(other_applicant)
    url = reverse("core:organisation_downloads", args=[organisation.pk])
    assert client.get(url).status_code == 404
