"""Bulk actions of the instruction: a result per file, scope, idempotent resumption."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail

from core.errors import DomainError, PermissionDenied
from core.jobs import job_run
from core.models import AuditLog, BackgroundJob, Notification, Role
from grants.models import Application, ApplicationState, BulkActionItem, CompletionRequest
from grants.services import bulk as bulk_services
from grants.services.bulk import bulk_action_retry_skipped, bulk_action_start, bulk_counts
from tests import factories as f

S = ApplicationState
Item = BulkActionItem.Status
IN_A_MONTH = datetime.date.today() + datetime.timedelta(days=30)


def _filed(n: int, *, state: str = S.SUBMITTED, qpv=None, organisation=None, call=None):
    apps = []
    for _ in range(n):
        kwargs = {"state": state}
        if organisation is not None:
            kwargs["organisation"] = organisation
        if call is not None:
            kwargs["call"] = call
        app = f.ApplicationFactory(**kwargs)
        if qpv is not None:
            app.qpvs.set([qpv])
        apps.append(app)
    return apps


def _audits(action: str, apps) -> int:
    return AuditLog.objects.filter(action=action, object_id__in=[str(a.pk) for a in apps]).count()


def test_mixed_selection_skips_refused_files_with_their_reason(manager, applicant, organisation):
    submitted = _filed(3, organisation=organisation)
    eligible = _filed(1, state=S.ELIGIBLE, organisation=organisation)[0]
    returned = _filed(1, state=S.RETURNED, organisation=organisation)[0]
    ids = [a.pk for a in [*submitted, eligible, returned]] + [999999]

    bulk = bulk_action_start(actor=manager, action="declare_eligible", params={}, ids=ids)

    items = {i.requested_id: i for i in bulk.items.all()}
    assert [items[a.pk].status for a in submitted] == [Item.DONE] * 3
    assert items[eligible.pk].status == Item.SKIPPED
    assert "Recevable" in items[eligible.pk].reason or "recevable" in items[eligible.pk].reason
    assert items[returned.pk].status == Item.SKIPPED
    assert "compléments" in items[returned.pk].reason
    assert items[999999].status == Item.SKIPPED and "périmètre" in items[999999].reason
    assert bulk_counts(bulk) == {Item.PENDING: 0, Item.DONE: 3, Item.SKIPPED: 3}
    assert Application.objects.get(pk=eligible.pk).state == S.ELIGIBLE
    assert Application.objects.get(pk=returned.pk).state == S.RETURNED
    assert set(
        Application.objects.filter(pk__in=[a.pk for a in submitted]).values_list("state", flat=True)
    ) == {S.ELIGIBLE}
    assert _audits("grants.application.declared_eligible", submitted) == 3
    assert _audits("grants.application.declared_eligible", [eligible, returned]) == 0


def test_a_refused_file_is_never_half_changed(manager):
    from grants.models import CommitteeSession

    app = _filed(1, state=S.UNDER_REVIEW)[0]
    other_programme = f.ProgrammeFactory()
    session = CommitteeSession.objects.create(
        programme=other_programme, date=IN_A_MONTH, title="Comité d'un autre programme"
    )
    bulk = bulk_action_start(
        actor=manager, action="send_to_committee", params={"session": session.pk}, ids=[app.pk]
    )
    item = bulk.items.get()
    assert item.status == Item.SKIPPED and "programme" in item.reason
    fresh = Application.objects.get(pk=app.pk)
    assert fresh.state == S.UNDER_REVIEW
    assert fresh.committee_session_id is None and fresh.proposed_amount is None
    assert _audits("grants.application.sent_to_committee", [app]) == 0


def test_request_completion_for_all_one_notification_per_file_with_absolute_link(
    manager, applicant, organisation, settings, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "https://pluriel.example.org"
    apps = _filed(4, organisation=organisation)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        bulk = bulk_action_start(
            actor=manager,
            action="request_completion",
            params={"message": "Joindre le bilan 2025", "deadline": IN_A_MONTH.isoformat()},
            ids=[a.pk for a in apps],
        )
    assert bulk_counts(bulk)[Item.DONE] == 4
    assert CompletionRequest.objects.filter(application__in=apps).count() == 4
    notes = Notification.objects.filter(user=applicant)
    assert notes.count() == 4
    assert {n.url for n in notes} == {f"https://pluriel.example.org/dossiers/{a.pk}/" for a in apps}
    assert len(mail.outbox) == 4


def test_bad_inputs_are_refused_before_anything_is_written(manager):
    app = _filed(1)[0]
    with pytest.raises(DomainError) as exc:
        bulk_action_start(actor=manager, action="dismiss", params={"reason": " "}, ids=[app.pk])
    assert exc.value.field == "reason"
    with pytest.raises(DomainError) as exc:
        bulk_action_start(
            actor=manager,
            action="request_completion",
            params={"message": "x", "deadline": "2000-01-01"},
            ids=[app.pk],
        )
    assert exc.value.field == "deadline"
    with pytest.raises(DomainError):
        bulk_action_start(actor=manager, action="explode", params={}, ids=[app.pk])
    assert not BulkActionItem.objects.exists()


def test_applicants_and_committee_cannot_act_in_bulk(applicant, committee_member, organisation):
    app = _filed(1, organisation=organisation)[0]
    for user in (applicant, committee_member):
        with pytest.raises(PermissionDenied):
            bulk_action_start(actor=user, action="declare_eligible", params={}, ids=[app.pk])
    assert Application.objects.get(pk=app.pk).state == S.SUBMITTED


def test_scoped_instructor_all_matching_never_touches_files_outside_territory(db):
    inside_qpv, outside_qpv = f.QPVFactory(code="QN11111A"), f.QPVFactory(code="QN22222B")
    call = f.CallFactory()
    inside = _filed(3, qpv=inside_qpv, call=call)
    outside = _filed(4, qpv=outside_qpv, call=call)
    scoped = f.UserFactory()
    f.give_role(scoped, Role.INSTRUCTOR, territories=[inside_qpv])

    bulk = bulk_action_start(
        actor=scoped,
        action="dismiss",
        params={"reason": "Hors critères"},
        filters={"call": call.pk, "state": S.SUBMITTED},
    )

    assert sorted(bulk.items.values_list("requested_id", flat=True)) == sorted(a.pk for a in inside)
    assert bulk_counts(bulk)[Item.DONE] == 3
    assert set(
        Application.objects.filter(pk__in=[a.pk for a in outside]).values_list("state", flat=True)
    ) == {S.SUBMITTED}
    assert _audits("grants.application.dismissed", outside) == 0
    # Ticking an outside file by id does not reach it either.
    ticked = bulk_action_start(actor=scoped, action="start_review", params={}, ids=[outside[0].pk])
    assert ticked.items.get().status == Item.SKIPPED
    assert Application.objects.get(pk=outside[0].pk).state == S.SUBMITTED


def test_assign_message_and_export(manager, instructor, applicant, organisation):
    apps = _filed(2, organisation=organisation)
    bulk = bulk_action_start(
        actor=manager,
        action="assign",
        params={"instructor": instructor.pk},
        ids=[a.pk for a in apps],
    )
    assert bulk_counts(bulk)[Item.DONE] == 2
    assert set(
        Application.objects.filter(pk__in=[a.pk for a in apps]).values_list(
            "assigned_to", flat=True
        )
    ) == {instructor.pk}
    with pytest.raises(DomainError):
        bulk_action_start(
            actor=manager, action="assign", params={"instructor": applicant.pk}, ids=[apps[0].pk]
        )

    bulk_action_start(
        actor=manager,
        action="message",
        params={"subject": "Réunion", "message": "Réunion d'information le 12."},
        ids=[a.pk for a in apps],
    )
    assert Notification.objects.filter(user=applicant, title="Réunion").count() == 2
    assert _audits("grants.application.applicants_messaged", apps) == 2

    export = bulk_action_start(actor=manager, action="export", params={}, ids=[a.pk for a in apps])
    data = bulk_services.bulk_export_csv(export).decode("utf-8-sig")
    assert all(a.reference in data for a in apps)


def test_retry_reruns_only_the_skipped_files(manager, organisation):
    ok = _filed(2, organisation=organisation)
    late = _filed(1, state=S.RETURNED, organisation=organisation)[0]
    bulk = bulk_action_start(
        actor=manager, action="declare_eligible", params={}, ids=[a.pk for a in [*ok, late]]
    )
    assert bulk_counts(bulk) == {Item.PENDING: 0, Item.DONE: 2, Item.SKIPPED: 1}
    Application.objects.filter(pk=late.pk).update(state=S.SUBMITTED)  # the applicant answered
    bulk_action_retry_skipped(actor=manager, bulk=bulk)
    assert bulk_counts(bulk) == {Item.PENDING: 0, Item.DONE: 3, Item.SKIPPED: 0}
    assert _audits("grants.application.declared_eligible", ok) == 2
    assert _audits("grants.application.declared_eligible", [late]) == 1


def test_large_selection_runs_as_a_job_and_resumes_after_a_kill(
    manager, applicant, organisation, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.BULK_ACTION_JOB_THRESHOLD = 5
    apps = _filed(8, organisation=organisation)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        bulk = bulk_action_start(
            actor=manager,
            action="request_completion",
            params={"message": "Pièces manquantes", "deadline": IN_A_MONTH.isoformat()},
            ids=[a.pk for a in apps],
        )
    assert bulk.job is not None and callbacks  # handed to the worker after commit
    assert bulk_counts(bulk)[Item.PENDING] == 8

    real = bulk_services._run_item
    calls = {"n": 0}

    def dying(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise SystemError("worker killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(bulk_services, "_run_item", dying)
    monkeypatch.setattr(bulk_services, "COMMIT_EVERY", 2)
    with pytest.raises(SystemError):
        job_run(bulk.job.pk)
    # The first batch (2 files) committed; the file done in the killed batch was rolled back.
    assert bulk_counts(bulk) == {Item.PENDING: 6, Item.DONE: 2, Item.SKIPPED: 0}
    assert CompletionRequest.objects.filter(application__in=apps).count() == 2
    assert Notification.objects.filter(user=applicant).count() == 2
    assert BackgroundJob.objects.get(pk=bulk.job.pk).state == BackgroundJob.State.QUEUED

    monkeypatch.setattr(bulk_services, "_run_item", real)
    job = job_run(bulk.job.pk)  # redelivered
    assert job.state == BackgroundJob.State.DONE
    assert job.progress_done == job.progress_total == 8
    assert bulk_counts(bulk) == {Item.PENDING: 0, Item.DONE: 8, Item.SKIPPED: 0}
    assert CompletionRequest.objects.filter(application__in=apps).count() == 8
    assert _audits("grants.application.completion_requested", apps) == 8
    per_file = Notification.objects.filter(user=applicant).values_list("url", flat=True)
    assert sorted(per_file) == sorted(set(per_file)) and len(per_file) == 8
    # A third delivery changes nothing.
    job_run(bulk.job.pk)
    BackgroundJob.objects.filter(pk=bulk.job.pk).update(state=BackgroundJob.State.QUEUED)
    job_run(bulk.job.pk)
    assert _audits("grants.application.completion_requested", apps) == 8
    assert Notification.objects.filter(user=applicant).count() == 8
