"""Agreements: built from an approved application without re-typing, signed, their instalments made
due by the daily job only when every condition holds, the annual evaluation releasing or blocking."""

from __future__ import annotations

import datetime
from decimal import Decimal
from unittest import mock

import pytest

from core.errors import DomainError, PermissionDenied, TransitionNotAllowed
from core.models import AuditLog
from cpo import services
from cpo.models import Agreement, Evaluation, Instalment
from cpo.models import AgreementState as A
from cpo.models import EvaluationState as E
from cpo.models import InstalmentState as I  # noqa: E741
from grants.models import Application, ApplicationState, ApplicationYear

from .. import factories as f

pytestmark = pytest.mark.django_db
D = datetime.date


def approved(amount="90000.00", years=None, organisation=None) -> Application:
    app = f.ApplicationFactory(
        requested_amount=Decimal(amount),
        organisation=organisation or f.OrganisationFactory(),
        complete=False,
    )
    Application.objects.filter(pk=app.pk).update(
        state=ApplicationState.APPROVED, approved_amount=Decimal(amount)
    )
    for fy, value in (years or {}).items():
        ApplicationYear.objects.create(
            application=app, fiscal_year=fy, requested_amount=value, approved_amount=value
        )
    return Application.objects.get(pk=app.pk)


@pytest.fixture
def cpo(instructor):
    app = approved("90000.00")
    return services.agreement_create_from_application(
        actor=instructor, application=app, profile="flat", duration_years=3, first_year=2026
    )


def test_created_from_the_application_without_retyping(cpo):
    assert cpo.organisation == cpo.application.organisation and cpo.title == cpo.application.title
    assert cpo.kind == Agreement.Kind.AGREEMENT  # 30 000 € a year > 23 000 €
    assert cpo.reference.startswith("CPO-2026-")
    assert [(y.fiscal_year, y.amount) for y in cpo.years.all()] == [
        (2026, Decimal("30000")),
        (2027, Decimal("30000")),
        (2028, Decimal("30000")),
    ]
    for year in cpo.years.all():
        assert sum(i.amount for i in year.instalments.all()) == year.amount
    assert [(e.fiscal_year, e.due_on, e.is_final) for e in cpo.evaluations.all()] == [
        (2026, D(2027, 6, 30), False),
        (2027, D(2028, 6, 30), False),
        (2028, D(2029, 6, 30), True),
    ]
    assert AuditLog.objects.filter(action="cpo.agreement.created", object_id=str(cpo.pk)).exists()


def test_small_one_year_award_is_a_notified_decision(instructor):
    agreement = services.agreement_create_from_application(
        actor=instructor, application=approved("8000.00"), instalment_template="at_signature"
    )
    assert agreement.kind == Agreement.Kind.DECISION and agreement.reference.startswith("DEC-")
    assert agreement.instalments.get().amount == Decimal("8000.00")


def test_structural_support_years_are_taken_as_approved(instructor):
    app = approved(
        "96000.00", years={2026: Decimal("30000"), 2027: Decimal("32000"), 2028: Decimal("34000")}
    )
    agreement = services.agreement_create_from_application(actor=instructor, application=app)
    assert [y.amount for y in agreement.years.all()] == [
        Decimal("30000"),
        Decimal("32000"),
        Decimal("34000"),
    ]
    assert agreement.profile == "custom" and agreement.first_year == 2026


def test_only_an_approved_application_once_and_by_staff(instructor, applicant, draft):
    with pytest.raises(TransitionNotAllowed):
        services.agreement_create_from_application(actor=instructor, application=draft)
    app = approved()
    with pytest.raises(PermissionDenied):
        services.agreement_create_from_application(actor=applicant, application=app)
    services.agreement_create_from_application(actor=instructor, application=app)
    with pytest.raises(DomainError):
        services.agreement_create_from_application(actor=instructor, application=app)


def test_invalid_profile_refused_and_nothing_written(instructor):
    app = approved()
    with pytest.raises(DomainError):
        services.agreement_create_from_application(
            actor=instructor,
            application=app,
            profile="degressive_rate",
            rate=Decimal("-0.1"),
            duration_years=3,
        )
    assert not Agreement.objects.exists() and not Instalment.objects.exists()


def states(agreement, year):
    return [
        i.state
        for i in Instalment.objects.filter(agreement=agreement, year__fiscal_year=year).order_by(
            "number"
        )
    ]


