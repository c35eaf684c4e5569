"""Data versions (core.data_version, issue 17): the triggers bump a group's counter on every write
to its tables, and a page cached under it shows the next change at once."""

from __future__ import annotations

import datetime

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.urls import reverse

from core.data_version import cached, current_version
from core.models import DataVersion, Role
from grants import services
from grants.apps import FILE_LISTS
from grants.models import Application
from grants.models import ApplicationState as S

from .. import factories as f


def version(name: str = FILE_LISTS) -> int | None:
    return DataVersion.objects.filter(name=name).values_list("n", flat=True).first()


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.mark.django_db(transaction=True)
def test_writes_to_tracked_tables_bump_the_version_and_a_login_does_not():
    user = f.UserFactory(first_name="Anne")
    organisation = f.OrganisationFactory()
    before = version()
    assert before is not None  # created by the first write
    user.last_login = datetime.datetime.now(datetime.UTC)
    user.save(update_fields=["last_login"])
    user.save()  # every column written, none that a list shows changed
    assert version() == before
    user.first_name = "Annie"
    user.save()
    after_name = version()
    assert after_name is not None and after_name > before
    organisation.name = "Nouveau nom"
    organisation.save()
    after_org = version()
    assert after_org is not None and after_org > after_name
    call = f.CallFactory()
    app = f.ApplicationFactory(call=call, organisation=organisation)
    files = f"orgfiles:{organisation.pk}"
    bumped = version(files)
    Application.objects.filter(pk=app.pk).update(title="Par une mise à jour en masse")
    assert version(files) != bumped


@pytest.mark.django_db(transaction=True)
def test_cached_value_is_recomputed_after_a_write_and_never_inside_a_transaction():
    f.OrganisationFactory()  # creates the counter
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    assert cached(FILE_LISTS, ["k"], compute) == 1
    assert cached(FILE_LISTS, ["k"], compute) == 1  # a hit
    assert cached(FILE_LISTS, ["other"], compute) == 2  # other parts, other entry
    f.OrganisationFactory()
    assert cached(FILE_LISTS, ["k"], compute) == 3  # the version moved
    with transaction.atomic():
        assert current_version(FILE_LISTS) is None
        assert cached(FILE_LISTS, ["k"], compute) == 4  # not read from nor written to
    assert cached(FILE_LISTS, ["k"], compute) == 3


@pytest.mark.django_db(transaction=True)
def test_queue_seen_again_renders_no_table_and_shows_another_users_change(client, call):
    manager = f.UserFactory(email="responsable@ville.example.org")
    f.give_role(manager, Role.PROGRAMME_MANAGER)
    colleague = f.UserFactory(email="collegue@ville.example.org", first_name="Zoé")
    f.give_role(colleague, Role.INSTRUCTOR)
    app = f.ApplicationFactory(call=call, state=S.SUBMITTED, title="Jardins partagés")
    client.force_login(manager)
    url = reverse("grants:queue")
    first = client.get(url)
    assert "grants/_queue_table.html" in [t.name for t in first.templates]
    again = client.get(url)
    assert "grants/_queue_table.html" not in [t.name for t in again.templates]
    assert "Jardins partagés" in again.content.decode()
    assert again.content.count(b'name="csrfmiddlewaretoken"') >= 2  # bulk form and logout
    # Another user assigns the file (through the service): the next view shows it.
    services.application_assign(actor=colleague, application=app, instructor=colleague)
    after = client.get(url)
    assert "grants/_queue_table.html" in [t.name for t in after.templates]
    assert "Zoé" in after.content.decode()
    # A raw bulk update, which no signal would see, shows too.
    Application.objects.filter(pk=app.pk).update(title="Potagers du Jas")
    assert "Potagers du Jas" in client.get(url).content.decode()


@pytest.mark.django_db(transaction=True)
def test_scoped_instructors_do_not_share_a_cached_queue(client, call):
    qpv = f.QPVFactory()
    territorial = f.UserFactory(email="jas@ville.example.org")
    f.give_role(territorial, Role.INSTRUCTOR, territories=[qpv])
    manager = f.UserFactory(email="responsable@ville.example.org")
    f.give_role(manager, Role.PROGRAMME_MANAGER)
    f.ApplicationFactory(call=call, state=S.SUBMITTED, title="Hors de son territoire")
    client.force_login(manager)
    assert "Hors de son territoire" in client.get(reverse("grants:queue")).content.decode()
    client.force_login(territorial)
    assert "Hors de son territoire" not in client.get(reverse("grants:queue")).content.decode()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_bumps_once_per_transaction_at_commit():
    f.OrganisationFactory()
    before = version()
    with transaction.atomic():
        for i in range(3):
            f.OrganisationFactory(name=f"Association {i}")
        with connection.cursor() as cursor:  # not yet: the trigger is deferred to the commit
            cursor.execute("SELECT n FROM core_dataversion WHERE name = %s", [FILE_LISTS])
            assert cursor.fetchone()[0] == before
    assert version() == before + 1


