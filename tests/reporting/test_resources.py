"""Export resources: French headers, readable values, restricted columns, scope of each dataset, and
the streaming renderer giving exactly what `ModelResource.export()` gives."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from core.models import Role
from cpo.models import Agreement, Instalment, InstalmentState
from grants.models import Application, ApplicationState
from reporting.exports import RowPlan
from reporting.resources import (
    DATASETS,
    ApplicationResource,
    Money,
    Text,
    YesNo,
    columns_for,
    datasets_for,
    related_values,
)
from tests import factories as f


def streamed(user, key, columns=None, *, native=False, filters=None):
    """The rows the streaming export renders (values_list + widgets), as lists (in text as the
    CSV file holds them)."""
    spec = DATASETS[key]
    allowed = columns_for(user, spec)
    chosen = [allowed[c] for c in (columns or allowed)]
    plan = RowPlan(chosen, native=native)
    qs = spec.queryset(user, filters)
    rows = list(qs.values_list(*plan.paths))
    related = plan.related(spec.resource._meta.model, rows)
    rendered = [plan.render(row, related) for row in rows]
    if native:
        return rendered
    # As the CSV writer writes them: None empty, numbers in digits.
    return [["" if v is None else str(v) for v in row] for row in rendered]


def exported(user, key, columns=None, filters=None):
    """What django-import-export's own export gives for the same rows and columns."""
    spec = DATASETS[key]
    allowed = columns_for(user, spec)
    names = list(columns or allowed)
    resource = spec.resource()
    qs = spec.queryset(user, filters)
    return [[resource.export_field(resource.fields[n], obj) for n in names] for obj in qs]


@pytest.fixture
def agreement(db, instructor, organisation):
    """A 3-year CPO of `organisation` with its instalments and evaluations; one instalment paid."""
    agreement = f.cpo_awaiting_evaluation(instructor=instructor, organisation=organisation)
    first = Instalment.objects.filter(agreement=agreement).order_by("pk").first()
    Instalment.objects.filter(pk=first.pk).update(
        state=InstalmentState.PAID, paid_on=datetime.date(2026, 2, 10)
    )
    return Agreement.objects.get(pk=agreement.pk)


def with_role(user, role):
    f.give_role(user, role)
    return user


# --------------------------------------------------------------------------- headers and values


def test_application_headers_and_readable_values(manager, organisation):
    theme = f.ThemeFactory(label="Alimentation")
    application = f.ApplicationFactory(
        organisation=organisation,
        state=ApplicationState.SUBMITTED,
        requested_amount=Decimal("12500.50"),
        submitted_at=datetime.datetime(2026, 3, 31, 22, 30, tzinfo=datetime.UTC),
    )
    application.themes.add(theme)
    qpv = application.qpvs.get()

    headers = ApplicationResource().get_export_headers()
    assert headers[:5] == ["Référence", "Mode", "Titre du projet", "Organisation", "SIRET"]
    assert "Montant demandé (€)" in headers and "Quartiers ciblés" in headers

    columns = ["reference", "state", "kind", "requested_amount", "qpvs", "themes", "submitted_at"]
    (row,) = streamed(manager, "applications", columns)
    assert row == [
        application.reference,
        "Déposé",
        "Appel à projets",
        "12500.50",
        qpv.code,
        "Alimentation",
        "2026-04-01 00:30",  # Europe/Paris
    ]


def test_every_dataset_streams_exactly_what_the_resource_exports(
    finance_officer, agreement, organisation
):
    """The fast renderer (values_list + the columns' widgets) and ModelResource.export_field on
    model instances give the same text, for every column of every dataset."""
    f.ApplicationFactory(organisation=organisation, state=ApplicationState.UNDER_REVIEW)
    f.give_role(finance_officer, Role.PROGRAMME_MANAGER)  # drafts of calls too
    for key in DATASETS:
        if key == "experience_sheets":  # no sheet in this fixture: tests/directory/test_views.py
            continue
        fast = streamed(finance_officer, key)
        slow = exported(finance_officer, key)
        assert fast, key
        assert fast == slow, key


def test_agreement_values(finance_officer, agreement):
    columns = ["reference", "state", "total_amount", "paid_amount", "funders", "first_year"]
    (row,) = streamed(finance_officer, "agreements", columns)
    paid = Instalment.objects.get(agreement=agreement, state=InstalmentState.PAID).amount
    funder = agreement.funders.get()
    assert row[0] == agreement.reference
    assert row[1] == str(agreement.get_state_display())
    assert row[2] == f"{agreement.total_amount:.2f}" == "90000.00"
    assert row[3] == f"{paid:.2f}"
    assert row[4] == f"{funder.funder.name} (100 %)"
    assert row[5] == str(agreement.first_year)


def test_instalment_values_text_and_native(finance_officer, agreement):
    paid = Instalment.objects.get(agreement=agreement, state=InstalmentState.PAID)
    columns = ["reference", "fiscal_year", "charged_year", "amount", "state", "paid_on", "is_late"]
    rows = streamed(finance_officer, "instalments", columns)
    assert len(rows) == Instalment.objects.filter(agreement=agreement).count()
    text = next(r for r in rows if r[0] == f"{agreement.reference}/E{paid.pk}")
    assert text[1:] == [
        str(paid.year.fiscal_year),
        str(paid.year.fiscal_year),  # charged_year empty: the year's
        f"{paid.amount:.2f}",
        "Payée",
        "2026-02-10",
        "non",
    ]
    native = next(
        r for r in streamed(finance_officer, "instalments", columns, native=True) if r[0] == text[0]
    )
    assert native[1:] == [
        paid.year.fiscal_year,
        paid.year.fiscal_year,
        paid.amount,
        "Payée",
        datetime.date(2026, 2, 10),
        False,
    ]
    assert isinstance(native[3], Decimal)


