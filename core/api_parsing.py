"""Strict JSON in and out of the API (docs/decisions/2026-12-06-api-contract.md).

- `StrictJSONParser`: a body over `API_JSON_MAX_BYTES` is refused (413) before it is read whole;
  nesting deeper than `API_JSON_MAX_DEPTH`, `NaN`/`Infinity`, lone surrogates (`"\\ud800"`, which
  no database or UTF-8 encoder accepts) and invalid UTF-8 are refused with a 400 that does not echo
  the offending text.
- `SafeJSONRenderer`: if a value still cannot be encoded as UTF-8, the body is sent with ASCII
  escapes instead of failing with a 500.
- `SafeMetadata`: OPTIONS describes the writable fields when it can, and never fails (the nested
  routes such as /api/applications/{id}/years/ have no `pk` for `get_object`)."""

from __future__ import annotations

import codecs
import json
import logging
from typing import Any, NoReturn

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.metadata import SimpleMetadata
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request

logger = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 1_000_000
DEFAULT_MAX_DEPTH = 32


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "request_too_large"


def max_bytes() -> int:
    return int(getattr(settings, "API_JSON_MAX_BYTES", DEFAULT_MAX_BYTES))


def max_depth() -> int:
    return int(getattr(settings, "API_JSON_MAX_DEPTH", DEFAULT_MAX_DEPTH))


def json_depth_exceeds(text: str, limit: int) -> bool:
    """True if arrays/objects nest deeper than `limit` (strings are skipped, escapes honoured)."""
    depth = 0
    in_string = False
    escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return any("\ud800" <= char <= "\udfff" for char in value)
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(name)


class StrictJSONParser(JSONParser):
    """JSON with limits: size (413), depth, NaN/Infinity, lone surrogates, UTF-8 (400)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit = max_bytes()
        request = (parser_context or {}).get("request")
        declared = _declared_length(request)
        if declared is not None and declared > limit:
            raise RequestTooLarge(_("Le corps de la requête dépasse %(n)s octets.") % {"n": limit})
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise RequestTooLarge(_("Le corps de la requête dépasse %(n)s octets.") % {"n": limit})
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.decode(raw, encoding)
        except (UnicodeDecodeError, LookupError):
            raise ParseError(
                _("Le corps de la requête n'est pas encodé en UTF-8 valide.")
            ) from None
        if json_depth_exceeds(text, max_depth()):
            raise ParseError(
                _("JSON trop profondément imbriqué (au plus %(n)s niveaux).") % {"n": max_depth()}
            )
        try:
            data = json.loads(text, parse_constant=_refuse_constant)
        except (ValueError, RecursionError):
            raise ParseError(_("JSON invalide.")) from None
        if _has_lone_surrogate(data):
            raise ParseError(_("Le texte contient des caractères Unicode invalides."))
        return data


def _declared_length(request: Request | None) -> int | None:
    if request is None:
        return None
    meta = getattr(request, "META", None) or getattr(getattr(request, "_request", None), "META", {})
    try:
        return int(meta.get("CONTENT_LENGTH") or 0) or None
    except (TypeError, ValueError):
        return None


class SafeJSONRenderer(JSONRenderer):
    """The DRF renderer, with ASCII escapes as a fallback for text UTF-8 cannot encode."""

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Any = None,
    ) -> bytes:
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:
            return json.dumps(data, cls=self.encoder_class, ensure_ascii=True).encode("ascii")


class SafeMetadata(SimpleMetadata):
    """OPTIONS never answers 500: without a describable object, only the actions are left out."""

    def determine_actions(self, request: Request, view: Any) -> dict[str, Any]:
        try:
            actions: dict[str, Any] = super().determine_actions(request, view)
        except (KeyError, AttributeError, AssertionError, TypeError, ValueError) as exc:
            logger.debug("OPTIONS %s: actions not described (%r)", request.path, exc)
            return {}
        return actions
