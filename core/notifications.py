"""Notifications: an in-app row now, the email after commit (console backend by default).

A notification's text is rendered in its recipient's language. Callers pass a `Msg` (a message id
marked with `gettext_noop` and its parameters): the row keeps the id and parameters, so the in-app
list is shown in the reader's current language, and the email is rendered under
`translation.override(user.language)`. A plain `str` is still accepted (stored as-is).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .models import Notification, User


@dataclass(frozen=True)
class Msg:
    """A translatable message rendered later, in the recipient's language."""

    msgid: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __init__(self, msgid: str, /, **params: Any) -> None:
        object.__setattr__(self, "msgid", msgid)
        object.__setattr__(self, "params", {k: str(v) for k, v in params.items()})

    def render(self) -> str:
        text = gettext(self.msgid)
        return text % dict(self.params) if self.params else text

    def as_json(self) -> list[Any]:
        return [self.msgid, dict(self.params)]


Text = str | Msg


def render_stored(stored: Any, fallback: str) -> str:
    """Render a message stored by `Msg.as_json` in the active language (else the fallback)."""
    if isinstance(stored, list) and len(stored) == 2 and isinstance(stored[0], str):
        try:
            return Msg(stored[0], **dict(stored[1] or {})).render()
        except (KeyError, ValueError, TypeError):
            return fallback
    return fallback


def _render(text: Text) -> str:
    return text.render() if isinstance(text, Msg) else str(text)


def absolute_url(path: str) -> str:
    """An absolute link for an email: SITE_URL (read at call time) + path."""
    if path.startswith(("http://", "https://")):
        return path
    base = str(getattr(settings, "SITE_URL", "") or "http://127.0.0.1:8000").rstrip("/")
    return base + (path if path.startswith("/") else "/" + path)


def user_language(user: User) -> str:
    language = getattr(user, "language", "") or settings.LANGUAGE_CODE
    return language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


def render_email(
    *, user: User, title: Text, body: Text = "", url: str = ""
) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of one notification email, in the recipient's language."""
    from django.urls import reverse

    with translation.override(user_language(user)):
        rendered_title = _render(title)
        link = absolute_url(url or reverse("core:notifications"))
        context = {
            "user": user,
            "title": rendered_title,
            "body": _render(body),
            "link": link,
            "has_url": bool(url),
            "notifications_url": absolute_url(reverse("core:notifications")),
            "site_url": absolute_url("/"),
        }
        subject = str(_("[Pluriel] %(title)s") % {"title": rendered_title})
        text = render_to_string("core/email/notification.txt", context)
        html = render_to_string("core/email/notification.html", context)
    return subject, text, html


def notify(
    *, users: Iterable[User], title: Text, body: Text = "", url: str = ""
) -> list[Notification]:
    """Notify users in-app and by email, each in their own language. The email leaves only if the
    transaction commits; each recipient gets their own email (no address is disclosed to others)."""
    recipients = [u for u in {u.pk: u for u in users if u is not None}.values() if u.is_active]
    message: dict[str, Any] = {}
    if isinstance(title, Msg):
        message["title"] = title.as_json()
    if isinstance(body, Msg):
        message["body"] = body.as_json()
    rows = []
    for u in recipients:
        with translation.override(user_language(u)):
            rows.append(
                Notification(
                    user=u,
                    title=_render(title)[:255],
                    body=_render(body),
                    url=url,
                    message=message,
                )
            )
    rows = Notification.objects.bulk_create(rows)
    emails = [
        render_email(user=u, title=title, body=body, url=url) + (u.email,)
        for u in recipients
        if u.email
    ]
    if emails:
        from .tasks import send_email

        def _send() -> None:
            for subject, text, html, address in emails:
                send_email.delay(subject, text, [address], html)

        transaction.on_commit(_send)
    return rows
