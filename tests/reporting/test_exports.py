"""Exports as background jobs: request checks, column templates, one file per format read back,
progress, audit, and the expiring download link."""

from __future__ import annotations

import csv
import datetime
import io
import json
import zipfile
from decimal import Decimal

import openpyxl
import pandas as pd
import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse

from core.audit import registered_actions
from core.errors import DomainError, PermissionDenied
from core.models import AuditLog, BackgroundJob, ExportTemplate, Role
from cpo.models import Instalment
from grants.models import ApplicationState
from reporting import exports
from reporting.exports import (
    FORMATS,
    clean_export_request,
    export_start,
    export_template_delete,
    export_template_save,
    run_export,
    write_export,
)
from reporting.resources import DATASETS
from tests import factories as f

COLUMNS = ["reference", "organisation", "requested_amount", "state", "qpvs", "submitted_at"]


@pytest.fixture
def filed(db, organisation):
    """Five filed applications (a manager exports them all)."""
    return [
        f.ApplicationFactory(
            organisation=organisation,
            state=ApplicationState.SUBMITTED,
            requested_amount=Decimal("1000.50") + n,
            submitted_at=datetime.datetime(2026, 3, 2, 9, n, tzinfo=datetime.UTC),
        )
        for n in range(5)
    ]


def start(user, *, dataset="applications", columns=COLUMNS, file_format="csv", filters=None):
    return export_start(
        actor=user, dataset=dataset, columns=columns, file_format=file_format, filters=filters
    )


def run(django_capture_on_commit_callbacks, user, **kwargs) -> BackgroundJob:
    with django_capture_on_commit_callbacks(execute=True):
        job = start(user, **kwargs)
    return BackgroundJob.objects.get(pk=job.pk)


def read_back(job: BackgroundJob) -> tuple[list, list[list]]:
    """Headers and rows of the job's file, whatever its format."""
    with job.result_file.open("rb") as fh:
        data = fh.read()
    name = job.result_name
    if name.endswith(".csv"):
        # « Excel (France) » has a BOM and `;`; the plain CSV neither (core.tabular.writer).
        excel = data.startswith(b"\xef\xbb\xbf")
        text = data.decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";" if excel else ","))
        return rows[0], rows[1:]
    if name.endswith(".json"):
        objects = json.loads(data, parse_float=Decimal)
        headers = list(objects[0]) if objects else []
        return headers, [list(o.values()) for o in objects]
    if name.endswith(".xlsx"):
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
        rows = [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]
        return rows[0], rows[1:]
    assert name.endswith(".ods")
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        first = z.infolist()[0]
        assert (first.filename, first.compress_type) == ("mimetype", zipfile.ZIP_STORED)
    frame = pd.read_excel(io.BytesIO(data), engine="odf", dtype=object)
    return list(frame.columns), frame.where(frame.notna(), None).values.tolist()


# --------------------------------------------------------------------------- request checks


def test_unknown_columns_are_named_in_a_french_error(manager):
    with pytest.raises(DomainError) as exc:
        clean_export_request(
            user=manager,
            dataset="applications",
            columns=["reference", "montant", "iban"],
            file_format="csv",
        )
    assert exc.value.field == "columns"
    assert "Colonnes inconnues ou non autorisées : montant, iban" in str(exc.value)


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"columns": []}, "columns", "Choisissez au moins une colonne."),
        ({"file_format": "pdf"}, "file_format", "Format inconnu : « pdf »"),
        ({"filters": {"state": "paid"}}, "state", "État inconnu : « paid »"),
        ({"filters": {"fiscal_year": "deux mille"}}, "fiscal_year", "L'exercice doit être"),
        ({"filters": {"fiscal_year": 1789}}, "fiscal_year", "L'exercice doit être"),
    ],
)
def test_bad_requests(manager, kwargs, field, message):
    request = {"dataset": "applications", "columns": ["reference"], "file_format": "csv"}
    with pytest.raises(DomainError) as exc:
        clean_export_request(user=manager, **{**request, **kwargs})
    assert exc.value.field == field
    assert message in str(exc.value)


def test_bank_columns_refused_to_non_finance_staff(instructor, finance_officer):
    request = {"dataset": "organisations", "columns": ["name", "iban"], "file_format": "csv"}
    with pytest.raises(DomainError, match="iban"):
        clean_export_request(user=instructor, **request)
    spec, columns, _fmt, _filters = clean_export_request(user=finance_officer, **request)
    assert columns == ["name", "iban"]


def test_dataset_outside_the_audience_is_refused(applicant, panel_member):
    with pytest.raises(PermissionDenied):
        clean_export_request(
            user=applicant, dataset="organisations", columns=["name"], file_format="csv"
        )
    with pytest.raises(PermissionDenied):
        clean_export_request(
            user=panel_member, dataset="applications", columns=["reference"], file_format="csv"
        )


