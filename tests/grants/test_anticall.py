"""Anti-call: sourcing, invitation, prototyping with its deadlines, and funding without re-typing."""

from __future__ import annotations

import datetime
from decimal import Decimal
from unittest import mock

import pytest
import time_machine
from django.core import mail

from calls.models import Need
from calls.services import need_publish, need_record
from core.errors import DomainError, PermissionDenied, TransitionNotAllowed
from core.models import AuditLog, Notification
from grants.anticall import services as svc
from grants.models import Application, ApplicationState, Candidacy
from grants.models import CandidacyState as C

from .. import factories as f

pytestmark = pytest.mark.django_db


def put(candidacy: Candidacy, state: str) -> Candidacy:
    Candidacy.objects.filter(pk=candidacy.pk).update(state=state)
    return Candidacy.objects.get(pk=candidacy.pk)


@pytest.fixture
def need(db):
    return f.published_need()


@pytest.fixture
def candidacy(need, instructor, organisation):
    return svc.candidacy_source(
        actor=instructor, need=need, organisation=organisation, why="Déjà active le soir"
    )


def test_needs_are_recorded_by_partners_and_published_by_the_manager(
    committee_member, manager, applicant
):
    call, qpv = f.anti_call(), f.QPVFactory()
    with pytest.raises(PermissionDenied):
        need_record(actor=applicant, call=call, qpv=qpv, title="x", description="y", raised_by="z")
    with pytest.raises(DomainError) as exc:
        need_record(
            actor=committee_member, call=call, qpv=qpv, title="", description="", raised_by="CAF"
        )
    assert set(exc.value.errors) == {"title", "description"}
    need = need_record(
        actor=committee_member,
        call=call,
        qpv=qpv,
        title="Cafards",
        description="Logements",
        raised_by="Bailleur",
    )
    with pytest.raises(PermissionDenied):
        need_publish(actor=committee_member, need=need)
    need = need_publish(actor=manager, need=need)
    assert need.state == Need.State.PUBLISHED
    assert need_publish(actor=manager, need=need).published_at == need.published_at


def test_sourcing_a_structure_without_account(need, instructor):
    with pytest.raises(DomainError) as exc:
        svc.candidacy_source(
            actor=instructor, need=need, siret="12345678901234", email="pas-un-email"
        )
    assert {"siret", "email"} <= set(exc.value.errors)
    with pytest.raises(DomainError):
        svc.candidacy_source(actor=instructor, need=need)
    candidacy = svc.candidacy_source(
        actor=instructor, need=need, name="Les Jardins du Nord", email="contact@jardins.example.org"
    )
    assert candidacy.state == C.SOURCED and candidacy.organisation is None
    mail.outbox.clear()
    with mock.patch("django.db.transaction.on_commit", side_effect=lambda fn: fn()):
        svc.candidacy_invite(actor=instructor, candidacy=candidacy, message="Venez prototyper !")
    assert mail.outbox[0].to == ["contact@jardins.example.org"]
    assert "/inscription/" in mail.outbox[0].body
    html, mimetype = mail.outbox[0].alternatives[0]  # an HTML part, its link clickable
    assert mimetype == "text/html" and '/inscription/" ' in html and "Venez prototyper" in html


def test_unpublished_need_cannot_be_sourced(instructor, organisation):
    need = f.published_need()
    Need.objects.filter(pk=need.pk).update(state=Need.State.RECORDED)
    with pytest.raises(DomainError):
        svc.candidacy_source(
            actor=instructor, need=Need.objects.get(pk=need.pk), organisation=organisation
        )


def test_prospect_accepts_once_its_organisation_exists(need, instructor, applicant, organisation):
    candidacy = svc.candidacy_source(actor=instructor, need=need, email=applicant.email)
    candidacy = svc.candidacy_invite(actor=instructor, candidacy=candidacy)
    other = f.UserFactory()
    f.add_member(other, f.OrganisationFactory())
    with pytest.raises(PermissionDenied):
        svc.candidacy_accept(
            actor=other, candidacy=candidacy, organisation=other.organisations.get()
        )
    candidacy = svc.candidacy_accept(
        actor=applicant, candidacy=candidacy, organisation=organisation
    )
    assert candidacy.state == C.ACCEPTED and candidacy.organisation == organisation


