"""Export pages (/pilotage/exports/): choose a dataset, its columns (in order, or a saved
template), the format and the filters; the export runs as a background job and the person follows
it on core:job_detail (progress, notification, expiring download). Every write is a service call
in reporting.exports."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.errors import DomainError
from core.forms import add_domain_error
from core.models import ExportTemplate

from .exports import (
    FORMATS,
    export_start,
    export_template_delete,
    export_template_save,
    templates_of,
)
from .forms_exports import ExportForm
from .resources import DATASETS, ExportDataset, columns_for, datasets_for


def _dataset_or_404(request: HttpRequest, slug: str) -> ExportDataset:
    for spec in datasets_for(request.user):
        if spec.slug == slug:
            return spec
    raise Http404


@login_required
def export_index(request: HttpRequest) -> HttpResponse:
    """The datasets this person may export, and their saved templates."""
    datasets = datasets_for(request.user)
    if not datasets:
        raise PermissionDenied
    templates = [
        {"template": t, "spec": DATASETS[t.dataset], "format": FORMATS.get(t.file_format)}
        for t in templates_of(request.user)
    ]
    return render(
        request, "reporting/exports_index.html", {"datasets": datasets, "templates": templates}
    )


def _column_rows(
    spec: ExportDataset, request: HttpRequest, chosen: list[str]
) -> list[dict[str, Any]]:
    """The columns in the page's order: the chosen ones first, in their order, then the rest."""
    allowed = columns_for(request.user, spec)
    order = [c for c in chosen if c in allowed] + [c for c in allowed if c not in chosen]
    checked = set(chosen)
    return [
        {"name": name, "header": allowed[name].column_name, "checked": name in checked}
        for name in order
    ]


@login_required
def export_form(request: HttpRequest, slug: str) -> HttpResponse:
    """Choose columns, format and filters, then start the export (or save the template)."""
    spec = _dataset_or_404(request, slug)
    user = request.user
    template = None
    if (template_id := request.GET.get("modele", "")).isdigit():
        template = get_object_or_404(
            ExportTemplate, pk=int(template_id), owner=user, dataset=spec.key
        )
    status = 200
    if request.method == "POST":
        form = ExportForm(request.POST, spec=spec, user=user)
        chosen = request.POST.getlist("columns")
        if form.is_valid():
            data = form.cleaned_data
            saving = request.POST.get("action") == "save"
            try:
                if saving or data["template_name"]:
                    saved = export_template_save(
                        actor=user,
                        dataset=spec.key,
                        name=data["template_name"],
                        columns=chosen,
                        file_format=data["file_format"],
                    )
                    if saving:
                        messages.success(
                            request,
                            _("Modèle « %(name)s » enregistré.") % {"name": saved.name},
                        )
                        url = reverse("reporting:export_form", args=[spec.slug])
                        return redirect(f"{url}?modele={saved.pk}")
                job = export_start(
                    actor=user,
                    dataset=spec.key,
                    columns=chosen,
                    file_format=data["file_format"],
                    filters=form.filters(),
                )
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(
                    request,
                    _("Export lancé : vous serez notifié·e quand le fichier sera prêt."),
                )
                return redirect("core:job_detail", job.pk)
        status = 400
    else:
        allowed = columns_for(user, spec)
        chosen = list(template.columns) if template else list(allowed)
        if template and (gone := [c for c in chosen if c not in allowed]):
            messages.warning(
                request,
                _("Colonnes du modèle qui ne sont plus disponibles : %(names)s.")
                % {"names": ", ".join(gone)},
            )
        form = ExportForm(
            initial={
                "file_format": template.file_format if template else "csv",
                "template_name": template.name if template else "",
            },
            spec=spec,
            user=user,
        )
    return render(
        request,
        "reporting/exports_form.html",
        {
            "spec": spec,
            "form": form,
            "column_rows": _column_rows(spec, request, chosen),
            "template": template,
            "templates": [t for t in templates_of(user) if t.dataset == spec.key],
        },
        status=status,
    )


@login_required
@require_POST
def export_template_remove(request: HttpRequest, pk: int) -> HttpResponse:
    """Delete one of the person's own templates (anyone else's: 404)."""
    template = get_object_or_404(ExportTemplate, pk=pk, owner=request.user)
    export_template_delete(actor=request.user, template=template)
    messages.success(request, _("Modèle « %(name)s » supprimé.") % {"name": template.name})
    return redirect("reporting:exports")
