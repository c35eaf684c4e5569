"""Background jobs cannot run twice: an atomic claim with a lease; a redelivered task leaves a job
another worker holds, takes it over once the lease has expired; totals over every attempt."""

from __future__ import annotations

import datetime

import pytest
from django.db import transaction

from core import jobs
from core.clock import now
from core.models import BackgroundJob
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
SEEN: list[str] = []


@jobs.register_job("tests.chunks")
def _chunks(job, progress):  # noqa: ANN001, ANN202
    """Five units of work of two rows each, counted through progress.add; a unit already done
    by an earlier attempt is skipped (idempotent runner); fails once when asked to."""
    done_units = progress.done // 2
    progress(progress.done, 10)
    for unit in range(done_units, 5):
        if job.params.get("crash_at") == unit and progress.tally.get("crashed", 0) == 0:
            with transaction.atomic():
                progress.add({"crashed": 1})
            raise RuntimeError("worker lost")
        with transaction.atomic():
            SEEN.append(f"{job.pk}:{unit}")
            progress.add({"rows": 2}, done=2)
    return jobs.JobResult(summary={"Lignes": progress.tally["rows"]})


def make_job(**params) -> BackgroundJob:  # noqa: ANN003
    return BackgroundJob.objects.create(
        owner=UserFactory(), kind="tests.chunks", label="Découpage", params=params
    )


def test_a_claim_is_atomic_and_exclusive(settings):
    job = make_job()
    first = jobs.job_claim(job.pk)
    assert first is not None
    claimed, token = first
    assert claimed.state == BackgroundJob.State.RUNNING and claimed.attempts == 1
    assert claimed.lease_until > now()
    assert jobs.job_claim(job.pk) is None  # the redelivered task finds it claimed
    # job_run leaves it: the runner is not called, nothing is counted.
    SEEN.clear()
    left = jobs.job_run(job.pk)
    assert left.state == BackgroundJob.State.RUNNING and left.attempts == 1 and not SEEN
    assert left.claim_token == token


def test_a_job_whose_lease_expired_is_taken_over_with_totals_over_attempts():
    SEEN.clear()
    job = make_job(crash_at=3)
    with pytest.raises(RuntimeError):
        jobs.job_run(job.pk)
    job.refresh_from_db()
    assert job.progress_done == 6 and job.tally == {"rows": 6, "crashed": 1}
    # The worker died: its job stays "running", claimed, until its lease expires.
    BackgroundJob.objects.filter(pk=job.pk).update(
        state=BackgroundJob.State.RUNNING, lease_until=now() + datetime.timedelta(minutes=5)
    )
    assert jobs.job_run(job.pk).attempts == 1  # lease alive: left alone
    BackgroundJob.objects.filter(pk=job.pk).update(lease_until=now() - datetime.timedelta(1))
    job = jobs.job_run(job.pk)
    assert job.state == BackgroundJob.State.DONE and job.attempts == 2
    assert job.result == {"Lignes": 10}  # 6 rows by the first attempt, 4 by the second
    assert (job.progress_done, job.progress_total, job.percent) == (10, 10, 100)
    assert [f"{job.pk}:{u}" for u in range(5)] == SEEN  # each unit once


def test_a_worker_that_lost_its_lease_cannot_count_a_chunk():
    job = make_job()
    claimed, token = jobs.job_claim(job.pk)
    progress = jobs.JobProgress(claimed, token)
    with transaction.atomic():
        progress.add({"rows": 2}, done=2)
    # Another worker takes over after the lease expired.
    BackgroundJob.objects.filter(pk=job.pk).update(lease_until=now() - datetime.timedelta(1))
    assert jobs.job_claim(job.pk) is not None
    with pytest.raises(jobs.JobLeaseLost), transaction.atomic():
        progress.add({"rows": 2}, done=2)
    with pytest.raises(jobs.JobLeaseLost):
        progress(4, 10)
    job.refresh_from_db()
    assert job.tally == {"rows": 2} and job.progress_done == 2 and job.attempts == 2


def test_progress_renews_the_lease(settings):
    settings.JOB_LEASE_SECONDS = 60
    job = make_job()
    claimed, token = jobs.job_claim(job.pk)
    BackgroundJob.objects.filter(pk=job.pk).update(lease_until=now())
    jobs.JobProgress(claimed, token)(1, 10)
    assert jobs.lease_remaining(BackgroundJob.objects.get(pk=job.pk)) > 50


def test_a_finished_or_failed_job_is_never_claimed():
    for state in (BackgroundJob.State.DONE, BackgroundJob.State.FAILED):
        job = make_job()
        BackgroundJob.objects.filter(pk=job.pk).update(state=state)
        assert jobs.job_claim(job.pk) is None
