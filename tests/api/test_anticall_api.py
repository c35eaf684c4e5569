"""The anti-call through the API: the whole path from a need to a funded application, who may do
what, 409 with the allowed transitions, French validation messages."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from calls.models import Need
from core.models import AuditLog
from grants.anticall import services as svc
from grants.models import (
    Application,
    ApplicationState,
    Candidacy,
    CoachingEntry,
    PrototypeDeliverable,
)
from grants.models import CandidacyState as C

from .. import factories as f
from .conftest import ROLES

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def put(candidacy: Candidacy, state: str) -> Candidacy:
    Candidacy.objects.filter(pk=candidacy.pk).update(state=state)
    return Candidacy.objects.get(pk=candidacy.pk)


@pytest.fixture
def anticall(db):
    return f.anti_call()


@pytest.fixture
def need(anticall):
    return f.published_need(call=anticall)


@pytest.fixture
def candidacy(need, instructor, organisation):
    return svc.candidacy_source(
        actor=instructor, need=need, organisation=organisation, why="Active le soir"
    )


def test_whole_path_through_the_api(
    client_for, committee_member, manager, instructor, applicant, organisation, anticall
):
    qpv = f.QPVFactory()
    partner = client_for("committee_member")
    response = partner.post(
        "/api/needs/",
        {
            "call": anticall.pk,
            "qpv": qpv.pk,
            "title": "Cafards dans les caves",
            "description": "Bâtiments B et C",
            "raised_by": "Amicale de locataires",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    need_id = response.json()["id"]
    assert response.json()["state"] == "recorded" and response.json()["state_label"] == "Enregistré"

    response = client_for("manager").post(f"/api/needs/{need_id}/publish/")
    assert response.status_code == 200 and response.json()["state"] == "published"

    staff = client_for("instructor")
    response = staff.post(
        "/api/candidacies/",
        {"need": need_id, "organisation": organisation.pk, "why": "Connaît les locataires"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    cid = body["id"]
    assert body["state"] == "sourced" and body["why"] == "Connaît les locataires"
    assert [t["name"] for t in body["allowed_transitions"]] == ["invite", "abandon"]

    response = staff.post(
        f"/api/candidacies/{cid}/transitions/invite/", {"message": "Venez !"}, format="json"
    )
    assert response.status_code == 200 and response.json()["state"] == "invited"

    structure = client_for("applicant")
    body = structure.get(f"/api/candidacies/{cid}/").json()
    assert body["why"] is None and body["sourced_by"] is None
    assert [t["name"] for t in body["allowed_transitions"]] == ["accept", "decline"]
    response = structure.post(
        f"/api/candidacies/{cid}/transitions/accept/",
        {"organisation": organisation.pk},
        format="json",
    )
    assert response.status_code == 200 and response.json()["state"] == "accepted"

    response = staff.post(
        f"/api/candidacies/{cid}/transitions/start_prototyping/",
        {"start": "2026-03-02", "prototyping_days": 15},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["prototype_deadline"] == "2026-03-17"

    response = staff.post(
        f"/api/candidacies/{cid}/coaching/",
        {
            "date": "2026-03-03",
            "kind": "support",
            "support": "networking",
            "notes": "Mise en lien avec le bailleur",
            "cost": "450.00",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert (
        response.json()["cost"] == "450.00" and response.json()["support_label"] == "Mise en réseau"
    )
    assert structure.get(f"/api/candidacies/{cid}/coaching/").status_code == 403

    response = structure.post(
        f"/api/candidacies/{cid}/deliverables/",
        {
            "title": "Protocole de désinsectisation",
            "description": "Testé sur 12 caves",
            "file": SimpleUploadedFile("protocole.pdf", PDF, content_type="application/pdf"),
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert response.json()["file_url"].startswith(f"/anti-appels/structures/{cid}/livrables/")
    assert [d["title"] for d in staff.get(f"/api/candidacies/{cid}/deliverables/").json()] == [
        "Protocole de désinsectisation"
    ]

    response = staff.post(
        f"/api/candidacies/{cid}/transitions/present/",
        {"summary": "12 caves traitées"},
        format="json",
    )
    assert response.status_code == 200 and response.json()["state"] == "presented"

    foundation = f.FunderFactory(name="Fondation Habitat")
    response = client_for("manager").post(
        f"/api/candidacies/{cid}/transitions/fund/",
        {
            "amount": "25000.00",
            "cofunder": foundation.pk,
            "is_multi_year": True,
            "duration_years": 3,
            "reason": "Prototype concluant",
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (
        body["state"] == "funded"
        and body["funded_amount"] == "25000.00"
        and body["cofunder"] == foundation.pk
    )
    application = Application.objects.get(pk=body["application"])
    assert (
        application.state == ApplicationState.APPROVED
        and application.approved_amount == Decimal("25000.00")
    )
    assert application.organisation == organisation and application.duration_years == 3
    assert [o.text for o in application.objectives.all()] == ["Protocole de désinsectisation"]

    history = structure.get(f"/api/candidacies/{cid}/history/").json()
    actions = [row["action"] for row in history]
    assert (
        "grants.candidacy.funded" in actions and "grants.candidacy.coaching_logged" not in actions
    )
    assert all(row["payload"] is None for row in history)
    assert "grants.candidacy.coaching_logged" in [
        r["action"] for r in staff.get(f"/api/candidacies/{cid}/history/").json()
    ]


# --------------------------------------------------------------------------- who sees what

READERS = {"instructor", "committee_member", "manager", "auditor"}


@pytest.mark.parametrize("role", ROLES)
def test_reading_needs_and_candidacies(client_for, role, need, candidacy, instructor):
    svc.candidacy_invite(actor=instructor, candidacy=candidacy)
    client = client_for(role)
    needs = client.get("/api/needs/")
    candidacies = client.get("/api/candidacies/")
    one = client.get(f"/api/candidacies/{candidacy.pk}/")
    if role == "anonymous":
        assert (needs.status_code, candidacies.status_code, one.status_code) == (401, 401, 401)
        return
    assert needs.status_code == candidacies.status_code == 200
    if role in READERS:
        assert [n["id"] for n in needs.json()["results"]] == [need.pk]
        assert [c["id"] for c in candidacies.json()["results"]] == [candidacy.pk]
        assert one.status_code == 200
        assert client.get(f"/api/needs/{need.pk}/").status_code == 200
    elif role == "applicant":  # the structure: its candidacy, never the needs list
        assert needs.json()["results"] == []
        assert [c["id"] for c in candidacies.json()["results"]] == [candidacy.pk]
        assert one.status_code == 200
        assert client.get(f"/api/needs/{need.pk}/").status_code == 404
    else:
        assert needs.json()["results"] == [] and candidacies.json()["results"] == []
        assert one.status_code == 404


def test_structure_does_not_see_a_candidacy_before_invitation(client_for, candidacy):
    assert client_for("applicant").get(f"/api/candidacies/{candidacy.pk}/").status_code == 404
    assert client_for("applicant").get("/api/candidacies/").json()["results"] == []


def _status_map(**overrides: int) -> dict[str, int]:
    # Outsiders never reach the candidacy (404); anonymous is refused by authentication (403).
    base = {
        "anonymous": 401,
        "other_applicant": 404,
        "finance_officer": 404,
        "panel_member": 404,
        "applicant": 403,
        "auditor": 403,
        "instructor": 403,
        "committee_member": 403,
        "manager": 403,
    }
    return {**base, **overrides}


# transition → (source state, input, target state, expected status by role)
MATRIX = {
    "invite": (
        C.SOURCED,
        {},
        C.INVITED,
        _status_map(applicant=404, instructor=200, committee_member=200, manager=200),
    ),
    "accept": (C.INVITED, {}, C.ACCEPTED, _status_map(applicant=200)),
    "decline": (
        C.INVITED,
        {"reason": "Pas disponibles"},
        C.DECLINED,
        _status_map(applicant=200, instructor=200, committee_member=200, manager=200),
    ),
    "start_prototyping": (
        C.ACCEPTED,
        {"prototyping_days": 10},
        C.PROTOTYPING,
        _status_map(instructor=200, committee_member=200, manager=200),
    ),
    "present": (
        C.PROTOTYPING,
        {"summary": "Bilan"},
        C.PRESENTED,
        _status_map(instructor=200, committee_member=200, manager=200),
    ),
    "fund": (C.PRESENTED, {"amount": "5000.00"}, C.FUNDED, _status_map(manager=200)),
    "not_fund": (C.PRESENTED, {"reason": "Pas concluant"}, C.NOT_FUNDED, _status_map(manager=200)),
    "abandon": (
        C.PROTOTYPING,
        {"reason": "Structure dissoute"},
        C.ABANDONED,
        _status_map(instructor=200, committee_member=200, manager=200),
    ),
}


@pytest.mark.parametrize(("name", "role"), [(n, r) for n in MATRIX for r in ROLES])
def test_transition_permission_matrix(client_for, name, role, candidacy, instructor):
    source, payload, target, expected = MATRIX[name]
    svc.candidacy_invite(actor=instructor, candidacy=candidacy)  # the structure sees it from now on
    candidacy = put(candidacy, source)
    rows = AuditLog.objects.count()
    response = client_for(role).post(
        f"/api/candidacies/{candidacy.pk}/transitions/{name}/", payload, format="json"
    )
    assert response.status_code == expected[role], (name, role, response.content)
    state = Candidacy.objects.get(pk=candidacy.pk).state
    if expected[role] == 200:
        assert state == target and AuditLog.objects.count() > rows
    else:
        assert state == source and AuditLog.objects.count() == rows


@pytest.mark.parametrize("role", ROLES)
def test_need_record_and_publish_permissions(client_for, role, anticall):
    qpv = f.QPVFactory()
    client = client_for(role)
    response = client.post(
        "/api/needs/",
        {
            "call": anticall.pk,
            "qpv": qpv.pk,
            "title": "Besoin",
            "description": "Détail",
            "raised_by": "CAF",
        },
        format="json",
    )
    recorders = {"instructor", "committee_member", "manager"}
    if role == "anonymous":
        assert response.status_code == 401
    elif role in recorders:
        assert response.status_code == 201
    else:
        # Auditors read the anti-call and record nothing; the others are refused before the body
        # is read (issue 11), so the answer says nothing about the anti-call.
        assert response.status_code == 403
    need = f.published_need(call=anticall)
    Need.objects.filter(pk=need.pk).update(state=Need.State.RECORDED)
    response = client.post(f"/api/needs/{need.pk}/publish/")
    expected = {
        "anonymous": 401,
        "manager": 200,
        "instructor": 403,
        "committee_member": 403,
        "auditor": 403,
    }
    assert response.status_code == expected.get(role, 404)
    assert Need.objects.get(pk=need.pk).state == (
        Need.State.PUBLISHED if role == "manager" else Need.State.RECORDED
    )


# --------------------------------------------------------------------------- errors


def test_wrong_state_is_409_with_allowed_transitions(client_for, candidacy):
    response = client_for("instructor").post(
        f"/api/candidacies/{candidacy.pk}/transitions/start_prototyping/", {}, format="json"
    )
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "transition_not_allowed"
    assert body["allowed_transitions"] == ["abandon", "invite"]
    response = client_for("manager").post(
        f"/api/candidacies/{candidacy.pk}/transitions/fund/", {"amount": "1000.00"}, format="json"
    )
    assert response.status_code == 409 and "invite" in response.json()["allowed_transitions"]
    assert Candidacy.objects.get(pk=candidacy.pk).state == C.SOURCED


def test_validation_messages_are_french(client_for, need, candidacy):
    staff = client_for("instructor")
    response = staff.post(
        "/api/candidacies/",
        {"need": need.pk, "siret": "12345678901234", "email": "nope"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["errors"]["email"] == ["Saisissez une adresse e-mail valide."]
    assert "siret" in response.json()["errors"]
    response = staff.post("/api/candidacies/", {}, format="json")
    assert response.json()["errors"]["need"] == ["Ce champ est obligatoire."]

    candidacy = put(candidacy, C.PRESENTED)
    manager = client_for("manager")
    response = manager.post(
        f"/api/candidacies/{candidacy.pk}/transitions/fund/", {"amount": "12,5"}, format="json"
    )
    assert (
        response.status_code == 400 and "montant valide" in response.json()["errors"]["amount"][0]
    )
    response = manager.post(
        f"/api/candidacies/{candidacy.pk}/transitions/fund/", {"amount": "250000.00"}, format="json"
    )
    assert response.status_code == 400 and response.json()["code"] == "envelope_exceeded"
    assert "envelope_override_reason" in response.json()["errors"]
    response = manager.post(
        f"/api/candidacies/{candidacy.pk}/transitions/not_fund/", {}, format="json"
    )
    assert response.status_code == 400 and response.json()["errors"]["reason"] == [
        "Un motif est obligatoire pour cette action."
    ]

    candidacy = put(candidacy, C.PROTOTYPING)
    response = staff.post(
        f"/api/candidacies/{candidacy.pk}/coaching/",
        {"date": "hier", "kind": "visite"},
        format="json",
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert "AAAA-MM-JJ" in errors["date"][0] and "type connu" in errors["kind"][0]
    response = staff.post(
        f"/api/candidacies/{candidacy.pk}/coaching/",
        {"date": "2026-03-03", "kind": "support", "notes": ""},
        format="json",
    )
    assert response.status_code == 400 and {"support", "notes"} <= set(response.json()["errors"])
    assert not CoachingEntry.objects.exists()
    response = client_for("applicant").post(
        f"/api/candidacies/{candidacy.pk}/deliverables/",
        {"title": "Bilan", "file": SimpleUploadedFile("bilan.pdf", b"MZ pas un pdf")},
        format="multipart",
    )
    assert response.status_code == 400 and "file" in response.json()["errors"]
    assert not PrototypeDeliverable.objects.exists()
