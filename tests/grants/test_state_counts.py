"""The trigger-kept counters always agree with a real count, whoever writes."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest

from grants import services
from grants.models import Application, ApplicationStateCount
from grants.models import ApplicationState as S
from grants.selectors import counter_counts, instructor_queue, queue_counts

from .. import factories as f

pytestmark = pytest.mark.django_db


def real_counts() -> Counter:
    return Counter((a.programme_id, a.call_id or 0, a.state) for a in Application.objects.all())


def counter_table() -> Counter:
    return Counter(
        {
            (c.programme_id, c.call_key, c.state): c.n
            for c in ApplicationStateCount.objects.all()
            if c.n
        }
    )


def test_counters_follow_inserts_transitions_bulk_updates_and_deletes(
    applicant, instructor, organisation
):
    calls = [f.CallFactory(), f.CallFactory()]
    apps = [f.ApplicationFactory(call=calls[i % 2], organisation=organisation) for i in range(6)]
    assert counter_table() == real_counts()
    services.application_submit(actor=applicant, application=apps[0])
    services.application_declare_eligible(
        actor=instructor, application=Application.objects.get(pk=apps[0].pk)
    )
    Application.objects.filter(pk__in=[apps[1].pk, apps[2].pk]).update(
        state=S.SUBMITTED
    )  # bulk update
    Application.objects.filter(pk=apps[3].pk).update(call=calls[0])  # moved to another call
    Application.objects.filter(pk=apps[4].pk).delete()
    assert counter_table() == real_counts()


def test_queue_counts_from_counters_match_a_real_count(manager, instructor, organisation):
    call = f.CallFactory()
    for state in (S.SUBMITTED, S.SUBMITTED, S.ELIGIBLE, S.APPROVED, S.DRAFT):
        app = f.ApplicationFactory(call=call, organisation=organisation)
        Application.objects.filter(pk=app.pk).update(
            state=state, approved_amount=Decimal("1") if state == S.APPROVED else None
        )
    fast = counter_counts(manager, {"call": call.pk})
    slow = queue_counts(instructor_queue(manager, filters={"call": call.pk}))
    assert fast == slow == {S.SUBMITTED: 2, S.ELIGIBLE: 1, S.APPROVED: 1}


def test_counters_do_not_answer_for_scoped_users_or_other_filters(manager, applicant):
    scoped = f.UserFactory()
    f.give_role(scoped, "instructor", territories=[f.QPVFactory()])
    assert counter_counts(scoped, {}) is None
    assert counter_counts(manager, {"q": "jardin"}) is None
    assert counter_counts(applicant, {}) is None
    assert counter_counts(manager, {}) == {}
