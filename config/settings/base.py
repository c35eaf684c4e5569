"""Settings shared by every environment. Environment-specific files import and adjust these."""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


SECRET_KEY = env("DJANGO_SECRET_KEY", "dev-insecure-key-change-me")
DEBUG = False
ALLOWED_HOSTS: list[str] = [h for h in (env("ALLOWED_HOSTS", "") or "").split(",") if h]

INSTALLED_APPS = [
    # django.contrib.admin with a site that requires the second factor (core.twofactor).
    "core.apps.PlurielAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",  # trigram lookups for the search (grants/0007); inert on SQLite
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "import_export",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_otp_webauthn",
    "core",
    "calls",
    "contracts",
    "grants",
    "cpo",
    "finance",
    "directory",
    "reporting",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "core.oidc.ProviderFormActionMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "core.twofactor.TwoFactorMiddleware",
    # Idempotency-Key on the API's unsafe requests (replay within 24 h, 422 on reuse).
    "core.idempotency.IdempotencyKeyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a login refused by django-axes into a 429 (core.auth.lockout_response).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=int(env("DB_CONN_MAX_AGE", "60") or 60),
        # A persistent connection that died (failover, restart, idle timeout) is replaced at the
        # start of the next request instead of failing it.
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # The search's typo tolerance (grants.selectors_search): pg_trgm's word similarity from 0.5
    # (default 0.6, which misses one letter dropped from a 9-letter word), set at connection.
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
        "-c pg_trgm.word_similarity_threshold=0.5"
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "core.User"
AUTHENTICATION_BACKENDS = [
    # First: refuses without checking the password once a client is locked out (core.auth).
    "core.auth.LoginThrottleBackend",
    "core.auth.EmailBackend",
    # Passkeys (second factor only: OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN is off).
    "django_otp_webauthn.backends.WebAuthnBackend",
    # Single sign-on for staff (OpenID Connect, ProConnect): idle unless OIDC_RP_CLIENT_ID is set.
    "core.oidc.ProConnectBackend",
]
LOGIN_URL = "core:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "core:home"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Two-factor authentication (core/twofactor.py): required for these roles (and staff of /admin/)
# when TWO_FACTOR_REQUIRED is on (production default; off in development and tests unless set).
TWO_FACTOR_REQUIRED = env_bool("TWO_FACTOR_REQUIRED", True)
TWO_FACTOR_ROLES: list[str] = [
    r.strip()
    for r in (env("TWO_FACTOR_ROLES", "finance_officer,programme_manager,admin") or "").split(",")
    if r.strip()
]
OTP_TOTP_ISSUER = "Pluriel"
OTP_WEBAUTHN_RP_NAME = "Pluriel"
OTP_WEBAUTHN_RP_ID_CALLABLE = "core.twofactor.webauthn_rp_id"
OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN = False
WEBAUTHN_RP_ID = env("WEBAUTHN_RP_ID", "") or ""

# Single sign-on (OpenID Connect, core/oidc.py), for staff; shaped for ProConnect. Off unless
# OIDC_RP_CLIENT_ID is set. Endpoints are given one by one (ProConnect publishes them in its
# discovery document).
OIDC_RP_CLIENT_ID = env("OIDC_RP_CLIENT_ID", "") or ""
OIDC_RP_CLIENT_SECRET = env("OIDC_RP_CLIENT_SECRET", "") or ""
OIDC_OP_AUTHORIZATION_ENDPOINT = env("OIDC_OP_AUTHORIZATION_ENDPOINT", "") or ""
OIDC_OP_TOKEN_ENDPOINT = env("OIDC_OP_TOKEN_ENDPOINT", "") or ""
OIDC_OP_USER_ENDPOINT = env("OIDC_OP_USER_ENDPOINT", "") or ""
OIDC_OP_JWKS_ENDPOINT = env("OIDC_OP_JWKS_ENDPOINT", "") or ""
OIDC_OP_LOGOUT_ENDPOINT = env("OIDC_OP_LOGOUT_ENDPOINT", "") or ""
OIDC_OP_LOGOUT_URL_METHOD = "core.oidc.provider_logout_url"
OIDC_RP_SIGN_ALGO = env("OIDC_RP_SIGN_ALGO", "RS256") or "RS256"
OIDC_RP_SCOPES = env("OIDC_RP_SCOPES", "openid email given_name usual_name siret uid") or "openid"
OIDC_USE_PKCE = True
OIDC_STORE_ID_TOKEN = True  # the hint of the logout at the provider
OIDC_AUTH_REQUEST_EXTRA_PARAMS = (
    {"acr_values": env("OIDC_ACR_VALUES", "")} if env("OIDC_ACR_VALUES", "") else {}
)
OIDC_TIMEOUT = 10
OIDC_AUTHENTICATE_CLASS = "core.oidc.ProConnectLoginView"
LOGIN_REDIRECT_URL_FAILURE = "/connexion/?sso=echec"
# Roles are granted by admins; set OIDC_ROLES_CLAIM to take some from the provider, and only those
# listed in OIDC_ROLES_ALLOWED (comma-separated role codes).
OIDC_ROLES_CLAIM = env("OIDC_ROLES_CLAIM", "") or ""
OIDC_ROLES_ALLOWED: list[str] = [
    r.strip() for r in (env("OIDC_ROLES_ALLOWED", "") or "").split(",") if r.strip()
]

# Client addresses (or networks) of the reverse proxies whose X-Forwarded-For is believed: only a
# request whose REMOTE_ADDR is one of them has its client address read from that header.
TRUSTED_PROXIES: list[str] = [
    p.strip() for p in (env("TRUSTED_PROXIES", "") or "").split(",") if p.strip()
]
# Login throttling (django-axes, see core/auth.py): at most AXES_FAILURE_LIMIT failures for one
# account from one client address, and LOGIN_ADDRESS_FAILURE_FACTOR times that from one address
# over all accounts, within AXES_COOLOFF_TIME; older failures are purged.
AXES_FAILURE_LIMIT = int(env("LOGIN_MAX_FAILURES", "5") or 5)
LOGIN_ADDRESS_FAILURE_FACTOR = int(env("LOGIN_ADDRESS_FAILURE_FACTOR", "4") or 4)
AXES_COOLOFF_TIME = timedelta(minutes=int(env("LOGIN_LOCKOUT_MINUTES", "15") or 15))
AXES_LOCKOUT_PARAMETERS = "core.auth.lockout_parameters"
AXES_HANDLER = "core.auth.LoginThrottleHandler"
AXES_CLIENT_IP_CALLABLE = "core.auth.client_ip"
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "core.auth.login_username"
AXES_LOCKOUT_CALLABLE = "core.auth.lockout_response"
AXES_RESET_ON_SUCCESS = True
# A failure while locked out does not push the end of the lockout further.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_SENSITIVE_PARAMETERS = ["username", "email", "password"]
AXES_VERBOSE = False

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("French")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {
            "location": env("PRIVATE_MEDIA_ROOT", str(BASE_DIR / "media-private")),
            "base_url": None,
        },
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Uploaded documents are private: never served under a public URL, only through a view that checks
# who is asking (core.views.document_download).
PRIVATE_MEDIA_ROOT = env("PRIVATE_MEDIA_ROOT", str(BASE_DIR / "media-private"))
UPLOAD_MAX_BYTES = 10 * 1024 * 1024
UPLOAD_ALLOWED_EXTENSIONS = ["pdf", "png", "jpg", "jpeg", "odt", "ods", "docx", "xlsx"]
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_MEMORY_SIZE = 12 * 1024 * 1024

# Absolute address of the site, for links in emails.
SITE_URL = env("SITE_URL", "http://127.0.0.1:8000")
# Origins where passkeys are used (https://…, or http://localhost in development).
OTP_WEBAUTHN_ALLOWED_ORIGINS = [
    o.strip().rstrip("/")
    for o in (env("WEBAUTHN_ALLOWED_ORIGINS", "") or "").split(",")
    if o.strip()
] or (
    [SITE_URL.rstrip("/")]
    if SITE_URL.startswith(("https://", "http://localhost"))
    else ["http://localhost:8000"]
)
EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = int(env("EMAIL_PORT", "25") or 25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "Pluriel <no-reply@pluriel.localhost>")

# "local": each process's own memory, for HTML that depends only on the language and the code
# (the page chrome of templates/base.html, its links under the deployment's one URL prefix): read
# without a round trip, gone with the process (a new release starts new ones).
LOCAL_CACHE = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "local"}
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "local": LOCAL_CACHE,
}

