"""drf-spectacular postprocessing: every operation documents the error bodies it can send.

The API answers every error with one shape (core.api.error_body): `{"detail": str, "code": str,
"errors"?: {field: [str]}}` (409 adds `allowed_transitions`). Rather than repeating the same
responses on each view, this hook adds to every operation the statuses that the shared plumbing can
produce whatever the view: 400 (bad body, bad `page` or filter value), 401 (no or bad credentials),
403, 404 (outside the caller's scope, unknown id), 406 (unsupported `Accept`), 429 (throttling), and
for operations with a body 413 (too large), 415 (unsupported media type) and 422 (`Idempotency-Key`
reused with another body). A status a view documents itself keeps its own description."""

from __future__ import annotations

from typing import Any

ERROR_COMPONENT = "Error"
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The body of every error of the API.",
    "properties": {
        "detail": {"type": "string", "description": "Human-readable message (user's language)."},
        "code": {"type": "string", "description": "Stable machine-readable code."},
        "errors": {
            "type": "object",
            "description": 'Messages per field; nested fields as "parent.0.field".',
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
        "allowed_transitions": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["detail"],
}
ALWAYS = {
    "400": "Données invalides (corps, paramètre de page ou de filtre).",
    "401": "Identifiants absents ou invalides.",
    "403": "Action non autorisée pour cet utilisateur.",
    "404": "Introuvable ou hors de votre périmètre.",
    "406": "Format de réponse demandé non disponible.",
    "429": "Trop de requêtes.",
}
WITH_BODY = {
    "413": "Corps de la requête trop volumineux.",
    "415": "Type de contenu non pris en charge.",
    "422": "Clé d'idempotence déjà utilisée avec un autre corps.",
}
IDEMPOTENCY_PARAMETER: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Unique value chosen by the client: a retry with the same key and body within 24 h "
        "replays the first response; the same key with another body answers 422 "
        "(core/idempotency.py)."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x20-\\x7e]+$"},
}
# Alternative bodies that overlap (an `Error` also matches a richer error body): `anyOf`, not the
# `oneOf` drf-spectacular writes for a PolymorphicProxySerializer.
# The transition inputs too: `{"reason": "…"}` is the body of several transitions at once.
ANY_OF_COMPONENTS = {
    "ConfirmationUploadError",
    "PaymentRunExportConflict",
    "TransitionInputRequest",
    "AgreementTransitionInputRequest",
    "CandidacyTransitionInputRequest",
    "RecoveryActionInputRequest",
}
METHODS = {"get", "put", "patch", "post", "delete", "head", "options", "trace"}


def _error_response(description: str) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}
    return {"description": description, "content": {"application/json": {"schema": ref}}}


def document_errors(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """Add the shared error responses and the Error component to the generated schema."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components[ERROR_COMPONENT] = ERROR_SCHEMA
    for name in ANY_OF_COMPONENTS & set(components):
        if "oneOf" in components[name]:
            components[name]["anyOf"] = components[name].pop("oneOf")
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in METHODS:
                continue
            responses = operation.setdefault("responses", {})
            extra = dict(ALWAYS)
            if "requestBody" in operation or method in {"post", "put", "patch"}:
                extra.update(WITH_BODY)
            for code, description in extra.items():
                responses.setdefault(code, _error_response(description))
            if method in {"post", "put", "patch", "delete"}:
                parameters = operation.setdefault("parameters", [])
                if not any(p.get("name") == "Idempotency-Key" for p in parameters):
                    parameters.append(IDEMPOTENCY_PARAMETER)
    return result
