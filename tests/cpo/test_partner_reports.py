"""A collective file's annual evaluation (docs/domain.md §9, issue 18): each partner files its own
part from its own account, the lead files the whole once every part is filed or declared missing
with a reason; the instructor sees the parts; every step is audited."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from core.clock import today
from core.errors import DomainError, PermissionDenied, TransitionNotAllowed
from core.models import AuditLog, Notification
from cpo import services as cpo_services
from cpo import services_partner_reports as parts
from cpo.models import Evaluation, PartnerReport
from cpo.models import EvaluationState as E
from cpo.selectors_partner_reports import partner_parts, pending_partners
from grants.models import PaymentFlow

from .. import factories as f
from .test_collective_payments import collective_approved

pytestmark = pytest.mark.django_db

LEAD_FILING = {
    "activity_report": "Le centre social a tenu 30 ateliers.",
    "budget_lines": [{"account": "60", "planned": "1000", "actual": "900"}],
    "indicators": [],
}


@pytest.fixture
def club(db):
    return f.OrganisationFactory(name="Club de sport", iban="FR7612345000019876543210913")


@pytest.fixture
def club_member(club):
    member = f.UserFactory(email="club@example.org")
    f.add_member(member, club)
    return member


def _agreement(app, instructor):
    first_year = today().year - 1
    agreement = cpo_services.agreement_create_from_application(
        actor=instructor,
        application=app,
        profile="flat",
        duration_years=2,
        first_year=first_year,
    )
    cpo_services.agreement_sign(
        actor=instructor, agreement=agreement, signed_on=datetime.date(first_year, 1, 15)
    )
    cpo_services.instalments_refresh(day=today(), agreement_ids=[agreement.pk])
    return type(agreement).objects.get(pk=agreement.pk)


@pytest.fixture
def collective_evaluation(draft, applicant, club, club_member, manager, instructor):
    """8 000 € approved over two years (4 000 € a year), the club's part 1 600 € (800 € a year),
    paid to each partner; the first year's evaluation is expected."""

    def build(flow=PaymentFlow.PARTNERS) -> Evaluation:
        app = collective_approved(draft, applicant, club, manager, flow)
        agreement = _agreement(app, instructor)
        return Evaluation.objects.get(agreement=agreement, fiscal_year=agreement.first_year)

    return build


def _file(evaluation, actor, club, **overrides):
    data = {
        "activity_report": "Six tournois inter-quartiers.",
        "figures": "120 jeunes, 14 bénévoles",
        "spent_amount": "780.50",
    }
    data.update(overrides)
    return parts.partner_report_file(actor=actor, evaluation=evaluation, organisation=club, **data)


def test_each_partner_files_its_part_and_the_lead_is_told(
    collective_evaluation, club, club_member, applicant
):
    evaluation = collective_evaluation()
    assert [p.organisation for p in partner_parts(evaluation)] == [club]
    assert pending_partners(evaluation) == [club]
    report = _file(evaluation, club_member, club)
    assert report.state == "filed"
    # Paid per partner: its share of the year is what its instalments of that year plan.
    assert report.share_amount == Decimal("800.00")
    assert report.spent_amount == Decimal("780.50")
    assert pending_partners(evaluation) == []
    row = AuditLog.objects.get(action="cpo.evaluation.partner_report_filed")
    assert row.object_id == str(evaluation.pk)
    assert row.target_state == "filed"
    assert row.payload["partner"] == "Club de sport"
    assert Notification.objects.filter(user=applicant, url__contains="/evaluations/").exists()


def test_the_lead_cannot_file_while_a_part_is_awaited(
    collective_evaluation, club, club_member, applicant
):
    evaluation = collective_evaluation()
    with pytest.raises(DomainError) as exc:
        cpo_services.evaluation_submit(actor=applicant, evaluation=evaluation, **LEAD_FILING)
    assert exc.value.code == "partner_reports_pending"
    assert "Club de sport" in str(exc.value.message)
    assert Evaluation.objects.get(pk=evaluation.pk).state == E.EXPECTED
    _file(evaluation, club_member, club)
    filed = cpo_services.evaluation_submit(actor=applicant, evaluation=evaluation, **LEAD_FILING)
    assert filed.state == E.SUBMITTED
    # Filed: the part is frozen.
    with pytest.raises(TransitionNotAllowed):
        _file(filed, club_member, club, spent_amount="10.00")


def test_the_lead_files_without_a_missing_part_with_a_reason(
    collective_evaluation, club, club_member, applicant
):
    evaluation = collective_evaluation()
    with pytest.raises(DomainError) as exc:
        parts.partner_report_mark_missing(
            actor=applicant, evaluation=evaluation, organisation=club, reason="  "
        )
    assert exc.value.field == "reason"
    with pytest.raises(PermissionDenied):
        parts.partner_report_mark_missing(
            actor=club_member, evaluation=evaluation, organisation=club, reason="Absent"
        )
    report = parts.partner_report_mark_missing(
        actor=applicant, evaluation=evaluation, organisation=club, reason="Le club a fermé."
    )
    assert report.state == "missing" and report.missing_reason == "Le club a fermé."
    row = AuditLog.objects.get(action="cpo.evaluation.partner_report_missing")
    assert row.reason == "Le club a fermé." and row.object_id == str(evaluation.pk)
    assert Notification.objects.filter(user=club_member).exists()
    assert (
        cpo_services.evaluation_submit(actor=applicant, evaluation=evaluation, **LEAD_FILING).state
        == E.SUBMITTED
    )


