"""The API's contract under hostile input (issue 11): never a 5xx, JSON errors of one shape,
401 for missing credentials, JSON 404 under /api/, OPTIONS everywhere."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from .conftest import ROLES  # noqa: F401  (the role fixtures come from tests/conftest.py)

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/auth/token/"


def _post_raw(client: APIClient, url: str, body: str | bytes):
    return client.generic("POST", url, body, content_type="application/json")


class TestJsonLimits:
    def test_deep_nesting_is_a_400_even_anonymously(self, api):
        response = _post_raw(api, TOKEN_URL, "[" * 5000 + "]" * 5000)
        assert response.status_code == 400
        assert response.json()["code"] == "parse_error"

    def test_moderate_nesting_still_parses(self, client_for, draft):
        body = '{"text": "ok", "deep": ' + "[" * 20 + "]" * 20 + "}"
        response = _post_raw(client_for("applicant"), TOKEN_URL, body)
        assert response.status_code == 400  # wrong fields, but parsed: a validation error
        assert response.json()["code"] == "invalid"

    def test_body_over_the_limit_is_a_413(self, api, settings):
        settings.API_JSON_MAX_BYTES = 1000
        response = _post_raw(api, TOKEN_URL, '{"email": "' + "a" * 2000 + '"}')
        assert response.status_code == 413
        assert response.json()["code"] == "request_too_large"

    @pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
    def test_nan_and_infinity_are_refused(self, api, constant):
        response = _post_raw(api, TOKEN_URL, '{"email": ' + constant + ', "password": "x"}')
        assert response.status_code == 400

    def test_lone_surrogate_is_refused_without_being_echoed(self, api):
        response = _post_raw(api, TOKEN_URL, '{"email": "\\ud800", "password": "x"}')
        assert response.status_code == 400
        assert "\ud800" not in response.json()["detail"]
        response.content.decode("utf-8")  # valid UTF-8

    def test_invalid_utf8_is_a_400(self, api):
        response = _post_raw(api, TOKEN_URL, b'{"email": "\xff\xfe"}')
        assert response.status_code == 400


class TestShapeAndStatus:
    def test_validation_errors_have_detail_code_and_errors(self, api):
        response = api.post(TOKEN_URL, {"email": "not-an-email"}, format="json")
        assert response.status_code == 400
        body = response.json()
        assert body["code"] == "invalid" and body["detail"]
        assert set(body["errors"]) == {"email", "password"}
        assert all(isinstance(m, str) for msgs in body["errors"].values() for m in msgs)

    def test_missing_credentials_is_a_401_with_www_authenticate(self, api):
        response = api.get("/api/applications/")
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == "Token"
        assert response.json()["code"] == "not_authenticated"

    def test_bad_token_is_a_401(self, api):
        api.credentials(HTTP_AUTHORIZATION="Token nope")
        assert api.get("/api/qpvs/").status_code == 401

    @pytest.mark.parametrize(
        "path", ["/api/applications/abc/", "/api/nothing-here/", "/api/applications/1/years/x/"]
    )
    def test_unknown_paths_under_api_are_json_404(self, client_for, path):
        response = client_for("instructor").get(path)
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert response.json()["code"] == "not_found"

    def test_options_on_nested_routes(self, client_for, draft):
        client = client_for("applicant")
        for path in (f"/api/applications/{draft.pk}/years/", "/api/applications/", "/api/calls/"):
            response = client.options(path)
            assert response.status_code == 200, path

    def test_bad_page_is_a_documented_404(self, client_for):
        response = client_for("instructor").get("/api/applications/?page=999")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


def test_every_operation_documents_the_error_responses(api):
    schema = api.get("/api/schema/?format=json").json()
    assert schema["components"]["schemas"]["Error"]["required"] == ["detail"]
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            for code in ("400", "401", "403", "404"):
                assert code in operation["responses"], (method, path, code)
