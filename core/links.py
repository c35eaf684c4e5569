"""Links of one view to many objects, for the tables that link each of their lines (issue 17).

`reverse()` walks the URL resolver on every call (~50 µs): a page of 50 files with three links a
line spent more time there than in its template. `per_pk` reverses once, with a marker in the
object's place, and builds each line's link by putting the id where the marker was."""

from __future__ import annotations

from collections.abc import Callable

from django.urls import reverse

# An id that reverse() prints as digits, as it prints any id; it stands for the real one.
_MARK = "9081726354"


def per_pk(name: str) -> Callable[[object], str]:
    """`pk -> reverse(name, args=[pk])`, for a view whose only argument is an integer id. Built per
    rendering (never kept across requests: the script prefix belongs to the request)."""
    url = reverse(name, args=[int(_MARK)])
    head, mark, tail = url.rpartition(_MARK)
    if not mark:  # pragma: no cover - a view whose URL does not show its argument as is
        return lambda pk: reverse(name, args=[pk])
    return lambda pk: f"{head}{int(pk)}{tail}"  # type: ignore[call-overload]
