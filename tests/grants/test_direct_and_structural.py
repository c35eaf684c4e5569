"""Direct awards (hors appel) and structural support (3–5 years)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from calls.models import CallMode
from core.errors import DomainError, PermissionDenied, TransitionNotAllowed
from core.models import AuditLog
from grants.direct import services as svc
from grants.models import Application, ApplicationKind
from grants.models import ApplicationState as S

from .. import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def programme(db):
    return f.ProgrammeFactory(envelope=Decimal("20000.00"))


def open_award(actor, organisation, programme, amount="8000.00"):
    return svc.direct_award_open(
        actor=actor,
        organisation=organisation,
        programme=programme,
        title="Été solidaire",
        summary="Sorties pour les enfants restés au quartier",
        requested_amount=Decimal(amount),
        urgency_reason="Programme d'été post-confinement",
        data={"qpvs": [f.QPVFactory()]},
    )


def test_instructor_opens_and_files_on_behalf(instructor, organisation, programme, applicant):
    with pytest.raises(PermissionDenied):
        open_award(applicant, organisation, programme)
    with pytest.raises(DomainError) as exc:
        svc.direct_award_open(
            actor=instructor,
            organisation=organisation,
            programme=programme,
            title="",
            summary="",
            requested_amount=Decimal("0"),
            urgency_reason="",
        )
    assert {"title", "summary", "requested_amount", "urgency_reason"} <= set(exc.value.errors)
    app = open_award(instructor, organisation, programme)
    assert (
        app.state == S.SUBMITTED and app.kind == ApplicationKind.DIRECT_AWARD and app.call is None
    )
    assert app.reference.startswith("HA-2026-")
    assert (
        AuditLog.objects.get(object_id=str(app.pk), action="grants.application.submitted").reason
        == "Programme d'été post-confinement"
    )


def test_manager_decides_on_the_fast_path_against_the_programme_envelope(
    instructor, manager, organisation, programme
):
    first = open_award(instructor, organisation, programme, "15000.00")
    second = open_award(instructor, organisation, programme, "8000.00")
    with pytest.raises(PermissionDenied):
        svc.direct_award_decide(
            actor=instructor, application=first, approve=True, amount=Decimal("15000")
        )
    svc.direct_award_decide(
        actor=manager, application=first, approve=True, amount=Decimal("15000.00")
    )
    with pytest.raises(DomainError) as exc:
        svc.direct_award_decide(
            actor=manager, application=second, approve=True, amount=Decimal("8000.00")
        )
    assert exc.value.code == "envelope_exceeded"
    app = svc.direct_award_decide(
        actor=manager,
        application=second,
        approve=True,
        amount=Decimal("8000.00"),
        envelope_override_reason="Canicule",
    )
    assert app.state == S.APPROVED and app.envelope_override_reason == "Canicule"


def test_fast_path_is_only_for_direct_awards(manager, draft):
    Application.objects.filter(pk=draft.pk).update(state=S.SUBMITTED)
    with pytest.raises(TransitionNotAllowed):
        svc.direct_award_decide(
            actor=manager,
            application=Application.objects.get(pk=draft.pk),
            approve=True,
            amount=Decimal("100"),
        )


def test_refusal_needs_a_reason(instructor, manager, organisation, programme):
    app = open_award(instructor, organisation, programme)
    with pytest.raises(DomainError):
        svc.direct_award_decide(actor=manager, application=app, approve=False, reason="")
    assert (
        svc.direct_award_decide(
            actor=manager, application=app, approve=False, reason="Financé par ailleurs"
        ).state
        == S.REJECTED
    )


def test_structural_support_years(applicant, organisation):
    call = f.CallFactory(mode=CallMode.STRUCTURAL_SUPPORT, multi_year_allowed=True)
    app = f.ApplicationFactory(
        call=call, organisation=organisation, kind=ApplicationKind.STRUCTURAL_SUPPORT
    )
    with pytest.raises(DomainError):  # two years only
        svc.application_set_years(
            actor=applicant,
            application=app,
            years=[
                {"fiscal_year": 2026, "amount": "10000"},
                {"fiscal_year": 2027, "amount": "10000"},
            ],
        )
    with pytest.raises(DomainError):  # a gap
        svc.application_set_years(
            actor=applicant,
            application=app,
            years=[
                {"fiscal_year": 2026, "amount": "1"},
                {"fiscal_year": 2027, "amount": "1"},
                {"fiscal_year": 2029, "amount": "1"},
            ],
        )
    svc.application_set_years(
        actor=applicant,
        application=app,
        years=[
            {"fiscal_year": y, "amount": a}
            for y, a in ((2026, "30000"), (2027, "32000"), (2028, "34000"))
        ],
    )
    app = Application.objects.get(pk=app.pk)
    assert (
        app.requested_amount == Decimal("96000")
        and app.duration_years == 3
        and app.wants_multi_year
    )


def test_multi_year_share(programme, organisation):
    for multi in (True, False, False, True):
        app = f.ApplicationFactory(call=f.CallFactory(programme=programme))
        Application.objects.filter(pk=app.pk).update(
            state=S.APPROVED, is_multi_year=multi, approved_amount=Decimal("100")
        )
    share = svc.multi_year_share(programme)
    assert share == {"supported": 4, "multi_year": 2, "share": Decimal("50.0")}


def test_structural_approval_records_each_year(applicant, committee_member, organisation):
    call = f.CallFactory(
        mode=CallMode.STRUCTURAL_SUPPORT,
        multi_year_allowed=True,
        envelope=Decimal("500000"),
        max_amount=None,
        max_share_percent=None,
    )
    app = f.ApplicationFactory(
        call=call, organisation=organisation, kind=ApplicationKind.STRUCTURAL_SUPPORT
    )
    svc.application_set_years(
        actor=applicant,
        application=app,
        years=[
            {"fiscal_year": y, "amount": a}
            for y, a in ((2026, "30000"), (2027, "30000"), (2028, "40000"))
        ],
    )
    Application.objects.filter(pk=app.pk).update(state=S.IN_COMMITTEE)
    f.open_session_for(app, chair=committee_member)
    app = Application.objects.get(pk=app.pk)
    from grants import services

    with pytest.raises(DomainError):  # the years must add up to the approval
        services.application_approve(
            actor=committee_member,
            application=app,
            amount=Decimal("90000"),
            yearly_amounts={2026: 30000, 2027: 30000, 2028: 20000},
        )
    app = services.application_approve(
        actor=committee_member, application=app, amount=Decimal("90000")
    )
    assert app.is_multi_year
    assert [(y.fiscal_year, y.approved_amount) for y in app.years.all()] == [
        (2026, Decimal("27000.00")),
        (2027, Decimal("27000.00")),
        (2028, Decimal("36000.00")),
    ]


def test_direct_award_transitions_run_through_the_registry(
    instructor, manager, organisation, programme
):
    from grants import services

    app = open_award(instructor, organisation, programme)
    names = [t.name for t in services.available_transitions(actor=manager, application=app)]
    assert "award_directly" in names and "refuse_directly" in names
    assert "award_directly" not in [
        t.name for t in services.available_transitions(actor=instructor, application=app)
    ]
    app = services.run_transition(
        name="award_directly",
        actor=manager,
        application=app,
        data={"amount": Decimal("5000.00"), "reason": "Urgence"},
    )
    assert app.state == S.APPROVED


def test_managers_hear_of_a_direct_award_in_their_language(
    settings, instructor, manager, organisation, programme, django_capture_on_commit_callbacks
):
    """Issue 16: the programme manager's notification is rendered in the manager's language."""
    from django.core import mail

    from core.models import Notification

    settings.SITE_URL = "https://pluriel.example.org"
    manager.language = "en"
    manager.save(update_fields=["language"])
    programme.managers.add(manager)
    with django_capture_on_commit_callbacks(execute=True):
        app = open_award(instructor, organisation, programme)
    row = Notification.objects.get(user=manager)
    assert row.title == f"Direct award to decide: {app.reference}"
    (email,) = [m for m in mail.outbox if m.to == [manager.email]]
    assert email.subject == f"[Pluriel] Direct award to decide: {app.reference}"
    assert f"https://pluriel.example.org/dossiers/{app.pk}/" in email.body
