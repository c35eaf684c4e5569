"""`{% form_fields form %}`: a form's fields as grants/_fields.html prints them, a blank form's
HTML cached under its fingerprint (issue 17: the file page's transition, assignment, note and
opinion forms cost more to render than the rest of its body)."""

from __future__ import annotations

import logging
from typing import Any

from django import forms, template
from django.core.cache import cache
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from core.forms import forms_fingerprint

register = template.Library()
logger = logging.getLogger(__name__)
TEMPLATE = "grants/_fields.html"
TIMEOUT = 86400


@register.simple_tag
def form_fields(form: forms.BaseForm, summarised: bool = False) -> SafeString:
    """A bound form (its data, its errors) is rendered every time. A blank one's HTML depends only
    on what `forms_fingerprint` digests (language, prefix and ids, initial values, labels, help,
    flags, widget attributes, choices read now), so it is shared by every page showing the same
    blank form and never goes stale."""

    def render() -> Any:
        return render_to_string(TEMPLATE, {"form": form, "summarised": summarised})

    if form.is_bound:
        return mark_safe(render())  # noqa: S308 (a rendered, escaped template)
    key = f"pluriel:form-fields:{int(summarised)}:{forms_fingerprint(form)}"
    try:
        html = cache.get(key)
    except Exception:  # a cache outage slows pages down, never breaks them
        logger.warning("cache read failed for %s", key, exc_info=True)
        return mark_safe(render())  # noqa: S308
    if html is None:
        html = render()
        try:
            cache.set(key, html, TIMEOUT)
        except Exception:
            logger.warning("cache write failed for %s", key, exc_info=True)
    return mark_safe(html)  # noqa: S308