def test_full_path_to_funding_creates_an_approved_application(
    candidacy, instructor, applicant, manager, organisation
):
    candidacy = svc.candidacy_invite(actor=instructor, candidacy=candidacy)
    candidacy = svc.candidacy_accept(
        actor=applicant, candidacy=candidacy, organisation=organisation
    )
    candidacy = svc.candidacy_start_prototyping(
        actor=instructor, candidacy=candidacy, start=datetime.date(2026, 3, 2)
    )
    assert candidacy.prototype_deadline == datetime.date(2026, 3, 17)  # 15 days by default
    svc.coaching_log(
        actor=instructor,
        candidacy=candidacy,
        date=datetime.date(2026, 3, 3),
        kind="support",
        support="engineering",
        notes="Montage budgétaire",
        cost=Decimal("800"),
    )
    with pytest.raises(DomainError) as exc:
        svc.coaching_log(
            actor=instructor,
            candidacy=candidacy,
            date=datetime.date(2026, 3, 3),
            kind="support",
            notes="",
        )
    assert {"support", "notes"} <= set(exc.value.errors)
    svc.deliverable_add(
        actor=applicant, candidacy=candidacy, title="Ouverture test du local trois soirs"
    )
    candidacy = svc.candidacy_present(
        actor=instructor, candidacy=candidacy, summary="45 jeunes accueillis"
    )
    with pytest.raises(PermissionDenied):
        svc.candidacy_fund(actor=instructor, candidacy=candidacy, amount=Decimal("30000"))
    foundation = f.FunderFactory(name="Fondation Quartiers Solidaires")
    candidacy = svc.candidacy_fund(
        actor=manager,
        candidacy=candidacy,
        amount=Decimal("30000"),
        cofunder=foundation,
        is_multi_year=True,
        duration_years=3,
        reason="Prototype concluant",
    )
    app = candidacy.application
    assert candidacy.state == C.FUNDED
    assert app.state == ApplicationState.APPROVED and app.approved_amount == Decimal("30000")
    assert app.organisation == organisation and app.cofunder == foundation and app.is_multi_year
    assert app.title == candidacy.need.title and "45 jeunes accueillis" in app.summary
    assert [o.text for o in app.objectives.all()] == ["Ouverture test du local trois soirs"]
    assert list(app.qpvs.all()) == [candidacy.need.qpv]
    assert AuditLog.objects.filter(
        action="grants.candidacy.funded", object_id=str(candidacy.pk)
    ).exists()
    assert Notification.objects.filter(user=applicant, title__contains="financé").exists()


def test_funding_counts_against_the_envelope_unless_cofunded(candidacy, manager):
    candidacy = put(candidacy, C.PRESENTED)
    over = Decimal("200000.01")
    with pytest.raises(DomainError) as exc:
        svc.candidacy_fund(actor=manager, candidacy=candidacy, amount=over)
    assert exc.value.code == "envelope_exceeded"
    assert Candidacy.objects.get(pk=candidacy.pk).state == C.PRESENTED
    assert not Application.objects.exists()
    funded = svc.candidacy_fund(
        actor=manager, candidacy=candidacy, amount=over, cofunder=f.FunderFactory()
    )
    assert funded.state == C.FUNDED
    assert not AuditLog.objects.filter(action="grants.application.envelope_overridden").exists()


def test_funding_beyond_the_envelope_is_audited_with_its_reason(candidacy, manager):
    candidacy = put(candidacy, C.PRESENTED)
    funded = svc.candidacy_fund(
        actor=manager,
        candidacy=candidacy,
        amount=Decimal("200000.01"),
        envelope_override_reason="Urgence",
    )
    row = AuditLog.objects.get(action="grants.application.envelope_overridden")
    assert (row.object_id, row.reason, row.payload["overrun"]) == (
        str(funded.application_id),
        "Urgence",
        "0.01",
    )


TRANSITIONS = {
    "invite": (
        [C.SOURCED],
        C.INVITED,
        lambda c, u: svc.candidacy_invite(actor=u["instructor"], candidacy=c),
    ),
    "accept": (
        [C.INVITED],
        C.ACCEPTED,
        lambda c, u: svc.candidacy_accept(
            actor=u["applicant"], candidacy=c, organisation=c.organisation
        ),
    ),
    "decline": (
        [C.INVITED],
        C.DECLINED,
        lambda c, u: svc.candidacy_decline(actor=u["applicant"], candidacy=c),
    ),
    "start_prototyping": (
        [C.ACCEPTED],
        C.PROTOTYPING,
        lambda c, u: svc.candidacy_start_prototyping(actor=u["instructor"], candidacy=c),
    ),
    "present": (
        [C.PROTOTYPING],
        C.PRESENTED,
        lambda c, u: svc.candidacy_present(actor=u["instructor"], candidacy=c),
    ),
    "fund": (
        [C.PRESENTED],
        C.FUNDED,
        lambda c, u: svc.candidacy_fund(actor=u["manager"], candidacy=c, amount=Decimal("1000")),
    ),
    "not_fund": (
        [C.PRESENTED],
        C.NOT_FUNDED,
        lambda c, u: svc.candidacy_not_fund(
            actor=u["manager"], candidacy=c, reason="Pas concluant"
        ),
    ),
    "abandon": (
        [C.SOURCED, C.INVITED, C.ACCEPTED, C.PROTOTYPING, C.PRESENTED],
        C.ABANDONED,
        lambda c, u: svc.candidacy_abandon(
            actor=u["instructor"], candidacy=c, reason="Structure dissoute"
        ),
    ),
}


