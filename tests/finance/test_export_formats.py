"""Payment files people open (issue 16): « Excel (France) » and plain CSV downloads, and the
warning before a run whose payments lack a legal commitment number (EJ) goes out — UI and API."""

from __future__ import annotations

import csv
import html
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from core.models import AuditLog, Role
from cpo.models import InstalmentState
from finance import services as services_finance
from finance.models import PaymentRun, PaymentRunItem, PaymentRunState
from tests.factories import UserFactory, add_member, cpo_awaiting_evaluation, give_role

pytestmark = pytest.mark.django_db
RS = PaymentRunState


@pytest.fixture
def second_officer(db):
    user = UserFactory(email="comptable2@ville.example.org")
    give_role(user, Role.FINANCE_OFFICER)
    return user


@pytest.fixture
def agreement(instructor, applicant):
    agreement = cpo_awaiting_evaluation(instructor=instructor)
    add_member(applicant, agreement.organisation)
    type(agreement.organisation).objects.filter(pk=agreement.organisation_id).update(
        name="Association Les Jardins partagés — Île-de-France"
    )
    return agreement


def approved_run(agreement, finance_officer, second_officer, *, ej: bool = True) -> PaymentRun:
    if not ej:
        agreement.funders.update(ej_number="")
    ids = agreement.instalments.filter(state=InstalmentState.DUE).values_list("pk", flat=True)
    run = services_finance.payment_run_create(actor=finance_officer, instalment_ids=list(ids))
    return services_finance.payment_run_approve(actor=second_officer, run=run)


def text(response) -> str:
    return html.unescape(response.content.decode())


# --------------------------------------------------------------------------- formats


def test_payment_file_downloads_in_both_formats(client, agreement, finance_officer, second_officer):
    run = approved_run(agreement, finance_officer, second_officer)
    run = services_finance.payment_run_export(actor=finance_officer, run=run)
    client.force_login(finance_officer)
    page = text(client.get(reverse("finance:run_detail", args=[run.pk])))
    assert "Télécharger le CSV pour Excel (France)" in page

    plain = client.get(reverse("finance:run_download", args=[run.pk, "csv"]))
    data = b"".join(plain.streaming_content)
    assert data == run.export_csv.open("rb").read()  # the stored file, as handed over
    assert not data.startswith(b"\xef\xbb\xbf")
    plain_rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))
    assert sum(Decimal(r["montant"]) for r in plain_rows) == run.total

    excel = client.get(reverse("finance:run_download", args=[run.pk, "excel-fr"]))
    assert excel.status_code == 200
    assert excel["Content-Disposition"] == f'attachment; filename="{run.reference}-excel.csv"'
    assert excel.content.startswith(b"\xef\xbb\xbf")
    rows = list(
        csv.DictReader(io.StringIO(excel.content.decode("utf-8-sig"), newline=""), delimiter=";")
    )
    assert len(rows) == len(plain_rows) == 3
    assert rows[0]["beneficiaire"] == "Association Les Jardins partagés — Île-de-France"
    assert all("," in r["montant"] and "." not in r["montant"] for r in rows)
    assert sum(Decimal(r["montant"].replace(",", ".")) for r in rows) == run.total
    assert [r["reference_echeance"] for r in rows] == [r["reference_echeance"] for r in plain_rows]


def test_api_file_in_excel_format_and_unknown_format(agreement, finance_officer, second_officer):
    run = approved_run(agreement, finance_officer, second_officer)
    services_finance.payment_run_export(actor=finance_officer, run=run)
    api = APIClient()
    api.force_login(finance_officer)
    response = api.get(f"/api/finance/runs/{run.pk}/file/?format=excel-fr")
    assert response.status_code == 200
    assert response.content.startswith(b"\xef\xbb\xbf")
    header = response.content.decode("utf-8-sig").split("\r\n", 1)[0]
    assert header.split(";")[4] == "montant"
    wrong = api.get(f"/api/finance/runs/{run.pk}/file/?format=tsv")
    assert wrong.status_code == 400
    assert "excel-fr" in wrong.json()["detail"]


# --------------------------------------------------------------------------- EJ warning


def test_ui_warns_before_exporting_payments_without_ej_then_exports_on_confirmation(
    client, agreement, finance_officer, second_officer
):
    run = approved_run(agreement, finance_officer, second_officer, ej=False)
    client.force_login(finance_officer)
    url = reverse("finance:run_action", args=[run.pk, "export"])
    response = client.post(url)
    assert response.status_code == 409
    page = text(response)
    assert "3 paiements du lot" in page and "numéro d'engagement juridique" in page
    assert "Exporter quand même" in page
    assert page.count("Compléter l'EJ de la convention") == 3
    assert reverse("cpo:agreement_detail", args=[agreement.pk]) in page
    run = PaymentRun.objects.get(pk=run.pk)
    assert run.state == RS.APPROVED and not run.export_csv  # nothing written
    assert not AuditLog.objects.filter(action="cpo.payment_run.missing_ej_confirmed").exists()

    response = client.post(url, {"confirm_missing_ej": "1"})
    assert response.status_code == 302
    run = PaymentRun.objects.get(pk=run.pk)
    assert run.state == RS.EXPORTED
    entry = AuditLog.objects.get(action="cpo.payment_run.missing_ej_confirmed")
    assert entry.actor == finance_officer
    assert len(entry.payload["items"]) == 3
    exported = AuditLog.objects.get(action="cpo.payment_run.exported")
    assert exported.payload["missing_ej"] == 3


def test_ej_filled_on_the_agreement_is_taken_at_export(
    client, agreement, finance_officer, second_officer
):
    run = approved_run(agreement, finance_officer, second_officer, ej=False)
    agreement.funders.update(ej_number="2100000777")  # the « fill them » link, followed
    client.force_login(finance_officer)
    response = client.post(reverse("finance:run_action", args=[run.pk, "export"]))
    assert response.status_code == 302
    assert set(PaymentRunItem.objects.filter(run=run).values_list("ej_number", flat=True)) == {
        "2100000777"
    }
    assert not AuditLog.objects.filter(action="cpo.payment_run.missing_ej_confirmed").exists()


def test_api_answers_409_with_the_list_unless_allowed(agreement, finance_officer, second_officer):
    run = approved_run(agreement, finance_officer, second_officer, ej=False)
    api = APIClient()
    api.force_login(finance_officer)
    refused = api.post(f"/api/finance/runs/{run.pk}/export/")
    assert refused.status_code == 409
    body = refused.json()
    assert body["code"] == "missing_ej"
    assert len(body["missing_ej"]) == 3
    assert {i["agreement_reference"] for i in body["missing_ej"]} == {agreement.reference}
    assert sum(Decimal(i["amount"]) for i in body["missing_ej"]) == run.total
    assert PaymentRun.objects.get(pk=run.pk).state == RS.APPROVED

    bad = api.post(f"/api/finance/runs/{run.pk}/export/?allow_missing_ej=peut-être")
    assert bad.status_code == 400

    allowed = api.post(f"/api/finance/runs/{run.pk}/export/?allow_missing_ej=true")
    assert allowed.status_code == 200, allowed.content
    assert allowed.json()["state"] == "exported"
    assert AuditLog.objects.filter(action="cpo.payment_run.missing_ej_confirmed").count() == 1


def test_openapi_documents_the_formats_and_the_flag(client, manager):
    client.force_login(manager)
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    body = schema.content.decode()
    assert "allow_missing_ej" in body and "excel-fr" in body and "missing_ej" in body
