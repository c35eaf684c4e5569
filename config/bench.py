"""Bench-only endpoints, mounted by config.urls only when settings.BENCH_VIEWS is on.

`bench/load.py` measures every page as a ratio to the cheapest Django response the same server can
give: this view, which goes through the whole middleware stack and returns a constant.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path


def bare(request: HttpRequest) -> HttpResponse:
    """The ceiling of the stack: no database, no template."""
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [path("_bench/ok/", bare, name="bench_bare")]
