"""Who may do what through the API: every role × every action on the applicant's own file, and on
another organisation's file. A refusal leaves the database as it was."""

from __future__ import annotations

import datetime

import pytest

from core.clock import today
from core.models import AuditLog, Role
from grants.models import Application
from grants.models import ApplicationState as S
from grants.transitions import TRANSITIONS as DECLARED

from .. import factories as f
from .conftest import ROLES, put

pytestmark = pytest.mark.django_db

STAFF = ["instructor", "committee_member", "manager", "finance_officer", "auditor"]
# Roles that never reach the applicant's file: the 404 hides that it exists.
OUTSIDERS = {"other_applicant": 404, "panel_member": 404, "anonymous": 401}


def _inputs(name: str) -> dict:
    return {
        "resubmit": {"answer": "Voici le RIB à jour."},
        "withdraw": {"reason": "Nous renonçons"},
        "request_completion": {
            "message": "Merci de joindre le RIB.",
            "deadline": (today() + datetime.timedelta(days=15)).isoformat(),
        },
        "declare_ineligible": {"reason": "Hors périmètre"},
        "send_to_committee": {"proposed_amount": "8000.00"},
        "approve": {"amount": "8000.00", "conditions": "Bilan intermédiaire en juin"},
        "reject": {"reason": "Projet insuffisamment ancré dans le quartier"},
        "dismiss": {"reason": "Projet abandonné"},
        "reopen": {"reason": "Erreur matérielle sur le montant"},
    }.get(name, {})


def table(**by_role: int) -> dict[str, int]:
    return {**OUTSIDERS, **by_role}


def staff(status: int, **overrides: int) -> dict[str, int]:
    return {**dict.fromkeys(STAFF, status), **overrides}


# The roles of grants.transitions' `who` declarations, as the fixtures name them.
FIXTURE_OF_ROLE = {
    Role.APPLICANT: "applicant",
    Role.INSTRUCTOR: "instructor",
    Role.COMMITTEE_MEMBER: "committee_member",
    Role.PROGRAMME_MANAGER: "manager",
}

# transition name → (source state, target state): where the matrix runs it from.
# The direct-award transitions need a file outside any call: tests/api/test_direct_api.py.
SOURCES = {
    "submit": (S.DRAFT, S.SUBMITTED),
    "withdraw": (S.SUBMITTED, S.WITHDRAWN),
    "resubmit": (S.RETURNED, S.SUBMITTED),
    "request_completion": (S.SUBMITTED, S.RETURNED),
    "declare_eligible": (S.SUBMITTED, S.ELIGIBLE),
    "declare_ineligible": (S.SUBMITTED, S.INELIGIBLE),
    "start_review": (S.ELIGIBLE, S.UNDER_REVIEW),
    "send_to_committee": (S.UNDER_REVIEW, S.IN_COMMITTEE),
    "approve": (S.IN_COMMITTEE, S.APPROVED),
    "reject": (S.IN_COMMITTEE, S.REJECTED),
    "dismiss": (S.UNDER_REVIEW, S.DISMISSED),
    "reopen": (S.APPROVED, S.UNDER_REVIEW),
}
DIRECT_AWARD_TRANSITIONS = {"award_directly", "refuse_directly"}


def expected_statuses(name: str, source: str) -> dict[str, int]:
    """From the declaration: the roles of `who` may (200); the others are refused (403), except
    that staff never see a draft (404) and outsiders never see the file (OUTSIDERS)."""
    refused = staff(404 if source == S.DRAFT else 403)
    allowed = {FIXTURE_OF_ROLE[role]: 200 for role in DECLARED[name].who.roles}
    return {**table(applicant=403, **refused), **allowed}


# transition name → (source state, target state, expected status by role)
TRANSITIONS = {
    name: (source, target, expected_statuses(name, source))
    for name, (source, target) in SOURCES.items()
}


def test_the_matrix_covers_every_declared_transition():
    assert set(SOURCES) == set(DECLARED) - DIRECT_AWARD_TRANSITIONS


# action → (state of the file, expected status by role)
ACTIONS = {
    "retrieve": (S.SUBMITTED, table(applicant=200, **staff(200))),
    "retrieve_draft": (S.DRAFT, table(applicant=200, **staff(404))),  # drafts stay private
    "history": (S.SUBMITTED, table(applicant=200, **staff(200))),
    "update_draft": (S.DRAFT, table(applicant=200, **staff(404))),
    "update_submitted": (S.SUBMITTED, table(applicant=409, **staff(403))),
    "put_draft": (S.DRAFT, table(applicant=200, **staff(404))),
}


def snapshot(application: Application) -> tuple:
    fresh = Application.objects.get(pk=application.pk)
    return (
        fresh.state,
        fresh.title,
        fresh.updated_at,
        fresh.approved_amount,
        Application.objects.count(),
        AuditLog.objects.filter(object_id=str(application.pk)).count(),
        fresh.completion_requests.count(),
    )


