"""API of the call for solutions: challenges (list, public proposal, moderation), the panel, the
ballot (409 outside the phase, 400 when already voted) and the published results."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.core.cache import cache
from rest_framework.test import APIClient

from calls.models import Challenge
from calls.services import challenge_record, panel_add_member, panel_configure
from grants.models import Application, Ballot
from grants.models import ApplicationState as S
from grants.solutions import services as svc

from .. import factories as f

pytestmark = pytest.mark.django_db

T0 = datetime.datetime(2026, 4, 1, 9, tzinfo=datetime.UTC)
DURING = T0 + datetime.timedelta(days=1)
AFTER = T0 + datetime.timedelta(days=8)


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def setup(manager):
    call = f.solutions_call(envelope=Decimal("10000.00"))
    qpv = f.QPVFactory()
    challenge = challenge_record(
        actor=manager, call=call, qpv=qpv, title="Plus de cafards", description="x"
    )
    panel = panel_configure(
        actor=manager,
        call=call,
        quorum=2,
        voting_opens_at=T0,
        voting_closes_at=T0 + datetime.timedelta(days=7),
    )
    members = [f.UserFactory(email=f"panel{i}@quartier.example.org") for i in range(3)]
    for user in members:
        panel_add_member(actor=manager, panel=panel, user=user, college="residents")
    apps = {}
    for name, cost in {"A": "6000.00", "B": "4000.00", "C": "5000.00"}.items():
        app = f.ApplicationFactory(
            call=call, title=f"Action {name}", requested_amount=Decimal(cost)
        )
        Application.objects.filter(pk=app.pk).update(state=S.IN_COMMITTEE, challenge=challenge)
        apps[name] = Application.objects.get(pk=app.pk)
    return {"call": call, "qpv": qpv, "challenge": challenge, "members": members, "apps": apps}


def as_user(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def path(call, tail: str) -> str:
    return f"/api/calls/{call.pk}/{tail}"


def test_anyone_proposes_and_reads_only_retained_challenges_without_emails(setup):
    call, anonymous = setup["call"], APIClient()
    bad = anonymous.post(
        path(call, "challenges/"),
        {"qpv": setup["qpv"].pk, "title": "", "description": "d", "name": "N"},
        format="json",
    )
    assert bad.status_code == 400 and bad.json()["title"] == ["Ce champ est obligatoire."]
    created = anonymous.post(
        path(call, "challenges/"),
        {
            "qpv": setup["qpv"].pk,
            "title": "Des jardins",
            "description": "Aucun espace vert",
            "name": "Mme Benali",
            "email": "benali@example.org",
        },
        format="json",
    )
    assert created.status_code == 201
    assert created.json()["state"] == "proposed" and "email" not in created.json()
    assert "proposer_email" not in created.json()
    listed = anonymous.get(path(call, "challenges/")).json()
    assert [c["title"] for c in listed] == ["Plus de cafards"]
    staff = as_user(setup["members"][0]).get(path(call, "challenges/")).json()
    assert {c["title"] for c in staff} == {"Plus de cafards", "Des jardins"}
    assert "benali@example.org" not in str(staff)


def test_proposals_are_throttled(setup):
    client = APIClient()
    data = {"qpv": setup["qpv"].pk, "title": "T", "description": "D", "name": "N"}
    codes = [
        client.post(path(setup["call"], "challenges/"), data, format="json").status_code
        for _ in range(11)
    ]
    assert codes[:10] == [201] * 10 and codes[10] == 429


def test_moderation_by_the_panel_only(setup, applicant):
    proposed = Challenge.objects.create(
        call=setup["call"],
        qpv=setup["qpv"],
        title="Éclairage",
        description="x",
        source="public",
        proposer_name="M. Diallo",
    )
    url = path(setup["call"], f"challenges/{proposed.pk}/moderate/")
    assert as_user(applicant).post(url, {"approve": True}, format="json").status_code == 403
    member = as_user(setup["members"][0])
    refused = member.post(url, {"approve": False, "note": ""}, format="json")
    assert refused.status_code == 400 and "note" in refused.json()["errors"]
    ok = member.post(url, {"approve": False, "note": "Hors sujet"}, format="json")
    assert ok.status_code == 200 and ok.json()["state"] == "rejected"


def test_unknown_or_other_mode_calls_are_404(setup):
    project_call = f.CallFactory()
    assert APIClient().get(f"/api/calls/{project_call.pk}/challenges/").status_code == 404
    assert APIClient().get("/api/calls/999999/results/").status_code == 404


def test_panel_is_read_by_staff_and_members(setup, applicant, instructor):
    url = path(setup["call"], "panel/")
    assert as_user(applicant).get(url).status_code == 403
    body = as_user(setup["members"][1]).get(url).json()
    assert body["quorum"] == 2 and body["secret_ballot"] is True and len(body["members"]) == 3
    assert as_user(instructor).get(url).status_code == 200


def test_ballot_409_outside_the_phase_400_when_already_voted_403_for_others(setup, applicant):
    url, apps = path(setup["call"], "ballot/"), setup["apps"]
    member = as_user(setup["members"][0])
    with time_machine.travel(T0 - datetime.timedelta(hours=1)):
        early = member.post(url, {"approvals": [apps["A"].pk]}, format="json")
    assert early.status_code == 409
    with time_machine.travel(DURING):
        member = as_user(setup["members"][0])
        assert as_user(applicant).post(url, {"approvals": []}, format="json").status_code == 403
        unknown = member.post(url, {"approvals": [999999]}, format="json")
        assert unknown.status_code == 400
        cast = member.post(url, {"approvals": [apps["A"].pk, apps["B"].pk]}, format="json")
        assert cast.status_code == 201 and "cast_at" in cast.json()
        again = member.post(url, {"approvals": [apps["C"].pk]}, format="json")
        assert again.status_code == 400 and again.json()["code"] == "already_voted"
    assert Ballot.objects.count() == 1


def test_results_are_public_once_published(setup, manager):
    apps = setup["apps"]
    with time_machine.travel(DURING):
        for who, names in ((0, "AB"), (1, "A"), (2, "C")):
            svc.ballot_cast(
                actor=setup["members"][who],
                call=setup["call"],
                approvals=[apps[n].pk for n in names],
            )
    url = path(setup["call"], "results/")
    with time_machine.travel(AFTER):
        run = svc.allocation_compute(actor=manager, call=setup["call"])
        assert APIClient().get(url).status_code == 404
        assert as_user(manager).get(url).json()["published_at"] is None
        run = svc.allocation_decide(actor=manager, run=run, rule="greedy", reason="Le plus soutenu")
        svc.allocation_publish(actor=manager, run=run)
    body = APIClient().get(url).json()
    assert body["rule"] == "greedy" and body["reason"] == "Le plus soutenu"
    assert body["voters"] == 3 and body["members"] == 3 and body["quorum_reached"] is True
    assert (
        body["greedy"]["selection"] == [apps["A"].pk, apps["B"].pk] and body["total"] == "10000.00"
    )
    votes = {p["title"]: p["votes"] for p in body["projects"]}
    assert votes == {"Action A": 2, "Action B": 1, "Action C": 1}
    assert "panel0@quartier.example.org" not in str(body)
