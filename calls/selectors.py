"""Reads for programmes and calls."""

from __future__ import annotations

from django.db import connection
from django.db.models import QuerySet

from core.models import Role, User
from core.permissions import has_role

from .models import Call, CallState

# Open and published calls are listed for everyone.
PUBLIC_STATES = [CallState.PUBLISHED, CallState.OPEN]


def calls_readable_by(user: User) -> QuerySet[Call]:
    """Programme managers read every call; everyone else every call but drafts (what was called
    and decided is public: transparency, docs/domain.md §7)."""
    if has_role(user, Role.PROGRAMME_MANAGER):
        return Call.objects.all()
    return Call.objects.exclude(state=CallState.DRAFT)


def eligible_ids(call: Call) -> tuple[set[int], set[int]]:
    """The ids of the call's eligible neighbourhoods and pillars (an empty set: no restriction),
    in one query on the two link tables. Written as SQL: the edit form and the submission ask it
    on every write of a draft, and the ORM's compilation of a union cost more than the query
    (issue 17)."""
    qpvs = Call.eligible_qpvs.field
    pillars = Call.eligible_pillars.field
    quote = connection.ops.quote_name
    sql = " UNION ALL ".join(
        f"SELECT {kind}, {quote(field.m2m_reverse_name())} FROM {quote(field.m2m_db_table())} "
        f"WHERE {quote(field.m2m_column_name())} = %s"
        for kind, field in ((0, qpvs), (1, pillars))
    )
    found: tuple[set[int], set[int]] = (set(), set())
    with connection.cursor() as cursor:
        cursor.execute(sql, [call.pk, call.pk])
        for kind, pk in cursor.fetchall():
            found[kind].add(pk)
    return found
