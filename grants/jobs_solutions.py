"""Call for solutions: the allocation (both rules, equal shares with Add1) as a background job.

The web page and the API only start the job (`allocation_compute_start`); a worker runs
`grants.solutions.services.allocation_compute` and reports the Add1 rounds done as the job's progress.
The results page follows the job (`allocation_job`) and shows the results once it is done.
"""

from __future__ import annotations

import time
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from calls.models import Call
from core.errors import DomainError
from core.jobs import JobResult, Progress, job_start, register_job
from core.models import BackgroundJob, User
from core.notifications import Msg

KIND = "grants.allocation"
_ACTIVE = (BackgroundJob.State.QUEUED, BackgroundJob.State.RUNNING)
# Progress is written to the database at most this often (seconds).
PROGRESS_EVERY = 0.5


def allocation_job(call: Call) -> BackgroundJob | None:
    """The call's latest allocation job (any state), or None."""
    return BackgroundJob.objects.filter(kind=KIND, params__call=call.pk).order_by("-pk").first()


def allocation_compute_start(*, actor: User, call: Call) -> BackgroundJob:
    """Check now what can be refused now (role, vote still open, results published, quorum, no
    project: `DomainError` with the reason), then queue the computation. A computation already
    queued or running for the call is returned instead of starting a second one."""
    from .solutions import services as services_solutions

    with transaction.atomic():
        services_solutions.allocation_compute_check(actor=actor, call=call)
        Call.objects.select_for_update().get(pk=call.pk)  # one start at a time per call
        current = allocation_job(call)
        if current is not None and current.state in _ACTIVE:
            return current
        return job_start(
            owner=actor,
            kind=KIND,
            label=_("Répartition de l'enveloppe — %(call)s") % {"call": call.title},
            params={"call": call.pk},
        )


@register_job(KIND)
def _run(job: BackgroundJob, progress: Progress) -> JobResult:
    from .solutions import services as services_solutions

    call = Call.objects.get(pk=job.params["call"])
    last = [0.0]

    def rounds_done(rounds: int) -> None:
        if time.monotonic() - last[0] >= PROGRESS_EVERY:
            last[0] = time.monotonic()
            progress(rounds, None)

    summary: dict[str, Any]
    try:
        run = services_solutions.allocation_compute(
            actor=job.owner, call=call, progress=rounds_done
        )
    except DomainError as exc:
        # Refused when it ran (e.g. results published meanwhile): a result, not a crash.
        summary = {"call": call.pk, "error": str(exc.message)}
        return JobResult(
            summary=summary, notify_title=Msg(gettext_noop("Répartition non calculée"))
        )
    summary = {"call": call.pk, "run": run.pk}
    return JobResult(summary=summary, notify_title=Msg(gettext_noop("Répartition calculée")))
