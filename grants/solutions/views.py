"""Pages of the call for solutions (appel à solutions, docs/domain.md §2.3): residents propose expected
solutions, the panel moderates them, the programme manager sets up the panel, panel members vote,
the envelope is allocated from the votes (two rules side by side) and the results are published.

Views read, call one service and render; the rules live in calls.services and
grants.solutions.services."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from calls.models import Call, CallMode, CallState, Challenge, Panel, PanelMember
from calls.selectors import calls_readable_by
from calls.services import (
    call_panel_member,
    challenge_moderate,
    challenge_propose,
    challenge_record,
    panel_add_member,
    panel_configure,
    panel_invite_member,
)
from core.auth import client_ip
from core.clock import now
from core.errors import DomainError
from core.models import Role, User
from core.permissions import has_role

from ..jobs_solutions import allocation_compute_start, allocation_job
from ..models import AllocationRun, Ballot
from . import services as svc
from .forms import (
    AssessmentForm,
    ChallengeProposeForm,
    ChallengeRecordForm,
    DecideForm,
    ModerateForm,
    PanelConfigForm,
    PanelMemberForm,
    PbImportForm,
    add_domain_error,
)
from .pabulib import write_pb

# A resident may send a few proposals; a script sending many is slowed down (per address, per hour).
PROPOSALS_PER_HOUR = 10
PB_MAX_BYTES = 5 * 1024 * 1024


def _solutions_calls(request: HttpRequest) -> QuerySet[Call]:
    return (
        calls_readable_by(request.user)
        .filter(mode=CallMode.SOLUTIONS_CALL)
        .select_related("programme")
    )


def _get_call(request: HttpRequest, call_id: int) -> Call:
    """A call for solutions the user may read; 404 otherwise (drafts, other modes)."""
    return get_object_or_404(_solutions_calls(request), pk=call_id)


def _panel(call: Call) -> Panel | None:
    return Panel.objects.filter(call=call).first()


def _is_manager(request: HttpRequest) -> bool:
    return has_role(request.user, Role.PROGRAMME_MANAGER)


def _is_moderator(request: HttpRequest, call: Call) -> bool:
    """Who moderates and records expected solutions: staff in charge and the call's panel."""
    return (
        has_role(request.user, Role.PROGRAMME_MANAGER, Role.INSTRUCTOR)
        or call_panel_member(call, request.user) is not None
    )


def _require_manager(request: HttpRequest) -> None:
    if not _is_manager(request):
        raise PermissionDenied


# --------------------------------------------------------------------------- hub


def solutions_hub(request: HttpRequest, call_id: int) -> HttpResponse:
    """The call for solutions at a glance: retained expected solutions and what the user can do."""
    call = _get_call(request, call_id)
    run = svc.latest_run(call)
    member = call_panel_member(call, request.user)
    return render(
        request,
        "grants/solutions/hub.html",
        {
            "call": call,
            "panel": _panel(call),
            "challenges": call.challenges.filter(state=Challenge.State.APPROVED).select_related(
                "qpv"
            ),
            "can_propose": call.state in (CallState.PUBLISHED, CallState.OPEN),
            "is_member": member is not None,
            "is_moderator": _is_moderator(request, call),
            "is_manager": _is_manager(request),
            "published": run is not None and run.published_at is not None,
        },
    )


# --------------------------------------------------------------------------- public proposals


def _throttled(request: HttpRequest) -> bool:
    key = f"solutions:proposals:{client_ip(request) or 'unknown'}"
    count = cache.get(key, 0)
    if count >= PROPOSALS_PER_HOUR:
        return True
    cache.set(key, count + 1, 3600)
    return False