def test_gating_the_balance_waits_for_the_accepted_evaluation(cpo, instructor, applicant):
    f.add_member(applicant, cpo.organisation)
    services.agreement_sign(actor=instructor, agreement=cpo, signed_on=D(2026, 2, 10))
    services.instalments_refresh(day=D(2026, 2, 15))
    assert Agreement.objects.get(pk=cpo.pk).state == A.ACTIVE
    assert states(cpo, 2026) == [
        I.DUE,
        I.PLANNED,
    ]  # advance due, first-year balance waits for 1 July
    services.instalments_refresh(day=D(2026, 7, 2))
    assert states(cpo, 2026) == [I.DUE, I.DUE]
    services.instalments_refresh(day=D(2027, 1, 5))
    assert states(cpo, 2027) == [I.DUE, I.ON_HOLD]  # the 2027 balance needs the 2026 evaluation
    held = Instalment.objects.get(agreement=cpo, year__fiscal_year=2027, number=2)
    assert "2026" in held.hold_reason
    evaluation = cpo.evaluations.get(fiscal_year=2026)
    with time_travel(D(2027, 3, 1)):
        services.evaluation_submit(
            actor=applicant,
            evaluation=evaluation,
            activity_report="Bilan 2026",
            budget_lines=[{"account": "64", "planned": "15000", "actual": "14200"}],
            indicators=[],
        )
    services.instalments_refresh(day=D(2027, 3, 2))
    assert states(cpo, 2027) == [I.DUE, I.ON_HOLD]  # submitted is not accepted
    services.evaluation_review(
        actor=instructor,
        evaluation=Evaluation.objects.get(pk=evaluation.pk),
        outcome="reject",
        comment="Comptes non approuvés",
    )
    assert states(cpo, 2027) == [I.DUE, I.ON_HOLD]
    evaluation = Evaluation.objects.get(pk=evaluation.pk)
    services.evaluation_submit(
        actor=applicant,
        evaluation=evaluation,
        activity_report="Bilan 2026 complété",
        budget_lines=[{"account": "64", "planned": "15000", "actual": "14200"}],
        indicators=[],
    )
    with time_travel(D(2027, 4, 2)):
        services.evaluation_review(
            actor=instructor, evaluation=Evaluation.objects.get(pk=evaluation.pk), outcome="accept"
        )
    assert states(cpo, 2027)[1] == I.DUE  # released by the acceptance, without waiting for the job


class time_travel:
    def __init__(self, day):
        self.patch = mock.patch("core.clock.timezone.localdate", return_value=day)

    def __enter__(self):
        return self.patch.__enter__()

    def __exit__(self, *exc):
        return self.patch.__exit__(*exc)


def test_daily_job_is_idempotent_and_flags_late_payments(cpo, instructor):
    services.agreement_sign(actor=instructor, agreement=cpo, signed_on=D(2026, 1, 5))
    first = services.instalments_refresh(day=D(2026, 1, 10))
    assert first["due"] == 1 and first["activated"] == 1
    rows = AuditLog.objects.count()
    assert services.instalments_refresh(day=D(2026, 1, 10)) == {
        "activated": 0,
        "due": 0,
        "on_hold": 0,
        "late": 0,
    }
    assert AuditLog.objects.count() == rows
    assert (
        services.instalments_refresh(day=D(2026, 3, 12))["late"] == 1
    )  # 61 days after it fell due
    assert services.instalments_refresh(day=D(2026, 3, 13))["late"] == 0


def test_nothing_falls_due_before_signature(cpo):
    services.instalments_refresh(day=D(2026, 6, 1))
    assert set(Instalment.objects.filter(agreement=cpo).values_list("state", flat=True)) == {
        I.PLANNED
    }


def test_suspension_holds_resume_releases_termination_cancels(cpo, instructor):
    services.agreement_sign(actor=instructor, agreement=cpo, signed_on=D(2026, 1, 5))
    services.instalments_refresh(day=D(2026, 1, 10))
    with pytest.raises(DomainError):
        services.agreement_suspend(
            actor=instructor, agreement=Agreement.objects.get(pk=cpo.pk), reason=""
        )
    services.agreement_suspend(
        actor=instructor, agreement=Agreement.objects.get(pk=cpo.pk), reason="Enquête"
    )
    assert set(Instalment.objects.filter(agreement=cpo).values_list("state", flat=True)) == {
        I.ON_HOLD
    }
    with time_travel(D(2026, 1, 20)):
        services.agreement_resume(actor=instructor, agreement=Agreement.objects.get(pk=cpo.pk))
    assert states(cpo, 2026)[0] == I.DUE
    services.agreement_terminate(
        actor=instructor, agreement=Agreement.objects.get(pk=cpo.pk), reason="Dissolution"
    )
    assert set(Instalment.objects.filter(agreement=cpo).values_list("state", flat=True)) == {
        I.CANCELLED
    }
    assert Agreement.objects.get(pk=cpo.pk).end_reason == "Dissolution"


