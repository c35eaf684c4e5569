"""The electronic signature on the agreement page: send the document — the agreement, the
notification letter or an amendment — for signature (instruction), ask for a code and sign (the
association's representative), sign for a funder (its authorised signatory), download the signed
PDF — validated again each time (cpo/signatures/services.py)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.auth import client_ip
from core.errors import DomainError
from core.http import AuthenticatedHttpRequest
from core.models import User

from ..models import Agreement, AgreementState, Amendment
from ..models_signatures import (
    Signature,
    SignatureParty,
    SignatureRequest,
    SignatureRequestState,
)
from ..selectors import is_agreement_staff
from ..signatures import services as signing
from .common import error_message, get_visible

SENDABLE = (AgreementState.DRAFT, AgreementState.SENT_FOR_SIGNATURE)
R = SignatureRequestState


def signature_context(user: User, agreement: Agreement, *, manage: bool) -> dict[str, Any]:
    """What the page's « Signature électronique » section shows and offers to this user."""
    requests = list(
        agreement.signature_requests.select_related("amendment").prefetch_related(
            "signatures__signer", "signatures__funder"
        )
    )
    rows = []
    for request in requests:
        upcoming = signing.next_signature(request) if request.state == "pending" else None
        signatures = []
        for signature in request.signatures.all():
            mine = upcoming is not None and signature.pk == upcoming.pk
            signatures.append(
                {
                    "signature": signature,
                    "can_sign_with_code": mine
                    and signature.party == SignatureParty.ORGANISATION
                    and signing.can_sign_for_organisation(user, agreement),
                    "can_sign_as_funder": mine
                    and signature.party == SignatureParty.FUNDER
                    and signing.can_sign_for_funder(user, signature.funder_id),
                }
            )
        rows.append({"request": request, "signatures": signatures})
    pending = any(r.state == R.PENDING for r in requests)
    return {
        "signature_requests": rows,
        "can_send_for_signature": manage
        and agreement.application_id is not None
        and agreement.state in SENDABLE
        and not pending,
    }


def amendment_signature(
    agreement: Agreement, amendment: Amendment, *, manage: bool
) -> dict[str, Any]:
    """An amendment's electronic signature on its card: its latest request (pending, signed or
    cancelled) and whether it may be sent (again, once a request was cancelled)."""
    latest = None
    for request in agreement.signature_requests.all():  # newest first (Meta.ordering)
        if request.amendment_id == amendment.pk:
            latest = request
            break
    return {
        "signature_request": latest,
        "can_send_for_signature": manage
        and agreement.application_id is not None
        and agreement.state in signing.AMENDABLE
        and (latest is None or latest.state == R.INVALIDATED),
    }


def _page_error(request: AuthenticatedHttpRequest, pk: int, exc: DomainError) -> HttpResponse:
    from .agreements import _render  # the agreement page, re-rendered with the refusal

    return _render(
        request,
        get_visible(request, pk, detail=True),
        status=exc.status_code,
        error=error_message(exc),
    )


def _signature(request: AuthenticatedHttpRequest, pk: int, signature_pk: int) -> Signature:
    agreement = get_visible(request, pk)
    return get_object_or_404(
        Signature.objects.select_related("request", "funder"),
        pk=signature_pk,
        request__agreement=agreement,
    )


def _send(
    request: AuthenticatedHttpRequest, pk: int, amendment_pk: int | None = None
) -> HttpResponse:
    agreement = get_visible(request, pk)
    if not is_agreement_staff(request.user, agreement):
        raise Http404
    amendment = None
    if amendment_pk is not None:
        amendment = get_object_or_404(agreement.amendments, pk=amendment_pk)
    try:
        signing.signature_request_send(actor=request.user, agreement=agreement, amendment=amendment)
    except DomainError as exc:
        return _page_error(request, pk, exc)
    messages.success(request, _("Document envoyé pour signature électronique."))
    return redirect(reverse("cpo:agreement_detail", args=[pk]) + "#signatures")


@login_required
@require_POST
def signature_send(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """« Envoyer pour signature »: freeze the agreement's document (or the decision's
    notification letter) and list its signatories."""
    return _send(request, pk)


@login_required
@require_POST
def amendment_signature_send(
    request: AuthenticatedHttpRequest, pk: int, amendment_pk: int
) -> HttpResponse:
    """« Envoyer l'avenant pour signature »: the same steps, for one amendment of a signed
    agreement (the association's representative, then each funder)."""
    return _send(request, pk, amendment_pk)


@login_required
@require_POST
def signature_code(request: AuthenticatedHttpRequest, pk: int, signature_pk: int) -> HttpResponse:
    """The representative asks for their one-time code by e-mail."""
    signature = _signature(request, pk, signature_pk)
    try:
        signing.signature_code_send(actor=request.user, signature=signature)
    except DomainError as exc:
        return _page_error(request, pk, exc)
    messages.success(
        request,
        _("Un code vous a été envoyé à %(email)s ; il est valable 10 minutes.")
        % {"email": request.user.email},
    )
    return redirect(reverse("cpo:agreement_detail", args=[pk]) + "#signatures")


@login_required
@require_POST
def signature_sign(request: AuthenticatedHttpRequest, pk: int, signature_pk: int) -> HttpResponse:
    """Sign: with the e-mailed code for the association, with the certificate for a funder."""
    signature = _signature(request, pk, signature_pk)
    ip_address = client_ip(request)
    try:
        if signature.party == SignatureParty.ORGANISATION:
            code = (request.POST.get("code") or "")[:20]
            signing.signature_sign_with_code(
                actor=request.user, signature=signature, code=code, ip_address=ip_address
            )
        else:
            signing.signature_sign_as_funder(
                actor=request.user, signature=signature, ip_address=ip_address
            )
    except DomainError as exc:
        return _page_error(request, pk, exc)
    messages.success(request, _("Signature enregistrée."))
    return redirect("cpo:agreement_detail", pk=pk)


@login_required
def signature_document(request: AuthenticatedHttpRequest, pk: int, request_pk: int) -> HttpResponse:
    """The signed PDF (so far), validated again before it leaves; a broken file is refused."""
    agreement = get_visible(request, pk)
    signature_request = get_object_or_404(SignatureRequest, pk=request_pk, agreement=agreement)
    try:
        content = signing.signed_document_bytes(actor=request.user, request=signature_request)
    except DomainError as exc:
        return _page_error(request, pk, exc)
    from .agreements import _pdf_response

    name = f"{agreement.reference}-signee.pdf"
    if signature_request.amendment is not None:
        name = f"{agreement.reference}-avenant-{signature_request.amendment.version - 1}-signe.pdf"
    return _pdf_response(content, name)


def completed_request(agreement: Agreement) -> SignatureRequest | None:
    """The electronic signature that signed the agreement itself, if any."""
    return (
        agreement.signature_requests.filter(
            state=SignatureRequestState.COMPLETED, amendment__isnull=True
        )
        .order_by("-completed_at")
        .first()
    )