@pytest.mark.django_db(transaction=True)
def test_api_list_and_my_files_show_a_change_made_by_someone_else(client, call):
    organisation = f.OrganisationFactory()
    applicant = f.UserFactory(email="porteur@asso.example.org")
    f.add_member(applicant, organisation)
    colleague = f.UserFactory(email="collegue@asso.example.org")
    f.add_member(colleague, organisation)
    f.ApplicationFactory(call=call, organisation=organisation, title="Premier dossier")
    client.force_login(applicant)
    mine, api = reverse("grants:my_applications"), "/api/applications/"
    assert "Premier dossier" in client.get(mine).content.decode()
    assert [a["title"] for a in client.get(api).json()["results"]] == ["Premier dossier"]
    again = client.get(mine)
    assert "grants/_my_applications_table.html" not in [t.name for t in again.templates]
    services.application_create(
        actor=colleague, organisation=organisation, call=call, data={"title": "Second dossier"}
    )
    assert "Second dossier" in client.get(mine).content.decode()
    titles = {a["title"] for a in client.get(api).json()["results"]}
    assert titles == {"Premier dossier", "Second dossier"}


@pytest.mark.django_db(transaction=True)
def test_my_files_open_calls_are_cached_and_show_a_call_opened_or_closed(client, call):
    from calls.models import Call, CallState

    applicant = f.UserFactory(email="porteur@asso.example.org")
    f.add_member(applicant, f.OrganisationFactory())
    client.force_login(applicant)
    mine = reverse("grants:my_applications")
    assert call.title in client.get(mine).content.decode()
    again = client.get(mine)
    assert "grants/_open_calls.html" not in [t.name for t in again.templates]
    assert call.title in again.content.decode()
    Call.objects.filter(pk=call.pk).update(state=CallState.CLOSED)  # a bulk write bumps too
    other = f.CallFactory(title="Appel tout juste ouvert")
    page = client.get(mine).content.decode()
    assert other.title in page and call.title not in page


@pytest.mark.django_db(transaction=True)
def test_instalment_list_shows_the_next_change_and_keeps_posted_choices(client):
    instructor = f.UserFactory(email="instructeur@ville.example.org")
    f.give_role(instructor, Role.INSTRUCTOR)
    officer = f.UserFactory(email="finances@ville.example.org")
    f.give_role(officer, Role.FINANCE_OFFICER)
    agreement = f.cpo_awaiting_evaluation(instructor=instructor)
    client.force_login(officer)
    url = reverse("finance:instalments") + "?state=all"
    first = client.get(url)
    assert agreement.reference in first.content.decode()
    again = client.get(url)
    assert "finance/_instalment_table.html" not in [t.name for t in again.templates]
    agreement.organisation.name = "Association renommée"
    agreement.organisation.save()
    assert "Association renommée" in client.get(url).content.decode()
    # A refused POST shows the boxes it checked: never the cached table.
    due = agreement.instalments.filter(state="due").first()
    posted = client.post(url, {"action": "run_selected", "instalment": [due.pk]})
    assert f'value="{due.pk}" id="select-{due.pk}" checked' in posted.content.decode()


@pytest.mark.django_db(transaction=True)
def test_instalment_forms_read_no_choices_when_seen_again_and_show_a_new_one(client):
    from django.test.utils import CaptureQueriesContext

    officer = f.UserFactory(email="finances@ville.example.org")
    f.give_role(officer, Role.FINANCE_OFFICER)
    f.BudgetLineFactory(code="BL-ANCIENNE")
    client.force_login(officer)
    url = reverse("finance:instalments")
    assert "BL-ANCIENNE" in client.get(url).content.decode()
    with CaptureQueriesContext(connection) as ctx:
        again = client.get(url)
    assert "BL-ANCIENNE" in again.content.decode()
    read = " ".join(q["sql"] for q in ctx.captured_queries)
    for table in ("calls_programme", "core_funder", "core_budgetline"):
        assert table not in read
    f.BudgetLineFactory(code="BL-NOUVELLE")
    assert "BL-NOUVELLE" in client.get(url).content.decode()


def test_cached_menu_follows_the_unread_count_and_the_roles(client, db):
    from core.notifications import notify

    user = f.UserFactory(email="porteur@asso.example.org")
    f.add_member(user, f.OrganisationFactory())
    client.force_login(user)
    home = reverse("core:home")
    page = client.get(home).content.decode()
    assert 'class="badge"' not in page and reverse("grants:queue") not in page
    notify(users=[user], title="Dossier déposé")
    assert 'class="badge" aria-label="1 non lue"' in client.get(home).content.decode()
    f.give_role(user, Role.INSTRUCTOR)
    assert f'href="{reverse("grants:queue")}"' in client.get(home).content.decode()
    client.cookies["django_language"] = "en"
    assert 'class="badge" aria-label="1 unread"' in client.get(home).content.decode()


@pytest.mark.django_db(transaction=True)
def test_renewed_versions_make_entries_cached_before_a_restore_unreachable():
    """`manage.py restore` brings the counters back with the data; renewing them keeps the running
    site from serving what it cached from the data of before the restore."""
    from core.data_version import renew_versions

    f.OrganisationFactory()
    first = cached(FILE_LISTS, ["page"], lambda: "before the restore")
    renew_versions()
    assert version() is not None
    assert cached(FILE_LISTS, ["page"], lambda: "after the restore") == "after the restore"
    assert first == "before the restore"
