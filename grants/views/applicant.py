"""The applicant's pages: their files, a new draft, editing (CERFA budget), renewal."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import floatformat
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from calls.models import Call, CallState
from core.choices import choice_label
from core.data_version import cached_under
from core.errors import DomainError
from core.forms import error_summary
from core.links import per_pk
from core.models import Organisation
from core.permissions import is_staff_member, organisation_ids_of

from .. import services
from ..apps import list_counters
from ..direct.views import save_years, years_context
from ..forms import (
    BUDGET_MAX_LINES,
    ApplicationCreateForm,
    ApplicationForm,
    ChargeFormSet,
    IndicatorFormSet,
    ProductFormSet,
    RenewForm,
    add_domain_error,
    budget_formset,
    budget_initial,
)
from ..models import (
    APPLICANT_EDITABLE_STATES,
    Application,
    ApplicationPartner,
    ApplicationState,
    PartnerState,
)
from ..selectors import budget_totals, invitations_for, similar_applications
from .common import error_message, get_own, get_own_for_write
from .detail import eligibility_list
from .table_rows import my_applications_rows_html

S = ApplicationState
RENEWABLE_STATES = [S.APPROVED, S.REJECTED, S.DISMISSED, S.INELIGIBLE, S.WITHDRAWN]
MY_APPLICATIONS_PAGE_SIZE = 50


@login_required
def my_applications(request: HttpRequest) -> HttpResponse:
    """The files of the user's organisations, newest first, 50 a page (an organisation files
    every year: the page must not grow with its history, issue 17), with what can be done on each."""
    organisation_ids = organisation_ids_of(request.user)
    # Live (they expire by time), in one query; a staff member without organisation nor
    # invitation goes to the queue. Only what the page shows: the whole rows of three tables,
    # ordered, cost ~2 ms of SQL compilation a page (Django hashes every selected column).
    invitations = list(
        invitations_for(request.user)
        .select_related(None)
        .select_related("application__organisation")
        .only("pk", "application__title", "application__organisation__name")
    )
    if not organisation_ids and not invitations and is_staff_member(request.user):
        return redirect("grants:queue")
    # The table and the open calls are cached (core.data_version, issue 17) under the counters
    # of the user's organisations' files (drafts included, and the files they are partners of)
    # and of the shared tables (memberships, calls: a call opens or closes by a write). Another
    # association's draft moves none of them.
    table = cached_under(
        list_counters(organisation_ids, filed=False),
        ("grants.my_applications", get_language(), request.user.pk, request.GET.get("page", "")),
        lambda: (
            my_applications_table(request, organisation_ids) + open_calls_html(organisation_ids)
        ),
    )
    return render(
        request,
        "grants/my_applications.html",
        {
            "table": mark_safe(table),  # noqa: S308 (rendered and escaped by its template)
            "invitations": invitations,
            "has_organisation": bool(organisation_ids),
        },
    )


def open_calls_html(organisation_ids: set[int]) -> str:
    """The open calls, each with its « Déposer un dossier » (for members of an organisation)."""
    if not organisation_ids:
        return ""
    open_calls = Call.objects.filter(state=CallState.OPEN).order_by("closes_at")
    return render_to_string("grants/_open_calls.html", {"open_calls": open_calls})


MINE_FIELDS = (
    *("pk", "reference", "title", "state", "requested_amount", "created_at"),
    *("organisation_id", "organisation__name", "call__title"),
)


def my_applications_rows(
    applications: Iterable[dict[str, Any]], organisation_ids: set[int]
) -> list[dict[str, str]]:
    """The cells of each line of `/dossiers/` (rows of MINE_FIELDS values), as the template prints
    them (escaped there): computed here once, the template's lookups, url tags and includes cost
    most of a cold page."""
    no_call = _("Hors appel")
    labels = {
        "partner": _("Ma part"),
        "returned": _("Compléter"),
        "edit": _("Modifier"),
        "renew": _("Renouveler"),
    }
    detail_url = per_pk("grants:application_detail")
    edit_url = per_pk("grants:application_edit")
    renew_url = per_pk("grants:application_renew")
    partnership_url = per_pk("grants:application_partnership")
    rows = []
    for a in applications:
        pk, state = a["pk"], a["state"]
        lead = a["organisation_id"] in organisation_ids
        action = edit = ""
        if not lead:
            action, edit = "partner", partnership_url(pk)
        elif state in APPLICANT_EDITABLE_STATES:
            action = "returned" if state == S.RETURNED else "edit"
            edit = edit_url(pk)
        renew = lead and state in RENEWABLE_STATES
        rows.append(
            {
                "pk": str(pk),
                "url": detail_url(pk),
                "reference": a["reference"],
                "title": a["title"],
                "organisation": a["organisation__name"],
                "call": a["call__title"] or no_call,
                "state": state,
                "state_label": choice_label(ApplicationState, state),
                "amount": floatformat(a["requested_amount"], "2g"),
                "action": action,
                "action_label": labels[action] if action else "",
                "action_url": edit,
                "renew_url": renew_url(pk) if renew else "",
                "renew_label": labels["renew"],
            }
        )
    return rows


def my_applications_table(request: HttpRequest, organisation_ids: set[int]) -> str:
    """The table of the user's files (one page) with its pagination, as HTML."""
    # The few files the organisations are partners of, read first: `id IN (subquery)` OR'ed with
    # the organisation made PostgreSQL scan every file of every organisation (30 ms at 20 000
    # files, for the count); with the ids as constants both sides are index scans (under 1 ms).
    partner_files = list(
        ApplicationPartner.objects.filter(
            organisation_id__in=organisation_ids, state=PartnerState.ACCEPTED
        ).values_list("application_id", flat=True)
    )
    applications = (
        Application.objects.filter(
            Q(organisation_id__in=organisation_ids) | Q(pk__in=partner_files)
        )
        # What a line shows, as values: whole rows of three tables cost twice as much, and
        # model instances twice as much again.
        .values(*MINE_FIELDS)
        .order_by("-created_at", "-id")
    )
    page = Paginator(applications, MY_APPLICATIONS_PAGE_SIZE).get_page(request.GET.get("page"))
    return render_to_string(
        "grants/_my_applications_table.html",
        {
            "page": page,
            "rows_html": my_applications_rows_html(
                my_applications_rows(page.object_list, organisation_ids)
            ),
            "has_organisation": bool(organisation_ids),
        },
    )


