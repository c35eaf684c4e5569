import logging
from typing import Any

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail

logger = logging.getLogger(__name__)


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
    from .jobs import MAX_ATTEMPTS, job_run, lease_remaining

    while True:
        try:
            job = job_run(job_id)
        except Exception as exc:
            if self.request.is_eager:
                continue  # in-process (make run, tests): retry at once
            raise self.retry(
                exc=exc, countdown=5 * 2**self.request.retries, max_retries=MAX_ATTEMPTS
            ) from exc
        if job is not None and job.state == job.State.RUNNING:
            # Claimed by another worker (a redelivery while it runs, or its worker died): leave
            # it, and look again when its lease ends — it is renewed while the worker lives.
            logger.warning("job %s is claimed by another worker: checking again later", job_id)
            if not self.request.is_eager:
                run_job.apply_async((job_id,), countdown=lease_remaining(job) + 1)
            return "claimed"
        return job.state if job else None


@shared_task(name="core.tasks.jobs_purge_expired")
def jobs_purge_expired() -> int:
    """Daily: delete the result files whose download link has expired."""
    from .jobs import jobs_purge_expired as purge

    return purge()


@shared_task(name="core.tasks.audit_anchor_export")
def audit_anchor_export() -> dict[str, Any]:
    """Daily: record the audit chain's head in the database and in the anchor file."""
    from .audit_chain import audit_anchor_export as export

    return export()


@shared_task(name="core.tasks.retention_apply")
def retention_apply() -> dict[str, Any]:
    """Daily: apply the declared retention rules (core.privacy), audited."""
    from .privacy.services import retention_apply as apply

    return dict(apply().results)


@shared_task(name="core.tasks.idempotency_keys_purge")
def idempotency_keys_purge() -> int:
    """Hourly (beat): forget the API idempotency keys older than 24 h."""
    from .idempotency import idempotency_keys_purge as purge

    return purge()
