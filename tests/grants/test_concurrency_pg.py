"""Concurrency on PostgreSQL: row locks keep the envelope guard and the reference counter honest."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection

from core.errors import DomainError
from core.references import next_reference
from grants import services
from grants.models import Application
from grants.models import ApplicationState as S

from .. import factories as f

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_in_threads(*targets):
    errors, results = [], []
    barrier = threading.Barrier(len(targets))

    def wrap(fn):
        try:
            barrier.wait()
            results.append(fn())
        except Exception as exc:  # collected for the assertions
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=wrap, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results, errors


def test_two_approvals_cannot_both_fit_under_the_envelope(committee_member):
    call = f.CallFactory(envelope=Decimal("15000.00"))
    apps = []
    for _ in range(2):
        app = f.ApplicationFactory(call=call)
        Application.objects.filter(pk=app.pk).update(state=S.IN_COMMITTEE)
        apps.append(Application.objects.get(pk=app.pk))
    f.open_session_for(*apps, chair=committee_member)  # decided during an open session
    apps = [Application.objects.get(pk=a.pk) for a in apps]
    results, errors = run_in_threads(
        *[
            lambda a=a: services.application_approve(
                actor=committee_member, application=a, amount=Decimal("10000")
            )
            for a in apps
        ]
    )
    assert len(results) == 1
    assert (
        len(errors) == 1
        and isinstance(errors[0], DomainError)
        and errors[0].code == "envelope_exceeded"
    )
    assert Application.objects.filter(state=S.APPROVED).count() == 1


def test_reference_counter_has_no_duplicates_under_concurrency(db):
    results, errors = run_in_threads(*[lambda: next_reference("AAP", 2026) for _ in range(8)])
    assert not errors
    assert sorted(results) == [f"AAP-2026-{n:04d}" for n in range(1, 9)]


def test_concurrent_double_submit_writes_one_transition(applicant, draft):
    results, errors = run_in_threads(
        *[
            lambda: services.application_submit(
                actor=applicant, application=Application.objects.get(pk=draft.pk)
            )
            for _ in range(2)
        ]
    )
    assert not errors
    from core.models import AuditLog

    assert (
        AuditLog.objects.filter(
            object_id=str(draft.pk), action="grants.application.submitted"
        ).count()
        == 1
    )


def test_concurrent_ballots_of_one_member_keep_exactly_one(manager):
    import datetime

    from django.utils import timezone

    from calls.services import panel_add_member, panel_configure
    from grants.models import Ballot, BallotChoice
    from grants.solutions.services import ballot_cast

    call = f.solutions_call()
    panel = panel_configure(
        actor=manager,
        call=call,
        quorum=1,
        voting_opens_at=timezone.now() - datetime.timedelta(hours=1),
        voting_closes_at=timezone.now() + datetime.timedelta(days=1),
    )
    voter = f.UserFactory()
    panel_add_member(actor=manager, panel=panel, user=voter, college="residents")
    app = f.ApplicationFactory(call=call)
    Application.objects.filter(pk=app.pk).update(state=S.IN_COMMITTEE)
    results, errors = run_in_threads(
        *[lambda: ballot_cast(actor=voter, call=call, approvals=[app.pk]) for _ in range(4)]
    )
    assert len(results) == 1 and len(errors) == 3
    assert all(isinstance(e, DomainError) and e.code == "already_voted" for e in errors)
    assert Ballot.objects.count() == 1 and BallotChoice.objects.count() == 1
