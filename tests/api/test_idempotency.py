"""Idempotency-Key on the API (issue 11): a retry after a lost response creates nothing."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.idempotency import idempotency_keys_purge
from core.models import IdempotencyKey
from grants.models import Application, InstructorNote

from .conftest import put

pytestmark = pytest.mark.django_db


@pytest.fixture
def token_client(instructor):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=instructor).key}")
    return client


@pytest.fixture
def notes_url(draft):
    application = put(draft, "submitted")
    return f"/api/applications/{application.pk}/notes/"


def test_retry_after_a_lost_response_replays_and_creates_nothing(token_client, notes_url):
    first = token_client.post(
        notes_url, {"text": "Appeler la présidente."}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert first.status_code == 201
    # The response is lost; the client retries with the same key and body.
    retry = token_client.post(
        notes_url, {"text": "Appeler la présidente."}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert retry.status_code == 201
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert InstructorNote.objects.count() == 1


def test_same_key_other_body_is_a_422(token_client, notes_url):
    token_client.post(notes_url, {"text": "Un"}, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    other = token_client.post(
        notes_url, {"text": "Deux"}, format="json", HTTP_IDEMPOTENCY_KEY="k-2"
    )
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert InstructorNote.objects.count() == 1


def test_without_key_each_request_runs(token_client, notes_url):
    token_client.post(notes_url, {"text": "Un"}, format="json")
    token_client.post(notes_url, {"text": "Un"}, format="json")
    assert InstructorNote.objects.count() == 2


def test_keys_are_per_user_and_session_clients_work(client_for, token_client, notes_url):
    token_client.post(notes_url, {"text": "Un"}, format="json", HTTP_IDEMPOTENCY_KEY="shared")
    manager = client_for("manager")
    response = manager.post(notes_url, {"text": "Un"}, format="json", HTTP_IDEMPOTENCY_KEY="shared")
    assert response.status_code == 201 and "Idempotent-Replayed" not in response
    again = manager.post(notes_url, {"text": "Un"}, format="json", HTTP_IDEMPOTENCY_KEY="shared")
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert InstructorNote.objects.count() == 2


def test_a_refusal_is_replayed_too_and_a_key_in_progress_is_a_409(token_client, notes_url):
    bad = token_client.post(notes_url, {"text": ""}, format="json", HTTP_IDEMPOTENCY_KEY="k-3")
    assert bad.status_code == 400
    again = token_client.post(notes_url, {"text": ""}, format="json", HTTP_IDEMPOTENCY_KEY="k-3")
    assert again.status_code == 400 and again["Idempotent-Replayed"] == "true"
    row = IdempotencyKey.objects.get(key="k-3")
    IdempotencyKey.objects.filter(pk=row.pk).update(status_code=None)  # as while still running
    busy = token_client.post(notes_url, {"text": ""}, format="json", HTTP_IDEMPOTENCY_KEY="k-3")
    assert busy.status_code == 409 and busy.json()["code"] == "idempotency_busy"


def test_expired_keys_run_again_and_are_purged(token_client, notes_url):
    token_client.post(notes_url, {"text": "Un"}, format="json", HTTP_IDEMPOTENCY_KEY="k-4")
    IdempotencyKey.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    response = token_client.post(
        notes_url, {"text": "Un"}, format="json", HTTP_IDEMPOTENCY_KEY="k-4"
    )
    assert response.status_code == 201 and "Idempotent-Replayed" not in response
    assert InstructorNote.objects.count() == 2
    IdempotencyKey.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    assert idempotency_keys_purge() == 1 and not IdempotencyKey.objects.exists()


def test_an_invalid_key_is_a_400(token_client, notes_url):
    response = token_client.post(
        notes_url, {"text": "Un"}, format="json", HTTP_IDEMPOTENCY_KEY="x" * 256
    )
    assert response.status_code == 400 and InstructorNote.objects.count() == 0


def test_creation_of_an_application_is_not_duplicated(client_for, organisation, call):
    client = client_for("applicant")
    payload = {"organisation": organisation.pk, "call": call.pk, "title": "Jardins partagés"}
    first = client.post("/api/applications/", payload, format="json", HTTP_IDEMPOTENCY_KEY="a")
    second = client.post("/api/applications/", payload, format="json", HTTP_IDEMPOTENCY_KEY="a")
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert Application.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_run_the_view_once(instructor, draft):
    """Two retries racing with the same key: one runs, the other is refused (409) or replayed."""
    import threading

    from django.db import connection

    application = put(draft, "submitted")
    url = f"/api/applications/{application.pk}/notes/"
    key = Token.objects.create(user=instructor).key
    barrier = threading.Barrier(4)
    statuses: list[int] = []

    def send() -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        barrier.wait()
        try:
            response = client.post(url, {"text": "Un"}, format="json", HTTP_IDEMPOTENCY_KEY="race")
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert InstructorNote.objects.count() == 1
    assert statuses.count(201) >= 1 and set(statuses) <= {201, 409}


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("delete", "/api/applications/bulk/", {"POST", "OPTIONS"}),
        ("put", "/api/calls/{call}/challenges/", {"GET", "HEAD", "POST", "OPTIONS"}),
        ("patch", "/api/applications/{draft}/notes/", {"GET", "HEAD", "POST", "OPTIONS"}),
    ],
)
def test_an_undeclared_method_is_a_405_even_with_a_reused_key(
    token_client, draft, call, method, path, allow
):
    """The key is not looked at for a method the route does not have: 405 with its Allow."""
    url = path.format(call=call.pk, draft=draft.pk)
    token_client.post(
        f"/api/applications/{draft.pk}/notes/", {"text": "x"}, HTTP_IDEMPOTENCY_KEY="k"
    )
    for body in ({"a": 1}, {"a": 2}):
        response = getattr(token_client, method)(url, body, format="json", HTTP_IDEMPOTENCY_KEY="k")
        assert response.status_code == 405
        assert set(response["Allow"].replace(" ", "").split(",")) == allow
        assert response.json()["code"] == "method_not_allowed"
