"""Public download of the published experience sheets (/experiences/export.<csv|xlsx|ods>), with
the filters of the search page. The same writers and columns as the staff's export jobs
(reporting.exports, reporting.resources_directory), written at once: published sheets are a few
hundred rows, not the hundred thousand instalments the background jobs are for."""

from __future__ import annotations

import tempfile
from itertools import islice

from django.http import FileResponse, Http404, HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from core.clock import now
from directory.forms import SheetSearchForm
from directory.selectors import published_sheets, search_sheets

from .exports import CHUNK, FORMATS, RowPlan
from .resources_directory import ExperienceSheetResource

PUBLIC_FORMATS = ("excel-fr", "csv", "xlsx", "ods")
#: Every column but the workflow state (always « Publiée » here).
PUBLIC_COLUMNS = tuple(c for c in ExperienceSheetResource.Meta.fields if c != "state")


@require_GET
def sheets_export(request: HttpRequest, file_format: str) -> FileResponse:
    if file_format not in PUBLIC_FORMATS:
        raise Http404
    fmt = FORMATS[file_format]
    form = SheetSearchForm(request.GET or None)
    qs = search_sheets(published_sheets(), **form.filters()).order_by("-year", "title", "pk")
    resource_columns = ExperienceSheetResource().columns()
    chosen = [resource_columns[name] for name in PUBLIC_COLUMNS]
    plan = RowPlan(chosen, native=fmt.native)
    # Kept open: FileResponse closes it once sent.
    fh = tempfile.TemporaryFile()  # noqa: SIM115
    writer = fmt.writer(fh, [str(c.column_name) for c in chosen], _("Fiches expérience"))
    rows = qs.values_list(*plan.paths).iterator(chunk_size=CHUNK)
    while chunk := list(islice(rows, CHUNK)):
        related = plan.related(qs.model, chunk)
        writer.write_rows([plan.render(row, related) for row in chunk])
    writer.close()
    fh.seek(0)
    name = f"fiches-experience-{timezone.localtime(now()):%Y%m%d}.{fmt.extension}"
    return FileResponse(fh, as_attachment=True, filename=name, content_type=fmt.content_type)
