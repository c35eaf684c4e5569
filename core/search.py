"""Accent- and case-insensitive text search, the same on PostgreSQL and SQLite.

`fold(text)` is the search form of a text: lower case, accents removed (« Jardins Partagés » →
« jardins partages »), ligatures spelt out, spaces collapsed. The database computes the same form
with the SQL function `pluriel_fold(text)`: on PostgreSQL `lower(unaccent(...))` (extension
unaccent, wrapped in an IMMUTABLE function so it can be indexed with pg_trgm, migration
grants/0007); on SQLite the Python function below, registered on every connection. Typo tolerance
(trigram word similarity) exists on PostgreSQL only; see docs/decisions/2026-12-07-search.md.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from django.db.models import Func, Q, QuerySet, TextField

_LIGATURES = str.maketrans({"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "ß": "ss"})
_SPACES = re.compile(r"\s+")


def fold(text: str | None) -> str:
    """The search form of `text` (see the module's docstring)."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", str(text).translate(_LIGATURES))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SPACES.sub(" ", bare.lower()).strip()


def compact_digits(text: str) -> str:
    """`text` without its spaces, if what is left is digits (a SIRET or SIREN typed in groups),
    else ""."""
    compact = _SPACES.sub("", text or "")
    return compact if compact.isdigit() else ""


class Fold(Func):
    """`pluriel_fold(expression)` in SQL: the database's fold() (indexed on PostgreSQL)."""

    function = "pluriel_fold"
    output_field = TextField()


def search_organisations_by_name_or_siret(qs: QuerySet[Any], text: str | None) -> QuerySet[Any]:
    """Organisations (or a queryset of them) whose name contains `text` whatever the accents and
    case (the fold of the name is trigram-indexed on PostgreSQL), or whose SIRET starts with it
    (a SIREN or SIRET typed with spaces)."""
    folded = fold(text)
    if not folded:
        return qs
    cond = Q(name_folded__contains=folded)
    if digits := compact_digits(folded):
        cond |= Q(siret__startswith=digits)
    filtered: QuerySet[Any] = qs.alias(name_folded=Fold("name")).filter(cond)
    return filtered


def register_sqlite_functions(sender: Any, connection: Any, **kwargs: Any) -> None:
    """connection_created receiver: give SQLite connections `pluriel_fold` (PostgreSQL has it as
    a SQL function, created by migration)."""
    if connection.vendor == "sqlite":
        connection.connection.create_function("pluriel_fold", 1, fold, deterministic=True)
