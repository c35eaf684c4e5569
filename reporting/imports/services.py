"""The life of an import: upload and dry run (`import_check`), then apply (`import_apply`, or
`import_start` which hands big files to a background job).

Nothing is written unless the dry run found no error and the user confirmed; the apply takes the
rows the dry run read and checked (kept in the cache, `keep_rows`; else it reads the file again),
matches them with the database again (it may have changed since the dry run) and writes every row
in one transaction, or nothing. A file is applied once per kind: its SHA-256 is recorded, sending it
again is refused, and applying a batch twice does nothing the second time (a job re-run by the
worker finds it applied)."""

from __future__ import annotations

import functools
import gc
import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from django.core.cache import cache
from django.core.files.base import File
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.clock import now
from core.errors import DomainError, PermissionDenied, TransitionNotAllowed
from core.fsm import apply_transition
from core.jobs import job_start
from core.models import BackgroundJob, User
from core.tabular.reader import open_table
from core.tabular.report import Report

from ..models import ImportBatch, ImportState
from . import audit_actions  # noqa: F401 - registers the action codes
from .kinds import KINDS, Kind, may_import

logger = logging.getLogger(__name__)

MAX_BYTES = 80 * 1024 * 1024
#: The refusal of a file the reader failed on in a way nobody foresaw (logged with its cause).
UNEXPECTED = gettext_lazy(
    "Ce fichier n'a pas pu être lu (erreur inattendue, signalée à l'équipe technique). "
    "Enregistrez-le en CSV UTF-8 séparé par des points-virgules et déposez-le à nouveau."
)
#: Above this many rows the apply runs as a background job the user follows.
SYNC_MAX_ROWS = 5_000
JOB_KIND = "reporting.import_apply"

Progress = Callable[[int, int | None], None]


P = ParamSpec("P")
R = TypeVar("R")


def _gc_paused(func: Callable[P, R]) -> Callable[P, R]:
    """Run without the cyclic garbage collector: on a big file it walks the hundreds of thousands
    of objects the rows are made of again and again (a third of the CPU time of a 100 000-row
    import) and finds nothing to collect, the rows holding no cycles. Reference counting still
    frees everything; the collector resumes afterwards."""

    @functools.wraps(func)
    def paused(*args: P.args, **kwargs: P.kwargs) -> R:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return func(*args, **kwargs)
        finally:
            if enabled:
                gc.enable()

    return paused


def _kind(actor: User, kind: str) -> Kind:
    if not may_import(actor, kind):
        raise PermissionDenied(_("Vous ne pouvez pas importer ce type de fichier."))
    return KINDS[kind]


def _options(spec: Kind, options: dict[str, Any] | None) -> dict[str, Any]:
    options = options or {}
    result: dict[str, Any] = {}
    if spec.strict_option:
        result["strict"] = bool(options.get("strict", True))
    if options.get("sheet"):
        result["sheet"] = str(options["sheet"])[:100]
    if options.get("profile"):
        result["profile"] = str(options["profile"])[:100]
    if options.get("mapping"):
        result["mapping"] = {
            str(k)[:255]: str(v)[:100] for k, v in dict(options["mapping"]).items()
        }
    return result


