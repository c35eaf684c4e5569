"""Search of applications (instruction queue, API list, exports): accent- and case-insensitive,
tolerant of one wrong letter on PostgreSQL, a SIRET typed with spaces.

One condition on one indexed column (`Application.search_text`, kept by triggers: reference,
title, organisation name and SIRET in their folded form, core.search), so the cost does not grow
with the number of files on PostgreSQL: a trigram GIN index answers both the substring match
(LIKE '%…%') and the typo tolerance (word similarity, `<%`). See
docs/decisions/2026-12-07-search.md.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import Q, QuerySet

from core.search import compact_digits, fold

from .models import Application

MIN_FUZZY = 4
"""Below this many letters a trigram comparison matches too much: substring only."""


def search_condition(text: str | None) -> Q | None:
    """The Q of the files whose reference, title, organisation name or SIRET match `text`, or
    None for an empty search."""
    folded = fold(text)
    if not folded:
        return None
    cond = Q(search_text__contains=folded)
    if digits := compact_digits(folded):
        cond |= Q(search_text__contains=digits)
    elif (
        connection.vendor == "postgresql"
        and len(folded) >= MIN_FUZZY
        and not any(c.isdigit() for c in folded)
    ):
        # pg_trgm word similarity (threshold pg_trgm.word_similarity_threshold, 0.6): one letter
        # wrong in a word of a name still matches; the GIN index answers it. Not for numbers
        # (references, SIRET): AAP-2026-0001 must not find AAP-2026-0002.
        cond |= Q(search_text__trigram_word_similar=folded)
    return cond


def search_applications(qs: QuerySet[Application], text: str | None) -> QuerySet[Application]:
    """`qs` restricted to the files matching `text` (unchanged for an empty search)."""
    cond = search_condition(text)
    return qs if cond is None else qs.filter(cond)