REST_FRAMEWORK = {
    # Token first: a request without credentials gets 401 with `WWW-Authenticate: Token`.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.twofactor.PasswordTokenAuthentication",
        "core.twofactor.PersonalTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Strict JSON (size, depth, NaN, lone surrogates), never-failing OPTIONS (core/api_parsing.py).
    "DEFAULT_PARSER_CLASSES": [
        "core.api_parsing.StrictJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "core.api_parsing.SafeJSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_METADATA_CLASS": "core.api_parsing.SafeMetadata",
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["core.api_filters.StrictFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "core.api.DefaultPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"anon": "60/min", "user": "600/min"},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Pluriel API",
    "DESCRIPTION": "Grants and multi-year agreements for city policy (politique de la ville).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Every operation documents the error bodies it can send (core/api_schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.api_schema.document_errors",
    ],
}
# JSON bodies of the API: at most this many bytes (413 beyond) and this nesting depth (400).
API_JSON_MAX_BYTES = int(env("API_JSON_MAX_BYTES", "1000000") or 1000000)
API_JSON_MAX_DEPTH = 32

# Celery: Redis broker in production; the embedded default runs tasks in-process (eager).
CELERY_BROKER_URL = env("CELERY_BROKER_URL", "")
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", None)
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A task whose worker died unacknowledged is delivered again after this many seconds (Redis).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": int(env("CELERY_VISIBILITY_TIMEOUT", "3600") or 3600),
    # Look for tasks of dead workers every sweep (kombu's default waits ~100 s between looks).
    "unacked_restore_throttle": 1,
}
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "core-idempotency-keys-purge": {
        "task": "core.tasks.idempotency_keys_purge",
        "schedule": 60 * 60,
    },
    "calls-advance-by-dates": {"task": "calls.tasks.calls_advance_by_dates", "schedule": 15 * 60},
    "cpo-instalments-refresh": {"task": "cpo.tasks.instalments_refresh", "schedule": 24 * 60 * 60},
    "cpo-evaluations-remind": {"task": "cpo.tasks.evaluations_remind", "schedule": 24 * 60 * 60},
    "grants-prototyping-deadlines": {
        "task": "grants.tasks.candidacies_prototyping_deadlines",
        "schedule": 24 * 60 * 60,
    },
    "core-jobs-purge-expired": {"task": "core.tasks.jobs_purge_expired", "schedule": 24 * 60 * 60},
    "core-audit-anchor": {"task": "core.tasks.audit_anchor_export", "schedule": 24 * 60 * 60},
    "core-retention-apply": {"task": "core.tasks.retention_apply", "schedule": 24 * 60 * 60},
    "grants-completion-overdue": {
        "task": "grants.tasks.completion_requests_flag_overdue",
        "schedule": 60 * 60,
    },
}

