"""Production: PostgreSQL via DATABASE_URL, Redis via CELERY_BROKER_URL, HTTPS only."""

from django.core.exceptions import ImproperlyConfigured

from ..release import release
from .base import *  # noqa: F403
from .base import env, env_bool

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY", "")
if not SECRET_KEY or SECRET_KEY.startswith("dev-"):
    raise ImproperlyConfigured("Set DJANGO_SECRET_KEY to a long random value in production.")
if not env("DATABASE_URL"):
    raise ImproperlyConfigured("Set DATABASE_URL (postgres://…) in production.")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = int(env("SECURE_HSTS_SECONDS", "31536000") or 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
CSRF_TRUSTED_ORIGINS = [o for o in (env("CSRF_TRUSTED_ORIGINS", "") or "").split(",") if o]
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {
            "location": env("PRIVATE_MEDIA_ROOT", "/var/lib/pluriel/media"),
            "base_url": None,
        },
    },
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
CACHES = {
    "default": {
        # Django's backend, keeping its Redis client objects (core/redis_cache.py, issue 17).
        "BACKEND": "core.redis_cache.RedisCache",
        "LOCATION": env("CACHE_URL", env("CELERY_BROKER_URL", "redis://127.0.0.1:6379/1")),
        # A new release never reads the HTML an older one cached (config/release.py).
        "KEY_PREFIX": release(BASE_DIR),  # noqa: F405
    },
    "local": LOCAL_CACHE,  # noqa: F405
}
# Sessions read from Redis, written through to the database: one SQL query less on every
# logged-in request (issue 17); a lost cache loses no session.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
