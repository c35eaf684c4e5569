"""Retention rules: declared in one registry (core and the apps above it), applied daily with an
audit row per rule, shown on the admin page; erasure requests through the same rules, refused
with the reason while a legal duty to keep the data applies; secret ballots stay unlinkable."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from axes.models import AccessFailureLog
from django.contrib.auth.hashers import is_password_usable
from django.urls import reverse

from core.clock import now
from core.errors import DomainError, PermissionDenied
from core.models import (
    AuditLog,
    BackgroundJob,
    ErasureRequest,
    Invitation,
    Notification,
    User,
)
from core.privacy.retention import rules
from core.privacy.services import (
    erasure_request_create,
    erasure_request_process,
    retention_apply,
)
from grants.models import Application, ApplicationState

from .. import factories as f
from ..grants.test_solutions import T0, setup, vote  # noqa: F401  (the call for solutions)

pytestmark = pytest.mark.django_db


def test_rules_are_declared_once_with_basis_duration_and_action():
    codes = [r.code for r in rules()]
    assert len(codes) == len(set(codes))
    assert {"core.login_failures", "core.inactive_accounts", "grants.drafts"} <= set(codes)
    for rule in rules():
        assert str(rule.data) and str(rule.duration) and str(rule.legal_basis) and str(rule.kept)
        assert rule.action in ("anonymise", "delete") and rule.days >= 0


def test_daily_run_deletes_and_anonymises_what_passed_its_term_and_audits_it(organisation):
    old = now() - datetime.timedelta(days=4 * 365)
    with time_machine.travel(old):
        AccessFailureLog.objects.create(username="x@example.org")
        stale = f.UserFactory(email="ancien@example.org", first_name="Ancien")
        stale_draft = f.ApplicationFactory(organisation=organisation)
    User.objects.filter(pk=stale.pk).update(last_login=old)
    Application.objects.filter(pk=stale_draft.pk).update(updated_at=old)
    recent_failure = AccessFailureLog.objects.create(username="y@example.org")
    member = f.UserFactory(email="membre@example.org", date_joined=old)
    f.add_member(member, organisation)
    fresh_draft = f.ApplicationFactory(organisation=organisation)

    run = retention_apply()

    assert list(AccessFailureLog.objects.all()) == [recent_failure]
    stale.refresh_from_db()
    assert stale.email.endswith("@anonyme.invalid") and not stale.first_name
    assert not stale.is_active and not is_password_usable(stale.password)
    assert User.objects.get(pk=member.pk).email == "membre@example.org"  # a member: kept
    assert not Application.objects.filter(pk=stale_draft.pk).exists()
    assert Application.objects.filter(pk=fresh_draft.pk).exists()
    assert run.results["core.login_failures"] == {"action": "delete", "count": 1}
    assert run.results["core.inactive_accounts"]["count"] == 1
    assert run.results["grants.drafts"]["count"] == 1
    rows = AuditLog.objects.filter(action="core.retention.applied", object_id=str(run.pk))
    assert {r.payload["rule"] for r in rows} == {
        "core.login_failures",
        "core.inactive_accounts",
        "grants.drafts",
    }
    # Idempotent: nothing more the next day.
    again = retention_apply()
    assert all(v["count"] == 0 for v in again.results.values())


def test_retention_task_is_scheduled_daily(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["core-retention-apply"]
    assert entry["task"] == "core.tasks.retention_apply" and entry["schedule"] == 86400


def test_erasure_request_is_carried_out_with_its_reason(admin_user, applicant, organisation):
    Notification.objects.create(user=applicant, title="Bonjour")
    AccessFailureLog.objects.create(username=applicant.email)
    Invitation.objects.create(
        token="t1", email=applicant.email, expires_at=now() + datetime.timedelta(days=3)
    )
    BackgroundJob.objects.create(owner=applicant, kind="x", label="Export")
    other = f.UserFactory(email="autre@example.org")
    Notification.objects.create(user=other, title="Reste")
    request = erasure_request_create(
        actor=applicant, person=applicant, reason="Je quitte l'association"
    )
    done = erasure_request_process(actor=admin_user, request=request)
    assert done.state == ErasureRequest.State.DONE
    person = User.objects.get(pk=applicant.pk)
    assert person.email.endswith("@anonyme.invalid") and not person.last_name
    assert not Notification.objects.filter(user=applicant).exists()
    assert Notification.objects.filter(user=other).exists()
    assert not AccessFailureLog.objects.filter(username__iexact="porteur@asso.example.org").exists()
    assert not Invitation.objects.filter(email="porteur@asso.example.org").exists()
    assert not BackgroundJob.objects.filter(owner=applicant).exists()
    row = AuditLog.objects.get(action="core.erasure.done")
    assert row.reason == "Je quitte l'association" and row.payload["core.notifications"] == 1
    with pytest.raises(DomainError):
        erasure_request_process(actor=admin_user, request=request)  # already processed


def test_erasure_is_refused_while_a_file_is_under_instruction(
    admin_user, applicant, organisation, call
):
    app = f.ApplicationFactory(call=call, organisation=organisation)
    Application.objects.filter(pk=app.pk).update(state=ApplicationState.UNDER_REVIEW)
    request = erasure_request_create(actor=admin_user, person=applicant, reason="Demande écrite")
    refused = erasure_request_process(actor=admin_user, request=request)
    assert refused.state == ErasureRequest.State.REFUSED
    assert app.reference in refused.refusal_reason and "instruction" in refused.refusal_reason
    assert User.objects.get(pk=applicant.pk).email == applicant.email  # nothing erased
    row = AuditLog.objects.get(action="core.erasure.refused")
    assert row.reason == "Demande écrite" and row.payload["holds"]


def test_erasure_of_a_staff_member_is_refused(admin_user, instructor):
    request = erasure_request_create(actor=admin_user, person=instructor, reason="Départ")
    refused = erasure_request_process(actor=admin_user, request=request)
    assert refused.state == ErasureRequest.State.REFUSED and "L212-2" in refused.refusal_reason


def test_only_an_administrator_handles_requests(applicant, other_applicant):
    with pytest.raises(PermissionDenied):
        erasure_request_create(actor=other_applicant, person=applicant, reason="x")
    request = erasure_request_create(actor=applicant, person=applicant, reason="x")
    with pytest.raises(PermissionDenied):
        erasure_request_process(actor=applicant, request=request)
    with pytest.raises(DomainError):
        erasure_request_create(actor=applicant, person=applicant, reason="  ")


def test_admin_pages_show_the_rules_and_process_requests(admin_client, admin_user, applicant):
    page = admin_client.get(reverse("admin:core_retentionrun_changelist")).content.decode()
    for rule in rules():
        assert f'id="rule-{rule.code}"' in page
    assert "Obligation légale" in page
    admin_client.post(
        reverse("admin:core_erasurerequest_add"),
        {"person": applicant.pk, "reason": "Courrier du 3 décembre"},
    )
    request = ErasureRequest.objects.get()
    assert request.requested_by == admin_user and request.reason == "Courrier du 3 décembre"
    admin_client.post(
        reverse("admin:core_erasurerequest_changelist"),
        {"action": "process", "_selected_action": [request.pk]},
    )
    assert ErasureRequest.objects.get().state == ErasureRequest.State.DONE


def test_secret_ballots_stay_unlinkable_after_erasure(setup, admin_user):  # noqa: F811
    from grants.solutions.models import Ballot, BallotChoice

    with time_machine.travel(T0 + datetime.timedelta(days=1)):
        vote(setup, 0, "A")
        vote(setup, 1, "B")
    papers = set(BallotChoice.objects.values_list("paper", flat=True))
    voter = setup["members"][0]
    request = erasure_request_create(actor=admin_user, person=voter, reason="Déménagement")
    assert erasure_request_process(actor=admin_user, request=request).state == "done"
    # The register of voters keeps the seat (quorum, participation), the papers keep no voter.
    assert Ballot.objects.count() == 2
    assert not BallotChoice.objects.filter(ballot__isnull=False).exists()
    assert set(BallotChoice.objects.values_list("paper", flat=True)) == papers
    erased = AuditLog.objects.get(action="core.erasure.done")
    assert not any(str(p) in str(erased.payload) for p in papers)
