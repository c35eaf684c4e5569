"""Keyset pagination of the finance instalment list (/api/finance/instalments/), on
(earliest_date, id)."""

from __future__ import annotations

import datetime
from typing import Any, cast

from django.db.models import QuerySet
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan
from django.utils.translation import gettext_lazy as _lazy
from rest_framework.exceptions import NotFound
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request

from cpo.models import Instalment


class EarliestDateCursorPagination(CursorPagination):
    """Keyset pagination on (earliest_date, id): each page is one indexed range read, whatever its
    depth — no COUNT and no OFFSET, so the 20 000th page costs what the first does. DRF's own
    CursorPagination keeps an offset among rows sharing a date (thousands of advances fall due the
    same day), which grows with the depth; here the cursor carries the last (date, id) seen."""

    ordering = ("earliest_date", "id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    invalid_cursor_message = _lazy("Curseur de pagination invalide.")  # type: ignore[assignment]

    def paginate_queryset(  # type: ignore[override]
        self, queryset: QuerySet[Instalment], request: Request, view: Any = None
    ) -> list[Instalment]:
        self.request = request
        self.page_size = cast(int, self.get_page_size(request))  # page_size is set
        self.base_url = request.build_absolute_uri()
        self.cursor = self.decode_cursor(request)
        reverse, position = False, None
        if self.cursor is not None:
            reverse = self.cursor.reverse
            # The stubs type a cursor position as int; this one carries "date|id".
            position = self._position(cast("str | None", self.cursor.position))
        key = Tuple("earliest_date", "id")
        if reverse:
            if position is not None:
                queryset = queryset.filter(TupleLessThan(key, position))
            queryset = queryset.order_by("-earliest_date", "-id")
        else:
            if position is not None:
                queryset = queryset.filter(TupleGreaterThan(key, position))
            queryset = queryset.order_by("earliest_date", "id")
        rows = list(queryset[: self.page_size + 1])
        more = len(rows) > self.page_size
        rows = rows[: self.page_size]
        if reverse:
            rows.reverse()
        self.page = rows
        self.has_next = more if not reverse else position is not None
        self.has_previous = position is not None if not reverse else more
        return rows

    def _position(self, raw: str | None) -> tuple[datetime.date, int] | None:
        if not raw:
            return None
        try:
            day, pk = raw.split("|")
            return datetime.date.fromisoformat(day), int(pk)
        except ValueError:
            raise NotFound(self.invalid_cursor_message) from None

    def _link(self, instalment: Instalment, *, reverse: bool) -> str:
        position = f"{instalment.earliest_date.isoformat()}|{instalment.pk}"
        return self.encode_cursor(
            Cursor(offset=0, reverse=reverse, position=position)  # type: ignore[arg-type]
        )

    def get_next_link(self) -> str | None:
        if not self.has_next or not self.page:
            return None
        return self._link(self.page[-1], reverse=False)

    def get_previous_link(self) -> str | None:
        if not self.has_previous or not self.page:
            return None
        return self._link(self.page[0], reverse=True)
