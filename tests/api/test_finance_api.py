"""The finance API (/api/finance/…) and the association's payments (/api/my-payments/): every
endpoint's happy path, who may read and write, the error codes (403 for the creator approving, 409
on an exported run, 400 with per-line errors for a bad confirmation file), the keyset cursor, and a
whole run → export → confirmation through the API that ends with the members notified."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.clock import today
from core.models import AuditLog, BackgroundJob, Notification, Role
from cpo.models import Instalment, InstalmentState
from finance import services as services_finance
from finance.models import (
    FiscalYear,
    PaymentConfirmation,
    PaymentRun,
    PaymentRunItem,
    PaymentRunState,
)

from .. import factories as f

pytestmark = pytest.mark.django_db
I = InstalmentState  # noqa: E741
RS = PaymentRunState

READERS = {"finance_officer": 200, "manager": 200, "auditor": 200}
NOT_FINANCE = {
    "instructor": 403,
    "committee_member": 403,
    "applicant": 403,
    "other_applicant": 403,
    "panel_member": 403,
    "anonymous": 401,
}


@pytest.fixture
def second_officer(db):
    user = f.UserFactory(email="comptable2@ville.example.org")
    f.give_role(user, Role.FINANCE_OFFICER)
    return user


@pytest.fixture
def agreement(instructor, applicant, organisation):
    """The applicant's 3-year CPO: 2 instalments of last year and this year's advance due, this
    year's balance on hold (evaluation), next year's two planned."""
    return f.cpo_awaiting_evaluation(instructor=instructor, organisation=organisation)


def due_ids(agreement) -> list[int]:
    return sorted(agreement.instalments.filter(state=I.DUE).values_list("pk", flat=True))


def as_user(user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_login(user)
    return client


def run_of(agreement, finance_officer) -> PaymentRun:
    return services_finance.payment_run_create(
        actor=finance_officer, instalment_ids=due_ids(agreement)
    )


def exported(agreement, finance_officer, second_officer) -> PaymentRun:
    run = run_of(agreement, finance_officer)
    services_finance.payment_run_approve(actor=second_officer, run=run)
    return services_finance.payment_run_export(actor=finance_officer, run=run)


def confirmation_file(run, *, status="payé", reason="", name="retour.csv"):
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(["reference_echeance", "reference_lot", "date_paiement", "statut", "motif"])
    for item in run.items.order_by("pk"):
        writer.writerow(
            [item.instalment_reference, run.reference, today().strftime("%d/%m/%Y"), status, reason]
        )
    return SimpleUploadedFile(name, out.getvalue().encode("utf-8"), content_type="text/csv")


# --------------------------------------------------------------------------- who may read


@pytest.mark.parametrize("role,status", [*READERS.items(), *NOT_FINANCE.items()])
@pytest.mark.parametrize(
    "url",
    [
        "/api/finance/instalments/",
        "/api/finance/runs/",
        "/api/finance/confirmations/",
        "/api/finance/fiscal-years/",
    ],
)
def test_read_permission_matrix(client_for, agreement, role, status, url):
    response = client_for(role).get(url)
    assert response.status_code == status, response.content
    if status == 403 and role != "anonymous":
        assert "Réservé" in response.json()["detail"]


@pytest.mark.parametrize(
    "role", ["manager", "auditor", "instructor", "applicant", "other_applicant", "anonymous"]
)
def test_only_finance_writes_and_a_refusal_writes_nothing(client_for, agreement, role):
    client = client_for(role)
    ids = due_ids(agreement)
    refused = 401 if role == "anonymous" else 403
    assert (
        client.post("/api/finance/runs/", {"instalment_ids": ids}, format="json").status_code
        == refused
    )
    assert (
        client.post("/api/finance/instalments/approve/", {"ids": ids}, format="json").status_code
        == refused
    )
    assert (
        client.post(
            f"/api/finance/fiscal-years/{today().year}/close/", {}, format="json"
        ).status_code
        == refused
    )
    assert not PaymentRun.objects.exists()
    assert not Instalment.objects.filter(state=I.APPROVED).exists()
    assert not FiscalYear.objects.exists()


# --------------------------------------------------------------------------- instalments


def test_instalment_list_fields_and_filters(client_for, agreement):
    client = client_for("auditor")
    body = client.get("/api/finance/instalments/").json()
    assert "count" not in body
    assert len(body["results"]) == 6
    first = body["results"][0]
    assert first["reference"] == f"{agreement.reference}/E{first['id']}"
    assert first["organisation_name"] == agreement.organisation.name
    assert first["amount"] == "15000.00" and first["state"] == "due"

    def ids(query: str) -> set[int]:
        response = client.get(f"/api/finance/instalments/?{query}")
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    due = set(due_ids(agreement))
    on_hold = set(agreement.instalments.filter(state=I.ON_HOLD).values_list("pk", flat=True))
    assert ids("state=due") == due
    assert ids("state=due&state=on_hold") == due | on_hold
    last_year = today().year - 1
    assert ids(f"due_by={last_year}-12-31") == set(
        agreement.instalments.filter(year__fiscal_year=last_year).values_list("pk", flat=True)
    )
    assert len(ids(f"programme={agreement.programme_id}")) == 6
    assert ids(f"programme={agreement.programme_id + 1000}") == set()
    funder = agreement.funders.get().funder_id
    assert len(ids(f"funder={funder}")) == 6 and ids(f"funder={funder + 1000}") == set()
    budget_line = agreement.programme.budget_line_id
    assert len(ids(f"budget_line={budget_line}")) == 6
    late = min(due)
    Instalment.objects.filter(pk=late).update(is_late=True)
    assert ids("late=true") == {late}
    assert ids(f"fiscal_year={last_year}") == set(
        agreement.instalments.filter(year__fiscal_year=last_year).values_list("pk", flat=True)
    )
    assert ids("payable=true") == due
    assert len(ids("unpaid=true")) == 6
    assert ids(f"organisation={agreement.organisation_id}") == ids(f"agreement={agreement.pk}")
    bad = client.get("/api/finance/instalments/?state=lost")
    assert bad.status_code == 400


def test_instalment_cursor_walks_forward_and_back_without_counting(client_for, agreement):
    client = client_for("finance_officer")
    everything = [row["id"] for row in client.get("/api/finance/instalments/").json()["results"]]
    expected = list(Instalment.objects.order_by("earliest_date", "pk").values_list("pk", flat=True))
    assert everything == expected
    pages, url = [], "/api/finance/instalments/?page_size=2"
    while url:
        with CaptureQueriesContext(connection) as queries:
            body = client.get(url).json()
        assert not any("COUNT(" in q["sql"].upper() for q in queries.captured_queries)
        pages.append([row["id"] for row in body["results"]])
        url = body["next"]
    assert pages == [expected[0:2], expected[2:4], expected[4:6]]
    back = client.get(body["previous"]).json()
    assert [row["id"] for row in back["results"]] == expected[2:4]
    assert [row["id"] for row in client.get(back["previous"]).json()["results"]] == expected[:2]
    assert client.get(back["previous"]).json()["previous"] is None
    invalid = client.get("/api/finance/instalments/?cursor=nonsense")
    assert invalid.status_code == 404
    assert invalid.json()["detail"] == "Curseur de pagination invalide."


def test_instalment_page_costs_the_same_whatever_its_depth(client_for, agreement, instructor):
    for _ in range(3):
        f.cpo_awaiting_evaluation(instructor=instructor)
    client = client_for("finance_officer")
    first = client.get("/api/finance/instalments/?page_size=3")
    with CaptureQueriesContext(connection) as page_one:
        client.get("/api/finance/instalments/?page_size=3")
    url = first.json()["next"]
    for _ in range(4):
        url = client.get(url).json()["next"]
    with CaptureQueriesContext(connection) as deep:
        body = client.get(url).json()
    assert len(body["results"]) == 3
    assert len(deep.captured_queries) == len(page_one.captured_queries)


def test_approve_instalments_is_idempotent_and_all_or_nothing(
    client_for, agreement, finance_officer
):
    client = client_for("finance_officer")
    ids = due_ids(agreement)
    response = client.post(
        "/api/finance/instalments/approve/", {"ids": ids, "note": "Service fait"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json() == {"approved": 3, "already_approved": 0}
    approved = Instalment.objects.filter(pk__in=ids)
    assert {i.state for i in approved} == {I.APPROVED}
    assert {i.certified_by_id for i in approved} == {finance_officer.pk}
    assert AuditLog.objects.filter(action="cpo.instalment.approved").count() == 3
    again = client.post("/api/finance/instalments/approve/", {"ids": ids}, format="json")
    assert again.json() == {"approved": 0, "already_approved": 3}
    on_hold = agreement.instalments.get(state=I.ON_HOLD)
    planned_or_hold = client.post(
        "/api/finance/instalments/approve/", {"ids": [on_hold.pk]}, format="json"
    )
    assert planned_or_hold.status_code == 400
    assert "exigible" in planned_or_hold.json()["detail"]
    assert Instalment.objects.get(pk=on_hold.pk).state == I.ON_HOLD
    empty = client.post("/api/finance/instalments/approve/", {"ids": []}, format="json")
    assert empty.status_code == 400 and "ids" in empty.json()["errors"]


# --------------------------------------------------------------------------- runs


def test_create_run_from_chosen_instalments(client_for, agreement, finance_officer):
    planned = agreement.instalments.filter(state=I.PLANNED).first()
    response = client_for("finance_officer").post(
        "/api/finance/runs/",
        {"instalment_ids": [*due_ids(agreement), planned.pk], "label": "Décembre"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] == "draft" and body["label"] == "Décembre"
    assert body["item_count"] == 3 and body["total"] == "45000.00"
    assert body["not_included"] == [planned.pk]
    assert body["without_bank_details"] == 0
    assert body["approvals_required"] == 1 and body["approvals_given"] == 0
    assert body["actions"] == ["approve", "remove-items", "cancel"]
    assert body["created_by"]["email"] == finance_officer.email
    assert body["approval_refusal"] == "La personne qui a préparé le lot ne peut pas le valider."
    assert body["files"] == {}
    assert Instalment.objects.filter(state=I.IN_RUN).count() == 3


def test_create_run_from_criteria(client_for, agreement):
    last_year = today().year - 1
    response = client_for("finance_officer").post(
        "/api/finance/runs/",
        {"criteria": {"due_by": f"{last_year}-12-31", "programme": agreement.programme_id}},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["item_count"] == 2
    assert body["criteria"] == {
        "due_by": f"{last_year}-12-31",
        "programme": str(agreement.programme_id),
    }


def test_create_run_errors_are_400_in_french(client_for, agreement):
    client = client_for("finance_officer")
    nothing = client.post("/api/finance/runs/", {"label": "Vide"}, format="json")
    assert nothing.status_code == 400
    assert "criteria" in nothing.json()["errors"]
    bad_date = client.post("/api/finance/runs/", {"criteria": {"due_by": "hier"}}, format="json")
    assert bad_date.status_code == 400
    planned = agreement.instalments.filter(state=I.PLANNED).first()
    none_payable = client.post(
        "/api/finance/runs/", {"instalment_ids": [planned.pk]}, format="json"
    )
    assert none_payable.status_code == 400
    assert none_payable.json()["detail"] == (
        "Aucune échéance exigible ne correspond à ces critères."
    )
    assert not PaymentRun.objects.exists()


def test_no_bank_details_is_reported(client_for, agreement):
    type(agreement.organisation).objects.filter(pk=agreement.organisation_id).update(iban="")
    response = client_for("finance_officer").post(
        "/api/finance/runs/", {"instalment_ids": due_ids(agreement)}, format="json"
    )
    assert response.status_code == 400
    assert "sans coordonnées bancaires" in response.json()["detail"]


def test_run_list_and_detail(client_for, agreement, finance_officer, second_officer):
    run = run_of(agreement, finance_officer)
    services_finance.payment_run_approve(actor=second_officer, run=run)
    listing = client_for("auditor").get("/api/finance/runs/?state=approved")
    assert listing.json()["count"] == 1
    row = listing.json()["results"][0]
    assert row["reference"] == run.reference and row["approvals_given"] == 1
    assert row["actions"] == ["export", "cancel"]
    assert client_for("auditor").get("/api/finance/runs/?state=draft").json()["count"] == 0
    detail = client_for("manager").get(f"/api/finance/runs/{run.pk}/").json()
    assert [a["user"]["email"] for a in detail["approvals"]] == [second_officer.email]
    assert detail["approvals"][0]["total"] == "45000.00"
    assert detail["approval_refusal"] is None
    assert client_for("manager").get("/api/finance/runs/999999/").status_code == 404


def test_creator_cannot_approve_403(client_for, agreement, finance_officer):
    run = run_of(agreement, finance_officer)
    response = client_for("finance_officer").post(f"/api/finance/runs/{run.pk}/approve/")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert "préparé le lot" in response.json()["detail"]
    assert PaymentRun.objects.get(pk=run.pk).state == RS.DRAFT
    assert not run.approvals.exists()


def test_second_officer_approves(client_for, agreement, finance_officer, second_officer):
    run = run_of(agreement, finance_officer)
    response = as_user(second_officer).post(f"/api/finance/runs/{run.pk}/approve/")
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "approved"
    assert response.json()["approvals_given"] == 1
    again = as_user(second_officer).post(f"/api/finance/runs/{run.pk}/approve/")
    assert again.status_code == 409
    assert again.json()["allowed_transitions"] == ["export", "cancel"]


def test_two_approvers_above_the_threshold(
    client_for, agreement, finance_officer, second_officer, settings
):
    settings.PAYMENT_RUN_SECOND_APPROVAL_ABOVE = "1000.00"
    third = f.UserFactory(email="comptable3@ville.example.org")
    f.give_role(third, Role.FINANCE_OFFICER)
    run = run_of(agreement, finance_officer)
    first = as_user(second_officer).post(f"/api/finance/runs/{run.pk}/approve/").json()
    assert first["state"] == "draft"
    assert (first["approvals_given"], first["approvals_required"]) == (1, 2)
    assert "déjà validé" in first["approval_refusal"]
    second = as_user(third).post(f"/api/finance/runs/{run.pk}/approve/").json()
    assert second["state"] == "approved" and second["approvals_given"] == 2


def test_approving_an_exported_run_is_409(client_for, agreement, finance_officer, second_officer):
    run = exported(agreement, finance_officer, second_officer)
    third = f.UserFactory(email="comptable3@ville.example.org")
    f.give_role(third, Role.FINANCE_OFFICER)
    response = as_user(third).post(f"/api/finance/runs/{run.pk}/approve/")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "transition_not_allowed"
    assert body["allowed_transitions"] == []
    assert "Transmis à la comptabilité" in body["detail"]
    assert PaymentRun.objects.get(pk=run.pk).state == RS.EXPORTED


def test_remove_items(client_for, agreement, finance_officer):
    run = run_of(agreement, finance_officer)
    item = run.items.order_by("pk").first()
    client = client_for("finance_officer")
    unknown = client.post(
        f"/api/finance/runs/{run.pk}/remove-items/", {"item_ids": [item.pk, 999999]}, format="json"
    )
    assert unknown.status_code == 400
    assert "999999" in unknown.json()["errors"]["item_ids"][0]
    assert PaymentRun.objects.get(pk=run.pk).item_count == 3
    response = client.post(
        f"/api/finance/runs/{run.pk}/remove-items/",
        {"item_ids": [item.pk], "reason": "RIB à vérifier"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["item_count"] == 2 and response.json()["total"] == "30000.00"
    assert PaymentRunItem.objects.get(pk=item.pk).status == PaymentRunItem.Status.REMOVED
    assert Instalment.objects.get(pk=item.instalment_id).state == I.APPROVED


def test_remove_items_from_an_approved_run_is_409(
    client_for, agreement, finance_officer, second_officer
):
    run = run_of(agreement, finance_officer)
    services_finance.payment_run_approve(actor=second_officer, run=run)
    response = client_for("finance_officer").post(
        f"/api/finance/runs/{run.pk}/remove-items/",
        {"item_ids": [run.items.first().pk]},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["allowed_transitions"] == ["export", "cancel"]


def test_cancel_needs_a_reason(client_for, agreement, finance_officer):
    run = run_of(agreement, finance_officer)
    client = client_for("finance_officer")
    missing = client.post(f"/api/finance/runs/{run.pk}/cancel/", {}, format="json")
    assert missing.status_code == 400
    assert missing.json()["errors"]["reason"] == ["Un motif est obligatoire pour cette action."]
    assert PaymentRun.objects.get(pk=run.pk).state == RS.DRAFT
    response = client.post(
        f"/api/finance/runs/{run.pk}/cancel/", {"reason": "Erreur de sélection"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["state"] == "cancelled" and response.json()["actions"] == []
    assert Instalment.objects.filter(state=I.APPROVED).count() == 3


def test_export_then_download_the_stored_files(
    client_for, agreement, finance_officer, second_officer
):
    run = run_of(agreement, finance_officer)
    client = client_for("finance_officer")
    early = client.get(f"/api/finance/runs/{run.pk}/file/?format=csv")
    assert early.status_code == 409
    assert early.json()["allowed_transitions"] == ["approve", "remove-items", "cancel"]
    not_yet = client.post(f"/api/finance/runs/{run.pk}/export/")
    assert not_yet.status_code == 409
    services_finance.payment_run_approve(actor=second_officer, run=run)
    response = client.post(f"/api/finance/runs/{run.pk}/export/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["state"] == "exported" and body["exported_by"]["email"] == finance_officer.email
    assert body["files"]["csv"].endswith(f"/api/finance/runs/{run.pk}/file/?format=csv")
    stored = PaymentRun.objects.get(pk=run.pk)
    csv_response = client.get(f"/api/finance/runs/{run.pk}/file/?format=csv")
    assert csv_response.status_code == 200
    assert csv_response["Content-Type"].startswith("text/csv")
    assert f'filename="{run.reference}.csv"' in csv_response["Content-Disposition"]
    content = b"".join(csv_response.streaming_content)
    assert content == stored.export_csv.open("rb").read()
    assert content.decode().splitlines()[0].startswith("beneficiaire,siret,iban")
    xlsx = client.get(f"/api/finance/runs/{run.pk}/file/?format=xlsx")
    assert xlsx.status_code == 200
    assert b"".join(xlsx.streaming_content)[:2] == b"PK"
    assert client.get(f"/api/finance/runs/{run.pk}/file/?format=pdf").status_code == 400
    for role in ("auditor", "manager"):
        refused = client_for(role).get(f"/api/finance/runs/{run.pk}/file/?format=csv")
        assert refused.status_code == 403
        assert "coordonnées bancaires" in refused.json()["detail"]


def test_items_hide_bank_details_from_non_finance(client_for, agreement, finance_officer):
    run = run_of(agreement, finance_officer)
    finance = client_for("finance_officer").get(f"/api/finance/runs/{run.pk}/items/").json()
    assert finance["count"] == 3
    assert {row["iban"] for row in finance["results"]} == {agreement.organisation.iban}
    audit = client_for("auditor").get(f"/api/finance/runs/{run.pk}/items/?page_size=2").json()
    assert audit["count"] == 3 and len(audit["results"]) == 2 and audit["next"]
    assert {(row["iban"], row["bic"]) for row in audit["results"]} == {(None, None)}
    assert audit["results"][0]["siret"] == agreement.organisation.siret
    removed = client_for("finance_officer").get(f"/api/finance/runs/{run.pk}/items/?status=removed")
    assert removed.json()["count"] == 0
    assert (
        client_for("finance_officer")
        .get(f"/api/finance/runs/{run.pk}/items/?status=lost")
        .status_code
        == 400
    )


# --------------------------------------------------------------------------- confirmations


def test_confirmation_dry_run_then_apply(
    client_for, agreement, finance_officer, second_officer, django_capture_on_commit_callbacks
):
    run = exported(agreement, finance_officer, second_officer)
    client = client_for("finance_officer")
    response = client.post(
        "/api/finance/confirmations/", {"file": confirmation_file(run)}, format="multipart"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] == "checked" and body["line_errors"] == []
    assert body["counts"] == {"lines": 3, "paid": 3, "rejected": 0, "unchanged": 0}
    assert not Instalment.objects.filter(state=I.PAID).exists()
    assert client_for("auditor").get(f"/api/finance/confirmations/{body['id']}/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        applied = client.post(f"/api/finance/confirmations/{body['id']}/apply/")
    assert applied.status_code == 202, applied.content
    job = BackgroundJob.objects.get(pk=applied.json()["job"])
    assert applied.json()["url"].endswith(f"/compte/taches/{job.pk}/?format=json")
    progress = client.get(applied.json()["url"]).json()
    assert progress["state"] == "done"
    assert progress["result"]["Paiements confirmés"] == 3
    assert Instalment.objects.filter(state=I.PAID).count() == 3
    assert PaymentRun.objects.get(pk=run.pk).state == RS.CLOSED
    again = client.post(f"/api/finance/confirmations/{body['id']}/apply/")
    assert again.status_code == 400 and "déjà été appliqué" in again.json()["detail"]


def test_bad_confirmation_file_is_400_with_per_line_errors(
    client_for, agreement, finance_officer, second_officer
):
    run = exported(agreement, finance_officer, second_officer)
    item = run.items.first()
    data = (
        "reference_echeance;date_paiement;statut;motif\n"
        f"{item.instalment_reference};32/13/2026;payé;\n"
        "CPO-0000-0000/E999999;01/01/2026;payé;\n"
        f"{item.instalment_reference};01/01/2026;perdu;\n"
        f"{item.instalment_reference};;rejeté;\n"
    ).encode()
    client = client_for("finance_officer")
    response = client.post(
        "/api/finance/confirmations/",
        {"file": SimpleUploadedFile("retour.csv", data)},
        format="multipart",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_file" and body["state"] == "invalid"
    assert body["detail"].startswith("Le fichier contient 4 erreur(s)")
    assert body["error_count"] == 4
    assert {(e["line"], e["column"]) for e in body["line_errors"]} == {
        (2, "date_paiement"),
        (3, "reference_echeance"),
        (4, "statut"),
        (5, "motif"),
    }
    assert all(e["message"] for e in body["line_errors"])
    applied = client.post(f"/api/finance/confirmations/{body['id']}/apply/")
    assert applied.status_code == 400
    assert not Instalment.objects.filter(state=I.PAID).exists()
    assert not BackgroundJob.objects.exists()


@pytest.mark.parametrize(
    "upload,message",
    [
        (SimpleUploadedFile("r.csv", b"reference;statut\nX;paye\n"), "date_paiement"),
        (SimpleUploadedFile("r.pdf", b"%PDF-1.4"), "CSV ou XLSX"),
        (None, "Joignez le fichier"),
    ],
)
def test_unreadable_confirmation_files_write_nothing(client_for, agreement, upload, message):
    payload = {"file": upload} if upload else {}
    response = client_for("finance_officer").post(
        "/api/finance/confirmations/", payload, format="multipart"
    )
    assert response.status_code == 400
    assert message in str(response.json())
    assert not PaymentConfirmation.objects.exists()


def test_auditor_cannot_upload_or_apply(client_for, agreement, finance_officer, second_officer):
    run = exported(agreement, finance_officer, second_officer)
    response = client_for("auditor").post(
        "/api/finance/confirmations/", {"file": confirmation_file(run)}, format="multipart"
    )
    assert response.status_code == 403
    assert not PaymentConfirmation.objects.exists()


def test_whole_flow_through_the_api_notifies_the_members(
    client_for,
    agreement,
    applicant,
    organisation,
    second_officer,
    django_capture_on_commit_callbacks,
):
    colleague = f.UserFactory(email="tresorier@asso.example.org")
    f.add_member(colleague, organisation, is_admin=False)
    finance = client_for("finance_officer")
    created = finance.post(
        "/api/finance/runs/", {"criteria": {}, "label": "Décembre"}, format="json"
    ).json()
    run_id = created["id"]
    assert as_user(second_officer).post(f"/api/finance/runs/{run_id}/approve/").status_code == 200
    assert finance.post(f"/api/finance/runs/{run_id}/export/").status_code == 200
    run = PaymentRun.objects.get(pk=run_id)
    # While the payment is on its way the association sees it « en cours de paiement ».
    mine = client_for("applicant").get("/api/my-payments/?stage=in_payment").json()
    assert mine["count"] == 3
    check = finance.post(
        "/api/finance/confirmations/", {"file": confirmation_file(run)}, format="multipart"
    ).json()
    with django_capture_on_commit_callbacks(execute=True):
        assert finance.post(f"/api/finance/confirmations/{check['id']}/apply/").status_code == 202
    for member in (applicant, colleague):
        notification = Notification.objects.get(user=member)
        assert notification.title == (
            f"Paiement de 45\xa0000,00 € effectué le {today().strftime('%d/%m/%Y')}"
        )
        assert notification.url == "/conventions/paiements/"
    paid = client_for("applicant").get("/api/my-payments/?stage=paid").json()
    assert paid["count"] == 3
    assert {row["paid_on"] for row in paid["results"]} == {today().isoformat()}
    assert {row["stage_label"] for row in paid["results"]} == {"Payé"}


def test_rejected_payment_reason_reaches_the_association(
    client_for, agreement, finance_officer, second_officer, django_capture_on_commit_callbacks
):
    run = exported(agreement, finance_officer, second_officer)
    finance = client_for("finance_officer")
    check = finance.post(
        "/api/finance/confirmations/",
        {"file": confirmation_file(run, status="rejeté", reason="IBAN clos")},
        format="multipart",
    ).json()
    assert check["counts"]["rejected"] == 3
    with django_capture_on_commit_callbacks(execute=True):
        finance.post(f"/api/finance/confirmations/{check['id']}/apply/")
    rows = client_for("applicant").get("/api/my-payments/?stage=due").json()["results"]
    assert {row["reject_reason"] for row in rows} == {"IBAN clos"}
    # Paid by a later run: the old rejection no longer shows.
    again = exported(agreement, finance_officer, second_officer)
    services_finance.confirmations_apply_rows(
        actor=finance_officer,
        rows=[
            {"item": item.pk, "status": "paid", "paid_on": today(), "reason": ""}
            for item in again.items.all()
        ],
    )
    rows = client_for("applicant").get("/api/my-payments/?stage=paid").json()["results"]
    assert len(rows) == 3 and {row["reject_reason"] for row in rows} == {""}


# --------------------------------------------------------------------------- fiscal years


def test_fiscal_years_overview_and_closing(client_for, agreement, finance_officer):
    year = today().year - 1
    client = client_for("finance_officer")
    listing = {
        row["year"]: row for row in client_for("auditor").get("/api/finance/fiscal-years/").json()
    }
    assert listing[year]["remaining_count"] == 2
    assert listing[year]["remaining_amount"] == "30000.00"
    assert listing[year]["is_closed"] is False
    run = run_of(agreement, finance_officer)
    blocked = client.post(f"/api/finance/fiscal-years/{run.fiscal_year}/close/", {}, format="json")
    assert blocked.status_code == 400 and run.reference in blocked.json()["detail"]
    assert client.get(f"/api/finance/fiscal-years/{run.fiscal_year}/").json()["open_runs"] == [
        run.reference
    ]
    services_finance.payment_run_cancel(actor=finance_officer, run=run, reason="Test")
    undecided = client.post(f"/api/finance/fiscal-years/{year}/close/", {}, format="json")
    assert undecided.status_code == 400
    assert "reportez-les ou annulez-les" in undecided.json()["detail"]
    ids = sorted(
        Instalment.objects.filter(services_finance.effective_year_q(year)).values_list(
            "pk", flat=True
        )
    )
    response = client.post(
        f"/api/finance/fiscal-years/{year}/close/",
        {"carry_ids": ids[:1], "cancel_ids": ids[1:], "note": "Clôture"},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["is_closed"] is True and body["closing_note"] == "Clôture"
    assert body["closed_by"]["email"] == finance_officer.email
    assert body["remaining_count"] == 0
    assert Instalment.objects.get(pk=ids[0]).charged_year == year + 1
    assert Instalment.objects.get(pk=ids[1]).state == I.CANCELLED
    next_year = client.get(f"/api/finance/fiscal-years/{year + 1}/").json()
    assert next_year["remaining_count"] == 3  # this year's two, plus the one carried


# --------------------------------------------------------------------------- the association's


def test_my_payments_lists_own_instalments_only(client_for, agreement, instructor):
    other = f.cpo_awaiting_evaluation(instructor=instructor)
    Instalment.objects.filter(pk=agreement.instalments.filter(state=I.PLANNED).first().pk).update(
        state=I.CANCELLED
    )
    body = client_for("applicant").get("/api/my-payments/").json()
    assert body["count"] == 5  # the cancelled one is left out
    assert {row["agreement_reference"] for row in body["results"]} == {agreement.reference}
    stages = {row["stage"] for row in body["results"]}
    assert stages == {"due", "on_hold", "planned"}
    held = next(row for row in body["results"] if row["stage"] == "on_hold")
    assert held["hold_reason"] == f"En attente de l'évaluation {today().year - 1} acceptée"
    assert held["stage_label"] == "Suspendu"
    assert set(held) >= {"amount", "paid_on", "reject_reason", "earliest_date", "funder_name"}
    assert "iban" not in held and "certified_at" not in held
    stranger = other.instalments.first()
    assert client_for("applicant").get(f"/api/my-payments/{stranger.pk}/").status_code == 404
    assert client_for("other_applicant").get("/api/my-payments/").json()["count"] == 0
    assert client_for("instructor").get("/api/my-payments/").json()["count"] == 0
    assert client_for("anonymous").get("/api/my-payments/").status_code == 401
    year = client_for("applicant").get(f"/api/my-payments/?fiscal_year={today().year + 1}")
    assert year.json()["count"] == 1


def test_my_payments_stage_folds_the_finance_steps(client_for, agreement, finance_officer):
    run = run_of(agreement, finance_officer)
    rows = client_for("applicant").get("/api/my-payments/?stage=in_payment").json()["results"]
    assert {row["id"] for row in rows} == set(run.items.values_list("instalment_id", flat=True))
    assert {row["state"] for row in rows} == {"in_run"}
    assert {row["stage_label"] for row in rows} == {"En cours de paiement"}


def test_schema_lists_the_finance_endpoints(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = schema["paths"]
    for path in [
        "/api/finance/instalments/",
        "/api/finance/instalments/approve/",
        "/api/finance/runs/",
        "/api/finance/runs/{id}/approve/",
        "/api/finance/runs/{id}/remove-items/",
        "/api/finance/runs/{id}/cancel/",
        "/api/finance/runs/{id}/export/",
        "/api/finance/runs/{id}/file/",
        "/api/finance/runs/{id}/items/",
        "/api/finance/confirmations/",
        "/api/finance/confirmations/{id}/apply/",
        "/api/finance/fiscal-years/",
        "/api/finance/fiscal-years/{year}/close/",
        "/api/my-payments/",
    ]:
        assert path in paths, path
    approve = paths["/api/finance/runs/{id}/approve/"]["post"]["responses"]
    assert {"200", "400", "403", "404", "409"} <= set(approve)
    upload = paths["/api/finance/confirmations/"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    names = {p["name"] for p in paths["/api/finance/instalments/"]["get"]["parameters"]}
    assert {"cursor", "state", "due_by", "programme", "funder", "budget_line", "late"} <= names
    assert "page" not in names
