"""The electronic signature fixtures (tests/cpo/signing.py), for every cpo test module."""

from .signing import (  # noqa: F401
    funder_signatory,
    pki,
    representative,
    signing,
    to_sign,
    ville,
)