def challenge_propose_view(request: HttpRequest, call_id: int) -> HttpResponse:
    """A resident proposes an expected solution, no account needed; it waits for moderation."""
    call = _get_call(request, call_id)
    form = ChallengeProposeForm(request.POST or None, call=call)
    status = 200
    if request.method == "POST":
        if form.is_robot():
            # The honeypot was filled: thank the robot, keep nothing.
            return redirect("solutions:challenge_thanks", call_id=call.pk)
        if _throttled(request):
            form.is_valid()
            form.add_error(
                None, _("Vous avez envoyé beaucoup de propositions : réessayez dans une heure.")
            )
            status = 429
        elif form.is_valid():
            data = form.cleaned_data
            try:
                challenge_propose(
                    call=call,
                    qpv=data["qpv"],
                    title=data["title"],
                    description=data["description"],
                    name=data["name"],
                    email=data["email"],
                )
            except DomainError as exc:
                add_domain_error(form, exc)
                status = exc.status_code
            else:
                return redirect("solutions:challenge_thanks", call_id=call.pk)
        else:
            status = 400
    return render(
        request,
        "grants/solutions/propose.html",
        {
            "call": call,
            "form": form,
            "accepting": call.state in (CallState.PUBLISHED, CallState.OPEN),
        },
        status=status,
    )


def challenge_thanks(request: HttpRequest, call_id: int) -> HttpResponse:
    call = _get_call(request, call_id)
    return render(request, "grants/solutions/thanks.html", {"call": call})


# --------------------------------------------------------------------------- moderation


def _challenges_context(
    request: HttpRequest,
    call: Call,
    *,
    record_form: ChallengeRecordForm | None = None,
    failing: tuple[int, ModerateForm] | None = None,
) -> dict[str, Any]:
    challenges = list(
        call.challenges.select_related("qpv", "moderated_by").order_by(
            "state", "qpv__code", "title"
        )
    )
    rows = []
    for challenge in challenges:
        form = None
        if challenge.state == Challenge.State.PROPOSED:
            form = (
                failing[1]
                if failing and failing[0] == challenge.pk
                else ModerateForm(prefix=f"c{challenge.pk}")
            )
        rows.append({"challenge": challenge, "form": form})
    return {
        "call": call,
        "proposed": [r for r in rows if r["challenge"].state == Challenge.State.PROPOSED],
        "approved": [r for r in rows if r["challenge"].state == Challenge.State.APPROVED],
        "rejected": [r for r in rows if r["challenge"].state == Challenge.State.REJECTED],
        "record_form": record_form or ChallengeRecordForm(call=call, prefix="record"),
        # Proposers' emails are for the staff who may write back, never for the panel or the public.
        "show_emails": has_role(request.user, Role.PROGRAMME_MANAGER, Role.INSTRUCTOR),
    }


@login_required
def challenge_list(request: HttpRequest, call_id: int) -> HttpResponse:
    """The expected solutions of a call: proposals to moderate, and a form to enter one directly."""
    call = _get_call(request, call_id)
    if not _is_moderator(request, call):
        raise PermissionDenied
    form = None
    status = 200
    if request.method == "POST":
        form = ChallengeRecordForm(request.POST, call=call, prefix="record")
        if form.is_valid():
            data = form.cleaned_data
            try:
                challenge = challenge_record(
                    actor=request.user,
                    call=call,
                    qpv=data["qpv"],
                    title=data["title"],
                    description=data["description"],
                )
            except DomainError as exc:
                add_domain_error(form, exc)
                status = exc.status_code
            else:
                messages.success(
                    request,
                    _("La solution attendue « %(t)s » est enregistrée.") % {"t": challenge.title},
                )
                return redirect("solutions:challenge_list", call_id=call.pk)
        else:
            status = 400
    return render(
        request,
        "grants/solutions/challenges.html",
        _challenges_context(request, call, record_form=form),
        status=status,
    )


@login_required
@require_POST
def challenge_moderate_view(request: HttpRequest, call_id: int, pk: int) -> HttpResponse:
    call = _get_call(request, call_id)
    if not _is_moderator(request, call):
        raise PermissionDenied
    challenge = get_object_or_404(Challenge.objects.filter(call=call), pk=pk)
    form = ModerateForm(request.POST, prefix=f"c{challenge.pk}")
    status = 400
    if form.is_valid():
        approve = form.cleaned_data["decision"] == "approve"
        try:
            challenge_moderate(
                actor=request.user,
                challenge=challenge,
                approve=approve,
                note=form.cleaned_data["note"],
            )
        except DomainError as exc:
            add_domain_error(form, exc)
            status = exc.status_code
        else:
            messages.success(
                request,
                (_("« %(t)s » est retenue.") if approve else _("« %(t)s » est écartée."))
                % {"t": challenge.title},
            )
            return redirect("solutions:challenge_list", call_id=call.pk)
    return render(
        request,
        "grants/solutions/challenges.html",
        _challenges_context(request, call, failing=(challenge.pk, form)),
        status=status,
    )