@pytest.fixture
def users(instructor, applicant, manager):
    return {"instructor": instructor, "applicant": applicant, "manager": manager}


@pytest.mark.parametrize(
    ("name", "source"), [(n, s) for n, (src, _t, _f) in TRANSITIONS.items() for s in src]
)
def test_candidacy_transition_allowed_and_audited(name, source, candidacy, users):
    _sources, target, run = TRANSITIONS[name]
    candidacy = put(candidacy, source)
    assert run(candidacy, users).state == target
    assert AuditLog.objects.filter(
        object_id=str(candidacy.pk), source_state=source, target_state=target
    ).exists()


@pytest.mark.parametrize(
    ("name", "source"),
    [
        (n, s)
        for n, (src, t, _f) in TRANSITIONS.items()
        for s in C.values
        if s not in src and s != t
    ],
)
def test_candidacy_transition_refused_from_wrong_state(name, source, candidacy, users):
    _sources, _target, run = TRANSITIONS[name]
    candidacy = put(candidacy, source)
    with pytest.raises(TransitionNotAllowed):
        run(candidacy, users)
    assert Candidacy.objects.get(pk=candidacy.pk).state == source


@pytest.mark.parametrize("name", list(TRANSITIONS))
def test_candidacy_failure_rolls_back(name, candidacy, users):
    sources, _target, run = TRANSITIONS[name]
    candidacy = put(candidacy, sources[0])
    with (
        mock.patch("core.fsm.audit_log", side_effect=RuntimeError("boom")),
        pytest.raises(RuntimeError),
    ):
        run(candidacy, users)
    assert Candidacy.objects.get(pk=candidacy.pk).state == sources[0]
    assert not Application.objects.exists()


def test_deadline_reminder_and_overdue_flag_are_idempotent(candidacy, instructor, applicant):
    candidacy = put(candidacy, C.ACCEPTED)
    svc.candidacy_start_prototyping(
        actor=instructor, candidacy=candidacy, start=datetime.date(2026, 5, 1)
    )
    tz = datetime.UTC
    with time_machine.travel(
        datetime.datetime(2026, 5, 12, 8, tzinfo=tz)
    ):  # 4 days before the 16th
        assert svc.candidacies_prototyping_deadlines() == {"reminded": 0, "overdue": 0}
    with time_machine.travel(datetime.datetime(2026, 5, 13, 8, tzinfo=tz)):  # 3 days before
        assert svc.candidacies_prototyping_deadlines() == {"reminded": 1, "overdue": 0}
        assert svc.candidacies_prototyping_deadlines() == {"reminded": 0, "overdue": 0}
    with time_machine.travel(
        datetime.datetime(2026, 5, 16, 8, tzinfo=tz)
    ):  # the deadline day itself
        assert svc.candidacies_prototyping_deadlines()["overdue"] == 0
    with time_machine.travel(datetime.datetime(2026, 5, 17, 8, tzinfo=tz)):
        assert svc.candidacies_prototyping_deadlines() == {"reminded": 0, "overdue": 1}
        assert svc.candidacies_prototyping_deadlines() == {"reminded": 0, "overdue": 0}
    assert (
        Notification.objects.filter(user=applicant, title__contains="Fin du prototypage").count()
        == 1
    )
    assert Candidacy.objects.get(pk=candidacy.pk).is_overdue


def test_prototyping_notification_is_in_the_structures_language(
    settings, candidacy, instructor, applicant, django_capture_on_commit_callbacks
):
    """Issue 16: anti-call notifications are rendered in the recipient's language."""
    settings.SITE_URL = "https://pluriel.example.org"
    applicant.language = "en"
    applicant.save(update_fields=["language"])
    candidacy = put(candidacy, C.ACCEPTED)
    with django_capture_on_commit_callbacks(execute=True):
        svc.candidacy_start_prototyping(
            actor=instructor, candidacy=candidacy, start=datetime.date(2026, 5, 1)
        )
    row = Notification.objects.get(user=applicant)
    assert row.title == "Prototyping begins"
    assert row.body == "Prototyping ends on 16/05/2026."
    (email,) = [m for m in mail.outbox if m.to == [applicant.email]]
    assert email.subject == "[Pluriel] Prototyping begins"
    assert f"https://pluriel.example.org/anti-appels/structures/{candidacy.pk}/" in email.body
