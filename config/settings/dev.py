"""Local development: the embedded default (SQLite file, Celery eager, console email)."""

from .base import *  # noqa: F403
from .base import env_bool

DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# The second factor is optional in development so the demo logins work at once (`make run`);
# TWO_FACTOR_REQUIRED=true turns it on.
TWO_FACTOR_REQUIRED = env_bool("TWO_FACTOR_REQUIRED", False)