@_gc_paused
def import_check(
    *, actor: User, kind: str, file: File, options: dict[str, Any] | None = None
) -> ImportBatch:
    """Dry run: read and check every row, match them with the database, record the report.
    The batch is `checked` (ready to apply) or `invalid`; nothing else is written. A file that
    is not a table at all (PDF, XLS, empty) is refused with a DomainError on "file"."""
    spec = _kind(actor, kind)
    if file.size > MAX_BYTES:
        raise DomainError(
            _("Le fichier dépasse %(max)s Mo : découpez-le en plusieurs fichiers.")
            % {"max": MAX_BYTES // (1024 * 1024)},
            field="file",
        )
    options = _options(spec, options)
    digest = hashlib.sha256()
    for chunk in file.chunks():
        digest.update(chunk)
    sha256 = digest.hexdigest()
    report = Report()
    rows = _read(spec, file, file.name, options, report=report)
    if options.get("strict") and not report.ok and report.row_count:
        _suggest_tolerant(spec, file, options, report)
    if report.ok and report.row_count == 0:
        report.error(None, "", "", _("Le fichier ne contient aucune ligne de données."))
    previous = (
        ImportBatch.objects.filter(kind=kind, sha256=sha256, state=ImportState.APPLIED)
        .select_related("applied_by")
        .first()
    )
    if previous is not None:
        report.error(
            None,
            "",
            "",
            _(
                "Ce fichier a déjà été importé le %(date)s (import n° %(id)s) : il ne sera pas "
                "importé deux fois."
            )
            % {"date": previous.applied_at.strftime("%d/%m/%Y"), "id": previous.pk},
        )
    batch = ImportBatch(
        kind=kind,
        state=ImportState.CHECKED if report.ok else ImportState.INVALID,
        original_name=file.name[:255],
        size=file.size,
        sha256=sha256,
        options=options,
        row_count=report.row_count,
        report=report.as_json(),
        created_by=actor,
    )
    with transaction.atomic():
        batch.file.save(file.name, file, save=False)
        batch.save()
    if batch.state == ImportState.CHECKED:
        keep_rows(spec, batch, rows, report)
    return batch


#: How long the rows a dry run read are kept for the apply (then the apply reads the file again).
ROWS_KEPT_SECONDS = 24 * 3600
#: Bumped when what a kind's `freeze` writes changes: rows kept by an older version are ignored.
ROWS_FORMAT = 2


def _rows_key(batch: ImportBatch) -> str:
    """The rows read from one file with one set of options (the read is a function of both)."""
    options = json.dumps(batch.options, sort_keys=True)
    digest = hashlib.sha256(f"{batch.sha256}|{options}".encode()).hexdigest()
    return f"reporting.import.rows:{ROWS_FORMAT}:{batch.kind}:{digest}"


def keep_rows(spec: Kind, batch: ImportBatch, rows: list[Any], report: Report) -> None:
    """Keep the rows a successful dry run read and checked (in the cache, shared by the web and
    the workers), so that the apply does not read and check the file again. Best effort: a miss
    (expired, evicted, another cache) means the apply reads the file, as it always could."""
    if spec.freeze is None or not rows:
        return
    data = spec.freeze(rows, report)
    if data is not None:
        try:
            cache.set(_rows_key(batch), data, ROWS_KEPT_SECONDS)
        except Exception:  # noqa: BLE001 - a cache down only costs a second read
            logger.warning("import: rows of batch %s not kept", batch.pk, exc_info=True)


def _kept_rows(spec: Kind, batch: ImportBatch) -> list[Any] | None:
    if spec.thaw is None:
        return None
    try:
        data = cache.get(_rows_key(batch))
        return spec.thaw(data) if data is not None else None
    except Exception:  # noqa: BLE001 - a cache down or an unreadable entry: read the file again
        logger.warning("import: rows of batch %s not read back", batch.pk, exc_info=True)
        return None


def _read(
    spec: Kind,
    file: Any,
    name: str,
    options: dict[str, Any],
    *,
    report: Report,
    progress: Callable[[int], None] = lambda n: None,
    plan: bool = True,
) -> list[Any]:
    """Read and check the rows, recording every problem in `report` (and, with `plan`, what
    the database says); returns the rows read."""
    try:
        # An unreadable file is refused: DomainError on "file".
        table = open_table(file, name=name, sheet=options.get("sheet", ""))
    except DomainError:
        raise
    except Exception:  # noqa: BLE001 - never a 500 on a file; the cause is logged
        logger.exception("import: unexpected error opening %s", name)
        raise DomainError(UNEXPECTED, field="file")
    report.file = table.describe()
    try:
        rows = spec.read(table, options, report, progress)
    except DomainError as exc:  # a malformed line in the middle of a CSV, a limit reached
        report.error(None, "", "", str(exc.message))
        rows = []
    except (RecursionError, MemoryError, ValueError, TypeError, LookupError, OSError):
        logger.exception("import: unexpected error reading %s", name)
        report.error(None, "", "", str(UNEXPECTED))
        rows = []
    report.file = table.describe()  # now that every line is decoded
    table.notes(report, report.row_count)
    if not rows:
        return []
    if plan and rows:
        spec.plan(rows, report)
    return rows


def _suggest_tolerant(spec: Kind, file: Any, options: dict[str, Any], report: Report) -> None:
    """A file refused in strict mode is read again in tolerant mode: the report says how many
    errors would remain (none: depositing it again in tolerant mode imports it)."""
    tolerant = Report()
    try:
        _read(spec, file, file.name, {**options, "strict": False}, report=tolerant, plan=False)
    except DomainError:
        return
    if tolerant.error_count >= report.error_count:
        return
    if tolerant.ok:
        message = _(
            "Ce fichier ne suit pas le schéma SCDL à la lettre, mais il serait accepté en mode "
            "tolérant (%(n)s correction(s) signalée(s)) : déposez-le à nouveau en choisissant "
            "« Tolérant »."
        ) % {"n": sum(e["count"] for e in tolerant.cleaning.values()) + tolerant.warning_count}
    else:
        message = _(
            "En mode tolérant, ce fichier n'aurait plus que %(n)s erreur(s) au lieu de "
            "%(m)s : déposez-le à nouveau en choisissant « Tolérant »."
        ) % {"n": tolerant.error_count, "m": report.error_count}
    report.hint(message)


@_gc_paused
def import_apply(
    *, actor: User, batch: ImportBatch, progress: Progress | None = None
) -> ImportBatch:
    """Apply a checked batch: take the rows its dry run kept (else read the file again), match
    them with the database again, then write every row in one transaction.

    Refused (and the batch marked invalid, with the new report) if a row is no longer valid.
    Applying an applied batch returns it unchanged."""
    spec = _kind(actor, batch.kind)
    batch = ImportBatch.objects.get(pk=batch.pk)
    if batch.state == ImportState.APPLIED:
        return batch
    if batch.state != ImportState.CHECKED:
        raise TransitionNotAllowed(
            _("Ce fichier a été refusé : corrigez-le puis déposez-le à nouveau."), allowed=[]
        )
    # Progress: reading the rows is the first half; the write is one transaction, so the
    # second half shows at once when it commits.
    total = batch.row_count
    tick = progress or (lambda done, total=None: None)
    tick(0, 2 * total)
    report = Report()
    rows = _kept_rows(spec, batch)
    if rows is None:
        with batch.file.open("rb") as handle:
            rows = _read(
                spec,
                handle,
                batch.original_name,
                batch.options,
                report=report,
                progress=lambda n: tick(n, 2 * total),
                plan=False,
            )
    if not report.ok:
        _invalidate(actor, batch, report)
    tick(total, 2 * total)
    try:
        with transaction.atomic():
            batch = ImportBatch.objects.select_for_update().get(pk=batch.pk)
            if batch.state == ImportState.APPLIED:
                return batch
            if ImportBatch.objects.filter(
                kind=batch.kind, sha256=batch.sha256, state=ImportState.APPLIED
            ).exists():
                raise DomainError(
                    _("Ce fichier a déjà été importé : il ne sera pas importé deux fois."),
                    field="file",
                )
            result = spec.apply(
                actor=actor,
                rows=rows,
                source=f"{batch.original_name} (import n° {batch.pk})",
            )
            batch.result = result
            batch.applied_at = now()
            batch.applied_by = actor
            apply_transition(
                batch,
                "apply",
                actor=actor,
                action="reporting.import.applied",
                payload={"kind": batch.kind, "sha256": batch.sha256, "result": result},
                update_fields=["result", "applied_at", "applied_by"],
            )
    except IntegrityError:
        if not ImportBatch.objects.filter(
            kind=batch.kind, sha256=batch.sha256, state=ImportState.APPLIED
        ).exists():
            raise
        raise DomainError(
            _("Ce fichier vient d'être importé par ailleurs : il ne sera pas importé deux fois."),
            field="file",
        )
    except DomainError as exc:
        if isinstance(exc, PermissionDenied):
            raise
        cache.delete(_rows_key(batch))
        again = Report()
        if rows:
            spec.plan(rows, again)
        if again.ok:
            again.error(None, "", "", str(exc.message))
        _invalidate(actor, batch, again)
    cache.delete(_rows_key(batch))
    return batch


def _invalidate(actor: User, batch: ImportBatch, report: Report) -> None:
    """Record why the batch can no longer be applied, then refuse."""
    with transaction.atomic():
        batch = ImportBatch.objects.select_for_update().get(pk=batch.pk)
        if batch.state == ImportState.CHECKED:
            batch.report = report.as_json()
            apply_transition(
                batch,
                "invalidate",
                actor=actor,
                action="reporting.import.invalidated",
                payload={"errors": report.error_count},
                update_fields=["report"],
            )
    raise DomainError(
        _(
            "Le fichier ne peut plus être importé : %(n)s erreur(s), voir le rapport. Rien n'a "
            "été importé."
        )
        % {"n": report.error_count},
        field="file",
    )


def import_start(*, actor: User, batch: ImportBatch) -> BackgroundJob | None:
    """Apply now when the file is small; otherwise start the background job and return it."""
    _kind(actor, batch.kind)
    if batch.state != ImportState.CHECKED:
        import_apply(actor=actor, batch=batch)  # idempotent when applied, refuses otherwise
        return None
    if batch.row_count <= SYNC_MAX_ROWS:
        import_apply(actor=actor, batch=batch)
        return None
    with transaction.atomic():
        job = job_start(
            owner=actor,
            kind=JOB_KIND,
            label=_("Import : %(name)s") % {"name": batch.original_name},
            params={"batch": batch.pk},
        )
        ImportBatch.objects.filter(pk=batch.pk).update(job=job)
    return job
