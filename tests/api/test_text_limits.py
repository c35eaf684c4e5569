"""Every text a person types has a length limit (issue 11): on the model, in every API input of the
OpenAPI schema and in every web form. A walk over all of them fails on a field without one, so a
new field cannot forget it; the few exceptions are listed below with the reason."""

from __future__ import annotations

from typing import Any

import pytest
from django import forms
from django.apps import apps
from django.db import models
from django.urls import get_resolver, reverse
from drf_spectacular.generators import SchemaGenerator

from core.limits import LONG_TEXT
from grants.models import ApplicationState, InstructorNote

from .conftest import put

OUR_APPS = ("core", "calls", "contracts", "grants", "cpo", "finance", "directory", "reporting")

# Model text fields that no person types into: written by the code only.
MODEL_ALLOW_LIST = {
    # Copied by the services from a reason already limited by the input that carried it; an
    # audit row is never refused for its length.
    "core.AuditLog.reason": "written by core.audit from limited inputs",
    # Rendered by core.notifications from templates.
    "core.Notification.body": "rendered from a template",
    # A background job's traceback or error message, written by core.jobs.
    "core.BackgroundJob.error": "written by the job runner",
    # Why one file of a bulk action was skipped, written by grants.services.bulk.
    "grants.BulkActionItem.reason": "written by the bulk action service",
    # The folded search text, written by database triggers (grants migration 0007).
    "grants.Application.search_text": "written by database triggers",
}

# Web form text fields whose limit is set when the form is built, not on the class.
FORM_ALLOW_LIST = {
    # django.contrib.auth's AuthenticationForm sets it in __init__ from the user model (254).
    "core.forms.LoginForm.username": "max_length set by AuthenticationForm.__init__",
}

# String formats whose shape already bounds them.
BOUNDED_FORMATS = {"date", "date-time", "time", "decimal", "binary", "uuid"}


def _our_models() -> list[type[models.Model]]:
    return [model for app in OUR_APPS for model in apps.get_app_config(app).get_models()]


def test_every_model_text_field_has_a_limit():
    missing = []
    for model in _our_models():
        for field in model._meta.get_fields():
            if not isinstance(field, models.TextField | models.CharField):
                continue
            name = f"{model._meta.app_label}.{model.__name__}.{field.name}"
            if field.max_length is None and name not in MODEL_ALLOW_LIST:
                missing.append(name)
    assert missing == [], f"text fields without max_length: {missing}"


def test_the_model_allow_list_is_not_stale():
    names = {
        f"{m._meta.app_label}.{m.__name__}.{f.name}"
        for m in _our_models()
        for f in m._meta.get_fields()
        if isinstance(f, models.TextField) and f.max_length is None
    }
    assert set(MODEL_ALLOW_LIST) == names


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def _unbounded_strings(
    schema: dict[str, Any], node: dict[str, Any], path: str, seen: set[str]
) -> list[str]:
    if "$ref" in node:
        if node["$ref"] in seen:
            return []
        seen = seen | {node["$ref"]}
    node = _resolve(schema, node)
    out: list[str] = []
    for key in ("allOf", "oneOf", "anyOf"):
        for index, sub in enumerate(node.get(key, [])):
            out += _unbounded_strings(schema, sub, f"{path}<{index}>", seen)
    if node.get("readOnly"):
        return out
    kind = node.get("type")
    if kind == "object" or "properties" in node:
        for name, prop in node.get("properties", {}).items():
            out += _unbounded_strings(schema, prop, f"{path}.{name}", seen)
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            out += _unbounded_strings(schema, extra, f"{path}.*", seen)
    elif kind == "array":
        out += _unbounded_strings(schema, node.get("items", {}), f"{path}[]", seen)
    elif kind == "string":
        bounded = (
            "maxLength" in node
            or "enum" in node
            or node.get("format") in BOUNDED_FORMATS
            or "pattern" in node
            and node["pattern"].endswith("$")
            and "*" not in node["pattern"]
            and "+" not in node["pattern"]
        )
        if not bounded:
            out.append(path)
    return out


def test_every_api_input_text_has_a_max_length():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    missing = []
    for url, item in schema["paths"].items():
        for method, operation in item.items():
            body = operation.get("requestBody", {}).get("content", {})
            for media_type, content in body.items():
                where = f"{method.upper()} {url} ({media_type})"
                missing += _unbounded_strings(schema, content.get("schema", {}), where, set())
    assert sorted(set(missing)) == [], sorted(set(missing))


def _form_classes() -> list[type[forms.BaseForm]]:
    get_resolver().url_patterns  # noqa: B018  (imports every view module, hence every form)
    found: list[type[forms.BaseForm]] = []
    todo: list[type[forms.BaseForm]] = [forms.Form, forms.ModelForm]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            todo.append(sub)
            if sub.__module__.split(".")[0] in OUR_APPS:
                found.append(sub)
    return found


def test_every_web_form_text_has_a_max_length():
    classes = _form_classes()
    assert len(classes) > 50  # the walk reaches the apps' forms
    missing = []
    for form in classes:
        for name, field in form.base_fields.items():
            key = f"{form.__module__}.{form.__name__}.{name}"
            unbounded = isinstance(field, forms.CharField) and field.max_length is None
            if unbounded and key not in FORM_ALLOW_LIST:
                missing.append(key)
    assert sorted(set(missing)) == [], sorted(set(missing))


@pytest.mark.django_db
class TestInstructorNote:
    """« A 5 MB instructor note » (issue 11): refused in the user's language, nothing stored."""

    def _url(self, draft) -> str:
        return f"/api/applications/{put(draft, ApplicationState.SUBMITTED).pk}/notes/"

    def test_five_megabytes_through_the_api_are_refused(self, client_for, draft):
        url = self._url(draft)
        response = client_for("instructor").post(url, {"text": "x" * 5_000_000}, format="json")
        assert response.status_code == 413
        assert response.json()["detail"] == "Le corps de la requête dépasse 1000000 octets."
        assert not InstructorNote.objects.exists()

    def test_a_note_over_the_limit_is_a_400_in_french(self, client_for, draft):
        url = self._url(draft)
        response = client_for("instructor").post(url, {"text": "x" * 900_000}, format="json")
        assert response.status_code == 400
        assert response.json()["errors"] == {
            "text": [f"Assurez-vous que ce champ comporte au plus {LONG_TEXT}\xa0caractères."]
        }
        assert not InstructorNote.objects.exists()
        ok = client_for("instructor").post(url, {"text": "x" * LONG_TEXT}, format="json")
        assert ok.status_code == 201

    def test_five_megabytes_through_the_web_form_are_refused(self, client, draft, instructor):
        application = put(draft, ApplicationState.SUBMITTED)
        client.force_login(instructor)
        url = reverse("grants:application_note", args=[application.pk])
        response = client.post(url, {"note-text": "x" * 5_000_000})
        assert response.status_code == 400
        assert f"au plus {LONG_TEXT} caractères" in response.content.decode().replace("\u202f", "")
        assert not InstructorNote.objects.exists()