# --------------------------------------------------------------------------- panel set-up


@login_required
def panel_manage(request: HttpRequest, call_id: int) -> HttpResponse:
    """The programme manager sets the panel's rules and seats its members by college."""
    call = _get_call(request, call_id)
    _require_manager(request)
    panel = _panel(call)
    config_form = PanelConfigForm(initial=PanelConfigForm.initial_for(panel), prefix="panel")
    member_form = PanelMemberForm(prefix="member")
    status = 200
    if request.method == "POST" and request.POST.get("action") == "configure":
        config_form = PanelConfigForm(request.POST, prefix="panel")
        if config_form.is_valid():
            try:
                panel_configure(actor=request.user, call=call, **config_form.service_data())
            except DomainError as exc:
                add_domain_error(config_form, exc)
                status = exc.status_code
            else:
                messages.success(request, _("Les règles du panel sont enregistrées."))
                return redirect("solutions:panel_manage", call_id=call.pk)
        else:
            status = 400
    elif request.method == "POST" and request.POST.get("action") == "add_member":
        member_form = PanelMemberForm(request.POST, prefix="member")
        if panel is None:
            member_form.is_valid()
            member_form.add_error(None, _("Enregistrez d'abord les règles du panel."))
            status = 409
        elif member_form.is_valid():
            email, college = member_form.cleaned_data["email"], member_form.cleaned_data["college"]
            user = User.objects.filter(email__iexact=email).first()
            try:
                if user is not None:
                    panel_add_member(actor=request.user, panel=panel, user=user, college=college)
                    message = _("%(who)s siège au panel.") % {
                        "who": user.get_full_name() or user.email
                    }
                else:
                    panel_invite_member(
                        actor=request.user, panel=panel, email=email, college=college
                    )
                    message = _(
                        "Une invitation est envoyée à %(email)s : cette personne siégera au panel dès "
                        "qu'elle aura créé son compte."
                    ) % {"email": email}
            except DomainError as exc:
                add_domain_error(member_form, exc)
                status = exc.status_code
            else:
                messages.success(request, message)
                return redirect("solutions:panel_manage", call_id=call.pk)
        else:
            status = 400
    elif request.method == "POST":
        status = 400
    members = (
        list(panel.members.select_related("user").order_by("college", "user__last_name"))
        if panel
        else []
    )
    # Residents invited to this panel who have not accepted yet (they are seated on acceptance).
    invitations = (
        [
            row.invitation
            for row in panel.invitations.filter(seated_at__isnull=True)
            .select_related("invitation")
            .order_by("-id")
        ]
        if panel
        else []
    )
    return render(
        request,
        "grants/solutions/panel.html",
        {
            "call": call,
            "panel": panel,
            "config_form": config_form,
            "member_form": member_form,
            "members": members,
            "invitations": invitations,
        },
        status=status,
    )


# --------------------------------------------------------------------------- voting


def _candidate_groups(call: Call) -> list[dict[str, Any]]:
    groups: dict[Any, dict[str, Any]] = {}
    for application in svc.ballot_candidates(call):
        group = groups.setdefault(
            application.challenge_id, {"challenge": application.challenge, "actions": []}
        )
        group["actions"].append(application)
    return list(groups.values())


