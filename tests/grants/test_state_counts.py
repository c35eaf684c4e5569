"""The trigger-kept counters always agree with a real count, whoever writes."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.models import RoleAssignment, User
from grants import services
from grants.models import Application, ApplicationScopeCount, ApplicationStateCount
from grants.models import ApplicationState as S
from grants.selectors import counter_counts, instructor_queue, queue_counts, staff_visibility

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


def test_counters_do_not_answer_for_applicants_or_other_filters(manager, applicant):
    scoped = f.UserFactory()
    f.give_role(scoped, "instructor", territories=[f.QPVFactory()])
    assert counter_counts(scoped, {"q": "jardin"}) is None
    assert counter_counts(manager, {"q": "jardin"}) is None
    assert counter_counts(applicant, {}) is None
    assert counter_counts(manager, {}) == {}


# --------------------------------------------------------------------------- scoped counters

# One step of the property test: what is done, and to which of the small universe's objects.
STEPS = st.one_of(
    st.tuples(
        st.just("create"),
        st.integers(0, 2),  # call (2 = no call)
        st.sampled_from([S.DRAFT, S.SUBMITTED, S.ELIGIBLE, S.APPROVED]),
        st.integers(0, 4),  # assignee (4 = nobody)
        st.sets(st.integers(0, 3), max_size=3),  # QPVs
    ),
    st.tuples(st.just("state"), st.integers(0, 50), st.sampled_from([S.SUBMITTED, S.REJECTED])),
    st.tuples(st.just("call"), st.integers(0, 50), st.integers(0, 2)),
    st.tuples(st.just("assign"), st.integers(0, 50), st.integers(0, 4)),
    st.tuples(st.just("link"), st.integers(0, 50), st.integers(0, 3)),
    st.tuples(st.just("unlink"), st.integers(0, 50), st.integers(0, 3)),
    st.tuples(st.just("delete"), st.integers(0, 50)),
    st.tuples(st.just("territory"), st.integers(0, 3), st.integers(0, 3), st.booleans()),
    st.tuples(st.just("staff_call"), st.integers(0, 3), st.integers(0, 1), st.booleans()),
    st.tuples(st.just("role"), st.integers(0, 3)),
)


class Universe:
    """Two calls, four QPVs, four scoped staff members and one all-seeing manager."""

    def __init__(self) -> None:
        self.programme = f.ProgrammeFactory()
        self.calls = [f.CallFactory(programme=self.programme) for _ in range(2)]
        self.qpvs = [f.QPVFactory() for _ in range(4)]
        self.organisation = f.OrganisationFactory()
        self.users = [f.UserFactory() for _ in range(4)]
        f.give_role(self.users[0], "instructor", territories=self.qpvs[:2])
        f.give_role(self.users[1], "committee_member", territories=self.qpvs[1:3], calls_only=True)
        f.give_role(self.users[1], "instructor", calls_only=True)
        f.give_role(self.users[2], "instructor", calls_only=True)
        self.calls[0].instructors.add(self.users[2], self.users[1])
        f.give_role(self.users[3], "committee_member", territories=self.qpvs[3:])

    def application(self, index: int) -> Application | None:
        apps = list(Application.objects.order_by("pk"))
        return apps[index % len(apps)] if apps else None

    def apply(self, step: tuple) -> None:
        kind, *args = step
        if kind == "create":
            call_i, state, assignee_i, qpv_is = args
            app = f.ApplicationFactory(
                complete=False,
                programme=self.programme,
                call=self.calls[call_i] if call_i < 2 else None,
                organisation=self.organisation,
                state=state,
                assigned_to=self.users[assignee_i] if assignee_i < 4 else None,
            )
            app.qpvs.set([self.qpvs[i] for i in qpv_is])
            return
        if kind in ("territory", "staff_call", "role"):
            user = self.users[args[0]]
            if kind == "territory":
                assignment = user.role_assignments.filter(
                    role__in=["instructor", "committee_member"]
                ).first()
                if assignment is not None:
                    qpv, add = self.qpvs[args[1]], args[2]
                    (assignment.territories.add if add else assignment.territories.remove)(qpv)
            elif kind == "staff_call":
                call, add = self.calls[args[1]], args[2]
                (call.instructors.add if add else call.instructors.remove)(user)
            else:  # a role given up, then given back with its territories (admin edits)
                assignment = user.role_assignments.filter(role="committee_member").first()
                if assignment is not None:
                    territories = list(assignment.territories.all())
                    assignment.delete()
                    f.give_role(user, "committee_member", territories=territories)
                else:
                    user.role_assignments.filter(role="instructor").update(role="auditor")
            return
        app = self.application(args[0])
        if app is None:
            return
        qs = Application.objects.filter(pk=app.pk)
        if kind == "state":
            qs.update(state=args[1])
        elif kind == "call":
            qs.update(call=self.calls[args[1]] if args[1] < 2 else None)
        elif kind == "assign":
            qs.update(assigned_to=self.users[args[1]] if args[1] < 4 else None)
        elif kind == "link":
            app.qpvs.add(self.qpvs[args[1]])
        elif kind == "unlink":
            app.qpvs.remove(self.qpvs[args[1]])
        elif kind == "delete":
            qs.delete()


def scope_table() -> Counter:
    return Counter(
        {
            (c.user_id, c.programme_id, c.call_key, c.state): c.n
            for c in ApplicationScopeCount.objects.all()
            if c.n
        }
    )


def expected_scope_table() -> Counter:
    """Recomputed in Python, each file once per user who sees it through their scope."""
    territory_users: dict[int, set[int]] = {}
    for ra in RoleAssignment.objects.filter(role__in=["instructor", "committee_member"]):
        for qpv in ra.territories.all():
            territory_users.setdefault(qpv.pk, set()).add(ra.user_id)
    expected: Counter = Counter()
    for app in Application.objects.prefetch_related("qpvs", "call__instructors"):
        users = {app.assigned_to_id} - {None}
        if app.call is not None:
            users |= {u.pk for u in app.call.instructors.all()}
        for qpv in app.qpvs.all():
            users |= territory_users.get(qpv.pk, set())
        for user_id in users:
            expected[(user_id, app.programme_id, app.call_id or 0, app.state)] += 1
    return expected


@pytest.mark.parametrize("seed", [0])
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(STEPS, min_size=1, max_size=12))
def test_scoped_counters_equal_real_counts_after_random_writes(seed, steps):
    """Property: after any sequence of creates, moves, reassignments, QPV links, deletes and scope
    changes (territories, staffed calls, roles), every scoped user's counters equal a COUNT(*) of
    their queue, per state and per call, and the whole table equals a recount."""
    with transaction.atomic():
        universe = Universe()
        for step in steps:
            universe.apply(step)
        assert scope_table() == expected_scope_table()
        for user in universe.users:
            user = User.objects.get(pk=user.pk)  # roles may have changed: no cached scope
            for filters in ({}, {"call": universe.calls[0].pk}, {"state": S.SUBMITTED}):
                fast = counter_counts(user, filters)
                slow = queue_counts(instructor_queue(user, filters=filters))
                if staff_visibility(user) is None:
                    assert fast is None
                else:
                    assert fast == {k: v for k, v in slow.items() if v}, (filters, steps)
        transaction.set_rollback(True)  # each example starts from an empty database


def test_scoped_counters_answer_for_a_territorial_instructor(organisation):
    qpv, other = f.QPVFactory(), f.QPVFactory()
    scoped = f.UserFactory()
    f.give_role(scoped, "instructor", territories=[qpv])
    inside = f.ApplicationFactory(organisation=organisation, complete=False)
    inside.qpvs.set([qpv, other])  # two QPVs, one in scope: counted once
    outside = f.ApplicationFactory(organisation=organisation, complete=False)
    outside.qpvs.set([other])
    Application.objects.filter(pk__in=[inside.pk, outside.pk]).update(state=S.SUBMITTED)
    assert counter_counts(scoped, {}) == {S.SUBMITTED: 1}
    Application.objects.filter(pk=outside.pk).update(assigned_to=scoped)
    assert counter_counts(scoped, {}) == {S.SUBMITTED: 2}
    # Scope moved by an admin to a QPV without files: only the assigned file is left.
    f.give_role(scoped, "instructor").territories.set([f.QPVFactory()])
    scoped = User.objects.get(pk=scoped.pk)
    assert counter_counts(scoped, {}) == {S.SUBMITTED: 1}
    assert queue_counts(instructor_queue(scoped)) == {S.SUBMITTED: 1}
