"""Builds the other funding modes, each in its own transaction."""

from __future__ import annotations

from django.db import transaction

from demo.anticall import load_anti_call
from demo.context import Context
from demo.direct import load_direct_awards, load_structural
from demo.modes import (
    _residents,
)
from demo.solutions import (
    load_solutions,
)


def load_other_modes(ctx: Context) -> dict[str, int]:
    """Anti-call, calls for solutions (vote open, and vote closed with published results),
    structural support and direct awards. Returns how many sections were built now."""
    residents = _residents(ctx)
    built = {}
    for name, loader in (
        ("anti_call", load_anti_call),
        ("solutions", load_solutions),
        ("structural", load_structural),
        ("direct", load_direct_awards),
    ):
        with transaction.atomic():
            built[name] = int(bool(loader(ctx, residents)))
    return built
