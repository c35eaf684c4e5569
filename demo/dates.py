"""Spreads the services' timestamps over the call's life, so processing times show real figures."""

from __future__ import annotations

import datetime
import random

from core.clock import now
from demo.context import Context
from demo.data import (
    SEED,
)
from grants.models import (
    Application,
)


def spread_dates(ctx: Context) -> int:
    """The services stamp submissions and decisions with the current time, so every demo file
    would read as decided in 0 days. Spread them as they happen: submitted after the call opened,
    decided some weeks later, and before the agreement was signed — so the processing-time
    dashboards and the call pages' estimates show something real. Runs once, when the demo's
    files are created (deterministic)."""
    from django.db.models import Q

    from cpo.models import Agreement

    rng = random.Random(SEED + 7)
    moment = now()
    signed = dict(
        Agreement.objects.filter(application__programme=ctx.programme)
        .exclude(signed_on=None)
        .values_list("application_id", "signed_on")
    )
    count = 0
    applications = (
        Application.objects.filter(Q(programme=ctx.programme) | Q(call__programme=ctx.programme))
        .exclude(submitted_at=None)
        .select_related("call")
        .order_by("pk")
    )
    for app in applications:
        if app.pk in signed:
            decided = datetime.datetime.combine(
                signed[app.pk], datetime.time(10), tzinfo=moment.tzinfo
            ) - datetime.timedelta(days=rng.randint(10, 40))
            decided = min(decided, moment - datetime.timedelta(days=1))
            submitted = decided - datetime.timedelta(days=rng.randint(20, 90))
        else:
            opened = (app.call.opens_at if app.call_id else None) or (
                moment - datetime.timedelta(days=120)
            )
            days = max(2, (moment - opened).days)
            submitted = opened + datetime.timedelta(
                days=rng.randint(0, max(0, days // 2)), hours=rng.randint(8, 18)
            )
            decided = min(
                submitted + datetime.timedelta(days=rng.randint(5, 45)),
                moment - datetime.timedelta(hours=2),
            )
        Application.objects.filter(pk=app.pk).update(
            submitted_at=submitted, decided_at=decided if app.decided_at else None
        )
        count += 1
    return count
