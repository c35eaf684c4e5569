"""Fixtures of the API tests: a client per role, files in every useful state."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from grants.models import Application

ROLES = [
    "anonymous",
    "applicant",
    "other_applicant",
    "instructor",
    "committee_member",
    "manager",
    "finance_officer",
    "auditor",
    "panel_member",
]


def put(application: Application, state: str) -> Application:
    """Place a file in a state without running the workflow (the FSM field is protected)."""
    Application.objects.filter(pk=application.pk).update(state=state)
    return Application.objects.get(pk=application.pk)


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def client_for(request):
    """client_for("instructor") → an API client logged in as that fixture's user (session, so that
    each request loads the user afresh as in production); "anonymous" → not logged in."""

    def make(role: str) -> APIClient:
        client = APIClient()
        if role != "anonymous":
            client.force_login(request.getfixturevalue(role))
        return client

    return make
