"""Pages of the anti-call (anti-appel à projets, docs/domain.md §2.2): needs by neighbourhood, sourcing,
the candidacy page with its prototyping window, coaching log and deliverables, and the structure's
« Mes invitations ».

Views read through grants.anticall.selectors, call one service and render; a DomainError is shown
next to its field with the input kept and the error's status (400, 403, 409). Anything outside the
user's reach is a 404."""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from calls import services as call_services
from calls.models import Call, Need
from core.audit import history_for
from core.clock import today
from core.errors import DomainError
from core.forms import transition_error_message
from core.models import Role
from core.permissions import has_role

from ..models import Candidacy, CandidacyState
from . import services as svc
from .forms import (
    AcceptForm,
    CoachingForm,
    DeliverableForm,
    NeedForm,
    OptionalReasonForm,
    OrganisationSearchForm,
    SourceForm,
    add_domain_error,
    candidacy_transition_form,
)
from .selectors import (
    INTERNAL_CANDIDACY_ACTIONS,
    anti_calls_visible_to,
    candidacies_of_need,
    candidacies_visible_to,
    is_anticall_reader,
    is_structure_member,
    needs_visible_to,
    structure_invitations,
)

C = CandidacyState
COACHING_STATES = (C.ACCEPTED, C.PROTOTYPING, C.PRESENTED)
DELIVERABLE_STATES = (C.PROTOTYPING, C.PRESENTED)
ACTING_ROLES = (Role.INSTRUCTOR, Role.COMMITTEE_MEMBER, Role.PROGRAMME_MANAGER)


def _require_reader(request: HttpRequest) -> None:
    if not is_anticall_reader(request.user):
        raise Http404


def _acts_as_staff(request: HttpRequest) -> bool:
    """Staff who act on the anti-call (auditors only read)."""
    return has_role(request.user, *ACTING_ROLES)


def _error_message(exc: DomainError) -> str:
    specs = svc.candidacy_transition_specs()
    return transition_error_message(exc, {name: spec.label for name, spec in specs.items()})


def _next_is_invitations(request: HttpRequest) -> bool:
    return request.POST.get("next") == "invitations"


# --------------------------------------------------------------------------- anti-calls and needs


@login_required
def anticall_list(request: HttpRequest) -> HttpResponse:
    """The anti-calls with their needs counted by state (staff)."""
    _require_reader(request)
    calls = (
        anti_calls_visible_to(request.user)
        .annotate(
            needs_recorded=Count("needs", filter=Q(needs__state=Need.State.RECORDED)),
            needs_published=Count("needs", filter=Q(needs__state=Need.State.PUBLISHED)),
        )
        .order_by("-opens_at", "pk")
    )
    return render(request, "grants/anticall/anticall_list.html", {"calls": calls})


def _call_context(
    request: HttpRequest, call: Call, form: NeedForm | None = None, error: str = ""
) -> dict:
    needs = (
        needs_visible_to(request.user)
        .filter(call=call)
        .annotate(
            candidacies_count=Count("candidacies"),
            funded_count=Count("candidacies", filter=Q(candidacies__state=C.FUNDED)),
        )
        .order_by("qpv__code", "title")
    )
    can_record = _acts_as_staff(request)
    return {
        "call": call,
        "needs": needs,
        "can_record": can_record,
        "can_publish": has_role(request.user, Role.PROGRAMME_MANAGER),
        "form": form or (NeedForm(call=call) if can_record else None),
        "error": error,
    }


