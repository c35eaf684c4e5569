"""The bare view of bench/load.py is mounted only when BENCH_VIEWS is on."""

from __future__ import annotations

import importlib

import pytest
from django.test import override_settings
from django.urls import clear_url_caches

import config.urls


def reload_urls() -> None:
    clear_url_caches()
    importlib.reload(config.urls)


@pytest.fixture
def restore_urls():
    yield
    reload_urls()


def test_the_bare_view_is_off_by_default(client, settings):
    assert settings.BENCH_VIEWS is False
    assert client.get("/_bench/ok/").status_code == 404


def test_the_bare_view_answers_ok_when_enabled(client, restore_urls):
    with override_settings(BENCH_VIEWS=True):
        reload_urls()
        response = client.get("/_bench/ok/")
    assert response.status_code == 200
    assert response.content == b"ok"