def _read_ballot(
    request: HttpRequest, panel: Panel, candidates: dict[int, Any]
) -> tuple[list[int], dict, list]:
    """The ballot as typed: approved ids, or scores per action and criterion; and input errors."""
    errors: list[str] = []
    approvals = [
        int(x) for x in request.POST.getlist("approvals") if x.isdigit() and int(x) in candidates
    ]
    scores: dict[int, dict[str, int]] = {}
    if panel.ballot_kind == Panel.BallotKind.SCORE:
        for pk in candidates:
            for index, criterion in enumerate(panel.score_criteria):
                raw = request.POST.get(f"score-{pk}-{index}", "").strip()
                if raw == "":
                    continue
                if not raw.isdigit() or int(raw) > panel.max_score:
                    errors.append(_("Les notes vont de 0 à %(max)d.") % {"max": panel.max_score})
                    continue
                scores.setdefault(pk, {})[criterion] = int(raw)
    return approvals, scores, sorted(set(errors))


@login_required
def vote(request: HttpRequest, call_id: int) -> HttpResponse:
    """A panel member's one ballot: the actions put to the vote grouped by expected solution, a
    confirmation step, then « Vous avez voté le … »."""
    call = _get_call(request, call_id)
    member = call_panel_member(call, request.user)
    if member is None:
        raise PermissionDenied
    panel = member.panel
    ballot = Ballot.objects.filter(call=call, member=member).first()
    groups = _candidate_groups(call)
    candidates = {a.pk: a for g in groups for a in g["actions"]}
    approvals, scores, errors = (
        _read_ballot(request, panel, candidates) if request.method == "POST" else ([], {}, [])
    )
    step, status = "choose", 200
    if request.method == "POST" and ballot is None:
        action = request.POST.get("action", "review")
        if errors:
            status = 400
        elif action == "review":
            step = "confirm"
        elif action == "confirm":
            try:
                ballot = svc.ballot_cast(
                    actor=request.user,
                    call=call,
                    approvals=approvals,
                    scores={pk: dict(v) for pk, v in scores.items()},
                )
            except DomainError as exc:
                errors, status = [str(exc.message)], exc.status_code
                ballot = Ballot.objects.filter(call=call, member=member).first()
            else:
                messages.success(request, _("Votre vote est enregistré. Merci !"))
                return redirect("solutions:vote", call_id=call.pk)
    elif request.method == "POST":
        errors, status = [_("Vous avez déjà voté pour cet appel.")], 400
    chosen = [candidates[pk] for pk in approvals]
    score_rows = [
        {"application": candidates[pk], "scores": [(c, per.get(c)) for c in panel.score_criteria]}
        for pk, per in scores.items()
    ]
    return render(
        request,
        "grants/solutions/vote.html",
        {
            "call": call,
            "panel": panel,
            "member": member,
            "ballot": ballot,
            "groups": groups,
            "is_open": svc.voting_is_open(panel),
            "step": step,
            "errors": errors,
            "approvals": approvals,
            "scores": scores,
            "chosen": chosen,
            "score_rows": score_rows,
            "criteria": list(enumerate(panel.score_criteria)),
            "is_score": panel.ballot_kind == Panel.BallotKind.SCORE,
        },
        status=status,
    )


# --------------------------------------------------------------------------- results


def _results_context(
    request: HttpRequest, call: Call, *, decide_form: DecideForm | None = None, error: str = ""
) -> dict[str, Any]:
    run = svc.latest_run(call)
    is_manager = _is_manager(request)
    published = run is not None and run.published_at is not None
    report = svc.allocation_report(run) if run is not None else None
    panel = _panel(call)
    context: dict[str, Any] = {
        "call": call,
        "run": run,
        "report": report,
        "published": published,
        "is_manager": is_manager,
        "panel": panel,
        "error": error,
        "job": None,
        "live": None,
        "decide_form": None,
        "secret": panel.secret_ballot if panel else True,
    }
    if is_manager and not published:
        context["job"] = allocation_job(call)
        if panel is not None:
            context["live"] = svc.tally(call)
            context["can_compute"] = now() >= panel.voting_closes_at
        if report is not None:
            context["decide_form"] = decide_form or DecideForm(
                rows=report["rows"],
                prefix="decide",
                initial={
                    "rule": run.chosen_rule or None,
                    "reason": run.reason,
                    "selection": [int(x) for x in run.chosen_selection],
                },
            )
    return context


