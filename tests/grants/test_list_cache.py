"""The cached lists of files (issue 17): the queue and the staff API list are cached under the
filed files' counter, `/dossiers/` under its organisations' counters (grants.apps.list_counters).
A change a list shows appears at the next view; a draft saved by another association re-renders
none of them. Outside a test transaction (`transaction=True`), as in production; every test runs
on SQLite and, marked `postgres`, with PostgreSQL's statement-level triggers."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.urls import reverse

from core.models import DataVersion
from grants import services
from grants.apps import FILED_ALL
from grants.models import Application, ApplicationPartner, PartnerState
from grants.models import ApplicationState as S

from .. import factories as f

QUEUE_TABLE = "grants/_queue_table.html"
MINE_TABLE = "grants/_my_applications_table.html"

#: Each test once as it comes (SQLite in `make test`) and once marked for PostgreSQL.
both = pytest.mark.parametrize(
    "vendor", ["any", pytest.param("postgresql", marks=pytest.mark.postgres)]
)


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def counter(name: str) -> int | None:
    return DataVersion.objects.filter(name=name).values_list("n", flat=True).first()


def queue(client) -> tuple[str, bool]:
    """The queue's HTML and whether its table was rendered (False: served from the cache)."""
    response = client.get(reverse("grants:queue"))
    assert response.status_code == 200
    return response.content.decode(), QUEUE_TABLE in [t.name for t in response.templates]


def mine(client) -> tuple[str, bool]:
    response = client.get(reverse("grants:my_applications"))
    assert response.status_code == 200
    return response.content.decode(), MINE_TABLE in [t.name for t in response.templates]


def api_titles(client) -> set[str]:
    response = client.get("/api/applications/")
    assert response.status_code == 200
    return {line["title"] for line in response.json()["results"]}


def new_draft(actor, organisation, call, title: str) -> Application:
    return services.application_create(
        actor=actor, organisation=organisation, call=call, data={"title": title}
    )


@pytest.fixture
def other(db):
    """Another association, busy with its drafts."""
    organisation = f.OrganisationFactory(name="Autre association")
    user = f.UserFactory(email="autre@asso.example.org")
    f.add_member(user, organisation)
    return user, organisation


@both
@pytest.mark.django_db(transaction=True)
def test_queue_stays_cached_through_drafts_and_shows_what_is_filed(
    vendor, client, call, manager, other
):
    user, organisation = other
    qpv = f.QPVFactory()  # a new quarter is a shared row: made before the first view
    f.ApplicationFactory(
        call=call, state=S.SUBMITTED, title="Jardins partagés", reference="IMPORT-1"
    )
    client.force_login(manager)
    html, rendered = queue(client)
    assert rendered and "Jardins partagés" in html
    filed = counter(FILED_ALL)
    # Another association creates and saves a draft: the queue is served from the cache.
    draft = new_draft(user, organisation, call, "Brouillon de l'autre association")
    services.application_update(actor=user, application=draft, data={"title": "Encore brouillon"})
    assert counter(FILED_ALL) == filed
    html, rendered = queue(client)
    assert not rendered and "Jardins partagés" in html
    # A draft's quarters change: still cached. A draft deleted: still cached.
    draft.qpvs.add(qpv)
    Application.objects.get(pk=draft.pk).delete()
    assert counter(FILED_ALL) == filed
    assert not queue(client)[1]
    # A new filed file (created as such, by a bulk import say) shows at once.
    f.ApplicationFactory(
        call=call, state=S.SUBMITTED, title="Potagers du Jas", reference="IMPORT-2"
    )
    html, rendered = queue(client)
    assert rendered and "Potagers du Jas" in html


@both
@pytest.mark.django_db(transaction=True)
def test_a_draft_submitted_shows_in_the_queue_and_the_staff_api(
    vendor, client, call, organisation, applicant, manager
):
    draft = new_draft(applicant, organisation, call, "Fête de quartier")
    draft = Application.objects.get(pk=draft.pk)
    client.force_login(manager)
    assert "Fête de quartier" not in queue(client)[0]
    assert "Fête de quartier" not in api_titles(client)
    assert not queue(client)[1]
    Application.objects.filter(pk=draft.pk).update(state=S.SUBMITTED)  # draft → filed
    html, rendered = queue(client)
    assert rendered and "Fête de quartier" in html
    assert "Fête de quartier" in api_titles(client)
    # Withdrawn then deleted: each shows.
    Application.objects.filter(pk=draft.pk).update(state=S.WITHDRAWN)
    html, rendered = queue(client)
    assert rendered and "Fête de quartier" in html
    assert {line["state"] for line in client.get("/api/applications/").json()["results"]} == {
        S.WITHDRAWN
    }
    Application.objects.get(pk=draft.pk).delete()
    assert "Fête de quartier" not in queue(client)[0]
    assert "Fête de quartier" not in api_titles(client)


@both
@pytest.mark.django_db(transaction=True)
def test_a_filed_files_quarter_shows_in_the_staff_api(vendor, client, call, manager):
    app = f.ApplicationFactory(call=call, state=S.SUBMITTED, title="Jardins partagés")
    client.force_login(manager)
    first = client.get("/api/applications/").json()["results"]
    qpv = f.QPVFactory()
    app.qpvs.add(qpv)  # a link row only: its file is filed, so the counter moves
    lines = client.get("/api/applications/").json()["results"]
    assert qpv.pk in lines[0]["qpvs"] and qpv.pk not in first[0]["qpvs"]