def test_failed_signature_rolls_back(cpo, instructor):
    with (
        mock.patch("core.fsm.audit_log", side_effect=RuntimeError("boom")),
        pytest.raises(RuntimeError),
    ):
        services.agreement_sign(actor=instructor, agreement=cpo, signed_on=D(2026, 1, 5))
    agreement = Agreement.objects.get(pk=cpo.pk)
    assert agreement.state == A.DRAFT and agreement.signed_on is None


def test_evaluation_submission_is_validated(cpo, applicant, other_applicant):
    f.add_member(applicant, cpo.organisation)
    evaluation = cpo.evaluations.get(fiscal_year=2026)
    with pytest.raises(PermissionDenied):
        services.evaluation_submit(
            actor=other_applicant,
            evaluation=evaluation,
            activity_report="x",
            budget_lines=[],
            indicators=[],
        )
    with pytest.raises(DomainError) as exc:
        services.evaluation_submit(
            actor=applicant,
            evaluation=evaluation,
            activity_report=" ",
            budget_lines=[{"account": "99", "planned": "1", "actual": "1"}],
            indicators=[{"label": "Jeunes accompagnés", "target": "40", "actual": ""}],
        )
    assert set(exc.value.errors) == {"activity_report", "budget_lines", "indicators"}
    assert Evaluation.objects.get(pk=evaluation.pk).state == E.EXPECTED


def test_final_accepted_evaluation_completes_the_agreement(instructor, applicant):
    agreement = services.agreement_create_from_application(
        actor=instructor,
        application=approved("8000.00", organisation=f.OrganisationFactory()),
        instalment_template="at_signature",
        first_year=2026,
    )
    f.add_member(applicant, agreement.organisation)
    services.agreement_sign(actor=instructor, agreement=agreement, signed_on=D(2026, 1, 5))
    services.instalments_refresh(day=D(2026, 1, 6))
    evaluation = agreement.evaluations.get()
    assert evaluation.is_final
    services.evaluation_submit(
        actor=applicant,
        evaluation=evaluation,
        activity_report="Bilan",
        budget_lines=[{"account": "60", "planned": "5000", "actual": "5100"}],
        indicators=[],
    )
    services.evaluation_review(
        actor=instructor,
        evaluation=Evaluation.objects.get(pk=evaluation.pk),
        outcome="accept_with_reservations",
        comment="Écart sur les achats",
    )
    assert Agreement.objects.get(pk=agreement.pk).state == A.COMPLETED


def test_evaluation_reminders_once_each_then_overdue(cpo, instructor, applicant):
    f.add_member(applicant, cpo.organisation)
    services.agreement_sign(actor=instructor, agreement=cpo, signed_on=D(2026, 1, 5))
    assert (
        services.evaluations_remind(day=D(2027, 5, 31))["reminded"] == 1
    )  # 30 days before 30 June
    assert services.evaluations_remind(day=D(2027, 5, 31))["reminded"] == 0
    assert services.evaluations_remind(day=D(2027, 6, 23))["reminded"] == 1  # 7 days before
    assert services.evaluations_remind(day=D(2027, 7, 1)) == {"reminded": 0, "overdue": 1}
    assert services.evaluations_remind(day=D(2027, 7, 2))["overdue"] == 0


def test_custom_instalment_plan_every_year(instructor):
    agreement = services.agreement_create_from_application(
        actor=instructor,
        application=approved("60000.00"),
        duration_years=2,
        first_year=2026,
        instalment_template="custom",
        instalment_custom=[
            {"percent": "40", "month": 1, "day": 15},
            {"percent": "35", "month": 6, "day": 1},
            {"percent": "25", "month": 10, "day": 1},
        ],
    )
    rows = [
        (i.year.fiscal_year, i.amount, i.earliest_date, i.requires_evaluation_of)
        for i in agreement.instalments.order_by("year__fiscal_year", "number")
    ]
    assert rows == [
        (2026, Decimal("12000.00"), D(2026, 1, 15), None),
        (2026, Decimal("10500.00"), D(2026, 6, 1), None),
        (2026, Decimal("7500.00"), D(2026, 10, 1), None),
        (2027, Decimal("12000.00"), D(2027, 1, 15), None),
        (2027, Decimal("10500.00"), D(2027, 6, 1), None),
        (2027, Decimal("7500.00"), D(2027, 10, 1), 2026),
    ]


def test_custom_plan_must_total_100_percent(instructor):
    with pytest.raises(DomainError) as exc:
        services.agreement_create_from_application(
            actor=instructor,
            application=approved("60000.00"),
            instalment_template="custom",
            instalment_custom=[{"percent": "40", "month": 1, "day": 15}],
        )
    assert exc.value.field == "instalment_custom"
