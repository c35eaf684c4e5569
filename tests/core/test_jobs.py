"""Background jobs: progress, result file with an expiring link for its owner only, retries with
a bounded number of attempts, failure reported to the owner."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.urls import reverse

from core import jobs
from core.models import BackgroundJob, Notification
from tests.factories import UserFactory

CALLS: list[int] = []


@jobs.register_job("tests.count")
def _count(job, progress):
    for done in range(1, 4):
        progress(done, 3)
    return jobs.JobResult(
        summary={"Lignes": 3}, file=ContentFile(b"a;b\n1;2\n"), file_name="export.csv"
    )


@jobs.register_job("tests.flaky")
def _flaky(job, progress):
    CALLS.append(job.pk)
    if len(CALLS) < 2:
        raise OSError("connexion perdue")
    return jobs.JobResult(summary={"Essais": len(CALLS)})


@jobs.register_job("tests.broken")
def _broken(job, progress):
    raise ValueError("fichier illisible")


def start(user, kind, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = jobs.job_start(owner=user, kind=kind, label="Export des conventions")
    return BackgroundJob.objects.get(pk=job.pk)


def test_job_runs_after_commit_records_progress_and_file(
    applicant, client, django_capture_on_commit_callbacks
):
    job = start(applicant, "tests.count", django_capture_on_commit_callbacks)
    assert job.state == BackgroundJob.State.DONE
    assert (job.progress_done, job.progress_total, job.percent) == (3, 3, 100)
    assert job.result == {"Lignes": 3}
    assert job.expires_at > job.finished_at
    assert Notification.objects.filter(user=applicant, url__contains=str(job.pk)).exists()
    client.force_login(applicant)
    page = client.get(reverse("core:job_detail", args=[job.pk]))
    assert page.status_code == 200
    assert "Télécharger export.csv" in page.content.decode()
    data = client.get(reverse("core:job_detail", args=[job.pk]), {"format": "json"}).json()
    assert data["state"] == "done" and data["percent"] == 100 and data["download"]
    response = client.get(reverse("core:job_download", args=[job.pk]))
    assert b"".join(response.streaming_content) == b"a;b\n1;2\n"
    assert response["Cache-Control"] == "private, no-store"


def test_only_the_owner_sees_the_job(applicant, client, django_capture_on_commit_callbacks):
    job = start(applicant, "tests.count", django_capture_on_commit_callbacks)
    client.force_login(UserFactory())
    assert client.get(reverse("core:job_detail", args=[job.pk])).status_code == 404
    assert client.get(reverse("core:job_download", args=[job.pk])).status_code == 404


def test_the_link_expires_and_the_file_is_purged(
    applicant, client, django_capture_on_commit_callbacks
):
    job = start(applicant, "tests.count", django_capture_on_commit_callbacks)
    client.force_login(applicant)
    with time_machine.travel(job.expires_at + datetime.timedelta(minutes=1)):
        assert client.get(reverse("core:job_download", args=[job.pk])).status_code == 404
        page = client.get(reverse("core:job_detail", args=[job.pk])).content.decode()
        assert "Le fichier a expiré" in page
        assert jobs.jobs_purge_expired() == 1
        assert jobs.jobs_purge_expired() == 0
    assert not BackgroundJob.objects.get(pk=job.pk).result_file


def test_transient_failure_is_retried(applicant, django_capture_on_commit_callbacks):
    CALLS.clear()
    job = start(applicant, "tests.flaky", django_capture_on_commit_callbacks)
    assert job.state == BackgroundJob.State.DONE
    assert job.attempts == 2
    assert job.result == {"Essais": 2}


def test_failure_after_the_last_attempt_is_reported(applicant, django_capture_on_commit_callbacks):
    job = start(applicant, "tests.broken", django_capture_on_commit_callbacks)
    assert job.state == BackgroundJob.State.FAILED
    assert job.attempts == jobs.MAX_ATTEMPTS
    assert "fichier illisible" in job.error
    assert Notification.objects.filter(user=applicant, title__startswith="Échec").exists()


def test_a_finished_job_is_not_run_again(applicant, django_capture_on_commit_callbacks):
    job = start(applicant, "tests.count", django_capture_on_commit_callbacks)
    again = jobs.job_run(job.pk)
    assert again.attempts == 1


def test_unknown_kind_is_refused(applicant):
    with pytest.raises(KeyError):
        jobs.job_start(owner=applicant, kind="nope", label="x")


def test_api_shows_own_jobs_only(applicant, client, django_capture_on_commit_callbacks):
    job = start(applicant, "tests.count", django_capture_on_commit_callbacks)
    client.force_login(applicant)
    data = client.get(f"/api/jobs/{job.pk}/").json()
    assert data["state"] == "done" and data["percent"] == 100
    assert data["download"].endswith(reverse("core:job_download", args=[job.pk]))
    client.force_login(UserFactory())
    assert client.get(f"/api/jobs/{job.pk}/").status_code == 404