def results(request: HttpRequest, call_id: int) -> HttpResponse:
    """Results of the vote. Before publication: the programme manager's workspace (compute, compare
    both rules, decide with a reason, publish). After: public, with the full tally."""
    call = _get_call(request, call_id)
    context = _results_context(request, call)
    if not context["published"] and not context["is_manager"]:
        raise Http404
    return render(request, "grants/solutions/results.html", context)


@login_required
@require_POST
def allocation_compute(request: HttpRequest, call_id: int) -> HttpResponse:
    """Start the computation as a background job; the results page follows its progress."""
    call = _get_call(request, call_id)
    _require_manager(request)
    try:
        allocation_compute_start(actor=request.user, call=call)
    except DomainError as exc:
        context = _results_context(request, call, error=str(exc.message))
        return render(request, "grants/solutions/results.html", context, status=exc.status_code)
    job = allocation_job(call)
    if job is not None and job.state == job.State.DONE and "run" in job.result:
        messages.success(request, _("La répartition est calculée selon les deux règles."))
    else:
        messages.info(request, _("Le calcul a commencé : cette page affiche son avancement."))
    return redirect("solutions:results", call_id=call.pk)


def _run_of(request: HttpRequest, call: Call, run_id: int) -> AllocationRun:
    _require_manager(request)
    return get_object_or_404(AllocationRun.objects.filter(call=call), pk=run_id)


@login_required
@require_POST
def allocation_decide(request: HttpRequest, call_id: int, run_id: int) -> HttpResponse:
    call = _get_call(request, call_id)
    run = _run_of(request, call, run_id)
    form = DecideForm(request.POST, rows=svc.allocation_report(run)["rows"], prefix="decide")
    status = 400
    if form.is_valid():
        data = form.cleaned_data
        try:
            svc.allocation_decide(
                actor=request.user,
                run=run,
                rule=data["rule"],
                reason=data["reason"],
                selection=data["selection"],
            )
        except DomainError as exc:
            add_domain_error(form, exc)
            status = exc.status_code
        else:
            messages.success(
                request,
                _("La répartition retenue est enregistrée : vous pouvez publier les résultats."),
            )
            return redirect("solutions:results", call_id=call.pk)
    context = _results_context(
        request, call, decide_form=form, error=_("Le choix n'est pas enregistré.")
    )
    return render(request, "grants/solutions/results.html", context, status=status)


@login_required
@require_POST
def allocation_publish(request: HttpRequest, call_id: int, run_id: int) -> HttpResponse:
    call = _get_call(request, call_id)
    run = _run_of(request, call, run_id)
    try:
        svc.allocation_publish(
            actor=request.user,
            run=run,
            envelope_override_reason=request.POST.get("envelope_override_reason", ""),
        )
    except DomainError as exc:
        context = _results_context(request, call, error=str(exc.message))
        return render(request, "grants/solutions/results.html", context, status=exc.status_code)
    messages.success(
        request, _("Les résultats sont publiés ; les opérateurs et le panel sont prévenus.")
    )
    return redirect("solutions:results", call_id=call.pk)


# --------------------------------------------------------------------------- pabulib


