"""The page of one file (/dossiers/<id>/): what the applicant follows and what instruction needs
to decide, with the transitions allowed now for this user, each with its small form."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import Avg, Max, Prefetch, Q, prefetch_related_objects
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.clock import now, today
from core.compiled_reads import CompiledRead
from core.context_processors import instructs
from core.data_version import cached_at, current_versions
from core.errors import DomainError
from core.models import QPV, Role, TransitionTheme, User
from core.permissions import (
    can_see_bank_details,
    forget_cached_roles,
    has_role,
    is_member,
    scope_of,
)

from .. import services
from ..apps import FILE, FILE_PAGE, ORGANISATION
from ..budget import CHARGE_ACCOUNTS
from ..eligibility import eligibility_errors
from ..forms import (
    AssignForm,
    NoteForm,
    OpinionForm,
    ScoreForm,
    add_domain_error,
)
from ..history import application_history
from ..models import (
    Application,
    ApplicationAttachment,
    ApplicationState,
    ApplicationYear,
    BudgetItem,
    CompletionRequest,
    Indicator,
    InstructorNote,
    Objective,
    Score,
)
from ..selectors import (
    current_partners,
    is_staff_viewer,
    lines_totals,
    partner_of,
    similar_applications,
    valid_documents_by_kind,
)
from ..transitions import TRANSITIONS
from .cofunding import funder_parts_context, funder_parts_of
from .common import applications_visible_to, error_message, get_checked, get_visible

S = ApplicationState
SCORING_STATES = (S.ELIGIBLE, S.UNDER_REVIEW)
OPINION_STATES = (S.ELIGIBLE, S.UNDER_REVIEW, S.IN_COMMITTEE)

FIELD_LABELS = {
    "title": gettext_lazy("Titre du projet"),
    "summary": gettext_lazy("Résumé"),
    "start_date": gettext_lazy("Dates du projet"),
    "end_date": gettext_lazy("Dates du projet"),
    "requested_amount": gettext_lazy("Montant demandé"),
    "qpvs": gettext_lazy("Quartiers ciblés"),
    "pillar": gettext_lazy("Pilier"),
    "objectives": gettext_lazy("Objectifs"),
    "budget": gettext_lazy("Budget"),
    "call": gettext_lazy("Appel"),
    "documents": gettext_lazy("Pièces"),
    "challenge": gettext_lazy("Solution attendue"),
    "partners": gettext_lazy("Partenaires"),
}


# The file's small lists, with the columns the body shows (compiled once per process: building
# and compiling these querysets cost more than running them). Same order as the models' own.
OBJECTIVES = CompiledRead(lambda pk: Objective.objects.filter(application_id=pk).values("text"))
INDICATORS = CompiledRead(
    lambda pk: Indicator.objects.filter(application_id=pk).values("label", "target", "unit")
)
QPVS = CompiledRead(lambda pk: QPV.objects.filter(applications=pk).values("name", "code"))
THEMES = CompiledRead(lambda pk: TransitionTheme.objects.filter(applications=pk).values("label"))
ATTACHMENTS = CompiledRead(
    lambda pk: ApplicationAttachment.objects.filter(application_id=pk).values(
        "pk", "title", "uploaded_at"
    )
)
# One file's years: ordered by year (the model's order starts with the file, the same for all).
YEARS = CompiledRead(
    lambda pk: (
        ApplicationYear.objects.filter(application_id=pk)
        .order_by("fiscal_year")
        .values("fiscal_year", "requested_amount", "proposed_amount", "approved_amount")
    )
)
COMPLETION_REQUESTS = CompiledRead(
    lambda pk: CompletionRequest.objects.filter(application_id=pk).values(
        "message", "deadline", "created_at", "answer", "answered_at", "is_overdue"
    )
)
NOTES = CompiledRead(
    lambda pk: InstructorNote.objects.filter(application_id=pk).values(
        "text",
        "created_at",
        "author_id",
        "author__first_name",
        "author__last_name",
        "author__email",
    )
)


def _notes(application: Application) -> list[dict[str, Any]]:
    """The internal notes, newest first, each with its author's name as User prints it."""
    return [
        {
            "text": row["text"],
            "created_at": row["created_at"],
            "author": str(
                User(
                    first_name=row["author__first_name"],
                    last_name=row["author__last_name"],
                    email=row["author__email"],
                )
            )
            if row["author_id"] is not None
            else None,
        }
        for row in NOTES(application.pk)
    ]


def _completion_requests(application: Application) -> list[dict[str, Any]]:
    """The completion requests, newest first, each saying whether it is pending (as the model's
    `is_pending`)."""
    return [
        {**row, "is_pending": row["answered_at"] is None}
        for row in COMPLETION_REQUESTS(application.pk)
    ]