# Content-Security-Policy (django-csp): no inline script or style anywhere; the one exception is
# the ReDoc page (config/urls.py), whose bundle injects its styles.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        # core.oidc.ProviderFormActionMiddleware adds the identity provider when SSO is on.
        "form-action": [SELF],
    }
}
# Permissions-Policy (django-permissions-policy): no powerful feature but passkeys, on this origin.
PERMISSIONS_POLICY: dict[str, list[str]] = {
    "accelerometer": [],
    "autoplay": [],
    "camera": [],
    "display-capture": [],
    "encrypted-media": [],
    "fullscreen": [],
    "geolocation": [],
    "gyroscope": [],
    "magnetometer": [],
    "microphone": [],
    "midi": [],
    "payment": [],
    "publickey-credentials-create": ["self"],
    "publickey-credentials-get": ["self"],
    "screen-wake-lock": [],
    "usb": [],
    "xr-spatial-tracking": [],
}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    # django-axes logs every login at INFO; failures and lockouts are WARNING.
    "loggers": {"axes": {"level": env("AXES_LOG_LEVEL", "WARNING")}},
}

# Domain figures (docs/domain.md): written agreement above this yearly amount (loi 2000-321 art. 10).
AGREEMENT_THRESHOLD = "23000.00"
# Open data (décret n° 2017-779): agreements above this yearly amount are published in the SCDL
# « Subventions » format; SCDL_PUBLISH_ALL=true publishes every agreement.
SCDL_THRESHOLD = env("SCDL_THRESHOLD", "23000.00")
SCDL_PUBLISH_ALL = env_bool("SCDL_PUBLISH_ALL")
# How long the file of a background export stays downloadable.
JOB_FILE_TTL_HOURS = int(env("JOB_FILE_TTL_HOURS", "48"))
# A worker's claim on a background job lasts this long past its last progress report; then
# another worker may take the job over (core.jobs.job_claim).
JOB_LEASE_SECONDS = int(env("JOB_LEASE_SECONDS", "300"))
# Where the daily audit-chain anchors are appended (core.audit_chain): copy it off-site.
AUDIT_ANCHOR_DIR = env("AUDIT_ANCHOR_DIR", str(BASE_DIR / "audit-anchors"))

