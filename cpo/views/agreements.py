"""The agreement list (/conventions/) and the agreement page (/conventions/<id>/): the timeline
(years → instalments, evaluations, amendments, recoveries), the history, the actions allowed now
(each with its small form) and the downloads. Every write is a service call; a refused action
re-renders the page with the input kept and the service's message, with its status (400/403/409)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.forms import Form
from django.http import FileResponse, Http404, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.audit import history_for
from core.errors import DomainError
from core.fsm import allowed_transition_names
from core.http import AuthenticatedHttpRequest
from core.permissions import is_staff_member

from .. import documents, services, services_documents
from ..forms import (
    AgreementFilterForm,
    AmendmentForm,
    OptionalReasonForm,
    ReasonForm,
    RecoveryForm,
    RecoveryOffsetForm,
    SignForm,
    put_error,
)
from ..models import Agreement, AgreementState, Recovery, RecoveryState
from ..selectors import (
    agreement_timeline,
    agreements_visible_to,
    amendment_changes,
    can_manage,
    filter_agreements,
    is_agreement_staff,
    open_instalments,
)
from .common import ACTION_LABELS, error_message, get_visible
from .signatures import amendment_signature, completed_request, signature_context

A = AgreementState
# The actions of the page, in this order; `activate` is the daily job's (cpo.services.
# instalments_refresh), `complete` the final evaluation's.
PAGE_ACTIONS = ("send_for_signature", "sign", "suspend", "resume", "terminate")
REASON_REQUIRED = ("suspend", "terminate")
RECOVERY_OPS = ("collect", "offset", "cancel")
AMENDABLE = (A.SIGNED, A.ACTIVE, A.SUSPENDED)


# --------------------------------------------------------------------------- list


@login_required
def agreement_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Staff: every agreement of their scope, with filters. An association: its own, under
    « Mes conventions »."""
    visible = agreements_visible_to(request.user)
    form = AgreementFilterForm(request.GET or None, agreements=visible)
    filters = form.cleaned_data if form.is_bound and form.is_valid() else {}
    qs = filter_agreements(visible, filters).order_by("-created_at", "-id")
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "cpo/agreement_list.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "staff_view": is_staff_member(request.user),
        },
    )


# --------------------------------------------------------------------------- detail


def _action_forms(agreement: Agreement, bound: dict[str, Any]) -> list[dict[str, Any]]:
    allowed = set(allowed_transition_names(agreement))
    actions = []
    for name in PAGE_ACTIONS:
        if name not in allowed:
            continue
        if name == "sign":
            form = bound.get(name) or SignForm(
                prefix=name, require_document=agreement.kind == Agreement.Kind.AGREEMENT
            )
        elif name in REASON_REQUIRED:
            form = bound.get(name) or ReasonForm(prefix=name)
        else:
            form = bound.get(name) or OptionalReasonForm(prefix=name)
        actions.append({"name": name, "label": ACTION_LABELS[name], "form": form})
    return actions


def partner_additions_context(user: Any, agreement: Agreement) -> dict[str, Any]:
    """Partners added by amendment: the proposals so far, and whether the user may propose one
    (the lead or the instruction, on an agreement paid to each partner that can be amended)."""
    from ..services_changes import partner_addition_check_permission, payee_parts

    try:
        partner_addition_check_permission(user, agreement)
    except DomainError:
        return {"partner_additions": [], "can_propose_partner": False}
    return {
        "partner_additions": list(agreement.partner_additions.select_related("organisation")),
        "can_propose_partner": agreement.state in AMENDABLE and bool(payee_parts(agreement)),
    }


