"""Pages of the modes outside the classic call: direct awards (hors appel) opened by instruction and
decided by a programme manager, and the multi-year share of a programme (structural support).

The yearly amounts of a multi-year request are typed in the applicant's edit page
(grants.views.applicant) with the helpers at the end of this module."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from calls.models import Programme
from core.errors import DomainError
from core.forms import error_summary
from core.models import Role, User
from core.permissions import has_role, is_staff_member

from ..forms import add_domain_error
from ..models import Application
from ..views.common import error_message
from . import services as services_direct
from .forms import (
    DirectAwardForm,
    OrganisationSearchForm,
    ProgrammeFilterForm,
    link_errors,
    shows_years,
    years_formset,
    years_rows,
)
from .selectors import direct_awards_by_programme, multi_year_files, multi_year_share

OPENERS = (Role.INSTRUCTOR, Role.PROGRAMME_MANAGER)


def _require_staff(request: HttpRequest) -> None:
    if not is_staff_member(request.user):
        raise PermissionDenied


@login_required
def direct_award_list(request: HttpRequest) -> HttpResponse:
    """Direct awards per programme: pending, decided, and the programme's envelope figures."""
    _require_staff(request)
    form = ProgrammeFilterForm(request.GET or None)
    programme = form.cleaned_data.get("programme") if form.is_bound and form.is_valid() else None
    return render(
        request,
        "grants/direct/list.html",
        {
            "form": form,
            "sections": direct_awards_by_programme(request.user, programme=programme),
            "can_open": has_role(request.user, *OPENERS),
            "can_decide": has_role(request.user, Role.PROGRAMME_MANAGER),
        },
    )


@login_required
def direct_award_create(request: HttpRequest) -> HttpResponse:
    """« Nouvelle attribution hors appel »: the file is opened and filed at once for a manager's decision."""
    if not has_role(request.user, *OPENERS):
        raise PermissionDenied
    search = OrganisationSearchForm(request.GET or None)
    text = search.cleaned_data.get("q", "") if search.is_bound and search.is_valid() else ""
    initial = (
        {"programme": request.GET.get("programme")}
        if request.GET.get("programme", "").isdigit()
        else {}
    )
    form = DirectAwardForm(request.POST or None, search=text, initial=initial)
    status, error = 200, ""
    if request.method == "POST":
        if form.is_valid():
            try:
                application = services_direct.direct_award_open(
                    actor=request.user, **form.service_kwargs()
                )
            except DomainError as exc:
                add_domain_error(form, exc)
                status, error = exc.status_code, error_message(exc)
            else:
                messages.success(
                    request,
                    _(
                        "Le dossier hors appel %(ref)s est déposé : un·e responsable de "
                        "programme va le décider."
                    )
                    % {"ref": application.reference},
                )
                return redirect("grants:application_detail", pk=application.pk)
        else:
            status, error = 400, _("Le formulaire contient des erreurs.")
    return render(
        request,
        "grants/direct/create.html",
        {
            "form": form,
            "search": search,
            "search_text": text,
            "error": error,
            "errors": error_summary(form, intro=error),
            "matches": form.fields["organisation"].queryset.count() if not form.is_bound else None,
        },
        status=status,
    )


@login_required
def multi_year_overview(request: HttpRequest) -> HttpResponse:
    """Every programme with its share of associations supported over several years."""
    _require_staff(request)
    rows = [
        {"programme": p, **multi_year_share(p)}
        for p in Programme.objects.order_by("-fiscal_year", "name")
    ]
    return render(request, "grants/direct/multi_year_overview.html", {"rows": rows})


@login_required
def multi_year_programme(request: HttpRequest, pk: int) -> HttpResponse:
    """« Part des associations soutenues en pluriannuel » for one programme, with the files behind it."""
    _require_staff(request)
    programme = get_object_or_404(Programme, pk=pk)
    return render(
        request,
        "grants/direct/multi_year.html",
        {
            "programme": programme,
            "share": multi_year_share(programme),
            "files": multi_year_files(request.user, programme),
        },
    )


# --------------------------------------------------------------------------- yearly amounts (edit page)


def years_context(
    application: Application, data: Any = None, formset: Any = None
) -> dict[str, Any]:
    """What the edit page's « Montants annuels » section needs (nothing when it is not shown)."""
    if not shows_years(application):
        return {"years": None}
    return {
        "years": formset if formset is not None else years_formset(application, data),
        "years_errors": [],
    }


def save_years(actor: User, application: Application, formset: Any) -> list[str]:
    """Save the yearly amounts through grants.direct.services.application_set_years; the errors to show
    in the section (empty when saved, or when nothing was typed on a file without years)."""
    if not formset.is_valid():
        link_errors(formset)
        return [_("Certains montants annuels sont à corriger.")]
    rows = years_rows(formset)
    if not rows and not application.years.exists():
        return []
    try:
        services_direct.application_set_years(actor=actor, application=application, years=rows)
    except DomainError as exc:
        return [str(m) for msgs in exc.errors.values() for m in msgs] or [str(exc.message)]
    return []
