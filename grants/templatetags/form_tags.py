"""`{% form_fields form %}`: a form's fields as grants/_fields.html prints them, a blank form's
HTML cached under its fingerprint (issue 17: the file page's transition, assignment, note and
opinion forms cost more to render than the rest of its body)."""

from __future__ import annotations

from typing import Any

from django import forms, template
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from core.data_version import cached_at
from core.forms import forms_fingerprint

register = template.Library()
TEMPLATE = "grants/_fields.html"
TIMEOUT = 86400


@register.simple_tag
def form_fields(form: forms.BaseForm, summarised: bool = False) -> SafeString:
    """A bound form (its data, its errors) is rendered every time. A blank one's HTML depends only
    on what `forms_fingerprint` digests (language, prefix and ids, initial values, labels, help,
    flags, widget attributes, choices read now), so it is shared by every page showing the same
    blank form and never goes stale (stored as core.data_version's entries: a cache outage
    renders it)."""

    def render() -> Any:
        return render_to_string(TEMPLATE, {"form": form, "summarised": summarised})

    if form.is_bound:
        return mark_safe(render())  # noqa: S308 (a rendered, escaped template)
    key = ("form-fields", summarised, forms_fingerprint(form))
    return mark_safe(cached_at("forms", 0, key, render, timeout=TIMEOUT))  # noqa: S308
