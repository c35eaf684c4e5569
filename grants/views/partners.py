"""The partnership page of a collective file (/dossiers/<id>/partenariat/, docs/domain.md §9): the
lead invites and removes partners and says how the money flows; each partner accepts or declines,
edits its own part (role, actions, part of the request, budget lines), drafts its answer to a
completion request, or leaves. Anyone outside the file gets a 404."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from core.errors import DomainError
from core.http import AuthenticatedHttpRequest
from core.permissions import is_member, organisation_ids_of

from .. import services
from ..budget import CHARGE_ACCOUNTS
from ..forms import ChargeFormSet, ProductFormSet, add_domain_error, budget_formset
from ..forms_partners import (
    AcceptInvitationForm,
    CompletionDraftForm,
    InvitePartnerForm,
    LeaveForm,
    PartnerPartForm,
    PaymentFlowForm,
)
from ..models import Application, ApplicationPartner, ApplicationState, PartnerState
from ..selectors import (
    current_partners,
    invitations_for,
    part_totals,
    partner_of,
    pending_completion_request,
)
from .common import error_message, get_visible

S = ApplicationState


def _part_forms(partner: ApplicationPartner, data: Any = None) -> dict[str, Any]:
    if data is not None:
        return {
            "part_form": PartnerPartForm(data, prefix="part"),
            "charges": ChargeFormSet(data, prefix="charges"),
            "products": ProductFormSet(data, prefix="products"),
        }
    rows = [
        {
            "account": i.account,
            "subsidy_source": i.subsidy_source,
            "label": i.label,
            "amount": i.amount,
        }
        for i in partner.budget_items.all()
    ]
    return {
        "part_form": PartnerPartForm(
            prefix="part",
            initial={
                "role": partner.role,
                "actions": partner.actions,
                "requested_amount": partner.requested_amount,
            },
        ),
        # The same starting lines (or saved lines and a blank one) as the lead's form.
        "charges": budget_formset(
            ChargeFormSet, "charges", [r for r in rows if r["account"] in CHARGE_ACCOUNTS]
        ),
        "products": budget_formset(
            ProductFormSet, "products", [r for r in rows if r["account"] not in CHARGE_ACCOUNTS]
        ),
    }


def _context(
    request: AuthenticatedHttpRequest, application: Application, bound: dict[str, Any]
) -> dict[str, Any]:
    user = request.user
    is_lead = is_member(user, application.organisation)
    mine = partner_of(user, application)
    is_open = application.state in services.PARTNERSHIP_OPEN_STATES
    partners = [
        {"partner": p, "totals": part_totals(application, p)} for p in current_partners(application)
    ]
    context: dict[str, Any] = {
        "application": application,
        "is_lead": is_lead,
        "mine": mine,
        "is_open": is_open,
        "partners": partners,
        "lead_totals": part_totals(application, None),
        "former": application.partners.exclude(
            state__in=[PartnerState.INVITED, PartnerState.ACCEPTED]
        ).select_related("organisation"),
        "leave_form": bound.get("leave") or LeaveForm(prefix="leave"),
    }
    if is_lead and is_open:
        context["invite_form"] = bound.get("invite") or InvitePartnerForm(prefix="invite")
        context["flow_form"] = bound.get("flow") or PaymentFlowForm(
            prefix="flow", initial={"payment_flow": application.payment_flow}
        )
    if mine is not None and mine.state == PartnerState.ACCEPTED:
        if application.is_editable_by_applicant:
            context.update(bound.get("part") or _part_forms(mine))
        if application.state == S.RETURNED and pending_completion_request(application):
            context["draft_form"] = bound.get("draft") or CompletionDraftForm(
                prefix="draft", initial={"text": mine.completion_draft}
            )
    return context


@login_required
def application_partnership(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Show the partnership; POST runs one action (`action`) through its service."""
    application = get_visible(request, pk)
    bound: dict[str, Any] = {}
    status = 200
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            done = _run(request, application, action, bound)
        except DomainError as exc:
            form = bound.get(action)
            if isinstance(form, dict):
                form = form.get("part_form")
            if form is not None:
                add_domain_error(form, exc)
            messages.error(request, error_message(exc))
            status = exc.status_code
        else:
            if done:
                messages.success(request, done)
                if not get_visible_or_none(request, pk):
                    return redirect("grants:my_applications")
                return redirect("grants:application_partnership", pk=pk)
            status = 400
        application = get_visible(request, pk)
    return render(
        request,
        "grants/partnership.html",
        _context(request, application, bound),
        status=status,
    )


