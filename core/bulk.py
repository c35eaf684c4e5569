"""Bulk insertion for large writes: PostgreSQL COPY, or bulk_create elsewhere.

Django's bulk_create builds a model instance and prepares every value of every row (~50 µs a row);
COPY streams plain tuples. Use it for rows nobody needs back as objects (instalments of thousands
of agreements, imports). Every column without a database default must be given."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection, models


def copy_insert(
    model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """Insert `rows` (tuples in the order of `columns`, attnames such as `agreement_id`) into the
    model's table. Returns the number of rows. JSON values are given as Python objects."""
    fields = {f.attname: f for f in model._meta.concrete_fields}
    json_columns = [i for i, c in enumerate(columns) if isinstance(fields[c], models.JSONField)]
    count = 0
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(model._meta.db_table)
        names = ", ".join(connection.ops.quote_name(fields[c].column) for c in columns)
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy,
        ):
            for row in rows:
                if json_columns:
                    row = list(row)
                    for i in json_columns:
                        row[i] = json.dumps(row[i])
                copy.write_row(row)
                count += 1
        return count
    objects = [model(**dict(zip(columns, row, strict=True))) for row in rows]
    model.objects.bulk_create(objects, batch_size=2000)
    return len(objects)