def export_pb(request: HttpRequest, call_id: int) -> HttpResponse:
    """The call's election as a pabulib `.pb` file (ballot papers anonymised): for the programme
    manager, and for anyone once the results are published."""
    call = _get_call(request, call_id)
    run = svc.latest_run(call)
    if not _is_manager(request) and (run is None or run.published_at is None):
        raise Http404
    try:
        text = write_pb(svc.election_for_call(call))
    except DomainError as exc:
        messages.error(request, str(exc.message))
        return redirect("solutions:results", call_id=call.pk)
    response = HttpResponse(text, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="appel-{call.pk}.pb"'
    return response


@login_required
def import_pb(request: HttpRequest) -> HttpResponse:
    """What-if: both rules on an uploaded `.pb` election. Nothing is written."""
    _require_manager(request)
    form = PbImportForm(request.POST or None, request.FILES or None)
    status, outcome, file_errors = 200, None, []
    if request.method == "POST":
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                if upload.size > PB_MAX_BYTES:
                    raise DomainError(_("Le fichier dépasse 5 Mo."), field="file")
                try:
                    text = upload.read().decode("utf-8")
                except UnicodeDecodeError:
                    raise DomainError(
                        _("Le fichier doit être un texte encodé en UTF-8."), field="file"
                    )
                outcome = svc.election_what_if(text)
            except DomainError as exc:
                file_errors = [str(m) for m in exc.errors.get("file", [])] or [str(exc.message)]
                status = exc.status_code
        else:
            status = 400
    return render(
        request,
        "grants/solutions/import.html",
        {"form": form, "outcome": outcome, "file_errors": file_errors},
        status=status,
    )


@login_required
def panel_evaluation(request: HttpRequest, call_id: int, year: int) -> HttpResponse:
    """The panel's part in the annual evaluation: each member rates the projects the panel chose;
    staff see every rating counted and invite the panel (docs/domain.md §2.3: the evaluation is done
    with the residents who chose)."""
    call = _get_call(request, call_id)
    member = call_panel_member(call, request.user)
    is_staff = has_role(request.user, Role.PROGRAMME_MANAGER, Role.INSTRUCTOR, Role.AUDITOR)
    if member is None and not is_staff:
        raise PermissionDenied
    can_invite = has_role(request.user, Role.PROGRAMME_MANAGER, Role.INSTRUCTOR)
    status, errors = 200, {}
    if request.method == "POST":
        try:
            if request.POST.get("action") == "invite" and can_invite:
                n = svc.panel_assessments_invite(actor=request.user, call=call, fiscal_year=year)
                messages.success(request, _("%(n)d membres du panel invités.") % {"n": n})
                return redirect("solutions:panel_evaluation", call_id=call.pk, year=year)
            if member is None:
                raise PermissionDenied
            application = get_object_or_404(
                call.applications.filter(state="approved"), pk=request.POST.get("application")
            )
            form = AssessmentForm(request.POST, prefix=f"a{application.pk}")
            if form.is_valid():
                svc.panel_assessment_record(
                    actor=request.user,
                    application=application,
                    fiscal_year=year,
                    rating=form.cleaned_data["rating"],
                    comment=form.cleaned_data["comment"],
                )
                messages.success(request, _("Votre appréciation est enregistrée."))
                return redirect("solutions:panel_evaluation", call_id=call.pk, year=year)
            errors[application.pk] = form
            status = 400
        except DomainError as exc:
            messages.error(request, str(exc.message))
            status = exc.status_code
    sheet = svc.panel_assessment_sheet(call=call, fiscal_year=year, member=member)
    for row in sheet:
        app = row["application"]
        mine = row["mine"]
        row["form"] = errors.get(app.pk) or AssessmentForm(
            prefix=f"a{app.pk}",
            initial={"rating": mine.rating, "comment": mine.comment} if mine else None,
        )
    return render(
        request,
        "grants/solutions/evaluation.html",
        {
            "call": call,
            "year": year,
            "sheet": sheet,
            "member": member,
            "is_staff": is_staff,
            "can_invite": can_invite,
        },
        status=status,
    )


@login_required
def my_panels(request: HttpRequest) -> HttpResponse:
    """A resident's seats: each call for solutions, the voting phase, whether they voted, results
    and the evaluation of the projects the panel chose."""
    seats = (
        PanelMember.objects.filter(user=request.user)
        .select_related("panel__call__programme")
        .order_by("-panel__voting_closes_at")
    )
    voted = set(Ballot.objects.filter(member__in=seats).values_list("call_id", flat=True))
    published = set(
        AllocationRun.objects.filter(
            call_id__in=[seat.panel.call_id for seat in seats], published_at__isnull=False
        ).values_list("call_id", flat=True)
    )
    moment = now()
    rows = [
        {
            "seat": seat,
            "call": seat.panel.call,
            "panel": seat.panel,
            "voted": seat.panel.call_id in voted,
            "voting_open": seat.panel.voting_opens_at <= moment < seat.panel.voting_closes_at,
            "voting_future": moment < seat.panel.voting_opens_at,
            "published": seat.panel.call_id in published,
        }
        for seat in seats
    ]
    return render(request, "grants/solutions/my_panels.html", {"rows": rows})
