"""Test settings: fast hashing, in-memory email, eager Celery unless a broker is given."""

import tempfile

from .base import *  # noqa: F403
from .base import env, env_bool

DEBUG = False
ALLOWED_HOSTS = ["*"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_BROKER_URL = env("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
PRIVATE_MEDIA_ROOT = tempfile.mkdtemp(prefix="pluriel-test-media-")
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": PRIVATE_MEDIA_ROOT, "base_url": None},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
LANGUAGE_CODE = "fr"

WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
DEMO_OUTPUT_DIR = tempfile.mkdtemp(prefix="pluriel-test-demo-")

# Tests of the second factor turn it on (tests/core/test_two_factor.py); elsewhere force_login is
# enough, as it is for the other authentication steps.
TWO_FACTOR_REQUIRED = env_bool("TWO_FACTOR_REQUIRED", False)

AUDIT_ANCHOR_DIR = tempfile.mkdtemp(prefix="pluriel-test-anchors-")
