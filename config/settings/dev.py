"""Local development: the embedded default (SQLite file, Celery eager, console email)."""

from .base import *  # noqa: F403

DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