def get_visible_or_none(request: AuthenticatedHttpRequest, pk: int) -> Application | None:
    try:
        return get_visible(request, pk)
    except Http404:
        return None


def _partner_in(application: Application, request: AuthenticatedHttpRequest) -> ApplicationPartner:
    raw = request.POST.get("partner", "")
    if not raw.isdigit():
        raise Http404
    return get_object_or_404(application.partners, pk=int(raw))


def _run(
    request: AuthenticatedHttpRequest, application: Application, action: str, bound: dict[str, Any]
) -> str:
    """Run one action; return the success message, or "" when a form is invalid (kept in
    `bound`)."""
    user = request.user
    post = request.POST
    if action == "invite":
        invite_form = InvitePartnerForm(post, prefix="invite")
        bound["invite"] = invite_form
        if not invite_form.is_valid():
            return ""
        partner = services.application_invite_partner(
            actor=user, application=application, **invite_form.cleaned_data
        )
        return _("%(org)s est invitée.") % {"org": str(partner)}
    if action == "flow":
        flow_form = PaymentFlowForm(post, prefix="flow")
        bound["flow"] = flow_form
        if not flow_form.is_valid():
            return ""
        services.application_set_payment_flow(
            actor=user,
            application=application,
            payment_flow=flow_form.cleaned_data["payment_flow"],
        )
        return _("Le mode de versement est enregistré.")
    if action == "accept":
        services.partner_accept(actor=user, partner=_partner_in(application, request))
        return _("Vous êtes partenaire du dossier.")
    if action == "decline":
        services.partner_decline(actor=user, partner=_partner_in(application, request))
        return _("L'invitation est déclinée.")
    if action == "leave":
        leave_form = LeaveForm(post, prefix="leave")
        bound["leave"] = leave_form
        leave_form.is_valid()
        services.partner_leave(
            actor=user,
            partner=_partner_in(application, request),
            confirm=bool(leave_form.cleaned_data.get("confirm")),
        )
        return _("Le partenaire a quitté le dossier.")
    if action == "part":
        mine = partner_of(user, application)
        if mine is None:
            raise Http404
        forms = _part_forms(mine, post)
        bound["part"] = forms
        part, charges, products = forms["part_form"], forms["charges"], forms["products"]
        if not all([part.is_valid(), charges.is_valid(), products.is_valid()]):
            return ""
        services.partner_update_part(
            actor=user,
            partner=mine,
            data={
                **part.cleaned_data,
                "budget": [x.row() for x in [*charges, *products] if not x.is_blank()],
            },
        )
        return _("Votre part est enregistrée.")
    if action == "draft":
        mine = partner_of(user, application)
        if mine is None:
            raise Http404
        draft_form = CompletionDraftForm(post, prefix="draft")
        bound["draft"] = draft_form
        if not draft_form.is_valid():
            return ""
        services.partner_draft_completion_answer(
            actor=user, partner=mine, text=draft_form.cleaned_data["text"]
        )
        return _("Votre projet de réponse est transmis au chef de file.")
    raise Http404


@login_required
def invitation_answer(request: AuthenticatedHttpRequest, partner_pk: int) -> HttpResponse:
    """An invitation addressed to the user (by e-mail or to their organisation): accept for one
    of their organisations, or decline. Anyone else gets a 404."""
    partner = get_object_or_404(invitations_for(request.user), pk=partner_pk)
    own = organisation_ids_of(request.user) - {partner.application.organisation_id}
    form = AcceptInvitationForm(request.POST or None, organisation_ids=own)
    status = 200
    if request.method == "POST":
        try:
            if request.POST.get("action") == "decline":
                services.partner_decline(actor=request.user, partner=partner)
                messages.success(request, _("L'invitation est déclinée."))
                return redirect("grants:my_applications")
            if partner.organisation_id is not None or form.is_valid():
                organisation = (
                    None if partner.organisation_id else form.cleaned_data["organisation"]
                )
                services.partner_accept(
                    actor=request.user, partner=partner, organisation=organisation
                )
                messages.success(request, _("Vous êtes partenaire du dossier."))
                return redirect("grants:application_partnership", pk=partner.application_id)
            status = 400
        except DomainError as exc:
            add_domain_error(form, exc)
            status = exc.status_code
    return render(
        request,
        "grants/invitation_answer.html",
        {"partner": partner, "application": partner.application, "form": form},
        status=status,
    )