def detail_context(
    request: AuthenticatedHttpRequest,
    agreement: Agreement,
    *,
    bound: dict[str, Any] | None = None,
    error: str = "",
    amendment_preview: dict[str, Any] | None = None,
) -> dict[str, Any]:
    bound = bound or {}
    user = request.user
    staff = is_agreement_staff(user, agreement)
    manage = staff and can_manage(user)
    fiscal_years = [y.fiscal_year for y in agreement.years.all()]
    amendments = [
        {
            "amendment": a,
            "changes": amendment_changes(a),
            **amendment_signature(agreement, a, manage=manage),
        }
        for a in agreement.amendments.all()
    ]
    context: dict[str, Any] = {
        "agreement": agreement,
        "application": agreement.application,
        "staff_view": staff,
        "can_manage": manage,
        "timeline": agreement_timeline(agreement),
        "funders": agreement.funders.all(),
        "amendments": amendments,
        "recoveries": list(agreement.recoveries.all()),
        "history": history_for(agreement),
        "error": error,
        "long": agreement.duration_years > 4,
        **signature_context(user, agreement, manage=manage),
        **partner_additions_context(user, agreement),
    }
    if manage:
        instalments = open_instalments(agreement)
        from ..services_changes import payee_parts

        context["payee_parts"] = payee_parts(agreement) if agreement.state in AMENDABLE else []
        context.update(
            {
                "actions": _action_forms(agreement, bound),
                "can_amend": agreement.state in AMENDABLE or "amend" in bound,
                "amendment_form": bound.get("amend")
                or AmendmentForm(prefix="amend", fiscal_years=fiscal_years),
                "amendment_preview": amendment_preview,
                "can_recover": agreement.state not in (A.DRAFT, A.SENT_FOR_SIGNATURE)
                or "recovery" in bound,
                "recovery_form": bound.get("recovery")
                or RecoveryForm(prefix="recovery", fiscal_years=fiscal_years),
                "recovery_actions": [
                    {
                        "recovery": r,
                        "offset": bound.get(f"offset-{r.pk}")
                        or RecoveryOffsetForm(prefix=f"offset-{r.pk}", instalments=instalments),
                        "cancel": bound.get(f"cancel-{r.pk}")
                        or ReasonForm(prefix=f"cancel-{r.pk}"),
                    }
                    for r in context["recoveries"]
                    if r.state == RecoveryState.ISSUED
                ],
            }
        )
    return context


def _render(
    request: AuthenticatedHttpRequest, agreement: Agreement, *, status: int = 200, **kwargs: Any
) -> HttpResponse:
    return render(
        request,
        "cpo/agreement_detail.html",
        {
            **detail_context(request, agreement, **kwargs),
            "partnership_annex": documents.has_partnership_annex(agreement),
        },
        status=status,
    )


@login_required
def agreement_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    return _render(request, get_visible(request, pk, detail=True))


def _managed(request: AuthenticatedHttpRequest, pk: int) -> Agreement:
    """POST targets: a visible agreement reached as staff (a member gets 404 on staff actions;
    the services refuse staff without the role with 403)."""
    agreement = get_visible(request, pk)
    if not is_agreement_staff(request.user, agreement):
        raise Http404
    return agreement


def _refused(
    request: AuthenticatedHttpRequest,
    pk: int,
    key: str,
    form: Form,
    exc: DomainError,
    **kwargs: Any,
) -> HttpResponse:
    put_error(form, exc)
    return _render(
        request,
        get_visible(request, pk, detail=True),
        status=exc.status_code,
        bound={key: form},
        error=error_message(exc),
        **kwargs,
    )


def _invalid(
    request: AuthenticatedHttpRequest, pk: int, key: str, form: Form, **kwargs: Any
) -> HttpResponse:
    return _render(
        request,
        get_visible(request, pk, detail=True),
        status=400,
        bound={key: form},
        error=_("Le formulaire contient des erreurs."),
        **kwargs,
    )


