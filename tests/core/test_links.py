"""core.links.per_pk gives reverse()'s links, one reverse per table instead of one per line."""

import pytest
from django.urls import get_script_prefix, reverse, set_script_prefix

from core.links import per_pk

NAMES = [
    "grants:application_detail",
    "grants:application_edit",
    "grants:application_renew",
    "grants:application_partnership",
]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("prefix", ["/", "/pluriel/", "/9081726354/"])
def test_the_same_links_as_reverse_under_any_script_prefix(name, prefix):
    before = get_script_prefix()
    set_script_prefix(prefix)
    try:
        url = per_pk(name)
        for pk in (1, 7, 42, 9081726354, 10**12):
            assert url(pk) == reverse(name, args=[pk])
            assert url(str(pk)) == reverse(name, args=[pk])
        assert url(7).startswith(prefix)
    finally:
        set_script_prefix(before)
