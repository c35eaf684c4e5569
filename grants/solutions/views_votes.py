"""Loading a vote held outside Pluriel into a call for solutions, from a pabulib `.pb` file
(grants.solutions.vote_loading): upload and check, then say what each project is, then load."""

from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from core.clock import now
from core.errors import DomainError

from ..models import VoteImport
from . import services as svc
from . import vote_loading
from .forms import VoteLoadForm, VoteMappingForm
from .views import _get_call, _panel, _require_manager


@login_required
def vote_load(request: HttpRequest, call_id: int) -> HttpResponse:
    """Step 1: upload a `.pb` vote for this call; it is checked and kept, nothing else written."""
    call = _get_call(request, call_id)
    _require_manager(request)
    form = VoteLoadForm(request.POST or None, request.FILES or None)
    status, file_errors = 200, []
    if request.method == "POST":
        if form.is_valid():
            try:
                vote_import = vote_loading.vote_load_check(
                    actor=request.user, call=call, upload=form.cleaned_data["file"]
                )
            except DomainError as exc:
                file_errors = [str(m) for m in exc.errors.get("file", [])] or [str(exc.message)]
                status = exc.status_code
            else:
                return redirect("solutions:vote_load_map", call_id=call.pk, pk=vote_import.pk)
        else:
            status = 400
    loaded = call.vote_imports.filter(state="applied").first()
    return render(
        request,
        "grants/solutions/vote_load.html",
        {"call": call, "form": form, "file_errors": file_errors, "loaded": loaded},
        status=status,
    )


@login_required
def vote_load_map(request: HttpRequest, call_id: int, pk: int) -> HttpResponse:
    """Step 2: say what each project of the file is in the call, then load the vote."""
    call = _get_call(request, call_id)
    _require_manager(request)
    vote_import = get_object_or_404(VoteImport, pk=pk, call=call)
    if vote_import.state == VoteImport.State.APPLIED:
        messages.info(request, _("Ce vote est chargé."))
        return redirect("solutions:results", call_id=call.pk)
    rows = vote_loading.proposed_targets(vote_import)
    candidates = list(svc.ballot_candidates(call))
    form = VoteMappingForm(request.POST or None, rows=rows, candidates=candidates)
    status, error = 200, ""
    if request.method == "POST" and form.is_valid():
        try:
            vote_loading.vote_load_apply(
                actor=request.user, vote_import=vote_import, targets=form.targets()
            )
        except DomainError as exc:
            status, error = exc.status_code, str(exc.message)
            for index, row in enumerate(rows):
                for message in exc.errors.get(row["project"].id, []):
                    form.add_error(f"siret_{index}", message)
        else:
            messages.success(
                request,
                _("Le vote est chargé : %(v)d votant·es. Vous pouvez calculer la répartition.")
                % {"v": vote_import.voters},
            )
            return redirect("solutions:results", call_id=call.pk)
    elif request.method == "POST":
        status = 400
    return render(
        request,
        "grants/solutions/vote_load_map.html",
        {
            "call": call,
            "vote_import": vote_import,
            "rows": rows,
            "form": form,
            "error": error,
            "envelope_differs": vote_import.meta.get("budget")
            and Decimal(vote_import.meta["budget"]) != call.envelope,
            "open_vote": _panel(call) is not None and _panel(call).voting_closes_at > now(),
        },
        status=status,
    )
