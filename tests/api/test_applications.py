"""Applications through the API: drafting with nested data, the detail, transitions at the wrong
moment, French validation messages, filters, history, instruction work and query counts."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.models import AuditLog
from grants import services
from grants.models import Application, InstructorNote, PartnerOpinion, Score
from grants.models import ApplicationState as S

from .. import factories as f
from .conftest import put

pytestmark = pytest.mark.django_db

BALANCED_BUDGET = [
    {"account": "60", "label": "Graines et outils", "amount": "3000.00"},
    {"account": "64", "label": "Animatrice", "amount": "9000.50"},
    {"account": "74", "subsidy_source": "municipality", "label": "Ville", "amount": "8000.00"},
    {"account": "75", "label": "Cotisations", "amount": "4000.50"},
]


def new_draft_payload(organisation, call, **extra) -> dict:
    qpv, pillar, theme = f.QPVFactory(), f.PillarFactory(), f.ThemeFactory()
    return {
        "organisation": organisation.pk,
        "call": call.pk,
        "title": "Jardins partagés au pied des tours",
        "summary": "Des parcelles cultivées avec les habitant·es.",
        "start_date": "2026-03-01",
        "end_date": "2026-11-30",
        "pillar": pillar.pk,
        "requested_amount": "8000.00",
        "beneficiaries_count": 120,
        "qpvs": [qpv.pk],
        "themes": [theme.pk],
        "objectives": ["Créer du lien entre voisins", "Manger local"],
        "indicators": [{"label": "Familles participantes", "unit": "familles", "target": "40"}],
        "budget": BALANCED_BUDGET,
        **extra,
    }


def test_create_with_nested_data_then_submit(client_for, applicant, organisation, call):
    client = client_for("applicant")
    response = client.post(
        "/api/applications/", new_draft_payload(organisation, call), format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] == "draft" and body["state_label"] == "Brouillon"
    assert body["reference"].startswith("AAP-2026-")
    assert [o["text"] for o in body["objectives"]] == [
        "Créer du lien entre voisins",
        "Manger local",
    ]
    assert body["indicators"][0] | {"id": None} == {
        "id": None,
        "label": "Familles participantes",
        "unit": "familles",
        "target": "40.00",
        "position": 0,
    }
    assert sorted(b["amount"] for b in body["budget_items"]) == [
        "3000.00",
        "4000.50",
        "8000.00",
        "9000.50",
    ]
    assert body["budget_totals"]["charges"] == "12000.50"
    assert body["budget_totals"]["balance"] == "0.00"
    assert body["budget_totals"]["subsidies"] == "8000.00"
    assert [t["name"] for t in body["allowed_transitions"]] == ["submit", "withdraw"]
    assert body["proposed_amount"] is None
    application = Application.objects.get(pk=body["id"])
    assert application.budget_items.get(account="64").amount == Decimal("9000.50")
    assert AuditLog.objects.filter(
        object_id=str(application.pk), action="grants.application.created"
    ).exists()

    submitted = client.post(
        f"/api/applications/{application.pk}/transitions/submit/", {}, format="json"
    )
    assert submitted.status_code == 200, submitted.content
    assert submitted.json()["state"] == "submitted"
    assert [t["name"] for t in submitted.json()["allowed_transitions"]] == ["withdraw"]


def test_patch_replaces_lists_and_keeps_the_rest(client_for, draft):
    response = client_for("applicant").patch(
        f"/api/applications/{draft.pk}/",
        {"summary": "Nouveau résumé", "objectives": ["Un seul objectif"]},
        format="json",
    )
    assert response.status_code == 200, response.content
    draft = Application.objects.get(pk=draft.pk)
    assert draft.summary == "Nouveau résumé"
    assert draft.title.startswith("Projet")
    assert list(draft.objectives.values_list("text", flat=True)) == ["Un seul objectif"]
    assert draft.budget_items.count() == 4  # not sent, not touched


def test_wrong_moment_is_409_with_allowed_transitions(client_for, draft, committee_member):
    application = put(draft, S.SUBMITTED)
    response = client_for("committee_member").post(
        f"/api/applications/{application.pk}/transitions/approve/",
        {"amount": "5000.00"},
        format="json",
    )
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "transition_not_allowed"
    assert set(body["allowed_transitions"]) == {
        "declare_eligible",
        "declare_ineligible",
        "dismiss",
        "request_completion",
        "withdraw",
    }
    assert "Déposé" in body["detail"]
    assert Application.objects.get(pk=application.pk).state == S.SUBMITTED


def test_editing_a_filed_file_is_409(client_for, draft):
    application = put(draft, S.SUBMITTED)
    response = client_for("applicant").patch(
        f"/api/applications/{application.pk}/", {"title": "Autre"}, format="json"
    )
    assert response.status_code == 409
    assert "withdraw" in response.json()["allowed_transitions"]


def test_unknown_transition_name_is_404(client_for, draft):
    response = client_for("applicant").post(
        f"/api/applications/{draft.pk}/transitions/teleport/", {}, format="json"
    )
    assert response.status_code == 404


def test_submit_breaking_the_calls_rules_lists_every_problem(client_for, draft):
    draft.budget_items.filter(account="75").delete()
    response = client_for("applicant").post(
        f"/api/applications/{draft.pk}/transitions/submit/", {}, format="json"
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert any("pas équilibré" in m for m in errors["budget"])
    assert Application.objects.get(pk=draft.pk).state == S.DRAFT


def test_invalid_budget_rows_get_french_field_messages(client_for, organisation, call, applicant):
    payload = new_draft_payload(
        organisation,
        call,
        budget=[
            {"account": "99", "amount": "10.00"},
            {"account": "60", "amount": "12.345"},
            {"account": "64", "amount": "-5"},
            {"account": "61", "amount": "douze"},
        ],
        requested_amount="1000.001",
    )
    before = Application.objects.count()
    response = client_for("applicant").post("/api/applications/", payload, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["errors"]["budget.0.account"] == [
        "« 99 » n'est pas un compte du budget (60 à 68, 70 à 78, 86, 87)."
    ]
    assert body["errors"]["budget.1.amount"] == [
        "Le montant s'exprime au centime près (2 décimales au plus)."
    ]
    assert body["errors"]["budget.2.amount"] == ["Le montant ne peut pas être négatif."]
    assert body["errors"]["budget.3.amount"] == [
        "Saisissez un montant valide (par exemple 1250.50)."
    ]
    assert body["errors"]["requested_amount"] == [
        "Le montant s'exprime au centime près (2 décimales au plus)."
    ]
    assert Application.objects.count() == before


def test_subsidy_line_without_funder_is_refused_by_the_service(client_for, draft):
    response = client_for("applicant").patch(
        f"/api/applications/{draft.pk}/",
        {"budget": [{"account": "74", "amount": "100.00"}]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["errors"]["budget"] == [
        "Ligne 1 : précisez le financeur de la subvention (compte 74)."
    ]
    assert draft.budget_items.count() == 4


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        (
            {"amount": "20000.00"},
            "amount",
            "Le montant accordé ne peut pas dépasser le montant demandé",
        ),
        ({"amount": "0"}, "amount", "Le montant accordé doit être supérieur à zéro."),
    ],
)
def test_approval_amount_rules_are_400_in_french(
    payload, field, message, client_for, draft, committee_member
):
    application = put(draft, S.IN_COMMITTEE)
    f.open_session_for(application, chair=committee_member)
    response = client_for("committee_member").post(
        f"/api/applications/{application.pk}/transitions/approve/", payload, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][field][0].startswith(message)
    fresh = Application.objects.get(pk=application.pk)
    assert fresh.state == S.IN_COMMITTEE and fresh.approved_amount is None


@pytest.mark.parametrize(
    ("name", "payload", "errors"),
    [
        (
            "approve",
            {"amount": "huit mille"},
            {"amount": ["Saisissez un montant valide (par exemple 1250.50)."]},
        ),
        ("approve", {}, {"amount": ["Ce champ est obligatoire."]}),
        ("reject", {"reason": ""}, {"reason": ["Un motif est obligatoire pour cette action."]}),
    ],
)
def test_transition_inputs_are_checked_in_french(
    name, payload, errors, client_for, draft, committee_member
):
    application = put(draft, S.IN_COMMITTEE)
    response = client_for("committee_member").post(
        f"/api/applications/{application.pk}/transitions/{name}/", payload, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"] == errors


def test_request_completion_deadline_in_the_past_is_refused(client_for, draft, instructor):
    application = put(draft, S.SUBMITTED)
    response = client_for("instructor").post(
        f"/api/applications/{application.pk}/transitions/request_completion/",
        {"message": "Le RIB manque.", "deadline": "2020-01-01"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {"deadline": ["La date limite doit être dans le futur."]}


def test_approve_beyond_the_envelope_needs_a_reason(client_for, draft, committee_member):
    draft.call.envelope = Decimal("5000.00")
    draft.call.save(update_fields=["envelope"])
    application = put(draft, S.IN_COMMITTEE)
    f.open_session_for(application, chair=committee_member)
    client = client_for("committee_member")
    url = f"/api/applications/{application.pk}/transitions/approve/"
    refused = client.post(url, {"amount": "8000.00"}, format="json")
    assert refused.status_code == 400
    assert "envelope_override_reason" in refused.json()["errors"]
    accepted = client.post(
        url, {"amount": "8000.00", "envelope_override_reason": "Urgence estivale"}, format="json"
    )
    assert accepted.status_code == 200
    body = accepted.json()
    assert body["state"] == "approved" and body["approved_amount"] == "8000.00"
    assert body["envelope_override_reason"] == "Urgence estivale"


def test_history_reads_like_prose_and_hides_internal_work_from_applicants(
    client_for, draft, applicant, instructor
):
    services.application_submit(actor=applicant, application=draft)
    services.application_add_note(actor=instructor, application=draft, text="Structure solide.")
    staff_rows = client_for("instructor").get(f"/api/applications/{draft.pk}/history/").json()
    assert [r["label"] for r in staff_rows][:2] == ["Note interne ajoutée", "Dossier déposé"]
    submitted = staff_rows[1]
    assert (submitted["source_label"], submitted["target_label"]) == ("Brouillon", "Déposé")
    assert submitted["actor"]["email"] == applicant.email
    assert submitted["payload"] is not None

    applicant_rows = client_for("applicant").get(f"/api/applications/{draft.pk}/history/").json()
    assert "Note interne ajoutée" not in [r["label"] for r in applicant_rows]
    assert "Dossier déposé" in [r["label"] for r in applicant_rows]
    assert all(r["payload"] is None for r in applicant_rows)


def test_internal_fields_are_hidden_from_the_applicant(client_for, draft):
    application = put(draft, S.IN_COMMITTEE)
    Application.objects.filter(pk=application.pk).update(
        proposed_amount=Decimal("7000.00"), proposal_note="Bon projet"
    )
    mine = client_for("applicant").get(f"/api/applications/{application.pk}/").json()
    assert mine["proposed_amount"] is None and mine["proposal_note"] is None
    theirs = client_for("instructor").get(f"/api/applications/{application.pk}/").json()
    assert theirs["proposed_amount"] == "7000.00" and theirs["proposal_note"] == "Bon projet"


def test_notes_are_for_staff_only(client_for, draft, instructor):
    application = put(draft, S.SUBMITTED)
    url = f"/api/applications/{application.pk}/notes/"
    created = client_for("instructor").post(url, {"text": "Appeler la présidente."}, format="json")
    assert created.status_code == 201
    assert client_for("instructor").get(url).json()[0]["text"] == "Appeler la présidente."
    assert client_for("applicant").get(url).status_code == 403
    assert client_for("applicant").post(url, {"text": "Coucou"}, format="json").status_code == 403
    assert InstructorNote.objects.filter(application=application).count() == 1
    assert client_for("instructor").post(url, {"text": ""}, format="json").json()["errors"] == {
        "text": ["Ce champ ne peut pas être vide."]
    }
    huge = client_for("instructor").post(url, {"text": "x" * 20_001}, format="json")
    assert huge.status_code == 400 and "text" in huge.json()["errors"]
    assert InstructorNote.objects.filter(application=application).count() == 1


def test_negative_zero_amounts_and_fractional_ids_are_refused(client_for, organisation, call):
    payload = new_draft_payload(organisation, call, requested_amount="-0")
    response = client_for("applicant").post("/api/applications/", payload, format="json")
    assert response.status_code == 400 and "requested_amount" in response.json()["errors"]
    payload = new_draft_payload(organisation, call)
    payload["organisation"] = organisation.pk + 0.5
    response = client_for("applicant").post("/api/applications/", payload, format="json")
    assert response.status_code == 400 and "organisation" in response.json()["errors"]
    payload["organisation"] = float(organisation.pk)
    response = client_for("applicant").post("/api/applications/", payload, format="json")
    assert response.status_code == 400
    assert not Application.objects.exists()


def test_partner_gives_an_opinion(client_for, draft, committee_member, instructor):
    application = put(draft, S.UNDER_REVIEW)
    url = f"/api/applications/{application.pk}/opinions/"
    response = client_for("committee_member").post(
        url, {"opinion": "favourable", "comment": "Utile"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["opinion_label"] == "Favorable"
    assert (
        client_for("instructor").post(url, {"opinion": "favourable"}, format="json").status_code
        == 403
    )
    assert (
        client_for("committee_member").post(url, {"opinion": "bof"}, format="json").status_code
        == 400
    )
    assert PartnerOpinion.objects.filter(application=application).count() == 1


def test_instructor_scores_against_the_grid(client_for, draft, instructor):
    criterion = f.CriterionFactory(call=draft.call, max_score=5)
    application = put(draft, S.UNDER_REVIEW)
    url = f"/api/applications/{application.pk}/scores/"
    client = client_for("instructor")
    too_high = client.post(
        url, {"scores": [{"criterion": criterion.pk, "value": 9}]}, format="json"
    )
    assert too_high.status_code == 400
    assert too_high.json()["errors"] == {
        f"score_{criterion.pk}": ["La note doit être comprise entre 0 et 5."]
    }
    ok = client.post(
        url,
        {"scores": [{"criterion": criterion.pk, "value": 4, "comment": "Clair"}]},
        format="json",
    )
    assert ok.status_code == 200
    assert ok.json()[0]["value"] == 4 and ok.json()[0]["criterion_label"] == criterion.label
    assert Score.objects.get(application=application).value == 4


def test_filters(client_for, call, organisation, instructor):
    other_call = f.CallFactory()
    pillar = f.PillarFactory()
    a = f.ApplicationFactory(
        call=call,
        organisation=organisation,
        title="Jardin des Aygalades",
        state=S.SUBMITTED,
        pillar=pillar,
    )
    b = f.ApplicationFactory(
        call=other_call, organisation=organisation, title="Soutien scolaire", state=S.ELIGIBLE
    )
    qpv = b.qpvs.get()
    client = client_for("instructor")

    def ids(query: str) -> set[int]:
        response = client.get(f"/api/applications/?{query}")
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    assert ids("state=submitted") == {a.pk}
    assert ids(f"call={other_call.pk}") == {b.pk}
    assert ids(f"programme={call.programme_id}") == {a.pk}
    assert ids(f"pillar={pillar.pk}") == {a.pk}
    assert ids(f"qpv={qpv.pk}") == {b.pk}
    assert ids("q=aygalades") == {a.pk}
    assert ids(f"q={a.reference}") == {a.pk}
    assert ids(f"assigned_to={instructor.pk}") == set()
    Application.objects.filter(pk=b.pk).update(assigned_to=instructor)
    assert ids(f"assigned_to={instructor.pk}") == {b.pk}
    bad = client.get("/api/applications/?state=nowhere")
    assert bad.status_code == 400


@pytest.mark.parametrize("role", ["instructor", "applicant"])
def test_list_costs_the_same_queries_for_3_and_30_files(
    role, client_for, call, organisation, applicant, instructor, django_assert_num_queries
):
    def make(n: int) -> None:
        for _ in range(n):
            app = f.ApplicationFactory(
                call=call, organisation=organisation, state=S.SUBMITTED, assigned_to=instructor
            )
            app.themes.add(f.ThemeFactory())

    client = client_for(role)
    make(3)
    with CaptureQueriesContext(connection) as small:
        response = client.get("/api/applications/")
    assert response.json()["count"] == 3
    make(27)
    with django_assert_num_queries(len(small.captured_queries)):
        response = client.get("/api/applications/")
    assert response.json()["count"] == 30
    assert len(response.json()["results"]) == 30


@pytest.mark.parametrize("role", ["instructor", "applicant"])
def test_list_lines_equal_the_generic_serializer_output(
    role, client_for, call, organisation, applicant, instructor
):
    """The list's hand-written line (issue 17) says exactly what DRF's field-by-field one says:
    with and without call, pillar, assignee, amounts and dates, internal fields hidden or not."""
    from rest_framework import serializers

    from grants.api import ApplicationViewSet
    from grants.serializers import ApplicationListSerializer

    full = f.ApplicationFactory(
        call=call,
        organisation=organisation,
        state=S.SUBMITTED,
        assigned_to=instructor,
        proposed_amount=Decimal("7000.50"),
        approved_amount=Decimal("6500"),
        title="Ateliers « <b>théâtre</b> » & co",
    )
    full.themes.add(f.ThemeFactory(), f.ThemeFactory())
    instructor.first_name = ""
    instructor.save()
    bare = f.ApplicationFactory(call=call, organisation=organisation, state=S.SUBMITTED)
    Application.objects.filter(pk=bare.pk).update(call=None, pillar=None)
    f.ApplicationFactory(call=call, state=S.ELIGIBLE)  # another organisation: staff only

    response = client_for(role).get("/api/applications/")
    assert response.status_code == 200
    lines = response.json()["results"]
    assert {line["id"] for line in lines} >= {full.pk, bare.pk}

    view = ApplicationViewSet(action="list", format_kwarg=None)
    view.request = response.wsgi_request
    view.request.user = applicant if role == "applicant" else instructor
    context = view.get_serializer_context()
    rows = list(view.get_queryset())
    fast = ApplicationListSerializer(rows, many=True, context=context).data
    generic_serializer = ApplicationListSerializer(context=context)
    generic = [serializers.ModelSerializer.to_representation(generic_serializer, a) for a in rows]
    assert [dict(line) for line in fast] == generic
    assert len(generic) == len(lines)
    by_id = {line["id"]: line for line in generic}
    assert by_id[bare.pk]["call_title"] is None and by_id[bare.pk]["pillar_label"] is None
    assert by_id[full.pk]["assigned_to"]["id"] == instructor.pk
    assert len(by_id[full.pk]["themes"]) == 2
