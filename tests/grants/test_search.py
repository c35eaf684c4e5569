"""Search of the instruction queue, the API list and the organisation searches (issue 16):
accents and case aside, one wrong letter on PostgreSQL, a SIRET typed with spaces, scope kept."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from core.models import Role
from core.search import fold
from grants.direct.forms import search_organisations
from grants.models import Application, ApplicationState
from grants.selectors import instructor_queue
from reporting.selectors_organisations import search_organisations as staff_organisation_search
from tests import factories as f

S = ApplicationState


@pytest.fixture
def files(db):
    garden_org = f.OrganisationFactory(name="Association Les Écureuils", siret="73282932000074")
    garden = f.ApplicationFactory(
        state=S.SUBMITTED, title="Jardins partagés du Mirail", organisation=garden_org
    )
    other = f.ApplicationFactory(state=S.SUBMITTED, title="Soutien scolaire")
    return garden, other


def _found(user, text: str) -> set[int]:
    return set(instructor_queue(user, filters={"q": text}).values_list("pk", flat=True))


def test_fold_removes_accents_case_and_ligatures():
    assert fold("  Jardins   PARTAGÉS — Cœur ") == "jardins partages — coeur"


def test_queue_search_ignores_accents_and_case(files, manager):
    garden, other = files
    for text in ("Jardins partages", "jardins partagés", "JARDINS PARTAGES", "mirail"):
        assert _found(manager, text) == {garden.pk}, text
    assert _found(manager, "ecureuils") == {garden.pk}  # the organisation's name
    assert _found(manager, garden.reference.lower()) == {garden.pk}
    assert _found(manager, "scolaire") == {other.pk}
    assert _found(manager, "piscine") == set()


def test_siret_with_spaces_and_siren(files, manager):
    garden, _other = files
    assert _found(manager, "732 829 320 00074") == {garden.pk}
    assert _found(manager, "732 829 320") == {garden.pk}


def test_search_text_follows_title_and_organisation_changes(files, manager):
    garden, _other = files
    organisation = garden.organisation
    organisation.name = "Collectif Pâquerette"
    organisation.save()
    assert _found(manager, "paquerette") == {garden.pk}
    assert _found(manager, "ecureuils") == set()
    Application.objects.filter(pk=garden.pk).update(title="Vergers solidaires")
    assert _found(manager, "vergers") == {garden.pk}
    assert _found(manager, "jardins") == set()


def test_scoped_instructor_finds_only_files_of_the_territory(db):
    inside, outside = f.QPVFactory(code="QN55555E"), f.QPVFactory(code="QN66666F")
    mine = f.ApplicationFactory(state=S.SUBMITTED, title="Jardins partagés Nord")
    theirs = f.ApplicationFactory(state=S.SUBMITTED, title="Jardins partagés Sud")
    mine.qpvs.set([inside])
    theirs.qpvs.set([outside])
    scoped = f.UserFactory()
    f.give_role(scoped, Role.INSTRUCTOR, territories=[inside])
    assert _found(scoped, "jardins partages") == {mine.pk}


def test_queue_page_and_api_list_use_the_search(files, manager, client):
    garden, other = files
    client.force_login(manager)
    page = client.get(reverse("grants:queue"), {"q": "Jardins partages"})
    assert page.status_code == 200
    assert (
        garden.reference in page.content.decode() and other.reference not in page.content.decode()
    )
    api = APIClient()
    api.force_login(manager)
    response = api.get("/api/applications/", {"q": "jardins partages"})
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [garden.pk]


def test_organisation_searches_ignore_accents(files, manager):
    garden, _other = files
    assert list(search_organisations("ecureuils")) == [garden.organisation]
    assert list(search_organisations("732 829 320")) == [garden.organisation]
    qs = type(garden.organisation).objects.all()
    assert list(staff_organisation_search(qs, "ÉCUREUILS")) == [garden.organisation]


@pytest.mark.postgres
def test_one_wrong_letter_still_finds_the_file(files, manager):
    garden, _other = files
    assert _found(manager, "Jardins partqgés") == {garden.pk}  # one letter substituted
    assert _found(manager, "Jardin partagés") == {garden.pk}  # one letter missing
    assert _found(manager, "ecureils") == {garden.pk}
    assert _found(manager, "piscine olympique") == set()
