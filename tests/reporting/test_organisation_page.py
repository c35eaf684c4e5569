"""The « contrat global » of an organisation (/pilotage/organisations/<pk>/): exact money per funder
and fiscal year, who may open it (staff of its scope, its members; 404 otherwise), what members do
not see (internal notes, bank details for non-finance staff), one history across the organisation,
its applications and agreements, and a query count that does not grow with the agreements."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core import services as core_services
from core.audit import audit_log
from core.models import Role
from cpo import services as cpo_services
from cpo import services_changes
from cpo.models import Agreement, Instalment, InstalmentState
from grants.models import Application, ApplicationState, InstructorNote
from reporting.selectors_organisations import funding_summary, global_contract

from .. import factories as f

pytestmark = pytest.mark.django_db
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
D = Decimal
TODAY = datetime.datetime(2026, 5, 4, 10, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def _today():
    with time_machine.travel(TODAY, tick=False):
        yield


def url(organisation) -> str:
    return reverse("reporting:organisation_global", args=[organisation.pk])


def approved(organisation, amount: str, **kwargs) -> Application:
    app = f.ApplicationFactory(
        organisation=organisation, requested_amount=D(amount), complete=False, **kwargs
    )
    Application.objects.filter(pk=app.pk).update(
        state=ApplicationState.APPROVED, approved_amount=D(amount)
    )
    return Application.objects.get(pk=app.pk)


def agreement_for(organisation, instructor, amount: str, *, years: int, first_year: int, funders):
    application = approved(organisation, amount)
    return cpo_services.agreement_create_from_application(
        actor=instructor,
        application=application,
        profile="flat",
        duration_years=years,
        first_year=first_year,
        funders=funders,
    )


def sign(agreement, instructor, day=datetime.date(2025, 1, 15)):
    """Signed, then running (what the daily job does once signed)."""
    cpo_services.agreement_sign(actor=instructor, agreement=agreement, signed_on=day)
    return cpo_services.agreement_activate(
        actor=instructor, agreement=Agreement.objects.get(pk=agreement.pk)
    )


def pay(qs, day=datetime.date(2025, 3, 1)) -> None:
    # The payment chain (runs, exports, confirmations) is the finance app's: tests only need the
    # outcome, an instalment paid on a date.
    qs.update(state=InstalmentState.PAID, paid_on=day)


@pytest.fixture
def state_funder():
    return f.FunderFactory(name="État — ANCT", kind="state")


@pytest.fixture
def city():
    return f.FunderFactory(name="Ville de Marseille")


@pytest.fixture
def foundation():
    return f.FunderFactory(name="Fondation Horizon", kind="foundation")


@pytest.fixture
def funded(organisation, applicant, instructor, finance_officer, state_funder, city, foundation):
    """A CPO 2025–2027 of 90 000 € co-funded 60/40 by the State and the city (2025 paid, 2026's
    advances paid and balances on hold, 1 000 € of 2025 recovered); a 10 000 € decision of 2026 by
    a foundation, its advance paid, then terminated; a draft agreement that commits nothing."""
    cpo = agreement_for(
        organisation,
        instructor,
        "90000.00",
        years=3,
        first_year=2025,
        funders=[
            {"funder": state_funder, "share": D("0.6"), "ej_number": "2100012345"},
            {"funder": city, "share": D("0.4")},
        ],
    )
    sign(cpo, instructor)
    pay(Instalment.objects.filter(agreement=cpo, year__fiscal_year=2025))
    pay(
        Instalment.objects.filter(agreement=cpo, year__fiscal_year=2026, kind="advance"),
        datetime.date(2026, 2, 10),
    )
    Instalment.objects.filter(agreement=cpo, year__fiscal_year=2026, kind="balance").update(
        state=InstalmentState.ON_HOLD, hold_reason="En attente de l'évaluation 2025"
    )
    recovery = services_changes.recovery_issue(
        actor=instructor,
        agreement=Agreement.objects.get(pk=cpo.pk),
        fiscal_year=2025,
        unspent=D("1000.00"),
        reason="Atelier d'été non réalisé",
    )
    services_changes.recovery_collect(actor=finance_officer, recovery=recovery)

    decision = agreement_for(
        organisation,
        instructor,
        "10000.00",
        years=1,
        first_year=2026,
        funders=[{"funder": foundation, "share": D("1")}],
    )
    sign(decision, instructor, datetime.date(2026, 1, 20))
    pay(Instalment.objects.filter(agreement=decision, kind="advance"), datetime.date(2026, 2, 1))
    cpo_services.agreement_terminate(
        actor=instructor,
        agreement=Agreement.objects.get(pk=decision.pk),
        reason="Association en cessation d'activité",
    )

    draft = agreement_for(
        organisation,
        instructor,
        "5000.00",
        years=1,
        first_year=2026,
        funders=[{"funder": city, "share": D("1")}],
    )
    return {
        "cpo": Agreement.objects.get(pk=cpo.pk),
        "decision": Agreement.objects.get(pk=decision.pk),
        "draft": draft,
    }


def money_rows(html: str) -> dict[tuple[str, str], list[str]]:
    """(funder, year) → [committed, paid, remaining, recovered] as printed."""
    rows = {}
    pattern = re.compile(
        r'<tr class="money-row" data-funder="([^"]+)" data-year="(\d+)">(.*?)</tr>', re.S
    )
    for funder, year, cells in pattern.findall(html):
        amounts = re.findall(r'<td class="num">(.*?) €</td>', cells)
        rows[(funder, year)] = [a.replace("\xa0", " ").replace("\u202f", " ") for a in amounts]
    return rows


# --------------------------------------------------------------------------- money


def test_money_per_funder_and_year_is_exact(funded, state_funder, city, foundation, manager):
    summary = funding_summary(
        global_contract(manager, funded["cpo"].organisation, staff=True)["agreements"]
    )
    table = {
        (f_.funder, row.fiscal_year): (row.committed, row.paid, row.remaining, row.recovered)
        for f_ in summary.by_funder
        for row in f_.years
    }
    assert table == {
        ("État — ANCT", 2025): (D("18000.00"), D("18000.00"), D("0.00"), D("600.00")),
        ("État — ANCT", 2026): (D("18000.00"), D("9000.00"), D("9000.00"), D("0.00")),
        ("État — ANCT", 2027): (D("18000.00"), D("0.00"), D("18000.00"), D("0.00")),
        ("Fondation Horizon", 2026): (D("5000.00"), D("5000.00"), D("0.00"), D("0.00")),
        ("Ville de Marseille", 2025): (D("12000.00"), D("12000.00"), D("0.00"), D("400.00")),
        ("Ville de Marseille", 2026): (D("12000.00"), D("6000.00"), D("6000.00"), D("0.00")),
        ("Ville de Marseille", 2027): (D("12000.00"), D("0.00"), D("12000.00"), D("0.00")),
    }
    assert [m.funder for m in summary.by_funder] == [
        "État — ANCT",
        "Fondation Horizon",
        "Ville de Marseille",
    ]
    totals = {m.funder: m.total.committed for m in summary.by_funder}
    assert totals == {
        "État — ANCT": D("54000.00"),
        "Fondation Horizon": D("5000.00"),
        "Ville de Marseille": D("36000.00"),
    }
    assert (summary.total.committed, summary.total.paid) == (D("95000.00"), D("50000.00"))
    assert (summary.total.remaining, summary.total.recovered) == (D("45000.00"), D("1000.00"))
    by_year = {r.fiscal_year: (r.committed, r.paid, r.remaining) for r in summary.by_year}
    assert by_year == {
        2025: (D("30000.00"), D("30000.00"), D("0.00")),
        2026: (D("35000.00"), D("20000.00"), D("15000.00")),
        2027: (D("30000.00"), D("0.00"), D("30000.00")),
    }


def test_money_table_printed_on_the_page(client, funded, finance_officer):
    client.force_login(finance_officer)
    html = client.get(url(funded["cpo"].organisation)).content.decode()
    rows = money_rows(html)
    assert rows[("État — ANCT", "2026")] == ["18 000,00", "9 000,00", "9 000,00", "0,00"]
    assert rows[("Ville de Marseille", "2025")] == ["12 000,00", "12 000,00", "0,00", "400,00"]
    assert rows[("Fondation Horizon", "2026")] == ["5 000,00", "5 000,00", "0,00", "0,00"]
    assert len(rows) == 7
    assert 'id="money-grand-total"' in html


def test_committed_split_matches_the_instalments_of_each_funder(
    organisation, instructor, state_funder, city, manager
):
    """Odd shares: the committed part of each funder is exactly what its instalments add up to."""
    agreement = agreement_for(
        organisation,
        instructor,
        "10001.00",
        years=1,
        first_year=2026,
        funders=[
            {"funder": state_funder, "share": D("0.333333")},
            {"funder": city, "share": D("0.666667")},
        ],
    )
    sign(agreement, instructor, datetime.date(2026, 1, 5))
    summary = funding_summary(global_contract(manager, organisation, staff=True)["agreements"])
    committed = {m.funder: m.total.committed for m in summary.by_funder}
    planned = {}
    for i in Instalment.objects.filter(agreement=agreement).select_related("funder__funder"):
        planned[i.funder.funder.name] = planned.get(i.funder.funder.name, D("0")) + i.amount
    assert committed == planned
    assert sum(committed.values()) == D("10001.00")


def test_paid_and_remaining_follow_the_charged_year(organisation, instructor, city, manager):
    agreement = agreement_for(
        organisation,
        instructor,
        "8000.00",
        years=1,
        first_year=2026,
        funders=[{"funder": city, "share": D("1")}],
    )
    sign(agreement, instructor, datetime.date(2026, 1, 5))
    Instalment.objects.filter(agreement=agreement, kind="balance").update(charged_year=2027)
    pay(Instalment.objects.filter(agreement=agreement, kind="advance"), datetime.date(2026, 2, 1))
    summary = funding_summary(global_contract(manager, organisation, staff=True)["agreements"])
    rows = {r.fiscal_year: (r.committed, r.paid, r.remaining) for r in summary.by_funder[0].years}
    assert rows == {
        2026: (D("8000.00"), D("4000.00"), D("0.00")),
        2027: (D("0.00"), D("0.00"), D("4000.00")),
    }


def test_imported_agreement_without_funder_is_committed_under_its_own_line(
    organisation, auditor, city
):
    from cpo.models import AgreementYear

    imported = Agreement.objects.create(
        reference="HIST-2024-0001",
        source=Agreement.Source.IMPORTED,
        external_id="SUB-2024-77",
        organisation=organisation,
        programme=f.ProgrammeFactory(fiscal_year=2024),
        kind=Agreement.Kind.AGREEMENT,
        state="completed",
        title="Médiation sociale",
        first_year=2024,
        duration_years=1,
        total_amount=D("24000.00"),
        profile="flat",
        instalment_template="at_signature",
    )
    AgreementYear.objects.create(agreement=imported, fiscal_year=2024, amount=D("24000.00"))
    contract = global_contract(auditor, organisation, staff=True)
    assert [a.pk for a in contract["agreements"]] == [imported.pk]
    summary = contract["money"]
    assert [(m.funder, m.total.committed, m.total.paid) for m in summary.by_funder] == [
        ("Financeur non renseigné", D("24000.00"), D("0.00"))
    ]


# --------------------------------------------------------------------------- the page's content


def test_page_lists_applications_agreements_payments_evaluations(client, funded, manager):
    client.force_login(manager)
    response = client.get(url(funded["cpo"].organisation))
    assert response.status_code == 200
    html = response.content.decode()
    for key in ("cpo", "decision", "draft"):
        agreement = funded[key]
        assert f'id="agreement-{agreement.pk}"' in html
        assert f'id="application-{agreement.application_id}"' in html
    assert "2100012345" in html  # the State's legal commitment (EJ)
    assert "60 %" in html and "40 %" in html
    held = Instalment.objects.get(
        agreement=funded["cpo"], year__fiscal_year=2026, kind="balance", funder__share=D("0.6")
    )
    row = re.search(rf'<tr id="instalment-{held.pk}">(.*?)</tr>', html, re.S).group(1)
    assert "En attente de l&#x27;évaluation 2025" in row and "Suspendue" in row
    paid = Instalment.objects.filter(agreement=funded["cpo"], state="paid").first()
    row = re.search(rf'<tr id="instalment-{paid.pk}">(.*?)</tr>', html, re.S).group(1)
    assert paid.paid_on.strftime("%d/%m/%Y") in row
    # The terminated decision's balance was cancelled: counted, not listed.
    assert 'id="cancelled-count"' in html
    for evaluation in funded["cpo"].evaluations.all():
        assert f'id="evaluation-{evaluation.pk}"' in html


def test_documents_with_validity_and_download_link(client, organisation, applicant, auditor):
    upload = core_services.document_upload(
        actor=applicant,
        organisation=organisation,
        kind="statutes",
        file=SimpleUploadedFile("statuts.pdf", PDF, content_type="application/pdf"),
        valid_until=datetime.date(2027, 1, 31),
        title="Statuts 2025",
    )
    old = core_services.document_upload(
        actor=applicant,
        organisation=organisation,
        kind="insurance",
        file=SimpleUploadedFile("assurance.pdf", PDF, content_type="application/pdf"),
        valid_until=datetime.date(2026, 6, 30),
    )
    approved(organisation, "1000.00")
    with time_machine.travel(datetime.datetime(2026, 9, 1, 10, tzinfo=datetime.UTC), tick=False):
        client.force_login(auditor)
        html = client.get(url(organisation)).content.decode()
    assert reverse("core:document_download", args=[upload.pk]) in html
    assert "valide jusqu'au 31/01/2027" in html
    row = re.search(rf'<tr id="document-{old.pk}">(.*?)</tr>', html, re.S).group(1)
    assert "expiré depuis le 30/06/2026" in row


# --------------------------------------------------------------------------- who sees it


def test_staff_of_every_kind_and_members_see_it(
    client, funded, manager, finance_officer, auditor, instructor, applicant
):
    organisation = funded["cpo"].organisation
    for user in (manager, finance_officer, auditor, instructor, applicant):
        client.force_login(user)
        assert client.get(url(organisation)).status_code == 200, user


def test_others_get_404(client, funded, other_applicant, committee_member, panel_member):
    organisation = funded["cpo"].organisation
    for user in (other_applicant, committee_member, panel_member):
        client.force_login(user)
        assert client.get(url(organisation)).status_code == 404, user
    client.force_login(other_applicant)
    assert client.get(reverse("reporting:organisation_global", args=[999999])).status_code == 404
    client.logout()
    assert client.get(url(organisation)).status_code == 302  # to the login page


def test_scoped_instructor_sees_only_organisations_and_files_of_their_territory(client, instructor):
    here, elsewhere = f.QPVFactory(), f.QPVFactory()
    scoped = f.UserFactory(email="territoire@ville.example.org")
    f.give_role(scoped, Role.INSTRUCTOR, territories=[here])
    organisation = f.OrganisationFactory()
    in_scope = approved(organisation, "3000.00")
    in_scope.qpvs.set([here])
    out_of_scope = approved(organisation, "4000.00")
    out_of_scope.qpvs.set([elsewhere])
    other = f.OrganisationFactory()
    approved(other, "5000.00").qpvs.set([elsewhere])
    client.force_login(scoped)
    assert client.get(url(other)).status_code == 404
    html = client.get(url(organisation)).content.decode()
    assert f'id="application-{in_scope.pk}"' in html
    assert f'id="application-{out_of_scope.pk}"' not in html
    assert 'id="scope-note"' in html


def test_drafts_alone_do_not_open_the_page_to_a_scoped_instructor(client):
    qpv = f.QPVFactory()
    scoped = f.UserFactory(email="brouillon@ville.example.org")
    f.give_role(scoped, Role.INSTRUCTOR, territories=[qpv])
    organisation = f.OrganisationFactory()
    f.ApplicationFactory(organisation=organisation).qpvs.set([qpv])  # a draft
    client.force_login(scoped)
    assert client.get(url(organisation)).status_code == 404


def test_member_sees_their_page_without_internal_notes(client, funded, applicant, instructor):
    application = funded["cpo"].application
    InstructorNote.objects.create(
        application=application, author=instructor, text="Trésorerie fragile, à suivre"
    )
    audit_log(actor=instructor, obj=application, action="grants.application.note_added")
    organisation = funded["cpo"].organisation

    client.force_login(instructor)
    staff_html = client.get(url(organisation)).content.decode()
    assert "Trésorerie fragile" in staff_html and 'id="notes-title"' in staff_html
    assert "Note interne ajoutée" in staff_html

    client.force_login(applicant)
    member_html = client.get(url(organisation)).content.decode()
    assert "Trésorerie fragile" not in member_html and 'id="notes-title"' not in member_html
    assert "Note interne ajoutée" not in member_html
    # The same money and agreements as staff.
    assert money_rows(member_html) == money_rows(staff_html)
    assert f'id="agreement-{funded["cpo"].pk}"' in member_html


def test_bank_details_only_for_finance_and_members(
    client, funded, finance_officer, applicant, manager, auditor, instructor
):
    organisation = funded["cpo"].organisation
    for user in (finance_officer, applicant):
        client.force_login(user)
        html = client.get(url(organisation)).content.decode()
        assert 'id="bank-details"' in html and "FR76 **** 0189" in html and "AGRIFRPP" in html
    for user in (manager, auditor, instructor):
        client.force_login(user)
        html = client.get(url(organisation)).content.decode()
        assert 'id="bank-details"' not in html
        assert "FR76" not in html and "AGRIFRPP" not in html


# --------------------------------------------------------------------------- history


def test_history_gathers_organisation_documents_applications_and_agreements(
    client, organisation, applicant, instructor, auditor, city
):
    draft = f.ApplicationFactory(organisation=organisation)
    audit_log(actor=applicant, obj=draft, action="grants.application.submitted", target="submitted")
    Application.objects.filter(pk=draft.pk).update(state=ApplicationState.SUBMITTED)
    document = core_services.document_upload(
        actor=applicant,
        organisation=organisation,
        kind="statutes",
        file=SimpleUploadedFile("statuts.pdf", PDF, content_type="application/pdf"),
        valid_until=None,
    )
    core_services.document_delete(actor=applicant, document=document)
    agreement = agreement_for(
        organisation,
        instructor,
        "6000.00",
        years=1,
        first_year=2026,
        funders=[{"funder": city, "share": D("1")}],
    )
    sign(agreement, instructor, datetime.date(2026, 1, 5))
    other = f.OrganisationFactory()
    foreign = agreement_for(
        other,
        instructor,
        "7000.00",
        years=1,
        first_year=2026,
        funders=[{"funder": city, "share": D("1")}],
    )
    client.force_login(auditor)
    html = client.get(url(organisation)).content.decode()
    history = html.split('id="history-title"')[1]
    assert f"Dossier déposé — {draft.reference}" in history
    assert f"Convention signée — {agreement.reference}" in history
    assert f"Convention préparée — {agreement.reference}" in history
    assert "Document déposé" in history and "Document supprimé" in history
    assert "(Brouillon → Signée)" in history
    assert foreign.reference not in history


def test_history_is_capped_with_a_note(client, organisation, auditor, monkeypatch):
    from reporting import selectors_organisations

    monkeypatch.setattr(selectors_organisations, "HISTORY_LIMIT", 3)
    application = approved(organisation, "1000.00")
    for _ in range(4):
        audit_log(actor=auditor, obj=application, action="grants.application.submitted")
    client.force_login(auditor)
    html = client.get(url(organisation)).content.decode()
    assert html.count("Dossier déposé — ") == 3
    assert 'id="history-truncated"' in html


# --------------------------------------------------------------------------- query count


def _grow(organisation, instructor, finance_officer, city, count: int) -> None:
    for n in range(count):
        agreement = agreement_for(
            organisation,
            instructor,
            "30000.00",
            years=3,
            first_year=2025,
            funders=[{"funder": city, "share": D("1")}],
        )
        sign(agreement, instructor)
        pay(Instalment.objects.filter(agreement=agreement, year__fiscal_year=2025))
        InstructorNote.objects.create(
            application=agreement.application, author=instructor, text=f"Note {n}"
        )
        recovery = services_changes.recovery_issue(
            actor=instructor,
            agreement=Agreement.objects.get(pk=agreement.pk),
            fiscal_year=2025,
            unspent=D("100.00"),
            reason="Reliquat",
        )
        services_changes.recovery_collect(actor=finance_officer, recovery=recovery)


def test_query_count_does_not_grow_with_agreements(
    client, instructor, finance_officer, city, django_assert_max_num_queries
):
    small, large = f.OrganisationFactory(), f.OrganisationFactory()
    _grow(small, instructor, finance_officer, city, 2)
    _grow(large, instructor, finance_officer, city, 10)
    client.force_login(instructor)
    client.get(url(small))  # warm the content-type cache
    with CaptureQueriesContext(connection) as small_queries:
        html = client.get(url(small)).content.decode()
    assert html.count('<tr id="agreement-') == 2
    with django_assert_max_num_queries(len(small_queries)):
        html = client.get(url(large)).content.decode()
    assert html.count('<tr id="agreement-') == 10
    assert html.count("Note ") >= 10


# --------------------------------------------------------------------------- accessibility


def test_pages_meet_the_accessibility_basics(client, funded, finance_officer, applicant):
    from ..test_accessibility_pages import audit

    organisation = funded["cpo"].organisation
    client.force_login(finance_officer)
    problems = audit(client, url(organisation))
    problems += audit(client, reverse("reporting:organisation_search") + "?q=Association")
    client.force_login(applicant)
    problems += audit(client, url(organisation))
    assert problems == []
