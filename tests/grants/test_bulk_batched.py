"""Bulk actions with a set-based service (declare eligible, start the review): the same outcome,
file by file, as the single-file service — states, audit rows, reasons — and the same guarantees
(scope, never half-changed, a killed job resumed without acting twice)."""

from __future__ import annotations

import contextlib
import dataclasses

import pytest

from core.audit_chain import chain_verify
from core.errors import DomainError
from core.jobs import job_run
from core.models import AuditLog, Role
from grants import services
from grants.models import Application, ApplicationState, BulkActionItem
from grants.services import bulk as bulk_services
from grants.services.bulk import bulk_action_start, bulk_counts
from tests import factories as f

S = ApplicationState
Item = BulkActionItem.Status
# One file per case: allowed twice, already in a later state, a pending completion request,
# decided, outside the instructor's territory.
MIX = [S.SUBMITTED, S.SUBMITTED, S.ELIGIBLE, S.RETURNED, S.UNDER_REVIEW, S.REJECTED, "outside"]


@pytest.fixture
def territory(db):
    inside, outside = f.QPVFactory(code="QN33333C"), f.QPVFactory(code="QN44444D")
    scoped = f.UserFactory()
    f.give_role(scoped, Role.INSTRUCTOR, territories=[inside])
    return scoped, inside, outside


def _selection(inside, outside) -> list[Application]:
    apps = []
    for case in MIX:
        state = S.SUBMITTED if case == "outside" else case
        app = f.ApplicationFactory(state=state)
        app.qpvs.set([outside if case == "outside" else inside])
        apps.append(app)
    return apps


def _outcome(apps: list[Application]) -> list[tuple]:
    """Per file, in selection order: its state and its audit rows' content (everything but the
    row's time and chain fields), with the object's text checked against the file."""
    rows = []
    for app in apps:
        fresh = Application.objects.get(pk=app.pk)
        audits = []
        for row in AuditLog.objects.filter(object_id=str(app.pk)).order_by("id"):
            assert row.object_repr == str(fresh)
            audits.append(
                (
                    row.actor_id,
                    row.content_type_id,
                    row.action,
                    row.source_state,
                    row.target_state,
                    row.reason,
                    row.payload,
                )
            )
        rows.append((fresh.state, audits))
    return rows


def _single(actor, apps, action) -> None:
    service = {
        "declare_eligible": services.application_declare_eligible,
        "start_review": services.application_start_review,
    }[action]
    for app in apps:
        with contextlib.suppress(DomainError):
            service(actor=actor, application=app)


def _per_file_spec(monkeypatch, action) -> None:
    """The bulk action without its set-based service: each file through the single service."""
    actions = dict(bulk_services.ACTIONS)
    actions[action] = dataclasses.replace(actions[action], run_many=None)
    monkeypatch.setattr(bulk_services, "ACTIONS", actions)


@pytest.mark.parametrize("action", ["declare_eligible", "start_review"])
def test_set_based_bulk_gives_the_single_service_outcome(territory, monkeypatch, action):
    scoped, inside, outside = territory
    batched, per_file, single = (_selection(inside, outside) for _ in range(3))
    assert bulk_services.ACTIONS[action].run_many is not None

    bulk = bulk_action_start(actor=scoped, action=action, params={}, ids=[a.pk for a in batched])
    _single(scoped, single, action)
    _per_file_spec(monkeypatch, action)
    reference = bulk_action_start(
        actor=scoped, action=action, params={}, ids=[a.pk for a in per_file]
    )

    expected = _outcome(single)
    assert _outcome(batched) == expected
    assert _outcome(per_file) == expected
    # Something happened, and not to everything: the comparison is not vacuous.
    assert sum(1 for _state, audits in expected if audits) >= 1
    assert sum(1 for _state, audits in expected if not audits) >= 4

    def items(b, apps):
        by_id = {i.requested_id: i for i in b.items.all()}
        return [(by_id[a.pk].status, by_id[a.pk].reason) for a in apps]

    assert items(bulk, batched) == items(reference, per_file)
    outcome = dict(zip(MIX, items(bulk, batched), strict=True))
    assert "périmètre" in outcome["outside"][1]
    assert "compléments" in outcome[S.RETURNED][1]
    assert outcome[S.REJECTED][0] == Item.SKIPPED
    assert chain_verify().ok