def test_a_part_filed_cannot_be_declared_missing_but_a_missing_part_may_still_come(
    collective_evaluation, club, club_member, applicant
):
    evaluation = collective_evaluation()
    parts.partner_report_mark_missing(
        actor=applicant, evaluation=evaluation, organisation=club, reason="Pas de nouvelles."
    )
    report = _file(evaluation, club_member, club)
    assert report.state == "filed" and report.missing_reason == ""
    with pytest.raises(TransitionNotAllowed):
        parts.partner_report_mark_missing(
            actor=applicant, evaluation=evaluation, organisation=club, reason="Oubli"
        )


def test_only_the_partners_own_members_file_its_part(
    collective_evaluation, club, applicant, other_applicant
):
    evaluation = collective_evaluation()
    for outsider in (applicant, other_applicant):
        with pytest.raises(PermissionDenied):
            _file(evaluation, outsider, club)
    # An organisation that is not a partner of the file has no part to file.
    stranger = f.OrganisationFactory()
    f.add_member(other_applicant, stranger)
    with pytest.raises(PermissionDenied):
        _file(evaluation, other_applicant, stranger)
    assert not PartnerReport.objects.exists()


def test_bad_input_is_refused_with_every_message_and_nothing_written(
    collective_evaluation, club, club_member
):
    evaluation = collective_evaluation()
    with pytest.raises(DomainError) as exc:
        _file(evaluation, club_member, club, activity_report=" ", spent_amount="-3")
    assert set(exc.value.errors) == {"activity_report", "spent_amount"}
    with pytest.raises(DomainError):
        _file(evaluation, club_member, club, spent_amount="12.345")
    assert not PartnerReport.objects.exists()
    assert not AuditLog.objects.filter(action__startswith="cpo.evaluation.partner").exists()


def test_after_a_rejection_the_partner_files_again(
    collective_evaluation, club, club_member, applicant, instructor
):
    evaluation = collective_evaluation()
    _file(evaluation, club_member, club)
    cpo_services.evaluation_submit(actor=applicant, evaluation=evaluation, **LEAD_FILING)
    cpo_services.evaluation_review(
        actor=instructor, evaluation=evaluation, outcome="reject", comment="Part du club floue."
    )
    # The partner hears of the review of the file it reported for.
    assert Notification.objects.filter(user=club_member, title__contains="Rejetée").exists()
    again = _file(evaluation, club_member, club, spent_amount="800.00")
    assert again.spent_amount == Decimal("800.00")
    assert AuditLog.objects.filter(action="cpo.evaluation.partner_report_filed").count() == 2


def test_paid_to_the_lead_the_share_is_the_year_split_by_approved_parts(
    collective_evaluation, club
):
    evaluation = collective_evaluation(PaymentFlow.LEAD)
    (part,) = partner_parts(evaluation)
    # 4 000 € this year, the club's 1 600 € of 8 000 € approved: 800 €.
    assert part.share == Decimal("800.00")


class TestPage:
    def url(self, evaluation):
        return reverse(
            "cpo:evaluation_detail", args=[evaluation.agreement_id, evaluation.fiscal_year]
        )

    def test_the_partner_files_its_part_from_the_page(
        self, client, collective_evaluation, club, club_member
    ):
        evaluation = collective_evaluation()
        client.force_login(club_member)
        page = client.get(self.url(evaluation))
        assert page.status_code == 200
        assert 'id="partner-report-form"' in page.text
        assert 'id="evaluation-form"' not in page.text  # the lead's form is the lead's
        bad = client.post(self.url(evaluation), {"action": "partner_report", "spent_amount": "x"})
        assert bad.status_code == 400
        assert "Décrivez l&#x27;activité" in bad.text
        done = client.post(
            self.url(evaluation),
            {
                "action": "partner_report",
                "activity_report": "Tournois",
                "figures": "",
                "spent_amount": "1 200,00",
            },
        )
        assert done.status_code == 302
        assert PartnerReport.objects.get().spent_amount == Decimal("1200.00")
        # The partner finds the evaluation in its list.
        listing = client.get(reverse("cpo:evaluation_list"))
        assert self.url(evaluation) in listing.text

    def test_the_lead_declares_a_part_missing_and_the_instructor_reads_the_parts(
        self, client, collective_evaluation, club, applicant, instructor
    ):
        evaluation = collective_evaluation()
        client.force_login(applicant)
        page = client.get(self.url(evaluation))
        assert f'id="missing-{club.pk}"' in page.text
        refused = client.post(
            self.url(evaluation),
            {"action": "partner_missing", "organisation": club.pk, "reason": ""},
        )
        assert refused.status_code == 400
        client.post(
            self.url(evaluation),
            {"action": "partner_missing", "organisation": club.pk, "reason": "Club dissous."},
        )
        assert PartnerReport.objects.get().state == "missing"
        client.force_login(instructor)
        page = client.get(self.url(evaluation))
        assert 'id="partner-parts"' in page.text and "Club dissous." in page.text
        assert 'id="partner-report-form"' not in page.text

    def test_a_partner_cannot_declare_parts_missing(
        self, client, collective_evaluation, club, club_member
    ):
        evaluation = collective_evaluation()
        client.force_login(club_member)
        response = client.post(
            self.url(evaluation),
            {"action": "partner_missing", "organisation": club.pk, "reason": "x"},
        )
        assert response.status_code == 403
        assert not PartnerReport.objects.exists()