@both
@pytest.mark.django_db(transaction=True)
def test_my_files_show_my_drafts_and_stay_cached_through_another_associations(
    vendor, client, call, organisation, applicant, other
):
    user, other_organisation = other
    colleague = f.UserFactory(email="collegue@asso.example.org")
    f.add_member(colleague, organisation)
    client.force_login(applicant)
    html, rendered = mine(client)
    assert rendered
    # Another association's draft, created then saved: my list is served from the cache.
    draft = new_draft(user, other_organisation, call, "Brouillon de l'autre association")
    services.application_update(actor=user, application=draft, data={"title": "Encore brouillon"})
    html, rendered = mine(client)
    assert not rendered and "Encore brouillon" not in html
    # A colleague starts a draft in my organisation: it shows at once, in the page and the API.
    new_draft(colleague, organisation, call, "Notre nouveau brouillon")
    html, rendered = mine(client)
    assert rendered and "Notre nouveau brouillon" in html
    assert "Notre nouveau brouillon" in api_titles(client)
    assert "Encore brouillon" not in api_titles(client)
    # The applicant's API list stays cached too through another association's draft.
    services.application_update(actor=user, application=draft, data={"title": "Toujours"})
    assert api_titles(client) == {"Notre nouveau brouillon"}


@both
@pytest.mark.django_db(transaction=True)
def test_my_files_show_a_file_my_organisation_is_partner_of(
    vendor, client, call, organisation, applicant, other
):
    user, lead = other
    client.force_login(applicant)
    assert "Projet collectif" not in mine(client)[0]
    app = f.ApplicationFactory(call=call, organisation=lead, title="Projet collectif")
    partner = ApplicationPartner.objects.create(
        application=app, organisation=organisation, state=PartnerState.ACCEPTED
    )
    html, rendered = mine(client)
    assert rendered and "Projet collectif" in html
    assert reverse("grants:application_partnership", args=[app.pk]) in html  # « Ma part »
    assert reverse("grants:application_edit", args=[app.pk]) not in html
    assert not mine(client)[1]
    # The lead renames the file: the partner's list shows it (the lead's row, joined).
    Application.objects.filter(pk=app.pk).update(title="Projet collectif renommé")
    assert "Projet collectif renommé" in mine(client)[0]
    partner.delete()
    assert "Projet collectif" not in mine(client)[0]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_moves_the_filed_counter_at_commit_and_only_for_filed_rows(call, organisation):
    f.ApplicationFactory(call=call, organisation=organisation, state=S.SUBMITTED)
    draft = f.ApplicationFactory(call=call, organisation=organisation)
    filed = counter(FILED_ALL)
    assert filed is not None
    Application.objects.filter(pk=draft.pk).update(title="Brouillon")
    draft.qpvs.add(f.QPVFactory())
    assert counter(FILED_ALL) == filed
    with transaction.atomic():
        Application.objects.filter(pk=draft.pk).update(state=S.SUBMITTED)
        draft.qpvs.add(f.QPVFactory())
        with connection.cursor() as cursor:  # deferred to the commit
            cursor.execute("SELECT n FROM core_dataversion WHERE name = %s", [FILED_ALL])
            assert cursor.fetchone()[0] == filed
    after = counter(FILED_ALL)
    assert after == filed + 1  # once a transaction


@both
@pytest.mark.django_db(transaction=True)
def test_queue_forms_follow_their_choices_and_are_not_read_again_when_a_file_moves(
    vendor, client, call, organisation, manager
):
    from django.test.utils import CaptureQueriesContext

    from core.models import Role

    # The factory would make a pillar and a quarter per file: shared rows, made once here.
    pillar = f.PillarFactory()
    filed = {"call": call, "organisation": organisation, "pillar": pillar, "state": S.SUBMITTED}
    filed |= {"complete": False}
    f.ApplicationFactory(**filed, reference="IMPORT-1")
    client.force_login(manager)
    assert "Nouvelle Instructrice" not in queue(client)[0]
    # A filed file moves: the table is rendered, the forms' choices are not read again.
    f.ApplicationFactory(**filed, reference="IMPORT-2")
    with CaptureQueriesContext(connection) as ctx:
        html, rendered = queue(client)
    assert rendered and "IMPORT-2" in html
    read = " ".join(q["sql"] for q in ctx.captured_queries)
    for choices in ('FROM "core_qpv"', 'FROM "core_pillar" ORDER BY', 'FROM "grants_committee'):
        assert choices not in read
    # A new instructor, call or quarter shows in the forms at once.
    newcomer = f.UserFactory(first_name="Nouvelle", last_name="Instructrice")
    f.give_role(newcomer, Role.INSTRUCTOR)
    other = f.CallFactory(title="Appel tout neuf", state=call.state)
    qpv = f.QPVFactory(name="Quartier tout neuf")
    html = queue(client)[0]
    assert html.count("Nouvelle Instructrice") == 2  # filter and bulk assignment
    assert f'<option value="{other.pk}">Appel tout neuf</option>' in html
    assert "Quartier tout neuf" in html and str(qpv.pk) in html
    searched = client.get(reverse("grants:queue") + "?q=introuvable").content.decode()
    assert 'value="introuvable"' in searched
