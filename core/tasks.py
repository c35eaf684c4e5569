from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail


@shared_task(
    name="core.tasks.send_email", autoretry_for=(OSError,), retry_backoff=True, max_retries=5
)
def send_email(subject: str, message: str, recipients: list[str]) -> int:
    """Send one notification email. Enqueued after commit; retried on transient SMTP errors only."""
    return send_mail(subject, message, settings.DEFAULT_FROM_EMAIL, recipients)
