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

# The electronic signature uses the demo's throwaway PKI (`make demo` writes it with
# demo/signatures.py) unless the environment names real files. Its passphrase is public.
_DEMO_PKI = BASE_DIR / "demo-output" / "test-pki"  # noqa: F405
SIGNATURE_SEAL_PKCS12 = SIGNATURE_SEAL_PKCS12 or str(_DEMO_PKI / "sceau-plateforme.p12")  # noqa: F405
SIGNATURE_TRUST_ROOTS = SIGNATURE_TRUST_ROOTS or [str(_DEMO_PKI / "ca.pem")]  # noqa: F405
SIGNATURE_CRLS = SIGNATURE_CRLS or [str(_DEMO_PKI / "ca.crl")]  # noqa: F405
SIGNATURE_TSA_PKCS12 = SIGNATURE_TSA_PKCS12 or str(_DEMO_PKI / "horodatage.p12")  # noqa: F405
SIGNATURE_PASSPHRASES = {  # noqa: F405
    "SEAL": "pki-de-test-pluriel",
    "DEMO": "pki-de-test-pluriel",
    "TSA": "pki-de-test-pluriel",
    **SIGNATURE_PASSPHRASES,  # noqa: F405
}