# Bulk actions of the instruction on more files than this run as a background job with progress.
BULK_ACTION_JOB_THRESHOLD = int(env("BULK_ACTION_JOB_THRESHOLD", "30"))
# Payment runs whose total exceeds this amount (€) need a second approver.
PAYMENT_RUN_SECOND_APPROVAL_ABOVE = env("PAYMENT_RUN_SECOND_APPROVAL_ABOVE", "100000.00")

# bench/load.py mounts a bare `HttpResponse("ok")` view (config/bench.py) as its reference; off by
# default, so production URLs never include it.
BENCH_VIEWS = env_bool("BENCH_VIEWS", False)

# Electronic signature (cpo/signatures/, docs/decisions/2026-12-07-electronic-signature.md).
# The platform's seal (PKCS#12) signs on behalf of an association's representative once their
# e-mailed code is checked; each funder signs with its own PKCS#12 (cpo.FunderCertificate).
# Passphrases come from the environment only: PLURIEL_SIGNATURE_PASSPHRASE_<KEY>; the seal's key is
# SEAL. Certificates are validated against the trust roots (PEM or DER files) and the revocation
# lists (CRL files) given here, never fetched from the network.
SIGNATURE_SEAL_PKCS12 = env("SIGNATURE_SEAL_PKCS12", "") or ""
SIGNATURE_TRUST_ROOTS: list[str] = [
    p.strip() for p in (env("SIGNATURE_TRUST_ROOTS", "") or "").split(",") if p.strip()
]
SIGNATURE_CRLS: list[str] = [
    p.strip() for p in (env("SIGNATURE_CRLS", "") or "").split(",") if p.strip()
]
SIGNATURE_PASSPHRASES: dict[str, str] = {
    name.removeprefix("PLURIEL_SIGNATURE_PASSPHRASE_"): value
    for name, value in os.environ.items()
    if name.startswith("PLURIEL_SIGNATURE_PASSPHRASE_")
}
# Every signature is dated by an RFC 3161 time-stamping authority (PAdES B-T) and carries its
# validation data (B-LT): in production the authority at SIGNATURE_TSA_URL (a qualified one, e.g.
# the certificate provider's); for the demo and the tests, SIGNATURE_TSA_PKCS12 names a local
# authority key (the test PKI's, passphrase key TSA) used in-process when no URL is set. The
# authority's root is trusted if it is among SIGNATURE_TRUST_ROOTS or SIGNATURE_TSA_TRUST_ROOTS.
SIGNATURE_TSA_URL = env("SIGNATURE_TSA_URL", "") or ""
SIGNATURE_TSA_TIMEOUT = int(env("SIGNATURE_TSA_TIMEOUT", "10") or "10")
SIGNATURE_TSA_PKCS12 = env("SIGNATURE_TSA_PKCS12", "") or ""
SIGNATURE_TSA_TRUST_ROOTS: list[str] = [
    p.strip() for p in (env("SIGNATURE_TSA_TRUST_ROOTS", "") or "").split(",") if p.strip()
]
SIGNATURE_CODE_MINUTES = 10
SIGNATURE_CODE_ATTEMPTS = 5
