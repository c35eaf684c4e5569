"""is_staff_viewer (grants.selectors): asked several times while one page is built, answered
once per file object and what it depends on there (issue 17); the answer follows a change of
state, assignee or call on that object."""

from __future__ import annotations

import pytest

from core.models import Role
from grants.models import ApplicationState as S
from grants.selectors import is_staff_viewer

from .. import factories as f


@pytest.mark.django_db
def test_a_scoped_instructor_is_asked_once_and_follows_the_files_changes(
    django_assert_num_queries,
):
    app = f.ApplicationFactory(state=S.SUBMITTED)
    scoped = f.UserFactory(email="scope@ville.example.org")
    f.give_role(scoped, Role.INSTRUCTOR, calls_only=True)  # sees the files of calls they instruct
    app.call.instructors.add(scoped)
    assert is_staff_viewer(scoped, app)
    with django_assert_num_queries(0):
        assert is_staff_viewer(scoped, app)
    app.call = f.CallFactory()  # moved to another call: asked again
    app.save()
    assert not is_staff_viewer(scoped, app)
    app.assigned_to = scoped  # assigned: sees it
    app.save()
    assert is_staff_viewer(scoped, app)
    draft = f.ApplicationFactory(call=app.call, assigned_to=scoped)  # drafts stay private
    assert not is_staff_viewer(scoped, draft)


@pytest.mark.django_db
def test_the_database_answers_not_an_older_object(instructor, applicant, draft):
    """A service may hold the object it was given while the row has moved on (a submission
    reads the file again under lock): the answer is the row's."""
    from grants import services

    services.application_submit(actor=applicant, application=draft)
    assert draft.state == S.DRAFT  # the caller's object, older than the row
    assert is_staff_viewer(instructor, draft)
