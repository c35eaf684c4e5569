"""CPU per cache read: Django's Redis backend against core.redis_cache (issue 17).

    CACHE_URL=redis://127.0.0.1:6379/8 .venv/bin/python bench/cache_client.py

Both backends read the same key from the same Redis, alternately, in this process; the figure is
CPU time (time.process_time) per `cache.get`, so the shared machine's load matters little.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    import django
    from django.conf import settings

    url = os.environ.get("CACHE_URL", "redis://127.0.0.1:6379/13")
    settings.configure(
        CACHES={
            "django": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url},
            "pluriel": {"BACKEND": "core.redis_cache.RedisCache", "LOCATION": url},
        }
    )
    django.setup()
    from django.core.cache import caches

    backends = {name: caches[name] for name in ("django", "pluriel")}
    backends["django"].set("bench:cache_client", "x" * 200, 60)
    for cache in backends.values():
        cache.get("bench:cache_client")  # connect
    reads = 2000
    results: dict[str, list[float]] = {name: [] for name in backends}
    for _round in range(6):
        for name, cache in backends.items():
            t0 = time.process_time()
            for _ in range(reads):
                cache.get("bench:cache_client")
            results[name].append(1e6 * (time.process_time() - t0) / reads)
    for name, figures in results.items():
        print(f"{name}: {' '.join(f'{x:.0f}' for x in figures)} µs CPU per get")


if __name__ == "__main__":
    main()
