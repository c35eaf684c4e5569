"""The API of co-funded files (issue 15): parts on the file, each funder's agent deciding its own
part only (permission before body), private notes kept to their funder, the applicant's budget
revision."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from grants import services
from grants.models import Application, ApplicationState, BudgetRevision, FunderPartState

from ..grants.test_cofunding import cofunded_file, part_of, proposed, world  # noqa: F401

pytestmark = pytest.mark.django_db


def client(user) -> APIClient:
    c = APIClient()
    c.force_login(user)
    return c


@pytest.fixture
def file(world, manager):  # noqa: F811
    application = cofunded_file(world)
    proposed(world, application, manager)
    services.funder_part_set_note(
        actor=manager, part=part_of(application, world["commune"]), text="Trésorerie tendue"
    )
    return application


def test_parts_on_the_file_with_notes_kept_to_their_funder(world, file, applicant):  # noqa: F811
    as_state = client(world["state_agent"]).get(f"/api/applications/{file.pk}/").json()
    parts = {p["funder_name"]: p for p in as_state["funder_parts"]}
    assert parts["Ville d'Aix"]["requested_amount"] == "4000.00"
    assert parts["Ville d'Aix"]["state"] == FunderPartState.PROPOSED
    assert parts["Ville d'Aix"]["private_note"] is None  # not the State's part
    assert (parts["Ville d'Aix"]["can_decide"], parts["État — ANCT"]["can_decide"]) == (False, True)
    as_commune = client(world["commune_agent"]).get(f"/api/funder-parts/?application={file.pk}")
    notes = {p["funder_name"]: p["private_note"] for p in as_commune.json()["results"]}
    assert notes["Ville d'Aix"] == "Trésorerie tendue"
    mine = client(applicant).get(f"/api/applications/{file.pk}/").json()["funder_parts"]
    assert {p["private_note"] for p in mine} == {None}
    assert {p["proposed_amount"] for p in mine} == {None}


@pytest.mark.parametrize("body", [{}, {"decision": "x"}, {"decision": "approve", "reference": "C"}])
def test_deciding_another_funders_part_is_403_whatever_the_body(world, file, body):  # noqa: F811
    state_part = part_of(file, world["state"])
    response = client(world["commune_agent"]).post(
        f"/api/funder-parts/{state_part.pk}/decide/", body, format="json"
    )
    assert response.status_code == 403
    assert part_of(file, world["state"]).state == FunderPartState.PROPOSED


def test_a_part_of_a_file_out_of_sight_is_404(world, file, other_applicant):  # noqa: F811
    part = part_of(file, world["state"])
    assert client(other_applicant).get(f"/api/funder-parts/{part.pk}/").status_code == 404
    response = client(other_applicant).post(
        f"/api/funder-parts/{part.pk}/decide/", {"decision": "approve"}, format="json"
    )
    assert response.status_code == 404


def test_decide_through_the_api_then_the_applicant_confirms(world, file, applicant):  # noqa: F811
    commune = part_of(file, world["commune"])
    api = client(world["commune_agent"])
    refused = api.post(
        f"/api/funder-parts/{commune.pk}/decide/",
        {"decision": "refuse", "reference": "Délibération 41"},
        format="json",
    )
    assert refused.status_code == 400 and refused.json()["errors"].get("reason")
    body = {"decision": "refuse", "reason": "Hors priorités", "reference": "Délibération 41"}
    first = api.post(f"/api/funder-parts/{commune.pk}/decide/", body, format="json")
    assert first.status_code == 200 and first.json()["state"] == FunderPartState.REFUSED
    again = api.post(f"/api/funder-parts/{commune.pk}/decide/", body, format="json")
    assert again.status_code == 200 and again.json()["state"] == FunderPartState.REFUSED
    state_part = part_of(file, world["state"])
    decided = client(world["state_agent"]).post(
        f"/api/funder-parts/{state_part.pk}/decide/",
        {"decision": "approve", "amount": "6000.00", "reference": "Arrêté 12"},
        format="json",
    )
    assert decided.status_code == 200
    assert Application.objects.get(pk=file.pk).state == ApplicationState.APPROVED
    revision = BudgetRevision.objects.get(application=file)
    assert client(world["state_agent"]).post(
        f"/api/budget-revisions/{revision.pk}/confirm/", {}, format="json"
    ).status_code in (403, 404)
    answer = client(applicant).post(
        f"/api/budget-revisions/{revision.pk}/confirm/",
        {"comment": "La CAF complète"},
        format="json",
    )
    assert answer.status_code == 200 and answer.json()["state"] == "confirmed"
