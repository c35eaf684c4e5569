"""Organisations (bank details only for members and finance), reference data, programmes and calls."""

from __future__ import annotations

import pytest

from calls.models import Call, CallState
from core.models import AuditLog, Organisation

from .. import factories as f

pytestmark = pytest.mark.django_db

IBAN = "FR7630006000011234567890189"


@pytest.mark.parametrize(
    ("role", "sees_org", "sees_bank"),
    [
        ("applicant", True, True),
        ("finance_officer", True, True),
        ("instructor", True, False),
        ("committee_member", True, False),
        ("manager", True, False),
        ("auditor", True, False),
        ("other_applicant", False, None),
        ("panel_member", False, None),
    ],
)
def test_organisation_visibility_and_bank_details(
    role, sees_org, sees_bank, organisation, applicant, client_for
):
    client = client_for(role)
    listing = client.get("/api/organisations/")
    assert listing.status_code == 200
    assert (organisation.pk in {o["id"] for o in listing.json()["results"]}) is sees_org
    detail = client.get(f"/api/organisations/{organisation.pk}/")
    if not sees_org:
        assert detail.status_code == 404
        return
    body = detail.json()
    assert body["siret"] == organisation.siret
    assert (body["iban"], body["bic"]) == ((IBAN, "AGRIFRPP") if sees_bank else (None, None))
    listed = next(o for o in listing.json()["results"] if o["id"] == organisation.pk)
    assert listed["iban"] == (IBAN if sees_bank else None)


def test_organisations_need_an_account(client_for, organisation):
    assert client_for("anonymous").get("/api/organisations/").status_code == 401


def test_organisation_admin_updates_the_profile(client_for, organisation, applicant):
    response = client_for("applicant").patch(
        f"/api/organisations/{organisation.pk}/",
        {"phone": "04 91 00 00 00", "city": "Marseille 3e"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["city"] == "Marseille 3e"
    organisation.refresh_from_db()
    assert organisation.phone == "04 91 00 00 00"
    assert AuditLog.objects.filter(
        action="core.organisation.updated", object_id=str(organisation.pk)
    ).exists()


def test_profile_update_refusals(client_for, organisation, applicant, instructor):
    url = f"/api/organisations/{organisation.pk}/"
    assert (
        client_for("instructor").patch(url, {"city": "Ailleurs"}, format="json").status_code == 403
    )
    assert (
        client_for("other_applicant").patch(url, {"city": "Ailleurs"}, format="json").status_code
        == 404
    )
    invalid = client_for("applicant").patch(url, {"email": "pas-une-adresse"}, format="json")
    assert invalid.status_code == 400
    assert invalid.json()["errors"] == {"email": ["Saisissez une adresse e-mail valide."]}
    siret = client_for("applicant").patch(
        url, {"siret": "12345678901234", "iban": "FR00"}, format="json"
    )
    assert siret.status_code == 200  # not editable here: ignored
    assert Organisation.objects.get(pk=organisation.pk).city == "Marseille"
    assert Organisation.objects.get(pk=organisation.pk).siret == organisation.siret
    assert client_for("applicant").put(url, {"city": "X"}, format="json").status_code == 405


@pytest.mark.parametrize("resource", ["qpvs", "pillars", "themes", "funders"])
def test_reference_data_is_read_only(resource, client_for, applicant):
    f.QPVFactory(), f.PillarFactory(), f.ThemeFactory(), f.FunderFactory()
    client = client_for("applicant")
    response = client.get(f"/api/{resource}/")
    assert response.status_code == 200
    assert len(response.json()) >= 1
    assert client.post(f"/api/{resource}/", {"code": "x"}, format="json").status_code == 405
    assert client_for("anonymous").get(f"/api/{resource}/").status_code == 401


@pytest.fixture
def calls_in_every_state(db):
    return {state: f.CallFactory(state=state, title=f"Appel {state}") for state in CallState.values}


def titles(response) -> set[str]:
    return {c["title"] for c in response.json()["results"]}


def test_anonymous_reads_every_call_but_drafts(api, calls_in_every_state):
    response = api.get("/api/calls/")
    assert response.status_code == 200
    assert titles(response) == {f"Appel {s}" for s in CallState.values if s != CallState.DRAFT}
    draft = calls_in_every_state[CallState.DRAFT]
    assert api.get(f"/api/calls/{draft.pk}/").status_code == 404
    opened = api.get(f"/api/calls/{calls_in_every_state[CallState.OPEN].pk}/").json()
    assert opened["state_label"] == "Ouvert" and opened["mode_label"] == "Appel à projets"


def test_signed_in_users_read_every_call_but_drafts(
    client_for, applicant, manager, calls_in_every_state
):
    assert "Appel draft" not in titles(client_for("applicant").get("/api/calls/"))
    assert "Appel closed" in titles(client_for("applicant").get("/api/calls/"))
    assert "Appel draft" in titles(client_for("manager").get("/api/calls/"))


def test_programmes_for_signed_in_users(client_for, call, applicant):
    assert client_for("anonymous").get("/api/programmes/").status_code == 401
    body = client_for("applicant").get("/api/programmes/").json()
    assert body["results"][0]["envelope"] == "500000.00"


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("manager", 200),
        ("instructor", 403),
        ("applicant", 403),
        ("anonymous", 401),
    ],
)
def test_call_transition_for_programme_managers(
    role, status, client_for, applicant, instructor, manager
):
    call = f.CallFactory(state=CallState.OPEN)
    response = client_for(role).post(
        f"/api/calls/{call.pk}/transitions/close/", {"reason": "Date atteinte"}, format="json"
    )
    assert response.status_code == status
    expected = CallState.CLOSED if status == 200 else CallState.OPEN
    assert Call.objects.get(pk=call.pk).state == expected
    if status == 200:
        assert response.json()["state"] == "closed"


def test_call_transition_at_the_wrong_moment_is_409(client_for, manager):
    call = f.CallFactory(state=CallState.OPEN)
    response = client_for("manager").post(
        f"/api/calls/{call.pk}/transitions/archive/", {}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["allowed_transitions"] == ["close"]
    assert Call.objects.get(pk=call.pk).state == CallState.OPEN


def test_draft_call_transition_hidden_from_non_managers(client_for, instructor):
    call = f.CallFactory(state=CallState.DRAFT)
    assert (
        client_for("instructor")
        .post(f"/api/calls/{call.pk}/transitions/publish/", {}, format="json")
        .status_code
        == 404
    )
