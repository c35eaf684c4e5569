"""Fixtures of the core tests."""

import pytest
from django.urls import NoReverseMatch, reverse

NAMES_USED_BY_BASE_HTML = [
    "calls:call_list",
    "grants:my_applications",
    "grants:queue",
    "grants:committee_list",
]


@pytest.fixture(autouse=True)
def _urls_of_other_apps(settings):
    """base.html links to pages of calls and grants: use the real URLs when they exist, stand-ins
    otherwise, so these tests do not depend on another app's progress."""
    try:
        for name in NAMES_USED_BY_BASE_HTML:
            reverse(name)
    except NoReverseMatch:
        settings.ROOT_URLCONF = "tests.core.urls_fallback"
