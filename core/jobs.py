"""Background jobs: long work (large exports and imports, payment-run processing) run by a Celery
worker, with progress the person who started it can follow and an expiring result file.

A kind of job is a runner registered with `register_job`. The runner receives the job and a
`JobProgress` (`progress(done, total)`; `progress.add(counts, done=n)` for totals over attempts), and
returns a `JobResult`. Runners must be idempotent: a worker killed halfway re-runs the job from the
start (acks_late), so a runner skips what is already done.
The job is enqueued after commit, so the worker never sees a job its transaction has not written.

A worker claims the job atomically with a lease (`JOB_LEASE_SECONDS`, renewed at each progress
report): a redelivered task finds the job claimed and leaves it (checking again when the lease
ends), or takes it over once the lease has expired (its worker died). Every write of a runner's
unit of work that goes through `progress.add` is fenced by the claim: a worker that lost its
lease cannot count a chunk twice.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.db import models, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils.translation import gettext_noop

from .clock import now
from .models import BackgroundJob, User
from .notifications import Msg, Text, notify


@dataclass
class JobResult:
    summary: dict[str, Any] = field(default_factory=dict)
    file: File[Any] | None = None
    file_name: str = ""
    notify_title: Text = ""


Runner = Callable[[BackgroundJob, "JobProgress"], JobResult]
_RUNNERS: dict[str, Runner] = {}

MAX_ATTEMPTS = 3


def register_job(kind: str) -> Callable[[Runner], Runner]:
    def decorator(runner: Runner) -> Runner:
        _RUNNERS[kind] = runner
        return runner

    return decorator


def job_start(
    *, owner: User, kind: str, label: str, params: dict[str, Any] | None = None
) -> BackgroundJob:
    """Record the job and hand it to the worker once the caller's transaction commits (in-process
    when no broker is configured, as with `make run`)."""
    if kind not in _RUNNERS:
        raise KeyError(kind)
    job = BackgroundJob.objects.create(
        owner=owner, kind=kind, label=str(label)[:255], params=params or {}
    )
    from .tasks import run_job

    transaction.on_commit(lambda: run_job.delay(job.pk))
    return job


class JobLeaseLost(Exception):
    """Another worker took the job over (this one's lease expired): stop, write nothing more."""


class JobProgress:
    """What a runner reports through: `progress(done, total)` (also renews the lease), and
    `progress.add(counts, done=n)` inside the transaction of a unit of work, which adds to the
    job's totals over all its attempts (`job.tally`, `progress_done`) only if this worker still
    holds the job — so a chunk written by a worker that lost its lease is rolled back with it."""

    def __init__(self, job: BackgroundJob, token: str) -> None:
        self.job_id = job.pk
        self.token = token
        self.tally: dict[str, int] = dict(job.tally or {})
        self.done = job.progress_done

    def _mine(self) -> models.QuerySet[BackgroundJob]:
        return BackgroundJob.objects.filter(pk=self.job_id, claim_token=self.token)

    def __call__(self, done: int, total: int | None = None) -> None:
        values: dict[str, Any] = {"progress_done": done, "lease_until": _lease_end()}
        if total is not None:
            values["progress_total"] = total
        if not self._mine().update(**values):
            raise JobLeaseLost(self.job_id)
        self.done = done

    def add(self, counts: dict[str, int], *, done: int = 0) -> dict[str, int]:
        """Add `counts` to the job's totals and `done` to its progress, in the caller's
        transaction. Returns the totals over every attempt so far."""
        with transaction.atomic():
            job = self._mine().select_for_update().only("tally", "progress_done").first()
            if job is None:
                raise JobLeaseLost(self.job_id)
            tally = dict(job.tally or {})
            for key, value in counts.items():
                tally[key] = int(tally.get(key, 0)) + int(value)
            self.done = job.progress_done + done
            self._mine().update(tally=tally, progress_done=self.done, lease_until=_lease_end())
        self.tally = tally
        return dict(tally)


Progress = JobProgress


def _lease_end() -> datetime.datetime:
    return now() + datetime.timedelta(seconds=settings.JOB_LEASE_SECONDS)


def job_claim(job_id: int) -> tuple[BackgroundJob, str] | None:
    """Take the job atomically (one UPDATE … WHERE): a queued job, or a running one whose lease has
    expired (its worker died). None if it is finished or another worker holds a live lease."""
    token = uuid.uuid4().hex
    stamp = now()
    free = Q(state=BackgroundJob.State.QUEUED) | Q(
        Q(lease_until__lt=stamp) | Q(lease_until__isnull=True),
        state=BackgroundJob.State.RUNNING,
    )
    claimed = BackgroundJob.objects.filter(free, pk=job_id).update(
        state=BackgroundJob.State.RUNNING,
        started_at=stamp,
        attempts=F("attempts") + 1,
        claim_token=token,
        lease_until=stamp + datetime.timedelta(seconds=settings.JOB_LEASE_SECONDS),
    )
    if not claimed:
        return None
    return BackgroundJob.objects.get(pk=job_id), token


def lease_remaining(job: BackgroundJob) -> float:
    """Seconds before the lease of a running job expires (0 if already expired)."""
    if job.lease_until is None:
        return 0.0
    return max(0.0, (job.lease_until - now()).total_seconds())


def job_run(job_id: int) -> BackgroundJob | None:
    """Run one job (called by the Celery task) if it can be claimed. A finished job is not run
    again; a job another worker is running (live lease) is left to it and returned as is."""
    claim = job_claim(job_id)
    if claim is None:
        return BackgroundJob.objects.filter(pk=job_id).first()
    job, token = claim
    runner = _RUNNERS[job.kind]
    progress = JobProgress(job, token)

    try:
        result = runner(job, progress)
    except JobLeaseLost:
        return BackgroundJob.objects.filter(pk=job_id).first()
    except Exception as exc:  # noqa: BLE001 - recorded for the user, re-raised for the worker
        final = job.attempts >= MAX_ATTEMPTS
        BackgroundJob.objects.filter(pk=job.pk, claim_token=token).update(
            state=BackgroundJob.State.FAILED if final else BackgroundJob.State.QUEUED,
            error=str(exc)[:2000],
            lease_until=None,
        )
        if final:
            notify(
                users=[job.owner],
                title=Msg(gettext_noop("Échec : %(label)s"), label=job.label),
                body=str(exc)[:500],
                url=reverse("core:job_detail", args=[job.pk]),
            )
            return BackgroundJob.objects.get(pk=job.pk)
        raise
    with transaction.atomic():
        job = BackgroundJob.objects.select_for_update().get(pk=job.pk)
        if job.claim_token != token:
            return job  # taken over meanwhile: the other worker finishes it
        job.state = BackgroundJob.State.DONE
        job.finished_at = now()
        job.lease_until = None
        job.result = result.summary
        job.error = ""
        if job.progress_total is not None:
            job.progress_done = job.progress_total
        if result.file is not None:
            job.result_name = result.file_name
            job.result_file.save(f"job-{job.pk}-{result.file_name}", result.file, save=False)
            job.expires_at = now() + datetime.timedelta(hours=settings.JOB_FILE_TTL_HOURS)
        job.save()
    notify(
        users=[job.owner],
        title=result.notify_title or Msg(gettext_noop("Terminé : %(label)s"), label=job.label),
        body=Msg(
            gettext_noop("Le fichier est disponible jusqu'au %(date)s."),
            date=job.expires_at.strftime("%d/%m/%Y %H:%M"),
        )
        if job.expires_at
        else "",
        url=reverse("core:job_detail", args=[job.pk]),
    )
    return job


def job_file_available(job: BackgroundJob) -> bool:
    return bool(job.result_file) and job.expires_at is not None and job.expires_at > now()


def jobs_purge_expired() -> int:
    """Delete result files past their expiry (daily). Idempotent."""
    count = 0
    for job in BackgroundJob.objects.filter(expires_at__lte=now()).exclude(result_file=""):
        job.result_file.delete(save=False)
        BackgroundJob.objects.filter(pk=job.pk).update(result_file="")
        count += 1
    return count


def content_file(data: bytes) -> ContentFile[bytes]:
    return ContentFile(data)