def eligibility_list(application: Application) -> list[dict[str, str]]:
    """The eligibility problems as (field, label, message) rows for the pre-submission check."""
    return [
        {"field": field, "label": FIELD_LABELS.get(field, field), "message": message}
        for field, msgs in eligibility_errors(application).items()
        for message in msgs
    ]


def _budget_rows(items: list[BudgetItem]) -> dict[str, list]:
    return {
        "charges": [i for i in items if i.account in CHARGE_ACCOUNTS],
        "products": [i for i in items if i.account not in CHARGE_ACCOUNTS],
    }


def _scores(application: Application, user) -> dict[str, Any]:
    criteria = list(application.call.criteria.all()) if application.call_id else []
    if not criteria:
        return {"criteria": []}
    # One row per criterion scored: the average of all scorers and this user's score (one per
    # scorer and criterion: the maximum of one value).
    averages: dict[int, Any] = {}
    mine: dict[int, int] = {}
    for criterion, average, own in (
        Score.objects.filter(application=application)
        .values("criterion")
        .annotate(avg=Avg("value"), own=Max("value", filter=Q(scorer=user)))
        .values_list("criterion", "avg", "own")
    ):
        averages[criterion] = average
        if own is not None:
            mine[criterion] = own
    weighted = sum(
        (Decimal(str(averages[c.pk])) * c.weight for c in criteria if c.pk in averages),
        Decimal("0"),
    )
    weighted_max = sum((c.max_score * c.weight for c in criteria), Decimal("0"))
    rows = [
        {"criterion": c, "average": averages.get(c.pk), "mine": mine.get(c.pk)} for c in criteria
    ]
    return {
        "criteria": criteria,
        "rows": rows,
        "mine": mine,
        "weighted": weighted,
        "weighted_max": weighted_max,
    }


def detail_context(
    request: HttpRequest,
    application: Application,
    *,
    bound: dict[str, Any] | None = None,
    error: str = "",
) -> dict[str, Any]:
    """Everything the page shows. `bound` replaces the blank forms by the ones just posted."""
    user = request.user
    bound = bound or {}
    member = is_member(user, application.organisation)
    staff = is_staff_viewer(user, application)
    transitions = []
    order = list(TRANSITIONS)
    available = sorted(
        services.available_transitions(actor=user, application=application),
        key=lambda spec: order.index(spec.name),
    )
    for spec in available:
        form = bound.get(spec.name) or spec.form(application=application, prefix=spec.name)
        transitions.append({"spec": spec, "form": form})
    # Read once: the agreements' links (with their funders) and the history's signature rows
    # (cpo.history reads `application.agreements.all()`); the parts table and the part rows.
    agreements = Application.agreements.rel.related_model  # cpo.Agreement (a layer above)
    prefetch_related_objects(
        [application],
        Prefetch("agreements", queryset=agreements.objects.select_related("funder")),
    )
    funder_parts = funder_parts_of(application)
    history = application_history(application, staff=staff, funder_parts=funder_parts)
    documents = list(application.documents.all())
    # Read once, shown twice: the lines and their totals, the requests and the pending one.
    budget_items = list(application.budget_items.select_related("partner__organisation"))
    completion_requests = _completion_requests(application)
    if not documents and application.state in (S.DRAFT, S.RETURNED):
        documents = list(valid_documents_by_kind(application).values())
    context: dict[str, Any] = {
        "application": application,
        "organisation": application.organisation,
        "is_member": member,
        "staff_view": staff,
        "can_see_bank": can_see_bank_details(user, application.organisation),
        "can_edit": member and application.is_editable_by_applicant,
        "transitions": transitions,
        "error": error,
        "budget": _budget_rows(budget_items),
        "totals": lines_totals(budget_items),
        "objectives": OBJECTIVES(application.pk),
        "indicators": INDICATORS(application.pk),
        "qpvs": [str(QPV(name=row["name"], code=row["code"])) for row in QPVS(application.pk)],
        "themes": [str(TransitionTheme(label=row["label"])) for row in THEMES(application.pk)],
        "years": YEARS(application.pk),
        "documents": documents,
        "attachments": ATTACHMENTS(application.pk),
        "completion_requests": completion_requests,
        "pending_request": next((r for r in completion_requests if r["is_pending"]), None),
        # Only what grants/_similar.html shows of them.
        "similar": list(
            similar_applications(application).only("reference", "title", "state", "call__title")
        ),
        "history": history,
        "partners": list(current_partners(application)),
        "my_partnership": partner_of(user, application),
        "partnership_open_states": list(services.PARTNERSHIP_OPEN_STATES),
    }
    context.update(funder_parts_context(user, application, funder_parts))
    if member and application.state == S.DRAFT:
        context["eligibility"] = eligibility_list(application)
    if staff:
        may_instruct = (
            has_role(user, Role.PROGRAMME_MANAGER) or scope_of(user, Role.INSTRUCTOR) is not None
        )
        is_partner = has_role(user, Role.COMMITTEE_MEMBER)
        scores = _scores(application, user)
        context.update(
            {
                "notes": _notes(application),
                "opinions": application.opinions.select_related("author", "funder"),
                "panel_assessments": application.panel_assessments.select_related(
                    "member__user"
                ).order_by("-fiscal_year", "id"),
                "scores": scores,
                "can_note": may_instruct or is_partner,
                "note_form": bound.get("note") or NoteForm(prefix="note"),
                "can_assign": may_instruct,
                "assign_form": bound.get("assign")
                or AssignForm(prefix="assign", initial={"assigned_to": application.assigned_to_id}),
                "can_score": may_instruct
                and application.state in SCORING_STATES
                and bool(scores["criteria"]),
                "can_give_opinion": is_partner and application.state in OPINION_STATES,
                "opinion_form": bound.get("opinion") or OpinionForm(prefix="opinion"),
            }
        )
        if context["can_score"]:
            context["score_form"] = bound.get("score") or ScoreForm(
                prefix="score", criteria=scores["criteria"], mine=scores["mine"]
            )
    return context


