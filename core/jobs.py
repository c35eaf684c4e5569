"""Background jobs: long work (large exports and imports, payment-run processing) run by a Celery
worker, with progress the person who started it can follow and an expiring result file.

A kind of job is a runner registered with `register_job`. The runner receives the job and a
`progress(done, total)` callback, and returns a `JobResult`. Runners must be idempotent: a worker
killed halfway re-runs the job from the start (acks_late), so a runner skips what is already done.
The job is enqueued after commit, so the worker never sees a job its transaction has not written.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from .clock import now
from .models import BackgroundJob, User
from .notifications import Msg, notify

Progress = Callable[[int, int | None], None]


@dataclass
class JobResult:
    summary: dict[str, Any] = field(default_factory=dict)
    file: File[Any] | None = None
    file_name: str = ""
    notify_title: str = ""


Runner = Callable[[BackgroundJob, Progress], JobResult]
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


def job_run(job_id: int) -> BackgroundJob | None:
    """Run one job (called by the Celery task). A finished job is not run again."""
    job = BackgroundJob.objects.filter(pk=job_id).first()
    if job is None or job.state in (BackgroundJob.State.DONE, BackgroundJob.State.FAILED):
        return job
    runner = _RUNNERS[job.kind]
    attempts = job.attempts + 1
    BackgroundJob.objects.filter(pk=job.pk).update(
        state=BackgroundJob.State.RUNNING, started_at=now(), attempts=attempts
    )

    job_pk = job.pk

    def progress(done: int, total: int | None = None) -> None:
        values: dict[str, Any] = {"progress_done": done}
        if total is not None:
            values["progress_total"] = total
        BackgroundJob.objects.filter(pk=job_pk).update(**values)

    try:
        result = runner(job, progress)
    except Exception as exc:  # noqa: BLE001 - recorded for the user, re-raised for the worker
        final = attempts >= MAX_ATTEMPTS
        BackgroundJob.objects.filter(pk=job.pk).update(
            state=BackgroundJob.State.FAILED if final else BackgroundJob.State.QUEUED,
            error=str(exc)[:2000],
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
    job = BackgroundJob.objects.get(pk=job.pk)
    job.state = BackgroundJob.State.DONE
    job.finished_at = now()
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
        title=result.notify_title or _("Terminé : %(label)s") % {"label": job.label},
        body=_("Le fichier est disponible jusqu'au %(date)s.")
        % {"date": job.expires_at.strftime("%d/%m/%Y %H:%M")}
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
