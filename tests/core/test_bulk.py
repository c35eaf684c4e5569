"""copy_insert fills the columns a caller left out with the model's defaults, like save()."""

from __future__ import annotations

import pytest

from core.bulk import copy_insert
from core.models import BackgroundJob
from tests.factories import UserFactory


def _insert_and_read():
    user = UserFactory()
    count = copy_insert(BackgroundJob, ["kind", "label", "owner_id"], [("k", "Export", user.pk)])
    assert count == 1
    return BackgroundJob.objects.get(owner=user)


@pytest.mark.django_db
def test_left_out_columns_take_their_defaults():
    job = _insert_and_read()
    assert job.state == BackgroundJob.State.QUEUED
    assert job.params == {} and job.result == {}
    assert job.error == "" and job.progress_done == 0 and job.created_at is not None


@pytest.mark.postgres
@pytest.mark.django_db
def test_left_out_columns_take_their_defaults_with_copy():
    job = _insert_and_read()
    assert job.state == BackgroundJob.State.QUEUED
    assert job.params == {} and job.result_name == "" and job.created_at is not None
