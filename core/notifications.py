"""Notifications: an in-app row now, the email after commit (console backend by default).

A notification's text is rendered in its recipient's language. Callers pass a `Msg` (a message id
marked with `gettext_noop` and its parameters): the row keeps the id and parameters, so the in-app
list is shown in the reader's current language, and the email is rendered under
`translation.override(user.language)`. A plain `str` is still accepted (stored as-is).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Union

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.formats import number_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .models import Notification, User


@dataclass(frozen=True)
class Euros:
    """An amount parameter of a `Msg`, written the reader's way when rendered: « 1 250,50 € » in
    French, « €1,250.50 » in English."""

    amount: Decimal

    def render(self) -> str:
        figure = number_format(self.amount, decimal_pos=2, use_l10n=True, force_grouping=True)
        return gettext("%(amount)s €") % {"amount": figure}

    def as_json(self) -> dict[str, str]:
        return {"euros": str(self.amount)}


Param = Union["Msg", Euros, str]


@dataclass(frozen=True)
class Msg:
    """A translatable message rendered later, in the recipient's language."""

    msgid: str
    params: Mapping[str, Param] = field(default_factory=dict)

    def __init__(self, msgid: str, /, **params: Any) -> None:
        object.__setattr__(self, "msgid", msgid)
        object.__setattr__(
            self,
            "params",
            {k: v if isinstance(v, Msg | Euros) else str(v) for k, v in params.items()},
        )

    @classmethod
    def of_label(cls, label: Any) -> Msg:
        """A choice's label (`TextChoices`, marked with gettext_lazy) as a message rendered later:
        French is the source language, so the French text is the message id."""
        with translation.override(settings.LANGUAGE_CODE):
            return cls(str(label))

    def render(self) -> str:
        text = gettext(self.msgid)
        if not self.params:
            return text
        return text % {
            k: v.render() if isinstance(v, Msg | Euros) else v for k, v in self.params.items()
        }

    def as_json(self) -> list[Any]:
        return [
            self.msgid,
            {k: v.as_json() if isinstance(v, Msg | Euros) else v for k, v in self.params.items()},
        ]

    @classmethod
    def from_json(cls, stored: Any) -> Msg:
        """The message `as_json` stored (a parameter may itself be a stored message)."""
        msgid, params = stored[0], dict(stored[1] or {})
        return cls(msgid, **{k: _param_from_json(v) for k, v in params.items()})


def _param_from_json(value: Any) -> Param:
    if isinstance(value, list) and len(value) == 2:
        return Msg.from_json(value)
    if isinstance(value, dict) and "euros" in value:
        return Euros(Decimal(value["euros"]))
    return str(value)


Text = str | Msg


def render_stored(stored: Any, fallback: str) -> str:
    """Render a message stored by `Msg.as_json` in the active language (else the fallback)."""
    if isinstance(stored, list) and len(stored) == 2 and isinstance(stored[0], str):
        try:
            return Msg.from_json(stored).render()
        except (KeyError, ValueError, TypeError, ArithmeticError):
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


def interface_language() -> str:
    """The language the interface is shown in now (a supported code): kept on an account created
    or switched in it, so its notifications and emails follow."""
    language = (translation.get_language() or "").split("-")[0]
    return language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


def account_email_html(*, subject: str, text: str) -> str:
    """The HTML part of an account email (sign-up confirmation, invitation) written as plain text:
    the same words, its links made clickable, in the active language."""
    return render_to_string(
        "core/email/message.html",
        {"subject": subject, "text": text, "site_url": absolute_url("/")},
    )


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
