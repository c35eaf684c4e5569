"""Background job of the imports: applying a big file, with progress the user follows."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from core.errors import DomainError
from core.jobs import JobResult, Progress, register_job
from core.models import BackgroundJob
from core.notifications import Msg

from ..models import ImportBatch
from .services import JOB_KIND, import_apply


@register_job(JOB_KIND)
def run_import_apply(job: BackgroundJob, progress: Progress) -> JobResult:
    """Apply the batch named in the job's parameters. Idempotent: a batch already applied (the
    worker re-running the job) is reported, not written again. A file found invalid is not
    retried: the result says so and the batch page lists the errors."""
    batch = ImportBatch.objects.get(pk=job.params["batch"])
    try:
        batch = import_apply(actor=job.owner, batch=batch, progress=progress)
    except DomainError as exc:
        return JobResult(
            summary={_("Résultat"): str(exc.message)},
            notify_title=Msg(gettext_noop("Import refusé : %(name)s"), name=batch.original_name),
        )
    return JobResult(
        summary=batch.result,
        notify_title=Msg(gettext_noop("Import terminé : %(name)s"), name=batch.original_name),
    )
