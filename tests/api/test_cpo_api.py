"""Agreements through the API: list and detail scoped like the pages, creation from an approved
application, transitions (permission matrix, 409 on the wrong state), amendments, recoveries,
the annual evaluation and the history."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from core.clock import today
from cpo import services
from cpo.models import Agreement
from cpo.models import AgreementState as A
from grants.models import Application, ApplicationState

from .. import factories as f

pytestmark = pytest.mark.django_db
OUTSIDERS = {"other_applicant": 404, "panel_member": 404, "anonymous": 401}
STAFF = ["instructor", "committee_member", "manager", "finance_officer", "auditor"]


def approved(organisation, amount="90000.00") -> Application:
    app = f.ApplicationFactory(
        requested_amount=Decimal(amount), organisation=organisation, complete=False
    )
    Application.objects.filter(pk=app.pk).update(
        state=ApplicationState.APPROVED, approved_amount=Decimal(amount)
    )
    return Application.objects.get(pk=app.pk)


@pytest.fixture
def application(organisation, applicant):
    return approved(organisation)


@pytest.fixture
def agreement(application, instructor):
    return services.agreement_create_from_application(
        actor=instructor, application=application, profile="flat", duration_years=3
    )


def put(agreement: Agreement, state: str) -> Agreement:
    Agreement.objects.filter(pk=agreement.pk).update(state=state)
    return Agreement.objects.get(pk=agreement.pk)


def test_list_and_detail_scoped(client_for, agreement):
    assert client_for("applicant").get("/api/agreements/").json()["count"] == 1
    assert client_for("other_applicant").get("/api/agreements/").json()["count"] == 0
    assert client_for("instructor").get("/api/agreements/?state=draft").json()["count"] == 1
    assert client_for("instructor").get("/api/agreements/?state=active").json()["count"] == 0
    url = f"/api/agreements/{agreement.pk}/"
    assert client_for("other_applicant").get(url).status_code == 404
    body = client_for("applicant").get(url).json()
    assert [y["fiscal_year"] for y in body["years"]] == [2026, 2027, 2028]
    assert body["years"][0]["amount"] == "30000.00"
    assert body["funders"][0]["share"] == "1.000000"
    assert {e["fiscal_year"] for e in body["evaluations"]} == {2026, 2027, 2028}
    assert len(body["instalments"]) == 6 and body["amendments"] == [] and body["recoveries"] == []


@pytest.mark.parametrize(
    "role,status",
    [
        ("instructor", 201),
        ("manager", 201),
        ("finance_officer", 403),
        ("auditor", 403),
        ("committee_member", 403),
        ("applicant", 403),
        # The permission before the body (issue 11): refused before the application is looked up.
        ("other_applicant", 403),
        ("anonymous", 401),
    ],
)
def test_create_permission_matrix(client_for, application, role, status):
    response = client_for(role).post(
        "/api/agreements/",
        {"application": application.pk, "profile": "flat", "duration_years": 2},
        format="json",
    )
    assert response.status_code == status, response.content
    assert Agreement.objects.filter(application=application).exists() == (status == 201)
    if status == 201:
        assert response.json()["duration_years"] == 2 and response.json()["state"] == "draft"


def test_create_invalid_profile_is_400_with_the_field(client_for, application):
    response = client_for("instructor").post(
        "/api/agreements/",
        {
            "application": application.pk,
            "profile": "degressive_rate",
            "rate": "1.5",
            "duration_years": 3,
        },
        format="json",
    )
    assert response.status_code == 400 and "rate" in response.json()["errors"]
    assert not Agreement.objects.exists()


def test_create_with_co_funders(client_for, application):
    region = f.FunderFactory(name="Région Sud")
    main = application.programme.budget_line.funder
    response = client_for("instructor").post(
        "/api/agreements/",
        {
            "application": application.pk,
            "duration_years": 1,
            "instalment_template": "at_signature",
            "funders": [
                {"funder": main.pk, "share": "0.6", "ej_number": "2100012345"},
                {"funder": region.pk, "share": "0.4"},
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    funders = {row["funder_name"]: row for row in response.json()["funders"]}
    assert funders["Région Sud"]["share"] == "0.400000"
    assert funders[main.name]["ej_number"] == "2100012345"


@pytest.mark.parametrize(
    "role,status",
    [
        *[(r, 403) for r in STAFF if r not in ("instructor", "manager")],
        ("instructor", 200),
        ("manager", 200),
        ("applicant", 403),
        *OUTSIDERS.items(),
    ],
)
def test_send_for_signature_matrix(client_for, agreement, role, status):
    response = client_for(role).post(
        f"/api/agreements/{agreement.pk}/transitions/send_for_signature/", {}, format="json"
    )
    assert response.status_code == status
    expected = A.SENT_FOR_SIGNATURE if status == 200 else A.DRAFT
    assert Agreement.objects.get(pk=agreement.pk).state == expected


def test_wrong_state_is_409_with_allowed_transitions(client_for, agreement):
    response = client_for("instructor").post(
        f"/api/agreements/{agreement.pk}/transitions/suspend/",
        {"reason": "Gouvernance"},
        format="json",
    )
    assert response.status_code == 409
    assert "send_for_signature" in response.json()["allowed_transitions"]


def test_sign_suspend_resume_terminate_and_history(client_for, agreement):
    api = client_for("instructor")
    base = f"/api/agreements/{agreement.pk}/transitions"
    signed_on = (today() - datetime.timedelta(days=2)).isoformat()
    response = api.post(f"{base}/sign/", {"signed_on": signed_on}, format="json")
    assert response.status_code == 200 and response.json()["signed_on"] == signed_on
    put(agreement, A.ACTIVE)
    assert api.post(f"{base}/suspend/", {}, format="json").status_code == 400  # reason
    assert api.post(f"{base}/suspend/", {"reason": "Audit"}, format="json").status_code == 200
    assert api.post(f"{base}/resume/", {}, format="json").json()["state"] == A.ACTIVE
    body = api.post(f"{base}/terminate/", {"reason": "Dissolution"}, format="json").json()
    assert body["state"] == A.TERMINATED and body["end_reason"] == "Dissolution"
    assert {i["state"] for i in body["instalments"]} == {"cancelled"}
    history = api.get(f"/api/agreements/{agreement.pk}/history/").json()
    actions = [row["action"] for row in history]
    assert "cpo.agreement.signed" in actions and "cpo.agreement.terminated" in actions
    member_history = client_for("applicant").get(f"/api/agreements/{agreement.pk}/history/")
    assert member_history.status_code == 200
    assert all(row["payload"] is None for row in member_history.json())
    assert (
        client_for("other_applicant").get(f"/api/agreements/{agreement.pk}/history/").status_code
        == 404
    )


def test_sign_in_the_future_is_400(client_for, agreement):
    response = client_for("instructor").post(
        f"/api/agreements/{agreement.pk}/transitions/sign/",
        {"signed_on": (today() + datetime.timedelta(days=3)).isoformat()},
        format="json",
    )
    assert response.status_code == 400 and "signed_on" in response.json()["errors"]


@pytest.fixture
def running(instructor, organisation, applicant):
    return f.cpo_awaiting_evaluation(instructor=instructor, organisation=organisation)


def test_amendment_preview_and_create(client_for, running):
    url = f"/api/agreements/{running.pk}/amendments/"
    new_years = {str(running.last_year): "36000.00"}
    assert (
        client_for("applicant")
        .post(f"{url}preview/", {"years": new_years}, format="json")
        .status_code
        == 403
    )
    preview = client_for("instructor").post(f"{url}preview/", {"years": new_years}, format="json")
    assert preview.status_code == 200, preview.content
    assert preview.json()["preview"]["total_after"] == "96000.00"
    assert not running.amendments.exists()
    payload = {
        "years": new_years,
        "reason": "Montée en charge",
        "effective_on": today().isoformat(),
    }
    assert client_for("applicant").post(url, payload, format="json").status_code == 403
    response = client_for("instructor").post(url, payload, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["version"] == 2
    listed = client_for("applicant").get(url).json()
    assert [a["version"] for a in listed] == [2]


def test_recovery_issue_collect_and_409_twice(client_for, running):
    url = f"/api/agreements/{running.pk}/recoveries/"
    payload = {"fiscal_year": running.first_year, "unspent": "1500.00", "reason": "Non réalisé"}
    assert client_for("applicant").post(url, payload, format="json").status_code == 403
    assert client_for("other_applicant").post(url, payload, format="json").status_code == 404
    response = client_for("instructor").post(url, payload, format="json")
    assert response.status_code == 201, response.content
    recovery_id = response.json()["id"]
    action = f"{url}{recovery_id}/collect/"
    assert client_for("auditor").post(action, {}, format="json").status_code == 403
    assert client_for("finance_officer").post(action, {}, format="json").status_code == 200
    # Collected twice: the service returns early, nothing more written.
    assert client_for("instructor").post(action, {}, format="json").status_code == 200
    assert (
        client_for("instructor")
        .post(f"{url}{recovery_id}/cancel/", {"reason": "Erreur"}, format="json")
        .status_code
        == 409
    )
    assert client_for("applicant").get(url).json()[0]["state"] == "collected"


def test_evaluation_submit_by_the_association_and_review_by_staff(client_for, running):
    year = running.first_year
    base = f"/api/agreements/{running.pk}/evaluations/{year}"
    payload = {
        "activity_report": "40 jeunes accompagnés.",
        "budget_lines": [{"account": "60", "planned": "20000.00", "actual": "19000.00"}],
        "indicators": [
            {"label": "Jeunes accompagnés", "unit": "jeunes", "target": "40", "actual": "40"}
        ],
    }
    assert (
        client_for("instructor").post(f"{base}/submit/", payload, format="json").status_code == 403
    )
    response = client_for("applicant").post(f"{base}/submit/", payload, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "submitted"
    review = {"outcome": "accept", "comment": ""}
    assert client_for("applicant").post(f"{base}/review/", review, format="json").status_code == 403
    response = client_for("instructor").post(f"{base}/review/", review, format="json")
    assert response.status_code == 200 and response.json()["state"] == "accepted"
    assert (
        client_for("instructor")
        .post(f"/api/agreements/{running.pk}/evaluations/1999/review/", review, format="json")
        .status_code
        == 404
    )


def test_schema_lists_the_agreement_endpoints(client_for):
    schema = client_for("anonymous").get("/api/schema/?format=json").json()
    paths = schema["paths"]
    assert "/api/agreements/{id}/transitions/{name}/" in paths
    assert "/api/agreements/{id}/recoveries/{recovery_id}/{op}/" in paths
    assert "/api/agreements/{id}/evaluations/{year}/submit/" in paths