@login_required
def anticall_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One anti-call: its needs grouped by neighbourhood, and the form to record a need (partners,
    instructors and programme managers)."""
    _require_reader(request)
    call = get_object_or_404(anti_calls_visible_to(request.user), pk=pk)
    if request.method != "POST":
        return render(request, "grants/anticall/anticall_detail.html", _call_context(request, call))
    form = NeedForm(request.POST, call=call)
    if form.is_valid():
        data = form.cleaned_data
        try:
            need = call_services.need_record(
                actor=request.user,
                call=call,
                qpv=data["qpv"],
                title=data["title"],
                description=data["description"],
                raised_by=data["raised_by"],
                evidence=data["evidence"],
            )
        except DomainError as exc:
            add_domain_error(form, exc)
            return render(
                request,
                "grants/anticall/anticall_detail.html",
                _call_context(request, call, form, _error_message(exc)),
                status=exc.status_code,
            )
        messages.success(
            request, _("Le besoin « %(title)s » est enregistré.") % {"title": need.title}
        )
        return redirect("anticall:anticall_detail", pk=call.pk)
    return render(
        request,
        "grants/anticall/anticall_detail.html",
        _call_context(request, call, form, _("Le formulaire contient des erreurs.")),
        status=400,
    )


def _need_context(
    request: HttpRequest, need: Need, *, source_form: SourceForm | None = None, error: str = ""
) -> dict[str, Any]:
    search = OrganisationSearchForm(request.GET or None)
    text = search.cleaned_data.get("q", "") if search.is_bound and search.is_valid() else ""
    can_source = _acts_as_staff(request) and need.state == Need.State.PUBLISHED
    today_ = today()
    candidacies = list(candidacies_of_need(need))
    for c in candidacies:
        c.days_left = (c.prototype_deadline - today_).days if c.prototype_deadline else None
    return {
        "need": need,
        "call": need.call,
        "candidacies": candidacies,
        "can_publish": has_role(request.user, Role.PROGRAMME_MANAGER)
        and need.state == Need.State.RECORDED,
        "can_source": can_source,
        "search_form": search if can_source else None,
        "search": text,
        "source_form": source_form
        or (SourceForm(user=request.user, search=text) if can_source else None),
        "error": error,
        "history": history_for(need),
    }


@login_required
def need_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A need with its sourced structures (state, deadline) and the sourcing form: an existing
    organisation found by name or SIRET, or a structure known only by name, SIRET or email."""
    _require_reader(request)
    need = get_object_or_404(needs_visible_to(request.user), pk=pk)
    if request.method != "POST":
        return render(request, "grants/anticall/need_detail.html", _need_context(request, need))
    form = SourceForm(request.POST, user=request.user)
    if form.is_valid():
        data = form.cleaned_data
        try:
            candidacy = svc.candidacy_source(
                actor=request.user,
                need=need,
                organisation=data["organisation"],
                name=data["name"],
                siret=data["siret"],
                email=data["email"],
                why=data["why"],
            )
        except DomainError as exc:
            add_domain_error(form, exc)
            return render(
                request,
                "grants/anticall/need_detail.html",
                _need_context(request, need, source_form=form, error=_error_message(exc)),
                status=exc.status_code,
            )
        messages.success(
            request,
            _("La structure « %(name)s » est repérée. Invitez-la depuis sa page.")
            % {"name": candidacy.display_name},
        )
        return redirect("anticall:candidacy_detail", pk=candidacy.pk)
    return render(
        request,
        "grants/anticall/need_detail.html",
        _need_context(
            request, need, source_form=form, error=_("Le formulaire contient des erreurs.")
        ),
        status=400,
    )


@login_required
@require_POST
def need_publish(request: HttpRequest, pk: int) -> HttpResponse:
    _require_reader(request)
    need = get_object_or_404(needs_visible_to(request.user), pk=pk)
    try:
        need = call_services.need_publish(actor=request.user, need=need)
    except DomainError as exc:
        return render(
            request,
            "grants/anticall/need_detail.html",
            _need_context(request, need, error=_error_message(exc)),
            status=exc.status_code,
        )
    messages.success(request, _("Le besoin est publié : des structures peuvent être repérées."))
    if request.POST.get("next") == "call":
        return redirect("anticall:anticall_detail", pk=need.call_id)
    return redirect("anticall:need_detail", pk=need.pk)


# --------------------------------------------------------------------------- candidacy page


def _get_candidacy(request: HttpRequest, pk: int) -> Candidacy:
    """The candidacy if the user may see it; 404 otherwise (existence not leaked)."""
    return get_object_or_404(candidacies_visible_to(request.user), pk=pk)


def candidacy_context(
    request: HttpRequest,
    candidacy: Candidacy,
    *,
    bound: dict[str, Any] | None = None,
    error: str = "",
) -> dict[str, Any]:
    """Everything the candidacy page shows. `bound` replaces blank forms by the ones just posted."""
    user = request.user
    bound = bound or {}
    staff = is_anticall_reader(user)
    member = is_structure_member(user, candidacy)
    specs = svc.candidacy_transition_specs()
    available = svc.candidacy_available_transitions(actor=user, candidacy=candidacy)
    # A refused action keeps its form (and the user's input) on the page, even if not possible now.
    refused = [specs[name] for name in bound if name in specs and specs[name] not in available]
    transitions = []
    for spec in [*available, *refused]:
        form = bound.get(spec.name) or candidacy_transition_form(spec.name)(
            candidacy=candidacy, user=user, prefix=spec.name
        )
        transitions.append({"spec": spec, "form": form})
    history = history_for(candidacy)
    if not staff:
        history = [row for row in history if row.action not in INTERNAL_CANDIDACY_ACTIONS]
    days_left = None
    if candidacy.prototype_deadline and candidacy.state == C.PROTOTYPING:
        days_left = (candidacy.prototype_deadline - today()).days
    can_coach = staff and _acts_as_staff(request) and candidacy.state in COACHING_STATES
    can_deliver = candidacy.state in DELIVERABLE_STATES and (
        member or (staff and _acts_as_staff(request))
    )
    return {
        "candidacy": candidacy,
        "need": candidacy.need,
        "staff_view": staff,
        "is_member": member,
        "transitions": transitions,
        "days_left": days_left,
        "overdue": candidacy.is_overdue or (days_left is not None and days_left < 0),
        "coaching": list(candidacy.coaching.select_related("author")) if staff else [],
        "coaching_total": sum((e.cost for e in candidacy.coaching.all()), Decimal("0"))
        if staff
        else None,
        "coaching_form": (bound.get("coaching") or CoachingForm()) if can_coach else None,
        "deliverables": list(candidacy.deliverables.select_related("created_by")),
        "can_download": staff or member,
        "deliverable_form": (bound.get("deliverable") or DeliverableForm())
        if can_deliver
        else None,
        "history": history,
        "error": error,
    }


def _render_candidacy(
    request: HttpRequest, candidacy: Candidacy, *, status: int = 200, **kwargs: Any
) -> HttpResponse:
    return render(
        request,
        "grants/anticall/candidacy_detail.html",
        candidacy_context(request, candidacy, **kwargs),
        status=status,
    )


@login_required
def candidacy_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_candidacy(request, _get_candidacy(request, pk))


@login_required
@require_POST
def candidacy_transition(request: HttpRequest, pk: int, name: str) -> HttpResponse:
    """Run one candidacy transition with its inputs (grants.anticall.services.candidacy_run_transition).
    A refusal re-renders the page with the input kept and the error's status."""
    candidacy = _get_candidacy(request, pk)
    if name not in svc.candidacy_transition_specs():
        raise Http404
    form = candidacy_transition_form(name)(
        request.POST, candidacy=candidacy, user=request.user, prefix=name
    )
    if not form.is_valid():
        return _render_candidacy(
            request,
            candidacy,
            status=400,
            bound={name: form},
            error=_("Le formulaire contient des erreurs."),
        )
    try:
        candidacy = svc.candidacy_run_transition(
            name=name, actor=request.user, candidacy=candidacy, data=form.service_data()
        )
    except DomainError as exc:
        add_domain_error(form, exc)
        return _render_candidacy(
            request,
            _get_candidacy(request, pk),
            status=exc.status_code,
            bound={name: form},
            error=_error_message(exc),
        )
    messages.success(
        request,
        _("Action effectuée : %(label)s. La structure est maintenant « %(state)s ».")
        % {
            "label": svc.candidacy_transition_specs()[name].label,
            "state": candidacy.get_state_display(),
        },
    )
    if _next_is_invitations(request):
        return redirect("anticall:my_invitations")
    return redirect("anticall:candidacy_detail", pk=candidacy.pk)


@login_required
@require_POST
def candidacy_coaching(request: HttpRequest, pk: int) -> HttpResponse:
    """Log a coaching session, a note or a support given (staff)."""
    candidacy = _get_candidacy(request, pk)
    if not is_anticall_reader(request.user):
        raise Http404
    form = CoachingForm(request.POST)
    if not form.is_valid():
        return _render_candidacy(
            request,
            candidacy,
            status=400,
            bound={"coaching": form},
            error=_("Le formulaire contient des erreurs."),
        )
    data = form.service_data()
    try:
        svc.coaching_log(
            actor=request.user,
            candidacy=candidacy,
            date=data["date"],
            kind=data["kind"],
            support=data["support"],
            notes=data["notes"],
            cost=data["cost"],
        )
    except DomainError as exc:
        add_domain_error(form, exc)
        return _render_candidacy(
            request,
            candidacy,
            status=exc.status_code,
            bound={"coaching": form},
            error=_error_message(exc),
        )
    messages.success(request, _("L'accompagnement est consigné."))
    return redirect("anticall:candidacy_detail", pk=candidacy.pk)


@login_required
@require_POST
def candidacy_deliverable(request: HttpRequest, pk: int) -> HttpResponse:
    """Add a deliverable of the prototype, with an optional file (the structure or its coach)."""
    candidacy = _get_candidacy(request, pk)
    form = DeliverableForm(request.POST, request.FILES)
    if not form.is_valid():
        return _render_candidacy(
            request,
            candidacy,
            status=400,
            bound={"deliverable": form},
            error=_("Le formulaire contient des erreurs."),
        )
    data = form.cleaned_data
    try:
        svc.deliverable_add(
            actor=request.user,
            candidacy=candidacy,
            title=data["title"],
            description=data["description"],
            file=data.get("file"),
        )
    except DomainError as exc:
        add_domain_error(form, exc)
        return _render_candidacy(
            request,
            candidacy,
            status=exc.status_code,
            bound={"deliverable": form},
            error=_error_message(exc),
        )
    messages.success(request, _("Le livrable est ajouté."))
    if _next_is_invitations(request):
        return redirect("anticall:my_invitations")
    return redirect("anticall:candidacy_detail", pk=candidacy.pk)


@login_required
def deliverable_download(request: HttpRequest, pk: int, deliverable_pk: int) -> FileResponse:
    """A deliverable's file, for staff and the structure's members only; 404 for anyone else."""
    candidacy = _get_candidacy(request, pk)
    if not (is_anticall_reader(request.user) or is_structure_member(request.user, candidacy)):
        raise Http404
    deliverable = get_object_or_404(candidacy.deliverables.exclude(file=""), pk=deliverable_pk)
    try:
        handle = deliverable.file.open("rb")
    except FileNotFoundError:
        raise Http404
    ext = os.path.splitext(deliverable.file.name)[1]
    response = FileResponse(handle, as_attachment=True, filename=f"{deliverable.title[:100]}{ext}")
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


# --------------------------------------------------------------------------- the structure's side


@login_required
def my_invitations(request: HttpRequest) -> HttpResponse:
    """« Mes invitations »: the candidacies of the user's organisations and those addressed to their
    email or SIRET, with « Accepter » / « Décliner » and, during prototyping, the deliverables form."""
    rows = []
    for candidacy in structure_invitations(request.user):
        row: dict[str, Any] = {"candidacy": candidacy}
        names = {
            s.name
            for s in svc.candidacy_available_transitions(actor=request.user, candidacy=candidacy)
        }
        auto_id = f"id_c{candidacy.pk}_%s"
        if "accept" in names:
            row["accept_form"] = AcceptForm(
                candidacy=candidacy, user=request.user, prefix="accept", auto_id=auto_id
            )
        if "decline" in names:
            row["decline_form"] = OptionalReasonForm(
                candidacy=candidacy, user=request.user, prefix="decline", auto_id=auto_id
            )
        if candidacy.state in DELIVERABLE_STATES and is_structure_member(request.user, candidacy):
            row["deliverable_form"] = DeliverableForm(auto_id=auto_id)
        if candidacy.prototype_deadline and candidacy.state == C.PROTOTYPING:
            row["days_left"] = (candidacy.prototype_deadline - today()).days
        rows.append(row)
    return render(request, "grants/anticall/my_invitations.html", {"rows": rows})
