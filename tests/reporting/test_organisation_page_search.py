"""The search of organisations (/pilotage/organisations/): staff only, by name, SIRET/SIREN or RNA,
scoped for instructors with a limited scope, 50 a page in a constant number of queries."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.models import Organisation, Role
from grants.models import Application, ApplicationState

from .. import factories as f

pytestmark = pytest.mark.django_db
URL = reverse("reporting:organisation_search")


def filed(organisation, **kwargs) -> Application:
    app = f.ApplicationFactory(organisation=organisation, complete=False, **kwargs)
    Application.objects.filter(pk=app.pk).update(state=ApplicationState.SUBMITTED)
    return app


def found(client, **params) -> list[str]:
    response = client.get(URL, params)
    assert response.status_code == 200
    return [o.name for o in (row["organisation"] for row in response.context["rows"])]


def test_staff_only(
    client, manager, finance_officer, auditor, instructor, applicant, committee_member, panel_member
):
    for user in (manager, finance_officer, auditor, instructor):
        client.force_login(user)
        assert client.get(URL).status_code == 200, user
    for user in (applicant, committee_member, panel_member):
        client.force_login(user)
        assert client.get(URL).status_code == 404, user
    client.logout()
    assert client.get(URL).status_code == 302


def test_search_by_name_siret_siren_and_rna(client, auditor):
    maison = f.OrganisationFactory(name="Maison des Familles du Panier", rna="W133001234")
    f.OrganisationFactory(name="Club de boxe Félix Pyat", rna="W13A005678")
    client.force_login(auditor)
    assert found(client, q="familles") == ["Maison des Familles du Panier"]
    spaced = f"{maison.siret[:3]} {maison.siret[3:6]} {maison.siret[6:9]} {maison.siret[9:]}"
    assert found(client, q=spaced) == ["Maison des Familles du Panier"]
    assert found(client, q=maison.siret[:9]) == ["Maison des Familles du Panier"]  # SIREN
    assert found(client, q="w13a") == ["Club de boxe Félix Pyat"]
    assert found(client, q="W1330") == ["Maison des Familles du Panier"]
    assert found(client, q="introuvable") == []
    assert (
        "Aucune organisation ne correspond"
        in client.get(URL, {"q": "introuvable"}).content.decode()
    )


def test_counts_and_link_to_the_global_contract(client, manager, organisation):
    filed(organisation)
    filed(organisation)
    f.ApplicationFactory(organisation=organisation)  # a draft: not the staff's to see
    client.force_login(manager)
    response = client.get(URL, {"q": organisation.name})
    row = response.context["rows"][0]
    assert (row["applications"], row["agreements"]) == (2, 0)
    assert (
        reverse("reporting:organisation_global", args=[organisation.pk])
        in response.content.decode()
    )


def test_scoped_instructor_finds_only_organisations_of_their_scope(client):
    here, elsewhere = f.QPVFactory(), f.QPVFactory()
    scoped = f.UserFactory(email="quartier@ville.example.org")
    f.give_role(scoped, Role.INSTRUCTOR, territories=[here])
    mine = f.OrganisationFactory(name="Association du quartier")
    filed(mine).qpvs.set([here])
    filed(mine).qpvs.set([elsewhere])
    theirs = f.OrganisationFactory(name="Association d'ailleurs")
    filed(theirs).qpvs.set([elsewhere])
    client.force_login(scoped)
    response = client.get(URL, {"q": "association"})
    assert [r["organisation"].name for r in response.context["rows"]] == ["Association du quartier"]
    assert response.context["rows"][0]["applications"] == 1  # the one in scope only
    assert 'id="scope-note"' in response.content.decode()


def test_paginated_in_a_constant_number_of_queries(client, auditor, django_assert_max_num_queries):
    Organisation.objects.bulk_create(
        [Organisation(name=f"Association {n:03d}", siret=f.siret_for(5000 + n)) for n in range(55)]
    )
    for organisation in Organisation.objects.all()[:40]:
        filed(organisation, requested_amount=Decimal("1000.00"))
    client.force_login(auditor)
    client.get(URL)
    with CaptureQueriesContext(connection) as first:
        response = client.get(URL)
    assert len(response.context["rows"]) == 50
    with django_assert_max_num_queries(len(first)):
        response = client.get(URL, {"page": 2})
    assert len(response.context["rows"]) == 5
    html = response.content.decode()
    assert 'rel="prev"' in html and "Page 2 sur 2" in html
