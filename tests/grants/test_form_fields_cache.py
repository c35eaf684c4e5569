"""`{% form_fields %}` (grants/templatetags/form_tags.py, issue 17): a blank form's HTML is
cached under its fingerprint and never goes stale; a bound form is always rendered."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.template import Context, Template
from django.template.loader import render_to_string

from core.models import Role
from grants.forms import AssignForm, NoteForm

from .. import factories as f

TAG = Template("{% load form_tags %}{% form_fields form %}")


def tag(form) -> str:
    return TAG.render(Context({"form": form}))


def plain(form) -> str:
    return render_to_string("grants/_fields.html", {"form": form})


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.mark.django_db
def test_a_blank_form_is_served_as_rendered_and_a_new_choice_shows(instructor):
    form = AssignForm(prefix="assign", initial={"assigned_to": instructor.pk})
    first = tag(form)
    assert first == plain(form) and instructor.email in first
    key = next(k for k in cache._cache if "pluriel:forms:" in k)  # locmem: the blank form's entry
    cache.set(key.split(":", 2)[2], "servi du cache")
    assert tag(AssignForm(prefix="assign", initial={"assigned_to": instructor.pk})) == (
        "servi du cache"
    )
    newcomer = f.UserFactory(email="nouvelle.instructrice@ville.example.org")
    f.give_role(newcomer, Role.INSTRUCTOR)
    again = tag(AssignForm(prefix="assign", initial={"assigned_to": instructor.pk}))
    assert "nouvelle.instructrice@ville.example.org" in again  # choices are in the key


@pytest.mark.django_db
def test_a_bound_form_shows_its_data_and_errors_every_time():
    blank = tag(NoteForm(prefix="note"))
    bound = NoteForm({"note-text": "x" * 20_001}, prefix="note")
    html = tag(bound)
    assert html != blank and "x" * 100 in html and "has-error" in html
    assert tag(NoteForm(prefix="note")) == blank
