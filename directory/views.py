"""Directory pages. Public (no login): the listed actors (/annuaire/) and the published experience
sheets (/experiences/), with their filters. Signed in: an organisation's administrator edits its
public profile; members draft and edit their sheets; reviewing staff publish or return them.

A sheet nobody may see (a draft for the public, another organisation's draft) is a 404."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from core.audit import history_for
from core.errors import DomainError
from core.forms import add_domain_error
from core.models import Organisation, User
from core.permissions import is_organisation_admin, organisation_ids_of

from . import selectors, services
from .forms import ActorSearchForm, ProfileForm, ReturnForm, SheetForm, SheetSearchForm
from .models import ExperienceSheet, SheetState

PAGE_SIZE = 30


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _query(request: HttpRequest) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


# --------------------------------------------------------------------------- public


@require_GET
def actor_list(request: HttpRequest) -> HttpResponse:
    """/annuaire/: the organisations that opted in, by neighbourhood, pillar and theme."""
    form = ActorSearchForm(request.GET or None)
    actors = selectors.search_actors(**form.filters())
    page = Paginator(actors, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "directory/actor_list.html",
        {"form": form, "page": page, "query": _query(request)},
    )


@require_GET
def actor_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One listed actor: its presentation, the neighbourhoods and themes of its funded actions,
    its published sheets, the other actors active in the same neighbourhoods."""
    organisation = get_object_or_404(selectors.listed_actors(), pk=pk)
    profile = organisation.public_profile  # type: ignore[attr-defined]
    context = {
        "organisation": organisation,
        "profile": profile,
        "qpvs": selectors.actor_qpvs(organisation),
        "pillars": selectors.actor_pillars(organisation),
        "themes": selectors.actor_themes(organisation),
        "sheets": selectors.published_sheets().filter(organisation=organisation),
        "nearby": selectors.actors_nearby(organisation),
        "worked_with": selectors.worked_with(organisation),
    }
    return render(request, "directory/actor_detail.html", context)


@require_GET
def sheet_list(request: HttpRequest) -> HttpResponse:
    """/experiences/: the published sheets, by theme, neighbourhood and kind of funding."""
    form = SheetSearchForm(request.GET or None)
    sheets = selectors.search_sheets(selectors.published_sheets(), **form.filters())
    sheets = sheets.select_related("organisation").prefetch_related("qpvs")
    page = Paginator(sheets, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "directory/sheet_list.html",
        {"form": form, "page": page, "query": _query(request)},
    )


def _sheet_or_404(request: HttpRequest, pk: int) -> ExperienceSheet:
    visible = selectors.sheets_visible_to(request.user)  # type: ignore[arg-type]
    return get_object_or_404(visible.select_related("organisation", "agreement", "pillar"), pk=pk)


@require_GET
def sheet_detail(request: HttpRequest, pk: int) -> HttpResponse:
    sheet = _sheet_or_404(request, pk)
    user = request.user
    can_review = user.is_authenticated and selectors.can_review_sheets(user)  # type: ignore[arg-type]
    context: dict[str, Any] = {
        "sheet": sheet,
        "listed": selectors.listed_actors().filter(pk=sheet.organisation_id).exists(),
        "can_edit": user.is_authenticated and selectors.can_edit_sheet(user, sheet),  # type: ignore[arg-type]
        "can_review": can_review,
        "return_form": ReturnForm() if can_review else None,
        "history": history_for(sheet) if user.is_authenticated and not sheet.is_published else [],
    }
    return render(request, "directory/sheet_detail.html", context)


# --------------------------------------------------------------------------- organisations


