"""Experience sheets and public profiles: prefill, the life of a sheet (each transition: allowed
source, forbidden source, audit row), consent for personal data."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.errors import DomainError, PermissionDenied, TransitionNotAllowed
from core.models import AuditLog
from cpo.models import Evaluation, EvaluationState
from directory import selectors, services
from directory.models import ExperienceSheet, SheetState

from .. import factories as f
from .conftest import COST

pytestmark = pytest.mark.django_db


def _actions(obj) -> list[str]:
    return list(
        AuditLog.objects.filter(object_id=str(obj.pk), action__startswith="directory.")
        .order_by("pk")
        .values_list("action", flat=True)
    )


def test_draft_is_prefilled_from_the_application_and_the_evaluation(sheet, evaluation):
    application = evaluation.agreement.application
    assert sheet.state == SheetState.DRAFT
    assert sheet.title == application.title
    assert sheet.results.startswith("120 jeunes accompagnés")
    assert [q.code for q in sheet.qpvs.all()] == ["QN01301M"]
    assert [t.code for t in sheet.themes.all()] == ["alimentation"]
    assert sheet.indicators == [
        {"label": "Jeunes accompagnés", "unit": "jeunes", "target": "40.00", "actual": "42.00"}
    ]
    # Cost: the actual charges of the financial report (60 and 64), not the products (74).
    assert sheet.cost == COST
    assert sheet.funding_amount == Decimal("30000.00")
    assert sheet.funding_kind == application.kind
    assert sheet.year == evaluation.fiscal_year
    assert sheet.contact_name == "" and not sheet.contact_consent
    assert _actions(sheet) == ["directory.sheet.drafted"]


def test_one_sheet_per_evaluation(sheet, applicant, evaluation):
    with pytest.raises(DomainError):
        services.sheet_draft(actor=applicant, evaluation=Evaluation.objects.get(pk=evaluation.pk))
    assert ExperienceSheet.objects.count() == 1


def test_an_evaluation_not_accepted_cannot_become_a_sheet(instructor, applicant, organisation):
    agreement = f.cpo_awaiting_evaluation(instructor=instructor, organisation=organisation)
    evaluation = agreement.evaluations.first()
    assert evaluation.state == EvaluationState.EXPECTED
    with pytest.raises(DomainError):
        services.sheet_draft(actor=applicant, evaluation=evaluation)
    assert not ExperienceSheet.objects.exists()


def test_another_organisation_cannot_draft(evaluation, other_applicant):
    with pytest.raises(DomainError) as exc:
        services.sheet_draft(actor=other_applicant, evaluation=evaluation)
    assert exc.value.code == "not_found"


def test_contact_needs_consent(sheet, applicant):
    with pytest.raises(DomainError) as exc:
        services.sheet_update(
            actor=applicant, sheet=sheet, contact_name="Awa Diallo", contact_email="awa@x.org"
        )
    assert "contact_consent" in exc.value.errors
    sheet = ExperienceSheet.objects.get(pk=sheet.pk)
    assert sheet.contact_name == ""
    services.sheet_update(
        actor=applicant,
        sheet=sheet,
        contact_name="Awa Diallo",
        contact_email="awa@x.org",
        contact_consent=True,
    )
    sheet = ExperienceSheet.objects.get(pk=sheet.pk)
    assert sheet.contact_name == "Awa Diallo"
    # Withdrawing consent erases the contact.
    services.sheet_update(actor=applicant, sheet=sheet, contact_consent=False)
    sheet = ExperienceSheet.objects.get(pk=sheet.pk)
    assert (sheet.contact_name, sheet.contact_email) == ("", "")


def test_update_writes_what_changed(sheet, applicant):
    qpv = f.QPVFactory(code="QN01302M", name="Encagnane")
    services.sheet_update(
        actor=applicant, sheet=sheet, audience="Jeunes de 16 à 25 ans", qpvs=[qpv]
    )
    sheet = ExperienceSheet.objects.get(pk=sheet.pk)
    assert sheet.audience == "Jeunes de 16 à 25 ans"
    assert [q.code for q in sheet.qpvs.all()] == ["QN01302M"]
    row = AuditLog.objects.filter(action="directory.sheet.updated").get()
    assert row.payload["changed"] == ["audience", "qpvs"]
    with pytest.raises(DomainError):
        services.sheet_update(actor=applicant, sheet=sheet, state="published")
    with pytest.raises(DomainError):
        services.sheet_update(actor=applicant, sheet=sheet, cost=Decimal("-1"))


def test_submit_publish_and_audit(sheet, applicant, instructor):
    services.sheet_submit(actor=applicant, sheet=sheet)
    sheet = ExperienceSheet.objects.get(pk=sheet.pk)
    assert sheet.state == SheetState.SUBMITTED
    # The organisation can no longer edit a submitted sheet, nor publish it.
    with pytest.raises(PermissionDenied):
        services.sheet_update(actor=applicant, sheet=sheet, title="Autre")
    with pytest.raises(PermissionDenied):
        services.sheet_publish(actor=applicant, sheet=sheet)
    services.sheet_publish(actor=instructor, sheet=sheet)
    sheet = ExperienceSheet.objects.get(pk=sheet.pk)
    assert sheet.state == SheetState.PUBLISHED and sheet.published_at is not None
    assert _actions(sheet) == [
        "directory.sheet.drafted",
        "directory.sheet.submitted",
        "directory.sheet.published",
    ]
    assert list(selectors.published_sheets()) == [sheet]


def test_publish_from_draft_is_refused(sheet, instructor):
    with pytest.raises(TransitionNotAllowed):
        services.sheet_publish(actor=instructor, sheet=sheet)
    sheet = ExperienceSheet.objects.get(pk=sheet.pk)
    assert sheet.state == SheetState.DRAFT and sheet.published_at is None


def test_an_incomplete_sheet_cannot_be_submitted(sheet, applicant):
    services.sheet_update(actor=applicant, sheet=sheet, results="", qpvs=[], place="")
    with pytest.raises(DomainError) as exc:
        services.sheet_submit(actor=applicant, sheet=sheet)
    assert {"results", "qpvs"} <= set(exc.value.errors)
    sheet = ExperienceSheet.objects.get(pk=sheet.pk)
    assert sheet.state == SheetState.DRAFT


def test_return_then_resubmit(sheet, applicant, instructor):
    services.sheet_submit(actor=applicant, sheet=sheet)
    with pytest.raises(DomainError):
        services.sheet_return(actor=instructor, sheet=sheet, reason=" ")
    services.sheet_return(actor=instructor, sheet=sheet, reason="Précisez le coût par jeune.")
    sheet = ExperienceSheet.objects.get(pk=sheet.pk)
    assert sheet.state == SheetState.RETURNED
    assert sheet.return_reason == "Précisez le coût par jeune."
    services.sheet_update(actor=applicant, sheet=sheet, lessons="Coût : 740 € par jeune.")
    services.sheet_submit(actor=applicant, sheet=sheet)
    sheet = ExperienceSheet.objects.get(pk=sheet.pk)
    assert sheet.state == SheetState.SUBMITTED
    row = AuditLog.objects.get(action="directory.sheet.returned")
    assert (row.source_state, row.target_state) == ("submitted", "returned")


def test_withdraw_a_published_sheet(published, instructor):
    services.sheet_return(actor=instructor, sheet=published, reason="Consentement retiré.")
    published = ExperienceSheet.objects.get(pk=published.pk)
    assert published.state == SheetState.RETURNED and published.published_at is None
    assert not selectors.published_sheets().exists()
    assert "directory.sheet.withdrawn" in _actions(published)


def test_a_failure_after_the_transition_rolls_back(sheet, applicant, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("audit down")

    monkeypatch.setattr("core.fsm.audit_log", broken)
    with pytest.raises(RuntimeError):
        services.sheet_submit(actor=applicant, sheet=sheet)
    sheet = ExperienceSheet.objects.get(pk=sheet.pk)
    assert sheet.state == SheetState.DRAFT


# --------------------------------------------------------------------------- profiles


def test_only_the_organisation_admin_opts_in(organisation, applicant, instructor):
    member = f.UserFactory(email="membre@asso.example.org")
    f.add_member(member, organisation, is_admin=False)
    for actor in (member, instructor):
        with pytest.raises(PermissionDenied):
            services.profile_update(
                actor=actor, organisation=organisation, is_listed=True, presentation="x"
            )
    profile = services.profile_update(
        actor=applicant,
        organisation=organisation,
        is_listed=True,
        presentation="Soutien scolaire et insertion des jeunes.",
    )
    assert profile.is_listed and profile.listed_at is not None
    assert list(selectors.listed_actors()) == [organisation]
    assert AuditLog.objects.filter(action="directory.profile.listed").count() == 1


def test_public_contact_needs_consent(organisation, applicant):
    with pytest.raises(DomainError) as exc:
        services.profile_update(
            actor=applicant,
            organisation=organisation,
            is_listed=True,
            presentation="Asso",
            public_email="contact@asso.example.org",
        )
    assert "contact_consent" in exc.value.errors
    assert not selectors.listed_actors().exists()


def test_opting_out_hides_the_actor(organisation, applicant):
    services.profile_update(
        actor=applicant, organisation=organisation, is_listed=True, presentation="Asso"
    )
    services.profile_update(actor=applicant, organisation=organisation, is_listed=False)
    assert not selectors.listed_actors().exists()
    assert AuditLog.objects.filter(action="directory.profile.unlisted").count() == 1


def test_themes_and_neighbourhoods_come_from_funded_actions(evaluation, organisation):
    assert [q.code for q in selectors.actor_qpvs(organisation)] == ["QN01301M"]
    assert [t.code for t in selectors.actor_themes(organisation)] == ["alimentation"]
    assert selectors.actor_pillars(organisation).count() == 1


def test_search_actors_by_neighbourhood_and_theme(
    evaluation, organisation, applicant, instructor, other_applicant
):
    services.profile_update(
        actor=applicant, organisation=organisation, is_listed=True, presentation="Asso A"
    )
    other = other_applicant.organisations.get()
    encagnane = f.QPVFactory(code="QN01302M", name="Encagnane")
    from .conftest import accepted_evaluation

    accepted_evaluation(
        instructor=instructor,
        applicant=other_applicant,
        organisation=other,
        qpv=encagnane,
        theme=f.ThemeFactory(code="mobilite", label="Mobilité"),
    )
    services.profile_update(
        actor=other_applicant, organisation=other, is_listed=True, presentation="Asso B"
    )
    jas = evaluation.agreement.application.qpvs.get()
    assert list(selectors.search_actors(qpv=jas)) == [organisation]
    assert list(selectors.search_actors(qpv=encagnane)) == [other]
    mobility = other.applications.get().themes.get()
    assert list(selectors.search_actors(theme=mobility)) == [other]
    assert list(selectors.search_actors(text="Asso B")) == [other]
    assert set(selectors.search_actors()) == {organisation, other}


def test_actors_nearby_share_a_neighbourhood(
    evaluation, organisation, applicant, instructor, other_applicant
):
    services.profile_update(
        actor=applicant, organisation=organisation, is_listed=True, presentation="Asso A"
    )
    other = other_applicant.organisations.get()
    from .conftest import accepted_evaluation

    accepted_evaluation(
        instructor=instructor,
        applicant=other_applicant,
        organisation=other,
        qpv=evaluation.agreement.application.qpvs.get(),
    )
    assert selectors.actors_nearby(organisation) == []  # the other one is not listed
    services.profile_update(
        actor=other_applicant, organisation=other, is_listed=True, presentation="Asso B"
    )
    nearby = selectors.actors_nearby(organisation)
    assert [(n.organisation, n.shared_qpvs) for n in nearby] == [(other, 1)]