@login_required
@require_POST
def agreement_action(request: AuthenticatedHttpRequest, pk: int, name: str) -> HttpResponse:
    """Send for signature, sign (date + signed PDF), suspend, resume, terminate (with a reason)."""
    agreement = _managed(request, pk)
    if name not in PAGE_ACTIONS:
        raise Http404
    form: Form
    if name == "sign":
        form = SignForm(
            request.POST,
            request.FILES,
            prefix=name,
            require_document=agreement.kind == Agreement.Kind.AGREEMENT,
        )
    elif name in REASON_REQUIRED:
        form = ReasonForm(request.POST, prefix=name)
    else:
        form = OptionalReasonForm(request.POST, prefix=name)
    if not form.is_valid():
        return _invalid(request, pk, name, form)
    actor = request.user
    try:
        with transaction.atomic():
            if name == "send_for_signature":
                agreement = services.agreement_send_for_signature(actor=actor, agreement=agreement)
            elif name == "sign":
                upload = form.cleaned_data.get("signed_document")
                if upload is not None:
                    services_documents.agreement_attach_signed(
                        actor=actor, agreement=agreement, file=upload
                    )
                agreement = services.agreement_sign(
                    actor=actor, agreement=agreement, signed_on=form.cleaned_data["signed_on"]
                )
            else:
                service = getattr(services, f"agreement_{name}")
                agreement = service(
                    actor=actor, agreement=agreement, reason=form.cleaned_data.get("reason", "")
                )
    except DomainError as exc:
        return _refused(request, pk, name, form, exc)
    agreement = Agreement.objects.get(pk=pk)  # FSM field protected: re-read, not refresh
    messages.success(
        request,
        _("Action effectuée : %(label)s. La convention est maintenant « %(state)s ».")
        % {"label": ACTION_LABELS[name], "state": agreement.get_state_display()},
    )
    return redirect("cpo:agreement_detail", pk=pk)


