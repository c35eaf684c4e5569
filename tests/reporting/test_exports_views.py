"""Export pages: who reaches them, the columns offered, starting a job, templates from the page."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from core.models import BackgroundJob, ExportTemplate
from grants.models import ApplicationState
from reporting.exports import export_template_save
from tests import factories as f

INDEX = reverse("reporting:exports")


def form_url(slug: str) -> str:
    return reverse("reporting:export_form", args=[slug])


def file_rows(job: BackgroundJob) -> list[list[str]]:
    with job.result_file.open("rb") as fh:
        data = fh.read()
    delimiter = ";" if data.startswith(b"\xef\xbb\xbf") else ","  # Excel (France) or plain CSV
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=delimiter))


@pytest.fixture
def filed(db, organisation):
    return [
        f.ApplicationFactory(
            organisation=organisation,
            state=ApplicationState.SUBMITTED,
            requested_amount=Decimal("2000.00"),
        )
        for _ in range(3)
    ]


def test_index_lists_the_datasets_of_each_audience(client, manager, applicant, panel_member):
    client.force_login(manager)
    page = client.get(INDEX).content.decode()
    for slug in ("dossiers", "conventions", "echeances", "evaluations", "organisations", "appels"):
        assert form_url(slug) in page
    client.force_login(applicant)
    page = client.get(INDEX).content.decode()
    assert form_url("dossiers") in page and form_url("organisations") not in page
    client.force_login(panel_member)
    assert client.get(INDEX).status_code == 403
    assert client.get(form_url("dossiers")).status_code == 404


def test_anonymous_is_sent_to_login(client, db):
    response = client.get(INDEX)
    assert response.status_code == 302
    assert response.url.startswith(reverse("core:login"))


def test_pages_meet_the_accessibility_basics(client, manager, finance_officer):
    from tests.test_accessibility_pages import audit

    template = export_template_save(
        actor=manager, dataset="applications", name="A", columns=["reference"], file_format="csv"
    )
    client.force_login(manager)
    problems = audit(client, INDEX) + audit(client, f"{form_url('dossiers')}?modele={template.pk}")
    client.force_login(finance_officer)
    problems += audit(client, form_url("organisations")) + audit(client, form_url("echeances"))
    assert problems == []


def test_dataset_outside_the_audience_is_404(client, applicant):
    client.force_login(applicant)
    assert client.get(form_url("organisations")).status_code == 404
    assert client.get(form_url("inconnu")).status_code == 404


def test_bank_columns_are_offered_to_finance_only(client, instructor, finance_officer):
    client.force_login(instructor)
    page = client.get(form_url("organisations")).content.decode()
    assert 'value="siret"' in page and 'value="iban"' not in page
    client.force_login(finance_officer)
    page = client.get(form_url("organisations")).content.decode()
    assert 'value="iban"' in page and 'value="bic"' in page


def test_start_an_export_in_the_order_posted(
    client, manager, filed, django_capture_on_commit_callbacks
):
    client.force_login(manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            form_url("dossiers"),
            {
                "columns": ["requested_amount", "reference", "state"],
                "file_format": "csv",
                "state": "submitted",
                "action": "export",
            },
        )
    job = BackgroundJob.objects.get(owner=manager)
    assert response.status_code == 302
    assert response.url == reverse("core:job_detail", args=[job.pk])
    assert job.state == BackgroundJob.State.DONE
    rows = file_rows(job)
    assert rows[0] == ["Montant demandé (€)", "Référence", "État"]
    assert sorted(rows[1:]) == sorted(["2000.00", a.reference, "Déposé"] for a in filed)
    page = client.get(response.url).content.decode()
    assert reverse("core:job_download", args=[job.pk]) in page


def test_unknown_column_gives_a_french_error_and_no_job(client, manager, filed):
    client.force_login(manager)
    response = client.post(
        form_url("dossiers"),
        {"columns": ["reference", "iban"], "file_format": "csv", "action": "export"},
    )
    assert response.status_code == 400
    assert "Colonnes inconnues ou non autorisées : iban" in response.content.decode()
    assert not BackgroundJob.objects.exists()


def test_save_a_template_then_reuse_it(client, manager, filed):
    client.force_login(manager)
    response = client.post(
        form_url("dossiers"),
        {
            "columns": ["state", "reference"],
            "file_format": "ods",
            "template_name": "Comité",
            "action": "save",
        },
    )
    template = ExportTemplate.objects.get(owner=manager)
    assert (template.dataset, template.columns, template.file_format) == (
        "applications",
        ["state", "reference"],
        "ods",
    )
    assert response.url == f"{form_url('dossiers')}?modele={template.pk}"
    assert not BackgroundJob.objects.exists()

    page = client.get(response.url).content.decode()
    # The template's columns come first, checked, in its order; the others follow unchecked.
    state_at = page.index('value="state" id="col-state" checked')
    reference_at = page.index('value="reference" id="col-reference" checked')
    title_at = page.index('value="title" id="col-title">')
    assert state_at < reference_at < title_at
    assert 'value="ods" id="id_file_format_3" required checked' in page

    index = client.get(INDEX).content.decode()
    assert "Comité" in index


def test_save_without_a_name_is_refused(client, manager):
    client.force_login(manager)
    response = client.post(
        form_url("dossiers"), {"columns": ["reference"], "file_format": "csv", "action": "save"}
    )
    assert response.status_code == 400
    assert "Donnez un nom au modèle." in response.content.decode()
    assert not ExportTemplate.objects.exists()


def test_export_and_save_the_template_at_once(
    client, manager, filed, django_capture_on_commit_callbacks
):
    client.force_login(manager)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            form_url("dossiers"),
            {
                "columns": ["reference"],
                "file_format": "json",
                "template_name": "Références",
                "action": "export",
            },
        )
    assert ExportTemplate.objects.get(owner=manager).name == "Références"
    assert BackgroundJob.objects.get(owner=manager).result_name.endswith(".json")


def test_someone_elses_template_is_404(client, manager, auditor):
    template = export_template_save(
        actor=manager, dataset="applications", name="A", columns=["reference"], file_format="csv"
    )
    client.force_login(auditor)
    assert client.get(f"{form_url('dossiers')}?modele={template.pk}").status_code == 404
    delete = reverse("reporting:export_template_delete", args=[template.pk])
    assert client.post(delete).status_code == 404
    assert ExportTemplate.objects.filter(pk=template.pk).exists()


def test_delete_own_template(client, manager):
    template = export_template_save(
        actor=manager, dataset="calls", name="Appels", columns=["title"], file_format="csv"
    )
    client.force_login(manager)
    delete = reverse("reporting:export_template_delete", args=[template.pk])
    assert client.get(delete).status_code == 405
    response = client.post(delete, follow=True)
    assert response.redirect_chain[-1][0] == INDEX
    assert "Modèle « Appels » supprimé." in response.content.decode()
    assert not ExportTemplate.objects.exists()


def test_template_columns_no_longer_allowed_are_announced(client, finance_officer):
    template = export_template_save(
        actor=finance_officer,
        dataset="organisations",
        name="Banque",
        columns=["name", "iban"],
        file_format="csv",
    )
    finance_officer.role_assignments.all().delete()
    f.give_role(finance_officer, "auditor")
    client.force_login(finance_officer)
    page = client.get(f"{form_url('organisations')}?modele={template.pk}").content.decode()
    assert "Colonnes du modèle qui ne sont plus disponibles : iban." in page
    assert 'value="iban"' not in page


def test_applicant_exports_own_instalments_with_bank_details(
    client, applicant, instructor, organisation, django_capture_on_commit_callbacks
):
    agreement = f.cpo_awaiting_evaluation(instructor=instructor, organisation=organisation)
    client.force_login(applicant)
    page = client.get(form_url("echeances")).content.decode()
    assert 'value="iban"' in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            form_url("echeances"),
            {"columns": ["agreement", "iban", "amount"], "file_format": "csv"},
        )
    rows = file_rows(BackgroundJob.objects.get(owner=applicant))
    assert rows[0] == ["Convention", "IBAN", "Montant (€)"]
    assert {tuple(r[:2]) for r in rows[1:]} == {(agreement.reference, organisation.iban)}
    assert len(rows) - 1 == agreement.instalments.count()


def test_bad_filter_is_shown_next_to_the_field(client, manager):
    client.force_login(manager)
    response = client.post(
        form_url("dossiers"),
        {"columns": ["reference"], "file_format": "csv", "fiscal_year": "12"},
    )
    assert response.status_code == 400
    assert not BackgroundJob.objects.exists()
