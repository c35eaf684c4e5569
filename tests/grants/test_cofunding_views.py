"""The file's page of a co-funded file (issue 15): the table of parts, each funder's agent deciding
its own part from the page, private notes kept to their funder, the applicant's confirmation."""

from __future__ import annotations

import pytest
from django.test import Client

from grants import services
from grants.models import Application, ApplicationState, BudgetRevision, FunderPartState

from .test_cofunding import cofunded_file, part_of, proposed, world  # noqa: F401

pytestmark = pytest.mark.django_db


def client(user) -> Client:
    c = Client()
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


def test_the_page_shows_every_part_and_only_the_own_funders_note(world, file, applicant):  # noqa: F811
    url = f"/dossiers/{file.pk}/"
    page = client(applicant).get(url).content.decode()
    assert 'id="funder-parts-table"' in page
    assert "Ville d&#x27;Aix" in page and "État — ANCT" in page and "Proposée" in page
    assert "Trésorerie tendue" not in page
    assert "Trésorerie tendue" not in client(world["state_agent"]).get(url).content.decode()
    assert "Trésorerie tendue" in client(world["commune_agent"]).get(url).content.decode()


def test_each_agent_decides_its_part_from_the_page(world, file, applicant):  # noqa: F811
    state_part = part_of(file, world["state"])
    commune_part = part_of(file, world["commune"])
    commune = client(world["commune_agent"])
    refused = commune.post(
        f"/dossiers/{file.pk}/financeurs/{state_part.pk}/decide/",
        {"decision": "approve", "reference": "Délibération 41"},
    )
    assert refused.status_code == 403
    assert part_of(file, world["state"]).state == FunderPartState.PROPOSED
    missing = commune.post(
        f"/dossiers/{file.pk}/financeurs/{commune_part.pk}/decide/",
        {"decision": "refuse", "reference": "Délibération 41"},
    )
    assert missing.status_code == 400
    assert "Le motif du refus est obligatoire." in missing.content.decode()
    done = commune.post(
        f"/dossiers/{file.pk}/financeurs/{commune_part.pk}/decide/",
        {"decision": "refuse", "reason": "Hors priorités", "reference": "Délibération 41"},
    )
    assert done.status_code == 302
    client(world["state_agent"]).post(
        f"/dossiers/{file.pk}/financeurs/{state_part.pk}/decide/",
        {"decision": "approve", "amount": "6000", "reference": "Arrêté 12"},
    )
    assert Application.objects.get(pk=file.pk).state == ApplicationState.APPROVED
    page = client(applicant).get(f"/dossiers/{file.pk}/").content.decode()
    assert 'id="confirm-budget"' in page
    response = client(applicant).post(
        f"/dossiers/{file.pk}/plan-de-financement/", {"comment": "La CAF complète"}
    )
    assert response.status_code == 302
    assert BudgetRevision.objects.get(application=file).state == "confirmed"


def test_a_file_out_of_sight_is_404(world, file, other_applicant):  # noqa: F811
    part = part_of(file, world["state"])
    response = client(other_applicant).post(
        f"/dossiers/{file.pk}/financeurs/{part.pk}/decide/", {"decision": "approve"}
    )
    assert response.status_code == 404