@login_required
@require_POST
def agreement_amend(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """« Proposer un avenant »: « Prévisualiser » (amendment_preview, nothing written), then
    « Enregistrer l'avenant » (amendment_create)."""
    from .. import services_changes

    agreement = _managed(request, pk)
    fiscal_years = list(agreement.years.values_list("fiscal_year", flat=True))
    form = AmendmentForm(request.POST, prefix="amend", fiscal_years=fiscal_years)
    if not form.is_valid():
        return _invalid(request, pk, "amend", form)
    params = form.change_params()
    try:
        preview = services_changes.amendment_preview(
            actor=request.user,
            agreement=agreement,
            effective_on=form.cleaned_data["effective_on"],
            **params,
        )
        if request.POST.get("stage") == "create":
            amendment = services_changes.amendment_create(
                actor=request.user,
                agreement=agreement,
                reason=form.cleaned_data["reason"],
                effective_on=form.cleaned_data["effective_on"],
                **params,
            )
            messages.success(
                request,
                _("L'avenant est enregistré : la convention passe en version %(v)s.")
                % {"v": amendment.version},
            )
            return redirect("cpo:agreement_detail", pk=pk)
    except DomainError as exc:
        return _refused(request, pk, "amend", form, exc)
    return _render(
        request,
        get_visible(request, pk, detail=True),
        bound={"amend": form},
        amendment_preview=_preview_rows(preview),
    )


def _preview_rows(preview: dict[str, Any]) -> dict[str, Any]:
    """cpo.services_changes.amendment_preview, with the labels the page shows."""
    statuses = {
        "added": _("ajouté"),
        "removed": _("supprimé"),
        "changed": _("modifié"),
        "replanned": _("échéances replanifiées"),
        "unchanged": _("inchangé"),
    }
    years = [
        {**row, "status_label": statuses.get(row.get("status"), row.get("status"))}
        for row in preview.get("years", [])
    ]
    return {**preview, "years": years}


@login_required
@require_POST
def recovery_issue(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """« Émettre un reversement » (titre de recette) for an unspent or misused amount."""
    from .. import services_changes

    agreement = _managed(request, pk)
    fiscal_years = list(agreement.years.values_list("fiscal_year", flat=True))
    form = RecoveryForm(request.POST, prefix="recovery", fiscal_years=fiscal_years)
    if not form.is_valid():
        return _invalid(request, pk, "recovery", form)
    try:
        recovery = services_changes.recovery_issue(
            actor=request.user,
            agreement=agreement,
            fiscal_year=form.cleaned_data["fiscal_year"],
            unspent=form.cleaned_data["unspent"],
            reason=form.cleaned_data["reason"],
        )
    except DomainError as exc:
        return _refused(request, pk, "recovery", form, exc)
    messages.success(
        request,
        _("Le reversement de %(amount)s € est émis.") % {"amount": recovery.amount},
    )
    return redirect("cpo:agreement_detail", pk=pk)


@login_required
@require_POST
def recovery_action(
    request: AuthenticatedHttpRequest, pk: int, recovery_pk: int, op: str
) -> HttpResponse:
    """Collect, offset against an instalment, or cancel (with a reason) an issued recovery."""
    from .. import services_changes

    agreement = _managed(request, pk)
    if op not in RECOVERY_OPS:
        raise Http404
    recovery = get_object_or_404(Recovery, pk=recovery_pk, agreement=agreement)
    key = f"{op}-{recovery.pk}"
    form: Form
    if op == "offset":
        form = RecoveryOffsetForm(request.POST, prefix=key, instalments=open_instalments(agreement))
    elif op == "cancel":
        form = ReasonForm(request.POST, prefix=key)
    else:
        form = OptionalReasonForm(request.POST, prefix=key)
    if not form.is_valid():
        return _invalid(request, pk, key, form)
    try:
        if op == "collect":
            services_changes.recovery_collect(actor=request.user, recovery=recovery)
            message = _("Le reversement est recouvré.")
        elif op == "offset":
            services_changes.recovery_offset(
                actor=request.user, recovery=recovery, instalment=form.cleaned_data["instalment"]
            )
            message = _("Le reversement est compensé sur l'échéance choisie.")
        else:
            services_changes.recovery_cancel(
                actor=request.user, recovery=recovery, reason=form.cleaned_data["reason"]
            )
            message = _("Le reversement est annulé.")
    except DomainError as exc:
        return _refused(request, pk, key, form, exc)
    messages.success(request, message)
    return redirect("cpo:agreement_detail", pk=pk)


# --------------------------------------------------------------------------- downloads


def _pdf_response(content: Any, filename: str) -> HttpResponse:
    if hasattr(content, "read"):
        content = content.read()
    if isinstance(content, str):
        content = content.encode()
    response = HttpResponse(bytes(content), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
def agreement_document(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The generated document, ready to sign: the agreement, or the notification letter of a
    decision under the threshold. Staff of the scope and the organisation's members only."""
    agreement = get_visible(request, pk)
    if agreement.application_id is None:
        raise Http404  # imported from another tool: its document lives there
    document = documents.agreement_document(agreement)
    return _pdf_response(document.content, document.filename)


@login_required
def partnership_document(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The partnership annex of a collective file paid to the lead (docs/domain.md §9)."""
    agreement = get_visible(request, pk)
    if not documents.has_partnership_annex(agreement):
        raise Http404
    document = documents.render_partnership_annex(agreement)
    return _pdf_response(document.content, document.filename)


@login_required
def amendment_document(
    request: AuthenticatedHttpRequest, pk: int, amendment_pk: int
) -> HttpResponse:
    agreement = get_visible(request, pk)
    amendment = get_object_or_404(agreement.amendments, pk=amendment_pk)
    document = documents.amendment_document(amendment)
    return _pdf_response(document.content, document.filename)


@login_required
def agreement_signed_copy(request: AuthenticatedHttpRequest, pk: int) -> HttpResponseBase:
    """The signed copy: the electronically signed PDF, validated again before it leaves (a
    broken file is refused, cpo/views/signatures.py), or the copy uploaded at signature."""
    agreement = get_visible(request, pk)
    electronic = completed_request(agreement)
    if electronic is not None:
        from .signatures import signature_document

        return signature_document(request, pk, electronic.pk)
    if not agreement.signed_document:
        raise Http404
    try:
        handle = agreement.signed_document.open("rb")
    except FileNotFoundError:
        raise Http404
    response = FileResponse(
        handle, as_attachment=True, filename=f"{agreement.reference}-signee.pdf"
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