def test_a_refused_export_starts_no_job_and_writes_no_audit(manager):
    with pytest.raises(DomainError):
        start(manager, columns=["reference", "nope"])
    assert not BackgroundJob.objects.exists()
    assert not AuditLog.objects.filter(action="reporting.export.requested").exists()


# --------------------------------------------------------------------------- templates


def test_template_save_reuse_replace_and_delete(manager):
    template = export_template_save(
        actor=manager,
        dataset="applications",
        name=" Suivi comité ",
        columns=["state", "reference", "state"],
        file_format="xlsx",
    )
    assert (template.name, template.columns, template.file_format) == (
        "Suivi comité",
        ["state", "reference"],  # order kept, duplicates dropped
        "xlsx",
    )
    again = export_template_save(
        actor=manager,
        dataset="applications",
        name="Suivi comité",
        columns=["reference"],
        file_format="ods",
    )
    assert again.pk == template.pk
    assert ExportTemplate.objects.get().columns == ["reference"]

    export_template_delete(actor=manager, template=again)
    assert not ExportTemplate.objects.exists()


def test_template_with_unknown_column_is_refused_and_nothing_saved(manager):
    with pytest.raises(DomainError) as exc:
        export_template_save(
            actor=manager,
            dataset="applications",
            name="Mauvais",
            columns=["reference", "budget"],
            file_format="csv",
        )
    assert exc.value.field == "columns" and "budget" in str(exc.value)
    with pytest.raises(DomainError) as exc:
        export_template_save(
            actor=manager,
            dataset="applications",
            name="  ",
            columns=["reference"],
            file_format="csv",
        )
    assert exc.value.field == "template_name"
    assert not ExportTemplate.objects.exists()


def test_only_the_owner_deletes_a_template(manager, auditor):
    template = export_template_save(
        actor=manager, dataset="calls", name="Appels", columns=["title"], file_format="csv"
    )
    with pytest.raises(PermissionDenied):
        export_template_delete(actor=auditor, template=template)
    assert ExportTemplate.objects.filter(pk=template.pk).exists()


def test_model_constraint_still_holds(manager):
    ExportTemplate.objects.create(owner=manager, dataset="calls", name="A", columns=["title"])
    with pytest.raises(ValidationError):
        ExportTemplate(owner=manager, dataset="calls", name="A", columns=[]).validate_constraints()


# --------------------------------------------------------------------------- the job, per format


@pytest.mark.parametrize("file_format", sorted(FORMATS))
def test_job_writes_every_row_in_each_format(
    django_capture_on_commit_callbacks, manager, filed, file_format
):
    job = run(django_capture_on_commit_callbacks, manager, file_format=file_format)

    assert job.state == BackgroundJob.State.DONE, job.error
    extension = FORMATS[file_format].extension
    assert job.result_name.startswith("dossiers-") and job.result_name.endswith(f".{extension}")
    assert (job.progress_done, job.progress_total) == (5, 5)
    assert job.result["Lignes"] == 5 and job.result["Format"] == FORMATS[file_format].label
    headers, rows = read_back(job)
    assert headers == [
        "Référence",
        "Organisation",
        "Montant demandé (€)",
        "État",
        "Quartiers ciblés",
        "Déposé le",
    ]
    assert len(rows) == 5
    by_reference = {r[0]: r for r in rows}
    first = filed[0]
    row = by_reference[first.reference]
    assert row[1] == first.organisation.name
    assert row[3] == "Déposé"
    assert row[4] == first.qpvs.get().code
    amount, submitted = row[2], row[5]
    if file_format == "csv":
        assert (amount, submitted) == ("1000.50", "2026-03-02 10:00")
    elif file_format == "excel-fr":  # decimal comma, French date
        assert (amount, submitted) == ("1000,50", "02/03/2026 10:00")
    elif file_format == "json":
        assert (amount, submitted) == (Decimal("1000.50"), "2026-03-02T10:00:00")
    else:  # spreadsheets: a number and a date
        assert Decimal(str(amount)) == Decimal("1000.5")
        assert pd.Timestamp(submitted).to_pydatetime() == datetime.datetime(2026, 3, 2, 10, 0)


def test_columns_in_the_order_chosen(django_capture_on_commit_callbacks, manager, filed):
    job = run(django_capture_on_commit_callbacks, manager, columns=["state", "reference"])
    headers, rows = read_back(job)
    assert headers == ["État", "Référence"]
    assert sorted(r[1] for r in rows) == sorted(a.reference for a in filed)


def test_job_is_audited_with_bank_details_flag(
    django_capture_on_commit_callbacks, finance_officer, organisation
):
    assert "reporting.export.requested" in registered_actions()
    job = run(
        django_capture_on_commit_callbacks,
        finance_officer,
        dataset="organisations",
        columns=["name", "iban"],
        file_format="xlsx",
    )
    log = AuditLog.objects.get(action="reporting.export.requested")
    assert log.object_id == str(job.pk) and log.actor == finance_officer
    assert log.payload["bank_details"] is True and log.payload["columns"] == ["name", "iban"]
    headers, rows = read_back(job)
    assert rows == [[organisation.name, organisation.iban]]


