"""The OpenAPI schema, the documentation pages and token authentication."""

from __future__ import annotations

import pytest
import yaml
from axes.models import AccessAttempt
from django.core.management import call_command
from drf_spectacular.validation import validate_schema
from rest_framework.authtoken.models import Token

from grants.services import transition_specs
from grants.transitions import TRANSITION_INPUTS

pytestmark = pytest.mark.django_db


def test_schema_is_valid_openapi_with_the_transition_paths(api):
    response = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    validate_schema(schema)  # raises on an invalid OpenAPI 3 document
    paths = schema["paths"]
    transition = paths["/api/applications/{id}/transitions/{name}/"]["post"]
    name = next(p for p in transition["parameters"] if p["name"] == "name")
    assert sorted(name["schema"]["enum"]) == sorted(transition_specs())
    assert {"200", "400", "403", "404", "409"} <= set(transition["responses"])
    assert "/api/calls/{id}/transitions/{name}/" in paths
    assert "/api/applications/{id}/history/" in paths
    assert "/api/auth/token/" in paths
    conflict = schema["components"]["schemas"]["TransitionNotAllowedError"]
    assert "allowed_transitions" in conflict["properties"]


def test_schema_command_has_no_warning(tmp_path):
    """What CI runs: `manage.py spectacular --validate --fail-on-warn`."""
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert "/api/applications/" in yaml.safe_load(out.read_text())["paths"]


def test_every_transition_has_an_input_serializer():
    assert set(TRANSITION_INPUTS) == set(transition_specs())


@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/"])
def test_documentation_pages_are_served_without_cdn(api, url):
    response = api.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "/api/schema/" in html
    assert "cdn.jsdelivr.net" not in html and "unpkg.com" not in html
    assert "/static/drf_spectacular_sidecar/" in html


def test_token_for_email_and_password_then_used(api, applicant, draft):
    response = api.post(
        "/api/auth/token/",
        {"email": "Porteur@asso.example.org", "password": "secret-pass-123"},
        format="json",
    )
    assert response.status_code == 200
    key = response.json()["token"]
    assert Token.objects.get(user=applicant).key == key
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    listing = api.get("/api/applications/")
    assert listing.status_code == 200
    assert [row["id"] for row in listing.json()["results"]] == [draft.pk]


def test_token_refused_for_a_wrong_password_and_the_failure_counted(api, applicant):
    response = api.post(
        "/api/auth/token/", {"email": applicant.email, "password": "wrong"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "Adresse e-mail ou mot de passe incorrect."
    attempt = AccessAttempt.objects.get(username=applicant.email)
    assert attempt.failures_since_start == 1
    assert not Token.objects.filter(user=applicant).exists()


def test_token_follows_login_throttling(api, applicant, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        api.post("/api/auth/token/", {"email": applicant.email, "password": "wrong"}, format="json")
    response = api.post(
        "/api/auth/token/", {"email": applicant.email, "password": "secret-pass-123"}, format="json"
    )
    assert response.status_code == 429
    assert "Trop de tentatives" in response.json()["detail"]
    assert not Token.objects.filter(user=applicant).exists()


def test_token_refused_for_an_unconfirmed_account(api, applicant):
    applicant.is_active = False
    applicant.save(update_fields=["is_active"])
    response = api.post(
        "/api/auth/token/", {"email": applicant.email, "password": "secret-pass-123"}, format="json"
    )
    assert response.status_code == 400


def test_token_request_fields_are_checked_in_french(api):
    response = api.post("/api/auth/token/", {"email": "pas-une-adresse"}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "email": ["Saisissez une adresse e-mail valide."],
        "password": ["Ce champ est obligatoire."],
    }


def test_an_invalid_token_is_refused(api, draft):
    api.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef")
    response = api.get("/api/applications/")
    assert response.status_code == 403
    assert response.json()["detail"] == "Token non valide."