def test_widgets():
    assert Money().render(Decimal("1234.5")) == "1234.50"
    assert Money().render(None) == ""
    assert Money().render(Decimal("7"), force_native_type=True) == Decimal("7.00")
    assert YesNo().render(True) == "oui"
    assert YesNo().render(False, force_native_type=True) is False
    # A text a spreadsheet would run as a formula is neutralised in text (CSV) only.
    assert Text().render("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert Text().render("=HYPERLINK(1)", force_native_type=True) == "=HYPERLINK(1)"
    assert Text().render("Atelier") == "Atelier"


def test_many_column_reads_a_chunk_in_one_query(django_assert_num_queries, organisation):
    apps = [f.ApplicationFactory(organisation=organisation) for _ in range(3)]
    column = ApplicationResource().fields["qpvs"]
    with django_assert_num_queries(1):
        found = related_values(Application, [a.pk for a in apps], column)
    assert {pk: len(codes) for pk, codes in found.items()} == {a.pk: 1 for a in apps}


# --------------------------------------------------------------------------- restricted columns


def test_bank_details_for_finance_only(finance_officer, instructor, auditor, manager):
    for key in ("organisations", "instalments"):
        spec = DATASETS[key]
        assert {"iban", "bic"} <= set(columns_for(finance_officer, spec)), key
        for user in (instructor, auditor, manager):
            assert not {"iban", "bic"} & set(columns_for(user, spec)), (key, user)


def test_members_see_their_own_bank_details_but_not_as_staff(applicant, organisation):
    spec = DATASETS["instalments"]
    assert {"iban", "bic"} <= set(columns_for(applicant, spec))
    # A member who is also an instructor exports other organisations' rows: no bank details.
    f.give_role(applicant, Role.INSTRUCTOR)
    assert "iban" not in columns_for(applicant, spec)


def test_instruction_columns_are_for_staff(applicant, instructor):
    spec = DATASETS["applications"]
    assert {"proposed_amount", "assigned_to"} <= set(columns_for(instructor, spec))
    assert not {"proposed_amount", "assigned_to"} & set(columns_for(applicant, spec))


# --------------------------------------------------------------------------- scope


def test_datasets_per_audience(applicant, instructor, panel_member, finance_officer):
    assert [s.key for s in datasets_for(applicant)] == [
        "applications",
        "agreements",
        "instalments",
        "experience_sheets",
    ]
    assert len(datasets_for(instructor)) == len(datasets_for(finance_officer)) == len(DATASETS)
    assert datasets_for(panel_member) == []


def test_applicant_exports_only_their_organisations(applicant, other_applicant, organisation):
    mine = f.ApplicationFactory(organisation=organisation)
    other_org = other_applicant.organisations.get()
    f.ApplicationFactory(organisation=other_org, state=ApplicationState.SUBMITTED)
    rows = streamed(applicant, "applications", ["reference", "organisation"])
    assert rows == [[mine.reference, organisation.name]]


def test_staff_never_export_drafts_and_instructors_keep_their_scope(db, manager, organisation):
    draft = f.ApplicationFactory(organisation=organisation)
    filed = f.ApplicationFactory(organisation=organisation, state=ApplicationState.SUBMITTED)
    assert streamed(manager, "applications", ["reference"]) == [[filed.reference]]
    assert draft.reference not in str(streamed(manager, "applications", ["reference"]))

    scoped = f.UserFactory(email="scoped@ville.example.org")
    f.give_role(scoped, Role.INSTRUCTOR, calls_only=True)
    assert streamed(scoped, "applications", ["reference"]) == []
    filed.call.instructors.add(scoped)
    assert streamed(scoped, "applications", ["reference"]) == [[filed.reference]]


def test_instalments_follow_agreement_scope(agreement, other_applicant, applicant):
    assert len(streamed(applicant, "instalments", ["reference"])) == agreement.instalments.count()
    assert streamed(other_applicant, "instalments", ["reference"]) == []


def test_filters(manager, organisation):
    p2025 = f.ProgrammeFactory(fiscal_year=2025)
    old = f.ApplicationFactory(
        organisation=organisation,
        call=f.CallFactory(programme=p2025),
        state=ApplicationState.APPROVED,
        requested_amount=Decimal("10000.00"),
    )
    new = f.ApplicationFactory(organisation=organisation, state=ApplicationState.SUBMITTED)
    pick = ["reference"]
    assert streamed(manager, "applications", pick, filters={"fiscal_year": 2025}) == [
        [old.reference]
    ]
    assert streamed(manager, "applications", pick, filters={"programme": new.programme_id}) == [
        [new.reference]
    ]
    assert streamed(manager, "applications", pick, filters={"state": "approved"}) == [
        [old.reference]
    ]


def test_agreement_fiscal_year_filter_covers_every_year_of_the_agreement(
    finance_officer, agreement
):
    first = agreement.first_year
    pick = ["reference"]
    for year in (first, first + 1, first + 2):
        assert streamed(finance_officer, "agreements", pick, filters={"fiscal_year": year})
    for year in (first - 1, first + 3):
        assert not streamed(finance_officer, "agreements", pick, filters={"fiscal_year": year})


def test_datetime_is_local_time(finance_officer, organisation):
    moment = datetime.datetime(2026, 7, 14, 8, 0, tzinfo=datetime.UTC)
    type(organisation).objects.filter(pk=organisation.pk).update(created_at=moment)
    (row,) = streamed(finance_officer, "organisations", ["name", "created_at"])
    assert row == [organisation.name, "2026-07-14 10:00"]
    (native,) = streamed(finance_officer, "organisations", ["created_at"], native=True)
    assert native == [timezone.localtime(moment).replace(tzinfo=None)]
