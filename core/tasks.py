from typing import Any

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail


@shared_task(
    name="core.tasks.send_email", autoretry_for=(OSError,), retry_backoff=True, max_retries=5
)
def send_email(
    subject: str, message: str, recipients: list[str], html_message: str | None = None
) -> int:
    """Send one notification email (plain text, plus an HTML part when given). Enqueued after
    commit; retried on transient SMTP errors only."""
    return send_mail(
        subject, message, settings.DEFAULT_FROM_EMAIL, recipients, html_message=html_message
    )


@shared_task(name="core.tasks.run_job", bind=True, acks_late=True, reject_on_worker_lost=True)
def run_job(self: Any, job_id: int) -> str | None:  # Celery's bound task
    """Run one background job. A failure is retried with a growing delay; `job_run` stops after
    MAX_ATTEMPTS and reports the failure. The runners are idempotent, so a redelivery after a
    worker was killed resumes safely."""
    from .jobs import MAX_ATTEMPTS, job_run

    while True:
        try:
            job = job_run(job_id)
        except Exception as exc:
            if self.request.is_eager:
                continue  # in-process (make run, tests): retry at once
            raise self.retry(
                exc=exc, countdown=5 * 2**self.request.retries, max_retries=MAX_ATTEMPTS
            ) from exc
        return job.state if job else None


@shared_task(name="core.tasks.jobs_purge_expired")
def jobs_purge_expired() -> int:
    """Daily: delete the result files whose download link has expired."""
    from .jobs import jobs_purge_expired as purge

    return purge()
