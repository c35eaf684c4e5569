"""The file page's body cached under the file's own counter (grants/views/detail.py, issue 17):
a repeated view renders nothing, and every family of rows the page shows, changed by a service,
the ORM or a raw bulk update, shows at the next view. Outside a test transaction
(`transaction=True`), as in production; run on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.urls import reverse

from core.audit import audit_log
from core.models import DataVersion, OrganisationDocument, Role
from grants.models import Application, BudgetItem, CompletionRequest, FunderPart
from grants.models import ApplicationState as S
from grants.views.detail import BODY, CSRF_PLACEHOLDER

from .. import factories as f


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def page(client, app) -> tuple[str, bool]:
    """The page's HTML and whether its body was rendered (False: served from the cache)."""
    response = client.get(reverse("grants:application_detail", args=[app.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert CSRF_PLACEHOLDER not in html
    return html, BODY in [t.name for t in response.templates]


@pytest.fixture
def seen(client, call, organisation, applicant):
    """A submitted file its applicant has looked at twice (the second time from the cache)."""
    app = f.ApplicationFactory(call=call, organisation=organisation, state=S.SUBMITTED)
    client.force_login(applicant)
    first, rendered = page(client, app)
    assert rendered
    again, rendered = page(client, app)
    assert not rendered and without_tokens(again) == without_tokens(first)
    return app


def without_tokens(html: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)


def csrf(html: str) -> str:
    marker = 'name="csrfmiddlewaretoken" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


@pytest.mark.django_db(transaction=True)
def test_a_budget_line_changed_or_added_shows(client, seen):
    line = BudgetItem.objects.filter(application=seen, account="60").get()
    line.label = "Fournitures pédagogiques"
    line.save()
    html, rendered = page(client, seen)
    assert rendered and "Fournitures pédagogiques" in html
    BudgetItem.objects.create(
        application=seen, account="61", label="Location de salle", amount=Decimal("10")
    )
    assert "Location de salle" in page(client, seen)[0]
    BudgetItem.objects.filter(application=seen, account="61").update(label="Salle polyvalente")
    assert "Salle polyvalente" in page(client, seen)[0]


@pytest.mark.django_db(transaction=True)
def test_a_document_of_the_organisation_or_of_the_file_shows(client, call, organisation, applicant):
    draft = f.ApplicationFactory(call=call, organisation=organisation)
    client.force_login(applicant)
    page(client, draft)
    assert not page(client, draft)[1]
    document = OrganisationDocument.objects.create(
        organisation=organisation,
        kind="statutes",
        title="Statuts 2026",
        file=ContentFile(b"%PDF-1.4", name="statuts.pdf"),
        original_name="statuts.pdf",
    )
    assert "Statuts 2026" in page(client, draft)[0]  # a draft shows the organisation's documents
    Application.objects.filter(pk=draft.pk).update(state=S.SUBMITTED)
    assert "Statuts 2026" not in page(client, draft)[0]
    draft.documents.add(document)  # the copy kept with the filed file
    assert "Statuts 2026" in page(client, draft)[0]


@pytest.mark.django_db(transaction=True)
def test_the_organisations_drafts_leave_the_page_cached_until_one_is_filed(client, seen):
    """The page lists the organisation's other filed files of the year (similar_applications):
    a draft created, saved or deleted in the organisation renders nothing again; its submission
    shows."""
    other_call = f.CallFactory(programme=seen.programme, title="Appel jeunesse")
    page(client, seen)  # a new call: a shared table
    # (no new pillar or QPV: those are shared tables)
    mine = {"call": other_call, "organisation": seen.organisation, "pillar": seen.pillar}
    draft = f.ApplicationFactory(**mine, title="Chantier éducatif", complete=False)
    draft.summary = "Brouillon revu"
    draft.save()
    f.ApplicationFactory(**mine, complete=False).delete()
    html, rendered = page(client, seen)
    assert not rendered and "Chantier éducatif" not in html
    Application.objects.filter(pk=draft.pk).update(state=S.SUBMITTED)
    html, rendered = page(client, seen)
    assert rendered and "Chantier éducatif" in html


@pytest.mark.django_db(transaction=True)
def test_a_funder_part_shows(client, seen):
    funder = f.FunderFactory(name="Fondation des quartiers")
    part = FunderPart.objects.create(
        application=seen, funder=funder, requested_amount=Decimal("3000.00")
    )
    html, rendered = page(client, seen)
    assert rendered and "Fondation des quartiers" in html
    FunderPart.objects.filter(pk=part.pk).update(reference="DELIB-2026-77")
    assert "DELIB-2026-77" in page(client, seen)[0]
    funder.name = "Fondation des cités"  # a shared table: the funders
    funder.save()
    assert "Fondation des cités" in page(client, seen)[0]


@pytest.mark.django_db(transaction=True)
def test_an_agreement_and_its_history_show(client, organisation, applicant, instructor):
    agreement = f.cpo_awaiting_evaluation(instructor=instructor, organisation=organisation)
    app = agreement.application
    client.force_login(applicant)
    assert reverse("cpo:agreement_detail", args=[agreement.pk]) in page(client, app)[0]
    assert not page(client, app)[1]
    with transaction.atomic():  # an audit row alone, as a signature's last step writes it
        audit_log(actor=instructor, obj=agreement, action="cpo.agreement.signed")
    html, rendered = page(client, app)
    assert rendered and html.count("Convention signée") > 0


@pytest.mark.django_db(transaction=True)
def test_a_message_a_history_row_and_a_raw_update_show(client, instructor, seen):
    CompletionRequest.objects.create(
        application=seen,
        message="Merci de joindre le bilan 2025.",
        deadline=datetime.date(2027, 1, 15),
        requested_by=instructor,
    )
    html = page(client, seen)[0]
    assert "Merci de joindre le bilan 2025." in html
    # Pending: the box at the top (the member's) and the list's row waiting for an answer.
    assert 'id="completion-request"' in html and "15/01/2027" in html
    assert "En attente de réponse." in html
    audit_log(actor=instructor, obj=seen, action="grants.application.declared_eligible")
    assert "Dossier déclaré recevable" in page(client, seen)[0]
    Application.objects.filter(pk=seen.pk).update(title="Potagers du Jas")
    assert "Potagers du Jas" in page(client, seen)[0]
    seen.call.__class__.objects.filter(pk=seen.call_id).update(title="Appel renommé")
    assert "Appel renommé" in page(client, seen)[0]  # a shared table: the calls


@pytest.mark.django_db(transaction=True)
def test_flash_message_and_csrf_token_are_the_requests_own(client, seen, applicant):
    """The CSRF token and the messages are outside the cached body: a POST with the token of a
    body served from the cache passes, and its message shows above the cached body."""
    html, rendered = page(client, seen)
    assert not rendered
    client.handler.enforce_csrf_checks = True
    response = client.post(
        reverse("grants:application_transition", args=[seen.pk, "withdraw"]),
        {"csrfmiddlewaretoken": csrf(html), "withdraw-reason": "Projet abandonné"},
        follow=True,
    )
    assert response.status_code == 200
    assert "Action effectuée" in response.content.decode()
    assert Application.objects.get(pk=seen.pk).state == S.WITHDRAWN


@pytest.mark.django_db(transaction=True)
def test_the_permission_is_checked_before_a_cached_body_and_viewers_do_not_share_it(
    client, other_applicant, instructor, applicant, seen
):
    client.force_login(other_applicant)
    response = client.get(reverse("grants:application_detail", args=[seen.pk]))
    assert response.status_code == 404
    client.force_login(instructor)
    html, rendered = page(client, seen)
    assert rendered and "Instruction (non visible par le porteur)" in html
    client.force_login(applicant)
    html, rendered = page(client, seen)
    assert not rendered and "Instruction (non visible par le porteur)" not in html
    applicant.memberships.all().delete()  # no longer a member: 404, not the cached body
    assert client.get(reverse("grants:application_detail", args=[seen.pk])).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_a_role_given_changes_the_page(client, seen, applicant):
    f.give_role(applicant, Role.INSTRUCTOR)
    html, rendered = page(client, seen)
    assert rendered and "Instruction (non visible par le porteur)" in html


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_moves_the_files_counter_once_at_commit(seen):
    def counter() -> int:
        return DataVersion.objects.get(name=f"file:{seen.pk}").n

    before = counter()
    with transaction.atomic():
        for i in range(3):
            BudgetItem.objects.create(
                application=seen, account="61", label=f"Ligne {i}", amount=Decimal("1")
            )
        with connection.cursor() as cursor:  # deferred to the commit
            cursor.execute("SELECT n FROM core_dataversion WHERE name = %s", [f"file:{seen.pk}"])
            assert cursor.fetchone()[0] == before
    assert counter() == before + 1  # once for the transaction's three rows, at the commit


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_one_statement_over_many_files_moves_each_once(call, organisation):
    """Keyed counters are found per statement (transition tables), not per row: a bulk update
    of several files moves each file's counter once; a rolled-back savepoint moves none."""
    files = [
        f.ApplicationFactory(call=call, organisation=organisation, state=S.SUBMITTED)
        for _ in range(3)
    ]
    names = [f"file:{app.pk}" for app in files]
    for name in names:
        DataVersion.objects.get_or_create(name=name, defaults={"n": 1000})
    before = dict(DataVersion.objects.filter(name__in=names).values_list("name", "n"))
    with transaction.atomic():
        Application.objects.filter(pk__in=[a.pk for a in files[:2]]).update(summary="Revu")
        Application.objects.filter(pk__in=[a.pk for a in files[:2]]).update(summary="Revu 2")
        try:
            with transaction.atomic():
                Application.objects.filter(pk=files[2].pk).update(summary="Annulé")
                raise RuntimeError
        except RuntimeError:
            pass
    after = dict(DataVersion.objects.filter(name__in=names).values_list("name", "n"))
    assert [after[n] - before[n] for n in names] == [1, 1, 0]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM core_dataversion_pending")
        assert cursor.fetchone()[0] == 0  # the notes are gone with their commit


@pytest.mark.django_db
def test_agreements_are_read_once_with_their_funders(client, organisation, applicant, instructor):
    """Rendered (in a transaction: no cache), the page reads the file's agreements once for its
    links and the history's signature rows, funders joined."""
    from django.test.utils import CaptureQueriesContext

    agreement = f.cpo_awaiting_evaluation(instructor=instructor, organisation=organisation)
    client.force_login(applicant)
    url = reverse("grants:application_detail", args=[agreement.application_id])
    with CaptureQueriesContext(connection) as queries:
        html = client.get(url).content.decode()
    assert reverse("cpo:agreement_detail", args=[agreement.pk]) in html
    of_the_file = [
        q["sql"]
        for q in queries.captured_queries
        if 'FROM "cpo_agreement"' in q["sql"]
        and '"application_id" IN' in q["sql"]
        or 'FROM "cpo_agreement"' in q["sql"]
        and '"application_id" =' in q["sql"]
    ]
    assert len(of_the_file) == 1, of_the_file
    assert not [q for q in queries.captured_queries if 'FROM "core_funder"' in q["sql"]]


@pytest.mark.django_db(transaction=True)
def test_a_repeated_view_reads_a_few_queries_whatever_the_file_holds(
    client, organisation, applicant, instructor, django_assert_max_num_queries
):
    agreement = f.cpo_awaiting_evaluation(instructor=instructor, organisation=organisation)
    small = f.ApplicationFactory(organisation=organisation, state=S.SUBMITTED)
    client.force_login(applicant)
    for app in (small, agreement.application):
        page(client, app)
        with django_assert_max_num_queries(10):  # counters ×2, who may see it, user, menu
            assert not page(client, app)[1]


@pytest.mark.django_db(transaction=True)
def test_renewed_versions_after_a_restore_render_the_page_again(client, seen):
    from core.data_version import renew_versions

    renew_versions()
    assert page(client, seen)[1]


@pytest.mark.django_db
def test_a_first_view_reads_a_bounded_number_of_queries(
    client, organisation, applicant, instructor, django_assert_max_num_queries
):
    """Rendered (in a transaction: no cache), for the applicant and for the instructor: each
    small list of the file is one query, whatever it holds (here the file of an agreement, with
    its history, budget and documents)."""
    agreement = f.cpo_awaiting_evaluation(instructor=instructor, organisation=organisation)
    url = reverse("grants:application_detail", args=[agreement.application_id])
    for user, most in ((applicant, 30), (instructor, 31)):
        client.force_login(user)
        with django_assert_max_num_queries(most):
            assert client.get(url).status_code == 200
