"""Shared fixtures: a person for every role, an open call, a complete draft."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import translation

from core.models import Role

from . import factories as f


def pytest_collection_modifyitems(config, items):
    """PostgreSQL-only tests are skipped on SQLite with the reason shown."""
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL (run by .ci/run)")
    for item in items:
        if "postgres" in item.keywords and connection.vendor != "postgresql":
            item.add_marker(skip_pg)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media"), "base_url": None},
        },
    }


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts and ends in the default language: the test client's requests activate the
    request's language in the test's thread (LocaleMiddleware) and Django leaves it active."""
    translation.activate(django_settings.LANGUAGE_CODE)
    yield
    translation.activate(django_settings.LANGUAGE_CODE)


@pytest.fixture
def organisation(db):
    return f.OrganisationFactory()


@pytest.fixture
def applicant(db, organisation):
    user = f.UserFactory(email="porteur@asso.example.org")
    f.add_member(user, organisation)
    return user


@pytest.fixture
def other_applicant(db):
    user = f.UserFactory(email="autre@asso.example.org")
    f.add_member(user, f.OrganisationFactory(name="Autre association"))
    return user


def _staff(email: str, role: str, **kwargs):
    user = f.UserFactory(email=email)
    f.give_role(user, role, **kwargs)
    return user


@pytest.fixture
def instructor(db):
    return _staff("instructeur@ville.example.org", Role.INSTRUCTOR)


@pytest.fixture
def committee_member(db):
    return _staff("comite@prefecture.example.org", Role.COMMITTEE_MEMBER)


@pytest.fixture
def manager(db):
    return _staff("responsable@ville.example.org", Role.PROGRAMME_MANAGER)


@pytest.fixture
def finance_officer(db):
    return _staff("finances@ville.example.org", Role.FINANCE_OFFICER)


@pytest.fixture
def auditor(db):
    return _staff("audit@ville.example.org", Role.AUDITOR)


@pytest.fixture
def panel_member(db):
    return _staff("habitant@quartier.example.org", Role.PANEL_MEMBER)


@pytest.fixture
def call(db):
    return f.CallFactory()


@pytest.fixture
def draft(db, call, organisation, applicant):
    return f.ApplicationFactory(call=call, organisation=organisation)
