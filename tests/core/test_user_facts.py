"""A user's navigation facts (core.user_facts, issue 17): one cache entry per user under the "nav"
data version, computed again after a write to a tracked table or a change of organisations."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from core import user_facts
from core.models import User

from .. import factories as f


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.mark.django_db(transaction=True)
def test_facts_are_computed_once_until_a_tracked_write_or_a_new_organisation(monkeypatch):
    calls: list[int] = []

    def probe(user: User) -> int:
        calls.append(user.pk)
        return len(calls)

    monkeypatch.setitem(user_facts.FACTS, "probe", probe)
    user = f.UserFactory()
    organisation = f.OrganisationFactory()
    f.add_member(user, organisation)

    def fact() -> int:  # a new request: a fresh user object
        return user_facts.user_fact(User.objects.get(pk=user.pk), "probe")

    assert fact() == 1
    assert fact() == 1 and len(calls) == 1  # served from the cache
    organisation.siret = f.siret_for(999)
    organisation.save(update_fields=["siret"])  # a tracked column: the counter moves
    assert fact() == 2
    organisation.name = "Autre nom"
    organisation.save(update_fields=["name"])  # not tracked in "nav"
    assert fact() == 2
    f.add_member(user, f.OrganisationFactory())  # the user's organisations are in the key
    assert fact() == 3


@pytest.mark.django_db
def test_inside_a_transaction_facts_are_computed_each_time(monkeypatch):
    calls: list[int] = []
    monkeypatch.setitem(user_facts.FACTS, "probe", lambda user: calls.append(1) or len(calls))
    user = f.UserFactory()
    assert user_facts.user_fact(User.objects.get(pk=user.pk), "probe") == 1
    assert user_facts.user_fact(User.objects.get(pk=user.pk), "probe") == 2
