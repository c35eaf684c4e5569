"""A database connection dropped between two requests (failover, restart, idle timeout) is replaced
by the next request instead of answering 500: `conn_health_checks` (config/settings/base.py).

The requests go through Django's real WSGI handler in this thread, so the app's persistent
connection (CONN_MAX_AGE) is the one this test kills with pg_terminate_backend from another
connection, as a database restart would."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import psycopg
import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def wsgi_get(path: str) -> int:
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "REMOTE_ADDR": "198.51.100.23",
        "HTTP_ACCEPT_LANGUAGE": "fr",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": io.StringIO(),
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    statuses: list[str] = []

    def start_response(status: str, headers: list, exc_info: object = None) -> None:
        statuses.append(status)

    body = WSGIHandler()(environ, start_response)
    b"".join(body)
    body.close()  # fires request_finished, as a WSGI server does
    return int(statuses[0].split()[0])


def kill_app_connections() -> int:
    """Terminate every other backend of the app's database, as a restart would; return how many."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(autocommit=True, **params) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


@pytest.fixture
def persistent_connection(settings) -> Iterator[None]:
    saved = dict(connection.settings_dict)
    connection.settings_dict["CONN_MAX_AGE"] = 60
    yield
    connection.settings_dict.update(saved)
    connection.close()


def test_the_next_requests_succeed_after_the_connections_are_killed(persistent_connection):
    assert connection.settings_dict["CONN_HEALTH_CHECKS"] is True
    assert wsgi_get("/appels/") == 200
    assert connection.connection is not None, "the connection should persist between requests"
    old_pid = connection.connection.info.backend_pid

    assert kill_app_connections() >= 1

    assert [wsgi_get("/appels/") for _ in range(3)] == [200, 200, 200]
    assert connection.connection.info.backend_pid != old_pid


def test_without_health_checks_the_same_drop_answers_500(persistent_connection, caplog):
    """The counter-proof: the test above would fail without the setting."""
    connection.settings_dict["CONN_HEALTH_CHECKS"] = False
    assert wsgi_get("/appels/") == 200
    kill_app_connections()
    with caplog.at_level(logging.CRITICAL, logger="django.request"):
        assert wsgi_get("/appels/") == 500
