"""schemathesis hooks of tests/api/schemathesis_run.py (loaded through SCHEMATHESIS_HOOKS).

An `Idempotency-Key` is, by contract, a value the client makes unique per operation
(core/idempotency.py); an OpenAPI schema cannot say "unique", so schemathesis draws the same short
values ("0", "00") for unrelated requests, which the API rightly refuses (422, key reused with
another body). Each request that carries a well-formed key gets a fresh one, as a real client does;
malformed keys (the negative tests) are left as generated and must still be refused (400). The
replay itself is tested in tests/api/test_idempotency.py."""

from __future__ import annotations

import uuid
from typing import Any

import schemathesis

HEADER = "idempotency-key"


def _well_formed(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 255 and all(" " <= c <= "~" for c in value)


@schemathesis.hook
def before_call(ctx: Any, case: Any, **kwargs: Any) -> None:
    for name in list(case.headers or {}):
        if name.lower() == HEADER and _well_formed(case.headers[name]):
            case.headers[name] = str(uuid.uuid4())
