"""POST /api/applications/bulk/ and GET its result."""

from __future__ import annotations

import datetime

from grants.models import Application, ApplicationState, BulkAction
from tests import factories as f

S = ApplicationState
URL = "/api/applications/bulk/"


def _filed(n, state=S.SUBMITTED):
    return [f.ApplicationFactory(state=state) for _ in range(n)]


def test_post_runs_the_action_and_reports_each_file(client_for, manager):
    ok = _filed(2)
    refused = _filed(1, state=S.IN_COMMITTEE)[0]
    api = client_for("manager")
    response = api.post(
        URL,
        {"action": "dismiss", "reason": "Doublon", "ids": [a.pk for a in [*ok, refused]]},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["counts"] == {"pending": 0, "done": 3, "skipped": 0} or body["counts"]["done"] == 3
    result = api.get(f"{URL}{body['id']}/")
    assert result.status_code == 200
    statuses = {i["requested_id"]: i["status"] for i in result.json()["items"]}
    assert statuses == {ok[0].pk: "done", ok[1].pk: "done", refused.pk: "done"}
    assert set(Application.objects.filter(pk__in=statuses).values_list("state", flat=True)) == {
        S.DISMISSED
    }


def test_skipped_files_carry_their_reason(client_for, manager):
    app = _filed(1, state=S.ELIGIBLE)[0]
    response = client_for("manager").post(
        URL,
        {
            "action": "request_completion",
            "message": "x",
            "deadline": (datetime.date.today() + datetime.timedelta(days=9)).isoformat(),
            "filters": {"state": S.ELIGIBLE},
        },
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["counts"]["done"] == 1  # eligible files may be asked for completion
    response = client_for("manager").post(
        URL, {"action": "start_review", "ids": [app.pk, 10**9]}, format="json"
    )
    items = {i["requested_id"]: i for i in response.json()["items"]}
    assert items[app.pk]["status"] == "skipped"
    assert (
        items[app.pk]["reason"]
        == "Une demande de compléments est en attente de réponse du porteur."
    )
    assert items[10**9]["status"] == "skipped" and items[10**9]["reference"] == ""


def test_bad_input_is_a_400_in_french_and_writes_nothing(client_for, manager):
    app = _filed(1)[0]
    api = client_for("manager")
    assert api.post(URL, {"action": "dismiss", "ids": [app.pk]}, format="json").status_code == 400
    assert api.post(URL, {"action": "nope", "ids": [app.pk]}, format="json").status_code == 400
    assert api.post(URL, {"action": "export"}, format="json").status_code == 400
    assert not BulkAction.objects.exists()


def test_permissions(client_for, manager, applicant, instructor):
    app = _filed(1)[0]
    assert client_for("anonymous").post(
        URL, {"action": "export", "ids": [app.pk]}, format="json"
    ).status_code in (401, 403)
    assert (
        client_for("applicant")
        .post(URL, {"action": "export", "ids": [app.pk]}, format="json")
        .status_code
        == 403
    )
    created = client_for("manager").post(URL, {"action": "export", "ids": [app.pk]}, format="json")
    assert client_for("instructor").get(f"{URL}{created.json()['id']}/").status_code == 404


def test_the_route_does_not_shadow_a_file_and_is_documented(client_for, manager):
    app = _filed(1)[0]
    assert client_for("manager").get(f"/api/applications/{app.pk}/").status_code == 200
    schema = client_for("manager").get("/api/schema/").content.decode()
    assert "/api/applications/bulk/" in schema and "/api/applications/bulk/{id}/" in schema


def test_ids_beyond_64_bits_are_a_400_not_a_database_error(client_for, manager):
    api = client_for("manager")
    response = api.post(URL, {"action": "dismiss", "reason": "x", "ids": [2**70]}, format="json")
    assert response.status_code == 400
    assert "ids.0" in response.json()["errors"]
    response = api.post(
        URL, {"action": "dismiss", "reason": "x", "filters": {"call": 2**70}}, format="json"
    )
    assert response.status_code == 400
    assert not BulkAction.objects.exists()
