"""Django's Redis cache backend, without building a Redis client object per cache call (issue 17).

`django.core.cache.backends.redis.RedisCacheClient.get_client` returns a new `redis.Redis` for
every operation; its constructor fills a table of about 170 response callbacks, which cost more
CPU than the network round trip (0.2–0.3 ms per call; a page makes 3 to 6 cache calls: session,
menu fragment, data-versioned parts). The connection pools were already shared; here the client
built on a pool is kept with it. A `redis.Redis` holds no per-command state and is documented as
safe to share between threads."""

from __future__ import annotations

from typing import Any

from django.core.cache.backends import redis as django_redis


class RedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        pool = self._get_connection_pool(write)  # type: ignore[attr-defined]
        client = self._clients.get(id(pool))
        if client is None:
            # The pools live as long as this object (self._pools): their ids stay theirs.
            client = self._clients[id(pool)] = self._client(connection_pool=pool)  # type: ignore[attr-defined]
        return client


class RedisCache(django_redis.RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient
