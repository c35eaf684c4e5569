"""Public open-data pages, no login (/donnees/): the awarded grants with their filters, and the
downloads — SCDL « Subventions » 2.1.1 CSV, its multi-year extension, JSON, the schema.

Only organisations are shown (name, SIRET, RNA): no person, no contact, no bank details. The list
reads a fixed number of queries whatever the page; downloads stream row by row."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django import forms
from django.core.paginator import Paginator
from django.db.models import F, Max, Min, Q, QuerySet
from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from calls.models import Programme
from core.models import QPV, Funder
from cpo.models import Agreement, AgreementFunder

from . import opendata, scdl_files

PAGE_SIZE = 50


class GrantFilterForm(forms.Form):
    """The public page's filters (also applied to the downloads)."""

    annee = forms.TypedChoiceField(
        label=gettext_lazy("Exercice"), required=False, coerce=int, empty_value=None
    )
    programme = forms.ModelChoiceField(
        label=gettext_lazy("Programme"), queryset=Programme.objects.none(), required=False
    )
    financeur = forms.ModelChoiceField(
        label=gettext_lazy("Financeur"), queryset=Funder.objects.none(), required=False
    )
    quartier = forms.ModelChoiceField(
        label=gettext_lazy("Quartier prioritaire"),
        queryset=QPV.objects.none(),
        required=False,
        to_field_name="code",
    )
    beneficiaire = forms.CharField(
        label=gettext_lazy("Bénéficiaire (nom)"), required=False, max_length=100
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Choices drawn from the agreements the dataset covers (signed, above the threshold):
        cheap queries, without the completeness checks of the list itself."""
        super().__init__(*args, **kwargs)
        covered = opendata.agreements_in_scope()
        span = covered.aggregate(
            first=Min("first_year"), last=Max(F("first_year") + F("duration_years") - 1)
        )
        years = range(span["last"] or 0, (span["first"] or 1) - 1, -1)
        self.fields["annee"].choices = [("", _("Tous"))] + [(y, str(y)) for y in years]
        programme_ids = covered.values("programme_id")
        self.fields["programme"].queryset = Programme.objects.filter(pk__in=programme_ids).order_by(
            "-fiscal_year", "name"
        )
        # Funders with a share, or funding through the programme (agreements without funder rows).
        linked = AgreementFunder.objects.filter(share__gt=0, agreement__in=covered.values("pk"))
        self.fields["financeur"].queryset = (
            Funder.objects.filter(
                Q(pk__in=linked.values("funder_id"))
                | Q(
                    pk__in=Programme.objects.filter(pk__in=programme_ids).values(
                        "budget_line__funder"
                    )
                )
                | Q(programmes__in=programme_ids)
            )
            .distinct()
            .order_by("name")
        )
        self.fields["quartier"].queryset = QPV.objects.filter(
            applications__agreement__in=covered.values("pk")
        ).distinct()
        for name in ("programme", "financeur", "quartier"):
            self.fields[name].empty_label = _("Tous")

    def filters(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "year": data.get("annee"),
            "programme": data.get("programme"),
            "funder": data.get("financeur"),
            "qpv": data.get("quartier"),
            "beneficiary": data.get("beneficiaire") or "",
        }


def _filtered(request: HttpRequest) -> tuple[GrantFilterForm, QuerySet[Agreement]]:
    """The published agreements under the request's filters; invalid filters are ignored (the
    form shows why)."""
    form = GrantFilterForm(request.GET or None)
    qs = opendata.published_agreements()
    if form.is_bound and form.is_valid():
        qs = opendata.filter_published(qs, **form.filters())
    return form, qs


@require_GET
def grant_list(request: HttpRequest) -> HttpResponse:
    """/donnees/subventions/: the awarded grants, 50 a page, newest signature first."""
    form, qs = _filtered(request)
    qs = opendata.with_rows_data(qs.order_by("-signed_on", "-pk"), neighbourhoods=True)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        {
            "agreement": agreement,
            "parts": opendata.funder_parts(agreement),
            "qpvs": agreement.application.qpv_list if agreement.application else [],
        }
        for agreement in page.object_list
    ]
    query = request.GET.copy()
    query.pop("page", None)
    filtered = form.is_bound and form.is_valid() and any(form.cleaned_data.values())
    return render(
        request,
        "reporting/public_grants.html",
        {
            "form": form,
            "page": page,
            "rows": rows,
            "query": query.urlencode(),
            "filtered": filtered,
            "threshold": opendata.threshold(),
            "publish_all": opendata.publish_all(),
            "schema_version": opendata.SCHEMA_VERSION,
            "schema_url": opendata.SCHEMA_URL,
        },
    )


def _download(chunks: Iterator[str], *, content_type: str, file_name: str) -> HttpResponse:
    """Streamed: the rows are read and sent a chunk of agreements at a time."""
    response = StreamingHttpResponse(
        (chunk.encode("utf-8") for chunk in chunks), content_type=content_type
    )
    response["Content-Disposition"] = f'attachment; filename="{file_name}"'
    return response


def _invalid(form: GrantFilterForm) -> HttpResponse:
    lines = [_("Filtres invalides :")]
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else name
        lines += [f"- {label} : {error}" for error in errors]
    return HttpResponse(
        "\n".join(lines) + "\n", status=400, content_type="text/plain; charset=utf-8"
    )


@require_GET
def scdl_csv(request: HttpRequest) -> HttpResponse:
    """The SCDL « Subventions » 2.1.1 file (CSV), with the page's filters if given."""
    form, qs = _filtered(request)
    if form.is_bound and not form.is_valid():
        return _invalid(form)
    return _download(
        scdl_files.csv_lines(opendata.SCDL_FIELDS, opendata.scdl_rows(qs)),
        content_type="text/csv; charset=utf-8",
        file_name=f"subventions-scdl-{opendata.SCHEMA_VERSION}.csv",
    )


@require_GET
def scdl_json(request: HttpRequest) -> HttpResponse:
    """The same rows in JSON, typed as the schema says."""
    form, qs = _filtered(request)
    if form.is_bound and not form.is_valid():
        return _invalid(form)
    return _download(
        scdl_files.json_chunks(opendata.SCDL_FIELDS, opendata.scdl_rows(qs)),
        content_type="application/json",
        file_name=f"subventions-scdl-{opendata.SCHEMA_VERSION}.json",
    )


@require_GET
def multi_year_csv(request: HttpRequest) -> HttpResponse:
    """The multi-year extension: one row per agreement and fiscal year."""
    form, qs = _filtered(request)
    if form.is_bound and not form.is_valid():
        return _invalid(form)
    fields = [name for name, _kind in opendata.MULTI_YEAR_FIELDS]
    return _download(
        scdl_files.csv_lines(fields, opendata.multi_year_rows(qs)),
        content_type="text/csv; charset=utf-8",
        file_name="subventions-pluriannuelles.csv",
    )


@require_GET
def schema(request: HttpRequest) -> FileResponse:
    """The schema the file follows (the copy shipped with the product)."""
    return FileResponse(
        opendata.SCHEMA_FILE.open("rb"),
        content_type="application/json",
        filename=opendata.SCHEMA_FILE.name,
    )
