"""Notifications: an in-app row now, the email after commit (console backend by default)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from .models import Notification, User


def notify(
    *, users: Iterable[User], title: str, body: str = "", url: str = ""
) -> list[Notification]:
    """Notify users in-app and by email. The email leaves only if the transaction commits."""
    recipients = [u for u in {u.pk: u for u in users if u is not None}.values() if u.is_active]
    rows = Notification.objects.bulk_create(
        [Notification(user=u, title=str(title)[:255], body=str(body), url=url) for u in recipients]
    )
    emails = [u.email for u in recipients if u.email]
    if emails:
        subject, message = f"[Pluriel] {title}", f"{body}\n\n{url}".strip()

        from .tasks import send_email

        transaction.on_commit(lambda: send_email.delay(subject, message, emails))
    return rows