BODY = "grants/_application_detail_body.html"
# Stands for the request's CSRF token in a cached body (every form of the page has one); the token
# is put in when the body is served, so that an entry is shared by the requests of one user.
CSRF_PLACEHOLDER = "pluriel-csrf-token-placeholder-0f7c2e91"


def _body(request: HttpRequest, application: Application, *, csrf: str = "", **kwargs: Any) -> str:
    """The body's HTML. Rendered without the request's context processors (the navigation's
    would count the user's notifications for nothing): the body needs only its CSRF token and
    whether the user instructs (the agreement link)."""
    context = detail_context(request, application, **kwargs)
    context["csrf_token"] = csrf or get_token(request)
    context["nav"] = {"is_instructor": instructs(request.user)}
    return render_to_string(BODY, context)


def _render(
    request: HttpRequest,
    application: Application,
    *,
    status: int = 200,
    **kwargs: Any,
) -> HttpResponse:
    return _page(request, application.reference, _body(request, application, **kwargs), status)


def _page(request: HttpRequest, reference: str, body: str, status: int = 200) -> HttpResponse:
    return render(
        request,
        "grants/application_detail.html",
        {"reference": reference, "body": mark_safe(body)},  # noqa: S308 (a rendered template)
        status=status,
    )


def _cached_page(request: HttpRequest, pk: int, versions: dict[str, int]) -> HttpResponse:
    """The page, its body from the cache when nothing it shows has changed since it was rendered
    (docs/decisions/2026-12-07-page-cost.md, third round). Who may see the file is checked first,
    on every request (404 as get_visible), with only what the key needs read.

    The key: the file's counter and the shared tables' group (`versions`, read before anything the
    body shows), its organisation's counter, who looks, the language, today (deadlines, documents'
    validity) and whether its call is open now (the pre-submission check says so)."""
    user = request.user
    row = (
        applications_visible_to(user)
        .filter(pk=pk)
        .values_list("reference", "organisation_id", "call__opens_at", "call__closes_at")
        .first()
    )
    if row is None:
        raise Http404
    reference, organisation_id, opens_at, closes_at = row
    org = f"{ORGANISATION}:{organisation_id}"
    org_version = versions.get(org)
    if org_version is None:  # read with the others, unless not created yet (or just moved)
        org_version = (current_versions([org]) or {}).get(org)
    moment = now()
    parts = [
        "file-page",
        pk,
        versions[f"{FILE}:{pk}"],
        org_version,
        user.pk,
        get_language(),
        today().isoformat(),
        opens_at is not None and opens_at <= moment < closes_at,
    ]

    def compute() -> str:
        # What was read before the versions (the user and their roles, read by the middleware)
        # is read again, and the file with what the page shows (who may see it was checked
        # above, after the versions were read): the body is as new as its key.
        user.refresh_from_db()
        forget_cached_roles(user)
        return _body(request, get_checked(pk), csrf=CSRF_PLACEHOLDER)

    body = cached_at(FILE_PAGE, versions[FILE_PAGE], parts, compute)
    if CSRF_PLACEHOLDER in body:
        body = body.replace(CSRF_PLACEHOLDER, get_token(request))
    return _page(request, reference, body)