@login_required
def application_create(request: HttpRequest) -> HttpResponse:
    """Start a draft in an open call, for one of the user's organisations."""
    organisation_ids = organisation_ids_of(request.user)
    if not organisation_ids:
        raise PermissionDenied
    initial: dict[str, Any] = {}
    if call_id := request.GET.get("call", ""):
        initial["call"] = call_id if call_id.isdigit() else None
    form = ApplicationCreateForm(
        request.POST or None, initial=initial, user=request.user, organisation_ids=organisation_ids
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                application = services.application_create(
                    actor=request.user,
                    organisation=data["organisation"],
                    call=data["call"],
                    data={"title": data["title"]},
                )
            except DomainError as exc:
                add_domain_error(form, exc)
                status = exc.status_code
            else:
                messages.success(
                    request,
                    _("Le brouillon %(ref)s est créé. Complétez-le puis déposez-le.")
                    % {"ref": application.reference},
                )
                return redirect("grants:application_edit", pk=application.pk)
        else:
            status = 400
    return render(
        request,
        "grants/application_create.html",
        {
            "form": form,
            "single_organisation": Organisation.objects.get(pk=next(iter(organisation_ids)))
            if len(organisation_ids) == 1
            else None,
        },
        status=status,
    )


BUDGET_SIDES = ("charges", "products")


def _edit_forms(application: Application, data: Any = None) -> dict[str, Any]:
    if data is not None:
        return {
            "form": ApplicationForm(data, call=application.call),
            "indicators": IndicatorFormSet(data, prefix="indicators"),
            "charges": ChargeFormSet(data, prefix="charges"),
            "products": ProductFormSet(data, prefix="products"),
        }
    charges, products = budget_initial(application)
    return {
        "form": ApplicationForm(
            initial=ApplicationForm.initial_for(application), call=application.call
        ),
        "indicators": IndicatorFormSet(
            prefix="indicators",
            initial=[
                {"label": i.label, "unit": i.unit, "target": i.target}
                for i in application.indicators.all()
            ],
        ),
        "charges": budget_formset(ChargeFormSet, "charges", charges),
        "products": budget_formset(ProductFormSet, "products", products),
    }


def _with_one_more_line(data: Any, side: str) -> Any:
    """The posted data with one more (blank) budget line on `side`: « Ajouter une ligne » without
    JavaScript (static/js/budget.js adds it in place when JavaScript runs)."""
    data = data.copy()
    key = f"{side}-TOTAL_FORMS"
    try:
        total = int(data.get(key, "0"))
    except ValueError:
        return data  # the formset reports its broken management form
    data[key] = str(min(total + 1, BUDGET_MAX_LINES))
    return data


def _edit_errors(
    forms: dict[str, Any], budget_errors: list[str], years: Any, intro: str
) -> list[dict[str, str]]:
    """The page's error summary: each error once, linking to the field where it is repeated."""
    rows = error_summary(forms["form"], forms["indicators"], intro=intro)
    rows += [{"message": m, "href": "#budget"} for m in budget_errors]
    rows += error_summary(forms["charges"], forms["products"])
    rows += [{"message": m, "href": "#years-edit"} for m in years.get("years_errors") or []]
    return rows


def _save_draft(
    request: HttpRequest, application: Application, forms: dict[str, Any]
) -> tuple[bool, list[str], Application | None]:
    """Save every valid part of the input (an invalid budget never costs the rest).

    Returns (everything valid and saved, budget errors, the file as the service saved it — None
    when nothing could be saved)."""
    form, indicators, charges, products = (
        forms["form"],
        forms["indicators"],
        forms["charges"],
        forms["products"],
    )
    all_valid = all(
        [form.is_valid(), indicators.is_valid(), charges.is_valid(), products.is_valid()]
    )
    data = form.service_data()
    if indicators.is_valid():
        data["indicators"] = [f.cleaned_data for f in indicators if f.cleaned_data.get("label")]
    if charges.is_valid() and products.is_valid():
        data["budget"] = [f.row() for f in [*charges.forms, *products.forms] if f.is_kept()]
    budget_errors: list[str] = []
    try:
        saved = services.application_update(actor=request.user, application=application, data=data)
    except DomainError as exc:
        if "budget" not in exc.errors or "budget" not in data:
            add_domain_error(form, exc)
            return False, budget_errors, None
        budget_errors = [str(m) for m in exc.errors["budget"]]
        data.pop("budget")
        try:
            saved = services.application_update(
                actor=request.user, application=application, data=data
            )
        except DomainError as again:
            add_domain_error(form, again)
            return False, budget_errors, None
        return False, budget_errors, saved
    return all_valid, budget_errors, saved


@login_required
def application_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Edit a draft (or a file returned for completion): project, indicators, CERFA budget.

    « Enregistrer le brouillon » keeps every valid input even when some are not; « Déposer le
    dossier » saves then submits, and shows the call's rules the file still breaks; « Ajouter une
    ligne » (without JavaScript) saves what is valid and shows the form again with one more budget
    line. Each error is listed once in the summary at the top, linking to its field, where the
    message is shown again."""
    if request.method == "POST":
        application = get_own_for_write(request, pk)  # read again with its relations if shown
    else:
        application = get_own(request, pk)
    if not application.is_editable_by_applicant:
        messages.info(
            request,
            _("Ce dossier n'est plus modifiable dans l'état « %(state)s ».")
            % {"state": application.get_state_display()},
        )
        return redirect("grants:application_detail", pk=application.pk)
    status = 200
    error = ""
    budget_errors: list[str] = []
    extra_errors: list[dict[str, str]] = []
    added_line = ""
    if request.method == "POST":
        data = request.POST
        action = data.get("action", "save")
        if action in {f"add-{side}" for side in BUDGET_SIDES}:
            added_line = action.removeprefix("add-")
            data = _with_one_more_line(data, added_line)
        forms = _edit_forms(application, data)
        saved, budget_errors, updated = _save_draft(request, application, forms)
        if added_line and forms[added_line].forms:
            # Without JavaScript the page reloads: the keyboard starts again on the new line.
            forms[added_line].forms[-1].fields["account"].widget.attrs["autofocus"] = True
        # What follows (years, submit, redirect) works on the file as the service saved it (read
        # under lock, so current); it is read again with its relations only if the page is shown.
        application = updated or get_own(request, pk)
        years = years_context(application, data if "years-TOTAL_FORMS" in data else None)
        if (
            years["years"] is not None and years["years"].is_bound
        ):  # « Montants annuels » (multi-year)
            years["years_errors"] = save_years(request.user, application, years["years"])
            saved = saved and not years["years_errors"]
            application = get_own(request, pk)
        if saved and action == "submit" and application.state == S.DRAFT:
            try:
                services.run_transition(
                    name="submit", actor=request.user, application=application, data={}
                )
            except DomainError as exc:
                # Budget messages are shown in the budget section, missing documents with a link
                # to the organisation's documents page; the others next to their field.
                budget_errors += [str(m) for m in exc.errors.get("budget", [])]
                extra_errors = [
                    {
                        "message": str(m),
                        "href": "",
                        "link_url": reverse("core:documents", args=[application.organisation_id]),
                        "link_text": _("Déposer les pièces de l'organisation"),
                    }
                    for m in exc.errors.get("documents", [])
                ]
                exc.errors = {
                    k: v for k, v in exc.errors.items() if k not in ("budget", "documents")
                }
                if exc.errors:
                    add_domain_error(forms["form"], exc)
                error = error_message(exc)
                status = exc.status_code
            else:
                messages.success(
                    request, _("Votre dossier %(ref)s est déposé.") % {"ref": application.reference}
                )
                return redirect("grants:application_detail", pk=application.pk)
        elif added_line:
            # The form is shown again (not redirected) so that the new blank line is there.
            if not saved:
                status = 400
                error = _(
                    "Certaines informations sont à corriger (voir ci-dessous). Les autres sont enregistrées."
                )
        elif saved:
            messages.success(request, _("Le brouillon est enregistré."))
            return redirect("grants:application_edit", pk=application.pk)
        else:
            status = 400
            error = _(
                "Certaines informations sont à corriger (voir ci-dessous). Les autres sont enregistrées."
            )
        errors = [*_edit_errors(forms, budget_errors, years, error), *extra_errors]
        if application is updated:
            application = get_own(request, pk)  # shown: with its relations, as on GET
    else:
        forms = _edit_forms(application)
        years = years_context(application)
        errors = []
    return render(
        request,
        "grants/application_edit.html",
        {
            **forms,
            "application": application,
            "call": application.call,
            "error": error,
            "errors": errors,
            "budget_errors": budget_errors,
            "added_line": added_line,
            "totals": budget_totals(application),
            # The pre-submission check lists the saved file's problems, unless the summary does.
            "eligibility": eligibility_list(application)
            if application.state == S.DRAFT and not errors and not error
            else None,
            "similar": list(similar_applications(application)),
            "pending_request": application.completion_requests.filter(
                answered_at__isnull=True
            ).first(),
            **years,
        },
        status=status,
    )


@login_required
def application_renew(request: HttpRequest, pk: int) -> HttpResponse:
    """Start next year's draft from a past file, in an open call (tell us once)."""
    previous = get_own(request, pk)
    if previous.state not in RENEWABLE_STATES:
        raise Http404
    form = RenewForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                application = services.application_renew(
                    actor=request.user, previous=previous, call=form.cleaned_data["call"]
                )
            except DomainError as exc:
                add_domain_error(form, exc)
                status = exc.status_code
            else:
                messages.success(
                    request,
                    _(
                        "Le dossier %(ref)s est créé à partir de %(prev)s : vérifiez-le puis "
                        "déposez-le."
                    )
                    % {"ref": application.reference, "prev": previous.reference},
                )
                return redirect("grants:application_edit", pk=application.pk)
        else:
            status = 400
    return render(
        request,
        "grants/application_renew.html",
        {"previous": previous, "form": form},
        status=status,
    )
