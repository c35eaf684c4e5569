"""Human references (AAP-2026-0042): gap-free per prefix and year, safe under concurrency."""

from django.db import connection, transaction

from .models import ReferenceCounter


def next_reference(prefix: str, year: int, *, width: int = 4) -> str:
    return next_references(prefix, year, 1, width=width)[0]


def next_references(prefix: str, year: int, count: int, *, width: int = 4) -> list[str]:
    """`count` consecutive references in one locked update (bulk creation)."""
    last = _advance(prefix, year, count)
    return [f"{prefix}-{year}-{n:0{width}d}" for n in range(last - count + 1, last + 1)]


def _advance(prefix: str, year: int, count: int) -> int:
    """Move the counter of (prefix, year) by `count`; its new value. One `UPDATE … RETURNING`:
    the row stays locked until the caller's transaction ends, as with select_for_update, and a
    concurrent writer waits, then moves the value the first one committed. The counter's row is
    created by the first reference of a prefix and year."""
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {qn(ReferenceCounter._meta.db_table)} SET {qn('last')} = {qn('last')} + %s"
            f" WHERE {qn('prefix')} = %s AND {qn('year')} = %s RETURNING {qn('last')}",
            [count, prefix, year],
        )
        row = cursor.fetchone()
    if row is not None:
        return int(row[0])
    with transaction.atomic():
        counter, _ = ReferenceCounter.objects.select_for_update().get_or_create(
            prefix=prefix, year=year
        )
        counter.last += count
        counter.save(update_fields=["last"])
        return counter.last