def test_set_based_bulk_moves_updated_at_and_state_counts(manager):
    from grants.models import ApplicationStateCount

    apps = [f.ApplicationFactory(state=S.SUBMITTED) for _ in range(3)]
    before = {a.pk: a.updated_at for a in apps}
    bulk_action_start(actor=manager, action="declare_eligible", params={}, ids=[a.pk for a in apps])
    for app in Application.objects.filter(pk__in=before):
        assert app.state == S.ELIGIBLE and app.updated_at > before[app.pk]
    counted: dict[str, int] = {}
    for row in ApplicationStateCount.objects.filter(n__gt=0, state__in=[S.SUBMITTED, S.ELIGIBLE]):
        counted[row.state] = counted.get(row.state, 0) + row.n
    assert counted == {S.ELIGIBLE: 3}


def test_set_based_job_killed_halfway_resumes_without_acting_twice(manager, settings, monkeypatch):
    settings.BULK_ACTION_JOB_THRESHOLD = 3
    monkeypatch.setattr(bulk_services, "SET_BASED_COMMIT_EVERY", 2)
    apps = [f.ApplicationFactory(state=S.SUBMITTED) for _ in range(6)]
    bulk = bulk_action_start(
        actor=manager, action="declare_eligible", params={}, ids=[a.pk for a in apps]
    )
    assert bulk.job is not None

    spec = bulk_services.ACTIONS["declare_eligible"]
    calls = {"n": 0}

    def dying(actor, files, params):
        calls["n"] += 1
        result = spec.run_many(actor, files, params)  # type: ignore[misc]
        if calls["n"] == 2:
            raise SystemError("worker killed after the second batch's action")
        return result

    actions = dict(bulk_services.ACTIONS)
    actions["declare_eligible"] = dataclasses.replace(spec, run_many=dying)
    monkeypatch.setattr(bulk_services, "ACTIONS", actions)
    with pytest.raises(SystemError):
        job_run(bulk.job.pk)
    # The first batch committed; the second's transitions and audit rows were rolled back.
    assert bulk_counts(bulk) == {Item.PENDING: 4, Item.DONE: 2, Item.SKIPPED: 0}
    assert Application.objects.filter(pk__in=[a.pk for a in apps], state=S.ELIGIBLE).count() == 2
    assert AuditLog.objects.filter(action="grants.application.declared_eligible").count() == 2

    monkeypatch.setattr(
        bulk_services, "ACTIONS", dict(bulk_services.ACTIONS, declare_eligible=spec)
    )
    job_run(bulk.job.pk)  # redelivered
    assert bulk_counts(bulk) == {Item.PENDING: 0, Item.DONE: 6, Item.SKIPPED: 0}
    assert Application.objects.filter(pk__in=[a.pk for a in apps], state=S.ELIGIBLE).count() == 6
    audited = AuditLog.objects.filter(action="grants.application.declared_eligible")
    assert sorted(audited.values_list("object_id", flat=True)) == sorted(str(a.pk) for a in apps)
    assert chain_verify().ok


def test_set_based_service_refuses_a_file_moved_meanwhile_without_touching_the_others(manager):
    """The service re-reads the files under lock: one that left the source state since the
    selection was read is refused with TransitionNotAllowed, the others move."""
    apps = [f.ApplicationFactory(state=S.SUBMITTED) for _ in range(3)]
    Application.objects.filter(pk=apps[1].pk).update(state=S.WITHDRAWN)  # after the read
    result = services.applications_declare_eligible(actor=manager, applications=apps)
    assert sorted(a.pk for a in result.done) == sorted([apps[0].pk, apps[2].pk])
    assert list(result.refused) == [apps[1].pk]
    assert Application.objects.get(pk=apps[1].pk).state == S.WITHDRAWN
    assert AuditLog.objects.filter(object_id=str(apps[1].pk)).count() == 0
