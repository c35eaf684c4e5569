"""core.redis_cache: Django's Redis backend keeping one client per connection pool (issue 17)."""

from __future__ import annotations

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache

from core.redis_cache import RedisCache


def test_one_client_per_pool_and_django_s_behaviour_otherwise():
    cache = RedisCache("redis://127.0.0.1:6379/15", {})  # no connection is made here
    client = cache._cache.get_client("k")
    assert cache._cache.get_client("k", write=True) is client  # one server: one pool
    assert client.connection_pool is cache._cache._get_connection_pool(write=False)
    django_cache = DjangoRedisCache("redis://127.0.0.1:6379/15", {})
    assert django_cache._cache.get_client("k") is not django_cache._cache.get_client("k")


def test_several_servers_keep_a_client_each():
    cache = RedisCache(["redis://127.0.0.1:6379/14", "redis://127.0.0.1:6379/15"], {})
    writer = cache._cache.get_client(write=True)
    reader = cache._cache.get_client(write=False)  # the second server (the only reader)
    assert writer is not reader and cache._cache.get_client(write=False) is reader
    assert writer.connection_pool.connection_kwargs["db"] == 14
    assert reader.connection_pool.connection_kwargs["db"] == 15