@login_required
def profile_edit(request: HttpRequest, organisation_pk: int) -> HttpResponse:
    """The organisation's administrator opts in and writes its public profile."""
    user = _user(request)
    organisation = get_object_or_404(Organisation, pk=organisation_pk)
    if not (is_organisation_admin(user, organisation) or user.is_superuser):
        raise Http404
    profile = selectors.profile_of(organisation)
    initial = (
        {
            "is_listed": profile.is_listed,
            "presentation": profile.presentation,
            "website": profile.website,
            "contact_consent": profile.contact_consent,
            "public_email": profile.public_email,
            "public_phone": profile.public_phone,
        }
        if profile
        else {}
    )
    form = ProfileForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.profile_update(actor=user, organisation=organisation, **form.cleaned_data)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, _("Fiche publique enregistrée."))
            return redirect("directory:profile", organisation_pk=organisation.pk)
    return render(
        request,
        "directory/profile_form.html",
        {"organisation": organisation, "form": form, "profile": profile},
        status=400 if form.errors else 200,
    )


@login_required
def my_sheets(request: HttpRequest) -> HttpResponse:
    """Evaluated actions that can become a sheet, and the sheets under way; for reviewing staff,
    the sheets waiting for review too."""
    user = _user(request)
    can_review = selectors.can_review_sheets(user)
    if not (can_review or organisation_ids_of(user)):
        raise Http404
    sheets = (
        selectors.sheets_visible_to(user).exclude(state=SheetState.PUBLISHED)
        if not can_review
        else ExperienceSheet.objects.exclude(state=SheetState.PUBLISHED)
    )
    if not can_review:
        sheets = sheets.filter(organisation_id__in=organisation_ids_of(user))
    context = {
        "evaluations": selectors.evaluations_to_share(user)[:100],
        "sheets": sheets.select_related("organisation").order_by("-updated_at")[:100],
        "queue": selectors.review_queue() if can_review else [],
        "can_review": can_review,
        "organisations": Organisation.objects.filter(
            pk__in=organisation_ids_of(user), memberships__user=user, memberships__is_admin=True
        ),
    }
    return render(request, "directory/my_sheets.html", context)


@login_required
@require_POST
def sheet_draft(request: HttpRequest, evaluation_pk: int) -> HttpResponse:
    user = _user(request)
    evaluation = get_object_or_404(selectors.evaluations_to_share(user), pk=evaluation_pk)
    try:
        sheet = services.sheet_draft(actor=user, evaluation=evaluation)
    except DomainError as exc:
        messages.error(request, str(exc.message))
        return redirect("directory:mine")
    messages.success(request, _("Fiche préremplie : relisez-la et complétez-la."))
    return redirect("directory:sheet_edit", pk=sheet.pk)


@login_required
def sheet_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    sheet = _sheet_or_404(request, pk)
    if not selectors.can_edit_sheet(user, sheet):
        raise Http404
    form = SheetForm(request.POST or None, instance=sheet)
    if request.method == "POST" and form.is_valid():
        data = {name: form.cleaned_data[name] for name in SheetForm.Meta.fields}
        data["qpvs"], data["themes"] = list(data["qpvs"]), list(data["themes"])
        try:
            sheet = services.sheet_update(actor=user, sheet=sheet, **data)
            if request.POST.get("action") == "submit":
                services.sheet_submit(actor=user, sheet=sheet)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            if request.POST.get("action") == "submit":
                messages.success(request, _("Fiche soumise à publication."))
            else:
                messages.success(request, _("Fiche enregistrée."))
            return redirect("directory:sheet", pk=sheet.pk)
    return render(
        request,
        "directory/sheet_form.html",
        {"sheet": sheet, "form": form},
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def sheet_publish(request: HttpRequest, pk: int) -> HttpResponse:
    sheet = _sheet_or_404(request, pk)
    try:
        services.sheet_publish(actor=_user(request), sheet=sheet)
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("Fiche publiée."))
    return redirect("directory:sheet", pk=sheet.pk)


@login_required
@require_POST
def sheet_return(request: HttpRequest, pk: int) -> HttpResponse:
    sheet = _sheet_or_404(request, pk)
    form = ReturnForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Indiquez le motif."))
        return redirect("directory:sheet", pk=sheet.pk)
    try:
        services.sheet_return(actor=_user(request), sheet=sheet, **form.cleaned_data)
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("Fiche renvoyée à l'organisation."))
    return redirect("directory:sheet", pk=sheet.pk)
