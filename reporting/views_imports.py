"""Import pages (/pilotage/imports/): the list of past imports, the upload form of each kind, the
dry-run report (every error by row and column) with the confirm button only when the file is
valid, and the result. Programme managers and administrators import everything; finance officers
import organisations. Every write is a service call (reporting.imports.services)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.errors import DomainError
from core.errors import PermissionDenied as DomainPermissionDenied
from core.tabular.writer import csv_bytes, csv_dialect, csv_file_name

from .forms_imports import ImportUploadForm
from .imports import scdl
from .imports.kinds import KINDS, kinds_for, may_import
from .imports.profiles import field_choices, import_profiles
from .imports.profiles import import_remap as profiles_import_remap
from .imports.services import SYNC_MAX_ROWS, import_check, import_start
from .models import ImportBatch, ImportState

ERRORS_PER_PAGE = 200


def _kinds_or_403(request: HttpRequest) -> list:
    kinds = kinds_for(request.user)
    if not kinds:
        raise PermissionDenied
    return kinds


def _visible_batch(request: HttpRequest, pk: int) -> ImportBatch:
    """The batch if the user may import its kind; 404 otherwise (existence not leaked)."""
    batch = get_object_or_404(
        ImportBatch.objects.select_related("created_by", "applied_by", "job"), pk=pk
    )
    if not may_import(request.user, batch.kind):
        raise Http404
    return batch


@login_required
def import_list(request: HttpRequest) -> HttpResponse:
    kinds = _kinds_or_403(request)
    batches = ImportBatch.objects.filter(kind__in=[k.code for k in kinds]).select_related(
        "created_by"
    )
    page = Paginator(batches, 50).get_page(request.GET.get("page"))
    return render(request, "reporting/imports_list.html", {"kinds": kinds, "page": page})


@login_required
def import_new(request: HttpRequest, kind: str) -> HttpResponse:
    spec = KINDS.get(kind)
    if spec is None:
        raise Http404
    if not may_import(request.user, kind):
        raise PermissionDenied
    posted = request.method == "POST"
    form = ImportUploadForm(
        request.POST if posted else None,
        request.FILES if posted else None,
        kind=spec,
        profiles=import_profiles(request.user, kind),
    )
    if posted and form.is_valid():
        try:
            batch = import_check(
                actor=request.user,
                kind=kind,
                file=form.cleaned_data["file"],
                options=form.options(),
            )
        except DomainPermissionDenied:
            raise PermissionDenied
        except DomainError as exc:
            form.add_error("sheet" if exc.field == "sheet" else "file", str(exc.message))
        else:
            return redirect("reporting:import_detail", batch.pk)
    status = 400 if form.errors else 200
    return render(
        request,
        "reporting/imports_new.html",
        {"form": form, "kind": spec, "fields": _expected_fields(kind)},
        status=status,
    )


def _expected_fields(kind: str) -> list[dict]:
    if kind == "grants":
        return [
            {
                "name": f["name"],
                "title": f.get("title", ""),
                "required": f.get("constraints", {}).get("required", False),
            }
            for f in scdl.schema()["fields"]
        ]
    from .imports import organisations, references

    columns = {
        "organisations": organisations.COLUMNS,
        "qpv": references.QPV_COLUMNS,
        "communes": [c for c in references.COMMUNE_COLUMNS if c.key != "typecom"],
    }[kind]
    return [{"name": c.label, "title": "", "required": c.required} for c in columns]


@login_required
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    batch = _visible_batch(request, pk)
    report = batch.report or {}
    errors = Paginator(report.get("errors", []), ERRORS_PER_PAGE).get_page(request.GET.get("page"))
    job_running = batch.job is not None and batch.job.state in ("queued", "running")
    return render(
        request,
        "reporting/imports_detail.html",
        {
            "batch": batch,
            "report": report,
            "errors": errors,
            "warnings": report.get("warnings", [])[:ERRORS_PER_PAGE],
            "hidden_errors": report.get("error_count", 0) - len(report.get("errors", [])),
            "can_apply": batch.state == ImportState.CHECKED and not job_running,
            "can_remap": batch.state != ImportState.APPLIED and not job_running,
            "field_choices": field_choices(batch.kind),
            "job_running": job_running,
            "in_background": batch.row_count > SYNC_MAX_ROWS,
        },
    )


@login_required
@require_POST
def import_apply(request: HttpRequest, pk: int) -> HttpResponse:
    batch = _visible_batch(request, pk)
    try:
        job = import_start(actor=request.user, batch=batch)
    except DomainPermissionDenied:
        raise PermissionDenied
    except DomainError as exc:
        messages.error(request, str(exc.message))
        return redirect("reporting:import_detail", batch.pk)
    if job is not None:
        messages.info(
            request,
            _("L'import est lancé en arrière-plan : vous serez notifié·e à la fin."),
        )
        return redirect("core:job_detail", job.pk)
    messages.success(request, _("Import terminé."))
    return redirect("reporting:import_detail", batch.pk)


@login_required
@require_POST
def import_remap(request: HttpRequest, pk: int) -> HttpResponse:
    """The dry run again with the columns the user chose (and the mapping saved if named)."""
    batch = _visible_batch(request, pk)
    mapping = {
        str(entry["header"]): request.POST.get(f"col-{entry['position']}", "")
        for entry in (batch.report or {}).get("mapping", [])
        if entry.get("header")
    }
    strict = request.POST.get("strict")
    try:
        new = profiles_import_remap(
            actor=request.user,
            batch=batch,
            mapping=mapping,
            strict=None if strict is None else strict == "1",
            profile_name=request.POST.get("profile_name", ""),
        )
    except DomainPermissionDenied:
        raise PermissionDenied
    except DomainError as exc:
        messages.error(request, str(exc.message))
        return redirect("reporting:import_detail", batch.pk)
    if request.POST.get("profile_name", "").strip():
        messages.success(request, _("Profil enregistré : il sera proposé au prochain dépôt."))
    return redirect("reporting:import_detail", new.pk)


@login_required
def import_report_csv(request: HttpRequest, pk: int) -> HttpResponse:
    """The report as CSV: « Excel (France) » by default, `?format=csv` for tools
    (core.tabular.writer)."""
    batch = _visible_batch(request, pk)
    try:
        dialect = csv_dialect(request.GET.get("format"))
    except DomainError as exc:
        return HttpResponse(str(exc.message), status=400, content_type="text/plain; charset=utf-8")
    headers = [_("Niveau"), _("Ligne"), _("Colonne"), _("Valeur"), _("Message")]
    rows = [
        [level, e["row"] or "", e["column"], e["value"], e["message"]]
        for level, entries in ((_("Erreur"), "errors"), (_("Avertissement"), "warnings"))
        for e in batch.report.get(entries, [])
    ]
    response = HttpResponse(csv_bytes(headers, rows, dialect), content_type=dialect.content_type)
    name = csv_file_name(f"rapport-import-{batch.pk}", dialect)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