@login_required
def application_detail(request: HttpRequest, pk: int) -> HttpResponse:
    # Counters first: a change committed after this read moves them, so the body cached under
    # them (read after it) is never served once it is out of date.
    versions = current_versions(
        [f"{FILE}:{pk}", FILE_PAGE],
        also=f"SELECT %s || organisation_id FROM {Application._meta.db_table} WHERE id = %s",
        params=[f"{ORGANISATION}:", pk],
    )
    if versions is None:  # inside a transaction: no cache
        return _render(request, get_visible(request, pk))
    return _cached_page(request, pk, versions)


@login_required
@require_POST
def application_transition(request: HttpRequest, pk: int, name: str) -> HttpResponse:
    """Run one transition with its inputs through grants.services.run_transition.

    A refused action re-renders the page with the input kept, the error next to its field or at
    the top, and the status of the error (400, 403 or 409)."""
    application = get_visible(request, pk)
    if name not in TRANSITIONS:
        raise Http404
    form = TRANSITIONS[name].form(request.POST, request.FILES, application=application, prefix=name)
    if not form.is_valid():
        return _render(
            request,
            application,
            status=400,
            bound={name: form},
            error=_("Le formulaire contient des erreurs."),
        )
    try:
        with transaction.atomic():
            upload = form.cleaned_data.get("attachment")
            if upload is not None:
                services.application_attach(
                    actor=request.user,
                    application=application,
                    file=upload,
                    title=form.cleaned_data.get("attachment_title", ""),
                )
            application = services.run_transition(
                name=name, actor=request.user, application=application, data=form.service_data()
            )
    except DomainError as exc:
        add_domain_error(form, exc)
        application = get_visible(request, pk)
        return _render(
            request,
            application,
            status=exc.status_code,
            bound={name: form},
            error=error_message(exc),
        )
    messages.success(
        request,
        _("Action effectuée : %(label)s. Le dossier est maintenant « %(state)s ».")
        % {
            "label": TRANSITIONS[name].label,
            "state": application.get_state_display(),
        },
    )
    return redirect("grants:application_detail", pk=application.pk)


def _side_action(request: HttpRequest, pk: int, key: str, form_factory, run) -> HttpResponse:
    """POST of a non-transition instruction action (assign, note, score, opinion)."""
    application = get_visible(request, pk)
    if not is_staff_viewer(request.user, application):
        raise Http404
    form = form_factory(application)
    if form.is_valid():
        try:
            message = run(application, form)
        except DomainError as exc:
            add_domain_error(form, exc)
            return _render(
                request,
                application,
                status=exc.status_code,
                bound={key: form},
                error=error_message(exc),
            )
        messages.success(request, message)
        return redirect("grants:application_detail", pk=application.pk)
    return _render(
        request,
        application,
        status=400,
        bound={key: form},
        error=_("Le formulaire contient des erreurs."),
    )


@login_required
@require_POST
def application_assign(request: HttpRequest, pk: int) -> HttpResponse:
    def run(application, form):
        services.application_assign(
            actor=request.user, application=application, instructor=form.cleaned_data["assigned_to"]
        )
        return _("L'attribution du dossier est enregistrée.")

    return _side_action(
        request, pk, "assign", lambda a: AssignForm(request.POST, prefix="assign"), run
    )


@login_required
@require_POST
def application_note(request: HttpRequest, pk: int) -> HttpResponse:
    def run(application, form):
        services.application_add_note(
            actor=request.user, application=application, text=form.cleaned_data["text"]
        )
        return _("La note interne est enregistrée.")

    return _side_action(request, pk, "note", lambda a: NoteForm(request.POST, prefix="note"), run)


@login_required
@require_POST
def application_opinion(request: HttpRequest, pk: int) -> HttpResponse:
    def run(application, form):
        services.application_give_opinion(
            actor=request.user,
            application=application,
            opinion=form.cleaned_data["opinion"],
            comment=form.cleaned_data["comment"],
        )
        return _("Votre avis est enregistré.")

    return _side_action(
        request, pk, "opinion", lambda a: OpinionForm(request.POST, prefix="opinion"), run
    )


@login_required
@require_POST
def application_score(request: HttpRequest, pk: int) -> HttpResponse:
    def form_factory(application):
        criteria = list(application.call.criteria.all()) if application.call_id else []
        return ScoreForm(request.POST, prefix="score", criteria=criteria, mine={})

    def run(application, form):
        services.application_score(
            actor=request.user, application=application, scores=form.scores()
        )
        return _("La notation est enregistrée.")

    return _side_action(request, pk, "score", form_factory, run)


@login_required
def attachment_download(request: HttpRequest, pk: int, attachment_pk: int) -> FileResponse:
    """A file attached to the application, for whoever may see the application."""
    application = get_visible(request, pk)
    attachment = get_object_or_404(application.attachments, pk=attachment_pk)
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError:
        raise Http404
    response = FileResponse(handle, as_attachment=True, filename=attachment.original_name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
