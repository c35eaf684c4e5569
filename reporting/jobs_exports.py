"""Background jobs of the exports (core.jobs). Imported by reporting.jobs when the app is ready, so
that the web process and the Celery worker both know the runner."""

from __future__ import annotations

from core.jobs import JobResult, Progress, register_job
from core.models import BackgroundJob

from .exports import EXPORT_JOB, run_export


@register_job(EXPORT_JOB)
def export_job(job: BackgroundJob, progress: Progress) -> JobResult:
    """One export: the dataset, columns, format and filters in `job.params`, for `job.owner`
    (reporting.exports.run_export)."""
    return run_export(job, progress)