def _do(client, action: str, application: Application):
    url = f"/api/applications/{application.pk}/"
    if action in ("retrieve", "retrieve_draft"):
        return client.get(url)
    if action == "history":
        return client.get(url + "history/")
    if action in ("update_draft", "update_submitted"):
        return client.patch(url, {"title": "Titre changé"}, format="json")
    if action == "put_draft":
        return client.put(
            url, {"title": "Titre changé", "summary": "Nouveau résumé"}, format="json"
        )
    return client.post(url + f"transitions/{action}/", _inputs(action), format="json")


@pytest.fixture
def own(draft):
    return draft


@pytest.fixture
def foreign(call, other_applicant):
    return f.ApplicationFactory(call=call, organisation=other_applicant.organisations.get())


@pytest.fixture
def everyone(
    applicant,
    other_applicant,
    instructor,
    committee_member,
    manager,
    finance_officer,
    auditor,
    panel_member,
):
    """Every role exists in the database whatever the role under test (visibility depends on them)."""


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", list(ACTIONS))
def test_actions_on_own_file(action, role, own, everyone, client_for):
    state, expected = ACTIONS[action]
    application = put(own, state)
    before = snapshot(application)
    response = _do(client_for(role), action, application)
    assert response.status_code == expected[role], response.content
    if response.status_code >= 400:
        assert snapshot(application) == before
    elif action.startswith(("update", "put")):
        assert Application.objects.get(pk=application.pk).title == "Titre changé"
    elif action == "history":
        assert isinstance(response.json(), list)
    else:
        assert response.json()["id"] == application.pk


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", list(TRANSITIONS))
def test_transitions_on_own_file(name, role, own, everyone, client_for, request):
    source, target, expected = TRANSITIONS[name]
    application = put(own, source)
    if name in ("approve", "reject") and expected[role] == 200:
        # A committee decision is taken in an open session, by its chair (issue #16).
        f.open_session_for(application, chair=request.getfixturevalue(role))
    before = snapshot(application)
    response = _do(client_for(role), name, application)
    assert response.status_code == expected[role], response.content
    if response.status_code == 200:
        assert response.json()["state"] == target
        assert Application.objects.get(pk=application.pk).state == target
        assert AuditLog.objects.filter(object_id=str(application.pk), target_state=target).exists()
    else:
        assert snapshot(application) == before
        body = response.json()
        assert body["detail"]  # a message, in French, for the client to show


@pytest.mark.parametrize(
    ("action", "state"),
    [
        ("retrieve", S.SUBMITTED),
        ("history", S.SUBMITTED),
        ("update_draft", S.DRAFT),
        ("submit", S.DRAFT),
        ("withdraw", S.SUBMITTED),
        ("resubmit", S.RETURNED),
    ],
)
def test_another_organisations_file_is_404(action, state, foreign, applicant, client_for):
    application = put(foreign, state)
    before = snapshot(application)
    response = _do(client_for("applicant"), action, application)
    assert response.status_code == 404
    assert snapshot(application) == before


CREATE_EXPECTED = {
    "anonymous": 401,
    "applicant": 201,
    "other_applicant": 400,
    "instructor": 201,
    "committee_member": 403,
    "manager": 201,
    "finance_officer": 403,
    "auditor": 403,
    "panel_member": 400,
}


@pytest.mark.parametrize("role", ROLES)
def test_create_for_the_applicants_organisation(role, organisation, call, everyone, client_for):
    """Members create drafts; instruction may start one for an association (direct award); partners,
    finance and auditors may not. Naming an organisation one cannot see reads as unknown (400)."""
    before = Application.objects.count()
    response = client_for(role).post(
        "/api/applications/",
        {"organisation": organisation.pk, "call": call.pk, "title": "Jardins partagés"},
        format="json",
    )
    assert response.status_code == CREATE_EXPECTED[role], response.content
    if response.status_code == 201:
        assert Application.objects.count() == before + 1
        created = Application.objects.get(pk=response.json()["id"])
        assert created.organisation == organisation and created.state == S.DRAFT
    else:
        assert Application.objects.count() == before
    if response.status_code == 400:
        assert response.json()["errors"]["organisation"] == [
            "Organisation inconnue ou hors de votre périmètre."
        ]


LIST_SEES_OWN_FILED_FILE = {
    "applicant": True,
    "other_applicant": False,
    "instructor": True,
    "committee_member": True,
    "manager": True,
    "finance_officer": True,
    "auditor": True,
    "panel_member": False,
}


@pytest.mark.parametrize("role", ROLES)
def test_list_shows_only_visible_files(role, own, foreign, everyone, client_for):
    put(own, S.SUBMITTED)
    response = client_for(role).get("/api/applications/")
    if role == "anonymous":
        assert response.status_code == 401
        return
    assert response.status_code == 200
    ids = {row["id"] for row in response.json()["results"]}
    assert (own.pk in ids) is LIST_SEES_OWN_FILED_FILE[role]
    # The other organisation's draft: listed to its own members only, never to staff.
    assert (foreign.pk in ids) is (role == "other_applicant")