def test_notification_links_to_the_job(django_capture_on_commit_callbacks, manager, filed):
    job = run(django_capture_on_commit_callbacks, manager)
    note = manager.notifications.get()
    assert note.url == reverse("core:job_detail", args=[job.pk])
    assert "Export prêt" in note.title


def test_progress_reported_after_every_chunk(monkeypatch, manager, filed, tmp_path):
    monkeypatch.setattr(exports, "CHUNK", 2)
    calls = []
    spec = DATASETS["applications"]
    with open(tmp_path / "out.csv", "w+b") as fh:
        count = write_export(
            user=manager,
            spec=spec,
            columns=["reference", "qpvs", "themes"],
            fmt=FORMATS["csv"],
            filters={},
            fh=fh,
            progress=lambda done, total: calls.append((done, total)),
        )
        fh.seek(0)
        lines = fh.read().decode("utf-8-sig").splitlines()
    assert count == 5
    assert calls == [(0, 5), (2, 5), (4, 5), (5, 5)]
    # Multi-valued columns are right across chunks.
    codes = {a.reference: a.qpvs.get().code for a in filed}
    assert sorted(lines[1:]) == sorted(f"{ref},{code}," for ref, code in codes.items())


def test_scope_and_columns_are_checked_again_when_the_job_runs(finance_officer, organisation):
    job = BackgroundJob.objects.create(
        owner=finance_officer,
        kind=exports.EXPORT_JOB,
        label="Export",
        params={"dataset": "organisations", "columns": ["name", "iban"], "file_format": "csv"},
    )
    finance_officer.role_assignments.all().delete()
    f.give_role(finance_officer, Role.AUDITOR)
    job = BackgroundJob.objects.get(pk=job.pk)
    with pytest.raises(DomainError, match="iban"):
        run_export(job, lambda done, total=None: None)


def test_empty_export_still_gives_a_file_with_headers(
    django_capture_on_commit_callbacks, manager, db
):
    job = run(django_capture_on_commit_callbacks, manager, file_format="xlsx")
    assert job.state == BackgroundJob.State.DONE
    headers, rows = read_back(job)
    assert headers[0] == "Référence" and rows == []
    assert job.result["Lignes"] == 0


def test_instalments_export_for_the_finance_team(
    django_capture_on_commit_callbacks, finance_officer, instructor, organisation
):
    agreement = f.cpo_awaiting_evaluation(instructor=instructor, organisation=organisation)
    job = run(
        django_capture_on_commit_callbacks,
        finance_officer,
        dataset="instalments",
        columns=["reference", "organisation", "siret", "iban", "bic", "ej_number", "amount"],
        file_format="ods",
    )
    headers, rows = read_back(job)
    assert headers[:5] == ["Référence", "Bénéficiaire", "SIRET", "IBAN", "BIC"]
    assert len(rows) == Instalment.objects.filter(agreement=agreement).count()
    assert {(r[1], r[2], r[3]) for r in rows} == {
        (organisation.name, organisation.siret, organisation.iban)
    }
    total = sum(Decimal(str(r[6])) for r in rows)
    assert total == agreement.total_amount


def test_odd_text_survives_every_format(django_capture_on_commit_callbacks, manager, organisation):
    title = '  Ateliers <cuisine> & "jardins"\nau  pied des tours \x07'
    f.ApplicationFactory(organisation=organisation, state=ApplicationState.SUBMITTED, title=title)
    for file_format in FORMATS:
        job = run(
            django_capture_on_commit_callbacks, manager, columns=["title"], file_format=file_format
        )
        _headers, rows = read_back(job)
        keeps = ("csv", "excel-fr", "json")
        expected = title if file_format in keeps else title.replace("\x07", "")
        assert rows == [[expected]], file_format


# --------------------------------------------------------------------------- the download link


def test_download_until_the_link_expires(
    django_capture_on_commit_callbacks, client, manager, filed, settings
):
    job = run(django_capture_on_commit_callbacks, manager)
    client.force_login(manager)
    url = reverse("core:job_download", args=[job.pk])
    response = client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content).decode("utf-8-sig").count("\r\n") == 6

    later = job.expires_at + datetime.timedelta(minutes=1)
    ttl = datetime.timedelta(hours=settings.JOB_FILE_TTL_HOURS)
    assert abs(job.expires_at - job.finished_at - ttl) < datetime.timedelta(seconds=1)
    with time_machine.travel(later, tick=False):
        assert client.get(url).status_code == 404
        page = client.get(reverse("core:job_detail", args=[job.pk]))
        assert "Le fichier a expiré" in page.content.decode()


def test_someone_else_cannot_download(django_capture_on_commit_callbacks, client, manager, auditor):
    job = run(django_capture_on_commit_callbacks, manager)
    client.force_login(auditor)
    assert client.get(reverse("core:job_download", args=[job.pk])).status_code == 404
