"""Bulk insertion for large writes: PostgreSQL COPY, or bulk_create elsewhere.

Django's bulk_create builds a model instance and prepares every value of every row (~50 µs a row);
COPY streams plain tuples. Use it for rows nobody needs back as objects (instalments of thousands
of agreements, imports). Columns left out take the model field's default (or the current time for
`auto_now`/`auto_now_add` fields), as `save()` would: a field added later cannot turn into a NULL
that a COPY forgot."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, cast

from django.db import connection, models


class RawJSON(str):
    """A JSON column's value already encoded (valid JSON text): copied as is, not dumped again."""

    __slots__ = ()


def copy_insert(
    model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """Insert `rows` (tuples in the order of `columns`, attnames such as `agreement_id`) into the
    model's table. Returns the number of rows. JSON values are given as Python objects."""
    fields = {f.attname: f for f in model._meta.concrete_fields}
    extra = _implicit_columns(model, columns)
    if extra:
        columns = [*columns, *extra]
        values = tuple(extra.values())
        rows = (tuple(row) + values for row in rows)
    json_columns = [i for i, c in enumerate(columns) if isinstance(fields[c], models.JSONField)]
    count = 0
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(model._meta.db_table)
        names = ", ".join(connection.ops.quote_name(cast(str, fields[c].column)) for c in columns)
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy,
        ):
            for row in rows:
                if json_columns:
                    row = list(row)
                    for i in json_columns:
                        if not isinstance(row[i], RawJSON):
                            row[i] = json.dumps(row[i])
                copy.write_row(row)
                count += 1
        return count
    if json_columns:
        rows = (
            tuple(
                json.loads(v) if i in json_columns and isinstance(v, RawJSON) else v
                for i, v in enumerate(row)
            )
            for row in rows
        )
    objects = [model(**dict(zip(columns, row, strict=True))) for row in rows]
    model.objects.bulk_create(objects, batch_size=2000)  # type: ignore[attr-defined]
    return len(objects)


def _implicit_columns(model: type[models.Model], columns: Sequence[str]) -> dict[str, Any]:
    from django.utils import timezone

    given = set(columns)
    extra: dict[str, Any] = {}
    for field in model._meta.concrete_fields:
        if field.attname in given or field.primary_key:
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            extra[field.attname] = timezone.now()
        elif field.has_default() or (not field.null and field.empty_strings_allowed):
            extra[field.attname] = field.get_default()  # "" for text fields without a default
    return extra
