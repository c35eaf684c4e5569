"""API of the directory: public reads of published sheets and listed actors; drafts are 404 to
the public; writes by the organisation and staff through the services; OpenAPI."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from directory import services
from directory.models import ExperienceSheet, SheetState

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return APIClient()


def test_public_reads_published_sheets_only(api, sheet, published):
    body = api.get("/api/experience-sheets/").json()
    assert [row["id"] for row in body["results"]] == [published.pk]
    assert api.get(f"/api/experience-sheets/{published.pk}/").json()["qpvs"] == ["QN01301M"]


def test_public_gets_404_for_a_draft(api, sheet, other_applicant):
    assert api.get(f"/api/experience-sheets/{sheet.pk}/").status_code == 404
    api.force_authenticate(other_applicant)
    assert api.get(f"/api/experience-sheets/{sheet.pk}/").status_code == 404
    assert (
        api.patch(f"/api/experience-sheets/{sheet.pk}/", {"title": "x"}, format="json").status_code
        == 404
    )


def test_public_cannot_write(api, published):
    assert api.post(f"/api/experience-sheets/{published.pk}/publish/").status_code in (401, 403)
    assert api.patch(
        f"/api/experience-sheets/{published.pk}/", {"title": "x"}, format="json"
    ).status_code in (401, 403)


def test_filters(api, published):
    def ids(**params):
        return [r["id"] for r in api.get("/api/experience-sheets/", params).json()["results"]]

    assert ids(qpv="QN01301M") == [published.pk]
    assert ids(qpv="QN99999X") == []
    assert ids(theme="alimentation") == [published.pk]
    assert ids(funding_kind="anti_call") == []
    assert ids(year=published.year) == [published.pk]
    for absurd in ({"year": "99999999999999999999"}, {"organisation": "9" * 30}):
        assert api.get("/api/experience-sheets/", absurd).status_code == 400
    assert api.get("/api/experience-sheets/99999999999999999999999/").status_code == 404


def test_draft_edit_submit_publish(api, evaluation, applicant, instructor):
    api.force_authenticate(applicant)
    created = api.post(
        "/api/experience-sheets/draft/", {"evaluation": evaluation.pk}, format="json"
    )
    assert created.status_code == 201, created.json()
    pk = created.json()["id"]
    again = api.post("/api/experience-sheets/draft/", {"evaluation": evaluation.pk}, format="json")
    assert again.status_code == 404  # no longer among the evaluations to share
    bad = api.patch(f"/api/experience-sheets/{pk}/", {"contact_name": "Awa Diallo"}, format="json")
    assert bad.status_code == 400 and "contact_consent" in bad.json()["errors"]
    ok = api.patch(
        f"/api/experience-sheets/{pk}/",
        {"audience": "Jeunes de 16 à 25 ans", "themes": []},
        format="json",
    )
    assert ok.status_code == 200 and ok.json()["themes"] == []
    assert api.post(f"/api/experience-sheets/{pk}/submit/").json()["state"] == "submitted"
    assert api.post(f"/api/experience-sheets/{pk}/publish/").status_code == 403
    api.force_authenticate(instructor)
    assert api.post(f"/api/experience-sheets/{pk}/publish/").json()["state"] == "published"
    assert api.post(f"/api/experience-sheets/{pk}/submit/").status_code in (403, 409)
    returned = api.post(f"/api/experience-sheets/{pk}/return/", {"reason": ""}, format="json")
    assert returned.status_code == 400
    assert ExperienceSheet.objects.get(pk=pk).state == SheetState.PUBLISHED


def test_publish_from_draft_is_a_409(api, sheet, instructor):
    api.force_authenticate(instructor)
    response = api.post(f"/api/experience-sheets/{sheet.pk}/publish/")
    assert response.status_code == 409


def test_actors_are_public_without_personal_data(api, published, organisation, applicant):
    assert api.get("/api/directory-actors/").json()["results"] == []
    services.profile_update(
        actor=applicant, organisation=organisation, is_listed=True, presentation="Asso"
    )
    body = api.get(f"/api/directory-actors/{organisation.pk}/").json()
    assert body["qpvs"] == ["QN01301M"] and body["themes"] == ["alimentation"]
    assert body["sheets"] == [published.pk]
    assert body["email"] == "" and "siret" not in body and "iban" not in body


def test_openapi_documents_the_endpoints(api):
    schema = api.get("/api/schema/", {"format": "json"}).json()
    assert "/api/experience-sheets/{id}/publish/" in schema["paths"]
    assert "/api/directory-actors/" in schema["paths"]
