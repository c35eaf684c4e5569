"""Rules of the classic call: eligibility, envelope guard, completion requests, renewal, assignment,
and the permission matrix of every transition by role, on own and foreign files."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.core import mail

from calls.models import Call, CallState
from calls.services import calls_advance_by_dates
from core.errors import DomainError, PermissionDenied, TransitionNotAllowed
from core.models import AuditLog, DocumentKind, Notification, OrganisationDocument, Role
from grants import services
from grants.eligibility import eligibility_errors
from grants.models import (
    Application,
    AssignmentRule,
    BudgetItem,
    CommitteeSession,
    CompletionRequest,
)
from grants.models import ApplicationState as S
from grants.selectors import applications_visible_to, similar_applications

from .. import factories as f
from .test_transitions import TRANSITIONS, inputs, put

pytestmark = pytest.mark.django_db


def in_committee(app: Application, amount="10000.00", chair=None) -> Application:
    """The file in committee; with `chair`, on an open session of today that `chair` chairs."""
    app = put(app, S.IN_COMMITTEE)
    Application.objects.filter(pk=app.pk).update(proposed_amount=Decimal(amount))
    if chair is not None:
        f.open_session_for(app, chair=chair)
    return Application.objects.get(pk=app.pk)


class TestEligibility:
    def test_complete_draft_is_eligible(self, draft):
        assert eligibility_errors(draft) == {}

    def test_unbalanced_budget_is_refused_with_totals(self, draft, applicant):
        BudgetItem.objects.filter(application=draft, account="64").update(
            amount=Decimal("16000.00")
        )
        with pytest.raises(DomainError) as exc:
            services.application_submit(actor=applicant, application=draft)
        assert "budget" in exc.value.errors
        assert "n'est pas équilibré" in str(exc.value.errors["budget"][0])
        assert Application.objects.get(pk=draft.pk).state == S.DRAFT

    def test_amount_above_call_maximum(self, draft):
        draft.call.max_amount = Decimal("5000.00")
        draft.call.save()
        errors = eligibility_errors(Application.objects.get(pk=draft.pk))
        assert any("plafond" in m for m in errors["requested_amount"])

    def test_share_of_project_budget(self, draft):
        Call.objects.filter(pk=draft.call_id).update(max_share_percent=Decimal("40"))
        errors = eligibility_errors(Application.objects.get(pk=draft.pk))
        assert any("50,0 %" in m or "50.0 %" in m for m in errors["requested_amount"])

    def test_request_must_appear_in_account_74(self, draft):
        Application.objects.filter(pk=draft.pk).update(requested_amount=Decimal("12000.00"))
        errors = eligibility_errors(Application.objects.get(pk=draft.pk))
        assert any("compte 74" in m for m in errors["requested_amount"])

    def test_qpv_and_pillar_restrictions(self, draft):
        draft.call.eligible_qpvs.add(f.QPVFactory(code="QN99999Z"))
        draft.call.eligible_pillars.add(f.PillarFactory(code="other"))
        errors = eligibility_errors(draft)
        assert "qpvs" in errors and "pillar" in errors

    def test_closed_call(self, draft):
        Call.objects.filter(pk=draft.call_id).update(state=CallState.CLOSED)
        errors = eligibility_errors(Application.objects.get(pk=draft.pk))
        assert "call" in errors

    def test_required_documents_must_be_valid(self, draft, applicant):
        Call.objects.filter(pk=draft.call_id).update(required_documents=[DocumentKind.STATUTES])
        app = Application.objects.get(pk=draft.pk)
        assert "Statuts" in eligibility_errors(app)["documents"][0]
        OrganisationDocument.objects.create(
            organisation=app.organisation,
            kind=DocumentKind.STATUTES,
            file="documents/x.pdf",
            original_name="statuts.pdf",
            valid_until=datetime.date(2000, 1, 1),
        )
        assert "documents" in eligibility_errors(app)  # expired
        doc = OrganisationDocument.objects.create(
            organisation=app.organisation,
            kind=DocumentKind.STATUTES,
            file="documents/y.pdf",
            original_name="statuts.pdf",
        )
        assert "documents" not in eligibility_errors(app)
        app = services.application_submit(actor=applicant, application=app)
        assert list(app.documents.all()) == [doc]  # reused from the profile: tell us once


class TestDecisions:
    def test_amount_above_requested_refused(self, draft, committee_member):
        app = in_committee(draft, chair=committee_member)
        with pytest.raises(DomainError) as exc:
            services.application_approve(
                actor=committee_member, application=app, amount=Decimal("10000.01")
            )
        assert exc.value.field == "amount"
        assert Application.objects.get(pk=app.pk).state == S.IN_COMMITTEE

    def test_pending_completion_request_blocks_decision(self, draft, committee_member, instructor):
        app = in_committee(draft, chair=committee_member)
        CompletionRequest.objects.create(
            application=app,
            message="RIB",
            deadline=datetime.date(2030, 1, 1),
            requested_by=instructor,
        )
        with pytest.raises(TransitionNotAllowed):
            services.application_approve(
                actor=committee_member, application=app, amount=Decimal("5000")
            )
        with pytest.raises(TransitionNotAllowed):
            services.application_reject(actor=committee_member, application=app, reason="non")

    def test_envelope_guard_needs_reason_and_is_audited(
        self, committee_member, organisation, applicant
    ):
        call = f.CallFactory(envelope=Decimal("15000.00"))
        first = in_committee(
            f.ApplicationFactory(call=call, organisation=organisation), chair=committee_member
        )
        second = in_committee(
            f.ApplicationFactory(call=call, organisation=organisation), chair=committee_member
        )
        services.application_approve(
            actor=committee_member, application=first, amount=Decimal("10000.00")
        )
        with pytest.raises(DomainError) as exc:
            services.application_approve(
                actor=committee_member, application=second, amount=Decimal("6000.00")
            )
        assert exc.value.code == "envelope_exceeded"
        assert "1\xa0000,00 €" in str(exc.value.message)
        app = services.application_approve(
            actor=committee_member,
            application=second,
            amount=Decimal("6000.00"),
            envelope_override_reason="Urgence validée en comité",
        )
        assert app.state == S.APPROVED
        row = AuditLog.objects.get(
            action="grants.application.envelope_overridden", object_id=str(second.pk)
        )
        assert row.reason == "Urgence validée en comité"
        assert row.payload["overrun"] == "1000.00"

    def test_committee_decisions_are_all_or_nothing(self, manager, organisation):
        call = f.CallFactory()
        session = services.committee_session_create(
            actor=manager,
            programme=call.programme,
            title="Comité 1",
            date=datetime.date(2026, 6, 1),
            call=call,
        )
        ok = in_committee(f.ApplicationFactory(call=call, organisation=organisation))
        bad = in_committee(f.ApplicationFactory(call=call, organisation=organisation))
        Application.objects.filter(pk__in=[ok.pk, bad.pk]).update(committee_session=session)
        session = services.committee_session_open(
            actor=manager, session=session, chair=manager, present=[manager]
        )
        with pytest.raises(DomainError):
            services.committee_record_decisions(
                actor=manager,
                session=session,
                decisions=[
                    {"application": ok.pk, "decision": "approve", "amount": Decimal("9000")},
                    {"application": bad.pk, "decision": "approve", "amount": Decimal("99999")},
                ],
            )
        assert Application.objects.get(pk=ok.pk).state == S.IN_COMMITTEE
        done = services.committee_record_decisions(
            actor=manager,
            session=session,
            minutes="PV",
            decisions=[
                {
                    "application": ok.pk,
                    "decision": "approve",
                    "amount": Decimal("9000"),
                    "conditions": "Bilan à mi-parcours",
                },
                {"application": bad.pk, "decision": "reject", "reason": "Hors critères"},
            ],
        )
        assert [a.state for a in done] == [S.APPROVED, S.REJECTED]
        session = CommitteeSession.objects.get(pk=session.pk)
        assert session.state == "open" and session.minutes == "PV"
        session = services.committee_session_close(actor=manager, session=session)
        assert session.state == "closed" and session.closed_at is not None

    def test_reject_and_dismiss_need_a_reason(self, draft, committee_member, instructor):
        app = in_committee(draft, chair=committee_member)
        with pytest.raises(DomainError) as exc:
            services.application_reject(actor=committee_member, application=app, reason="  ")
        assert exc.value.field == "reason"
        with pytest.raises(DomainError):
            services.application_dismiss(actor=instructor, application=app, reason="")

    def test_reopen_clears_decision(self, draft, committee_member, manager):
        app = services.application_approve(
            actor=committee_member,
            application=in_committee(draft, chair=committee_member),
            amount=Decimal("7000"),
        )
        app = services.application_reopen(actor=manager, application=app, reason="Erreur de saisie")
        assert app.state == S.UNDER_REVIEW and app.approved_amount is None


class TestCompletion:
    def test_round_trip_and_notifications(self, draft, applicant, instructor):
        app = services.application_submit(actor=applicant, application=draft)
        mail.outbox.clear()
        with pytest.raises(DomainError):
            services.application_request_completion(
                actor=instructor, application=app, message="RIB", deadline=datetime.date(2000, 1, 1)
            )
        app = services.application_request_completion(
            actor=instructor,
            application=app,
            message="Joindre le RIB",
            deadline=datetime.date.today() + datetime.timedelta(days=10),
        )
        assert app.state == S.RETURNED
        assert Notification.objects.filter(user=applicant, title__contains=app.reference).exists()
        with pytest.raises(DomainError):
            services.application_resubmit(actor=applicant, application=app, answer="")
        app = services.application_resubmit(actor=applicant, application=app, answer="RIB joint")
        request = CompletionRequest.objects.get(application=app)
        assert request.answer == "RIB joint" and request.answered_by == applicant
        assert app.state == S.SUBMITTED

    def test_overdue_flag_is_idempotent(self, draft, instructor):
        CompletionRequest.objects.create(
            application=draft,
            message="x",
            deadline=datetime.date(2026, 1, 10),
            requested_by=instructor,
        )
        with time_machine.travel(datetime.datetime(2026, 1, 12, 9, tzinfo=datetime.UTC)):
            assert services.completion_requests_flag_overdue() == 1
            assert services.completion_requests_flag_overdue() == 0
        assert CompletionRequest.objects.get().is_overdue


class TestDraftingAndRenewal:
    def test_applicant_edits_draft_but_not_after_submission(self, draft, applicant):
        services.application_update(
            actor=applicant, application=draft, data={"title": "Nouveau titre"}
        )
        assert Application.objects.get(pk=draft.pk).title == "Nouveau titre"
        app = services.application_submit(
            actor=applicant, application=Application.objects.get(pk=draft.pk)
        )
        with pytest.raises(TransitionNotAllowed):
            services.application_update(
                actor=applicant, application=app, data={"title": "Trop tard"}
            )

    def test_invalid_budget_row_is_refused_whole(self, draft, applicant):
        with pytest.raises(DomainError) as exc:
            services.application_update(
                actor=applicant,
                application=draft,
                data={
                    "budget": [{"account": "60", "amount": "100"}, {"account": "99", "amount": "5"}]
                },
            )
        assert "Ligne 2" in str(exc.value.message)
        assert BudgetItem.objects.filter(application=draft).count() == 4

    def test_renewal_copies_everything(self, draft, applicant, organisation):
        draft.themes.add(f.ThemeFactory())
        new_call = f.CallFactory()
        renewed = services.application_renew(actor=applicant, previous=draft, call=new_call)
        assert renewed.previous == draft and renewed.state == S.DRAFT and renewed.call == new_call
        assert renewed.title == draft.title and renewed.requested_amount == draft.requested_amount
        assert set(renewed.qpvs.all()) == set(draft.qpvs.all())
        assert set(renewed.themes.all()) == set(draft.themes.all())
        assert [o.text for o in renewed.objectives.all()] == [
            o.text for o in draft.objectives.all()
        ]
        assert sorted(renewed.budget_items.values_list("account", "amount")) == sorted(
            draft.budget_items.values_list("account", "amount")
        )
        assert renewed.reference != draft.reference

    def test_similar_file_same_year_other_call(self, draft, applicant, organisation):
        services.application_submit(actor=applicant, application=draft)
        other = f.ApplicationFactory(
            organisation=organisation, call=f.CallFactory(programme=draft.programme)
        )
        assert list(similar_applications(other)) == [Application.objects.get(pk=draft.pk)]

    def test_references_are_sequential_per_prefix_and_year(self, applicant, organisation, call):
        a = services.application_create(
            actor=applicant, organisation=organisation, call=call, data={"title": "A"}
        )
        b = services.application_create(
            actor=applicant, organisation=organisation, call=call, data={"title": "B"}
        )
        assert (
            a.reference.startswith("AAP-2026-")
            and int(b.reference[-4:]) == int(a.reference[-4:]) + 1
        )

    def test_cannot_create_for_another_organisation(self, other_applicant, organisation, call):
        with pytest.raises(PermissionDenied):
            services.application_create(
                actor=other_applicant, organisation=organisation, call=call, data={}
            )


def test_auto_assignment_by_territory(draft, applicant, instructor):
    qpv = draft.qpvs.get()
    AssignmentRule.objects.create(
        qpv=f.QPVFactory(code="QN00000A"), instructor=f.UserFactory(), priority=1
    )
    AssignmentRule.objects.create(qpv=qpv, instructor=instructor, priority=5)
    app = services.application_submit(actor=applicant, application=draft)
    assert Application.objects.get(pk=app.pk).assigned_to == instructor


def test_calls_open_and_close_by_date_idempotently(manager):
    now = datetime.datetime(2026, 3, 1, 12, tzinfo=datetime.UTC)
    published = f.CallFactory(
        state=CallState.PUBLISHED,
        opens_at=now - datetime.timedelta(hours=1),
        closes_at=now + datetime.timedelta(days=5),
    )
    expired = f.CallFactory(
        state=CallState.OPEN,
        opens_at=now - datetime.timedelta(days=30),
        closes_at=now - datetime.timedelta(minutes=1),
    )
    with time_machine.travel(now):
        assert calls_advance_by_dates() == {"opened": 1, "closed": 1}
        assert calls_advance_by_dates() == {"opened": 0, "closed": 0}
    assert Call.objects.get(pk=published.pk).state == CallState.OPEN
    assert Call.objects.get(pk=expired.pk).state == CallState.CLOSED
    assert AuditLog.objects.filter(action="calls.call.closed", actor=None).count() == 1


# ------------------------------------------------------------------ permission matrix (services)

ROLES = [
    "applicant",
    "other_applicant",
    "instructor",
    "committee_member",
    "manager",
    "finance_officer",
    "auditor",
    "panel_member",
]
# Who may run each transition (on a file visible to them). Everyone else is refused.
MAY = {
    "submit": {"applicant"},
    "resubmit": {"applicant"},
    "withdraw": {"applicant"},
    "request_completion": {"instructor", "manager"},
    "declare_eligible": {"instructor", "manager"},
    "declare_ineligible": {"instructor", "manager"},
    "start_review": {"instructor", "manager"},
    "send_to_committee": {"instructor", "manager"},
    "dismiss": {"instructor", "manager"},
    "approve": {"committee_member", "manager"},
    "reject": {"committee_member", "manager"},
    "reopen": {"manager"},
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", list(TRANSITIONS))
def test_permission_matrix(role, name, request, draft):
    user = request.getfixturevalue(role)
    sources, target, _who = TRANSITIONS[name]
    app = put(draft, sources[0])
    if role in MAY[name]:
        if name in ("approve", "reject"):
            f.open_session_for(app, chair=user)  # decided in an open session, by its chair
        result = services.run_transition(name=name, actor=user, application=app, data=inputs(name))
        assert result.state == target
    else:
        with pytest.raises(PermissionDenied):
            services.run_transition(name=name, actor=user, application=app, data=inputs(name))
        assert Application.objects.get(pk=app.pk).state == sources[0]


def test_scoped_instructor_sees_only_their_territory(draft, applicant):
    services.application_submit(actor=applicant, application=draft)
    inside, outside = f.UserFactory(), f.UserFactory()
    f.give_role(inside, Role.INSTRUCTOR, territories=[draft.qpvs.get()])
    f.give_role(outside, Role.INSTRUCTOR, territories=[f.QPVFactory(code="QN77777B")])
    assert list(applications_visible_to(inside)) == [Application.objects.get(pk=draft.pk)]
    assert not applications_visible_to(outside).exists()
    app = Application.objects.get(pk=draft.pk)
    with pytest.raises(PermissionDenied):
        services.application_declare_eligible(actor=outside, application=app)
    assert services.application_declare_eligible(actor=inside, application=app).state == S.ELIGIBLE


def test_drafts_are_private_to_the_applicant(
    draft, instructor, auditor, other_applicant, applicant
):
    assert not applications_visible_to(instructor).exists()
    assert not applications_visible_to(auditor).exists()
    assert not applications_visible_to(other_applicant).exists()
    assert applications_visible_to(applicant).get() == draft


def test_email_leaves_only_after_commit(draft, applicant, django_capture_on_commit_callbacks):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.application_submit(actor=applicant, application=draft)
    assert mail.outbox == [] and callbacks
    for callback in callbacks:
        callback()
    assert [m.to for m in mail.outbox] == [[applicant.email]]
    assert draft.reference in mail.outbox[0].subject
