"""Electronic signature of an agreement's documents (docs/domain.md §10; why and how:
docs/decisions/2026-12-07-electronic-signature.md).

- `signature_request_send`: the document (agreement, notification letter or amendment) is frozen —
  its bytes stored, its SHA-256 recorded — and the signatures it requires are listed in order: the
  association's legal representative first, then each funder's authorised signatory (a decision's
  notification letter is the funders' alone).
- `signature_code_send` / `signature_sign_with_code`: the representative receives a one-time code by
  e-mail (only its hash is kept; 10 minutes; 5 attempts; one code a minute, five an hour) and, once
  it is checked, the platform seals the PDF on their behalf (simple electronic signature, eIDAS
  art. 3 (10)) with the evidence — who, when, from which address, the document's hash, when the
  code was checked — embedded in the PDF as a JSON file and recorded here.
- `signature_sign_as_funder`: the funder's authorised signatory signs with the funder's certificate
  (PKCS#12), as an incremental update that leaves the first signature valid.
- When the last signature is in, the whole file is validated again and the agreement becomes
  « signed » (its signed copy is that PDF); `signed_document_bytes` validates it again on every
  download and refuses a broken file, with an audit row.

Every step is audited; a refusal that must be remembered (a wrong code, a document changed since it
was sent, a refused certificate, a broken file) is committed before the error is raised.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import secrets
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from core.audit import audit_log
from core.clock import now
from core.errors import DomainError, PermissionDenied, TransitionNotAllowed
from core.fsm import apply_transition, lock
from core.models import Membership, RoleAssignment, User
from core.notifications import Msg, notify
from core.tasks import send_email

from .. import documents
from ..models import Agreement, AgreementState, Amendment
from ..models_signatures import (
    DocumentKind,
    FunderCertificate,
    Signature,
    SignatureCode,
    SignatureParty,
    SignatureRequest,
    SignatureRequestState,
    SignatureState,
)
from ..services.common import _staff
from ..services.lifecycle import agreement_mark_signed, agreement_send_for_signature
from . import pdf as pades

R, S = SignatureRequestState, SignatureState
CODE_THROTTLE = datetime.timedelta(minutes=1)
CODES_PER_HOUR = 5
AMENDABLE = (AgreementState.SIGNED, AgreementState.ACTIVE, AgreementState.SUSPENDED)


# --------------------------------------------------------------------------- reads


def _render(agreement: Agreement, amendment: Amendment | None) -> tuple[str, bytes, str]:
    """The document to sign now: its kind, its bytes and its file name."""
    if amendment is not None:
        rendered = documents.amendment_document(amendment)
        return DocumentKind.AMENDMENT, rendered.content, rendered.filename
    rendered = documents.agreement_document(agreement)
    kind = (
        DocumentKind.NOTIFICATION
        if agreement.kind == Agreement.Kind.DECISION
        else DocumentKind.AGREEMENT
    )
    return kind, rendered.content, rendered.filename


def next_signature(request: SignatureRequest) -> Signature | None:
    """The signature expected now (the first one not yet given), or None when all are in."""
    return request.signatures.filter(state=S.PENDING).order_by("position").first()


def can_sign_for_organisation(user: User, agreement: Agreement) -> bool:
    """The organisation's legal representative, or a member given the power to sign."""
    return Membership.objects.filter(
        user=user, organisation_id=agreement.organisation_id, can_sign=True
    ).exists()


def can_sign_for_funder(user: User, funder_id: int | None) -> bool:
    """A staff role representing that funder, with the signing power."""
    return (
        funder_id is not None
        and user.is_authenticated
        and RoleAssignment.objects.filter(user=user, funder_id=funder_id, can_sign=True).exists()
    )


def _current_bytes(request: SignatureRequest) -> bytes:
    field = request.signed if request.signed else request.original
    with field.open("rb") as handle:
        return bytes(handle.read())


def _expected(request: SignatureRequest) -> list[pades.Expected]:
    return [
        pades.Expected(
            s.field_name,
            s.certificate_subject,
            s.signed_at,
            timestamped=s.timestamped_at is not None,
        )
        for s in request.signatures.filter(state=S.SIGNED).order_by("position")
        if s.signed_at is not None
    ]


# --------------------------------------------------------------------------- sending


def signature_request_send(
    *, actor: User, agreement: Agreement, amendment: Amendment | None = None
) -> SignatureRequest:
    """Freeze the document and list the signatures it requires, in order.

    The agreement (or notification letter) of a draft or sent agreement, or an amendment of a
    signed one. Instruction and programme managers only; every funder must have its signing
    certificate configured. Sending again while a request is pending returns it unchanged."""
    _staff(actor)
    if agreement.application_id is None:
        raise DomainError(
            _("Cette convention a été importée : son document n'est pas généré par Pluriel."),
            code="imported",
        )
    funders = list(agreement.funders.select_related("funder").order_by("pk"))
    missing = [
        str(link.funder)
        for link in funders
        if not FunderCertificate.objects.filter(funder_id=link.funder_id).exists()
    ]
    if missing:
        raise DomainError(
            _("Aucun certificat de signature n'est configuré pour : %(funders)s.")
            % {"funders": ", ".join(missing)},
            code="certificate_missing",
        )
    if not funders:
        raise DomainError(_("La convention n'a aucun financeur pour la signer."))
    with transaction.atomic():
        agreement = lock(agreement)
        pending = SignatureRequest.objects.filter(
            agreement=agreement, amendment=amendment, state=R.PENDING
        ).first()
        if pending is not None:
            return pending
        if amendment is None:
            if agreement.state == AgreementState.DRAFT:
                agreement = agreement_send_for_signature(actor=actor, agreement=agreement)
            elif agreement.state != AgreementState.SENT_FOR_SIGNATURE:
                raise TransitionNotAllowed(
                    _("La convention n'est plus à signer (état « %(state)s »).")
                    % {"state": agreement.get_state_display()}
                )
        elif agreement.state not in AMENDABLE:
            raise TransitionNotAllowed(_("Un avenant ne se signe que sur une convention signée."))
        kind, content, filename = _render(agreement, amendment)
        request = SignatureRequest(
            agreement=agreement,
            amendment=amendment,
            document_kind=kind,
            filename=filename[:200],
            document_sha256=pades.sha256(content),
            created_by=actor,
            created_at=now(),
        )
        request.original.save(filename, ContentFile(content), save=False)
        request.save()
        parties: list[Signature] = []
        if kind != DocumentKind.NOTIFICATION:
            parties.append(Signature(request=request, party=SignatureParty.ORGANISATION))
        parties += [
            Signature(request=request, party=SignatureParty.FUNDER, funder_id=link.funder_id)
            for link in funders
        ]
        for position, signature in enumerate(parties, start=1):
            signature.position = position
        Signature.objects.bulk_create(parties)
        audit_log(
            actor=actor,
            obj=agreement,
            action="cpo.signature.requested",
            payload={
                "request": request.pk,
                "document": kind,
                "sha256": request.document_sha256,
                "signatories": [
                    s.party if s.funder_id is None else f"funder:{s.funder_id}" for s in parties
                ],
            },
        )
        first = parties[0]
        if first.party == SignatureParty.ORGANISATION:
            users = User.objects.filter(
                memberships__organisation_id=agreement.organisation_id,
                memberships__can_sign=True,
            )
        else:
            users = User.objects.filter(
                role_assignments__funder=first.funder, role_assignments__can_sign=True
            )
        notify(
            users=list(users),
            title=Msg(
                gettext_noop("Document à signer électroniquement : %(ref)s"),
                ref=agreement.reference,
            ),
        )
    return request


def _fresh(signature: Signature) -> Signature:
    """The signature and its request as stored now (a caller's copy may be stale)."""
    return Signature.objects.select_related(
        "request__agreement__organisation", "request__amendment", "funder"
    ).get(pk=signature.pk)


def _check_turn(signature: Signature) -> SignatureRequest:
    request = signature.request
    if request.state != R.PENDING:
        raise TransitionNotAllowed(
            _("Cette demande de signature n'est plus en cours (%(state)s).")
            % {"state": request.get_state_display()}
        )
    if signature.state != S.PENDING:
        raise TransitionNotAllowed(_("Cette signature a déjà été donnée."))
    expected = next_signature(request)
    if expected is None or expected.pk != signature.pk:
        raise TransitionNotAllowed(
            _(
                "Ce n'est pas encore votre tour : les signatures se font dans l'ordre de la convention."
            )
        )
    return request


def _check_unchanged(actor: User, request: SignatureRequest) -> None:
    """Refuse (and close the request) when the document generated now differs from the one sent,
    or when the stored file is not the one recorded."""
    _kind, content, _name = _render(request.agreement, request.amendment)
    current = _current_bytes(request)
    recorded = request.signed_sha256 or request.document_sha256
    if pades.sha256(content) == request.document_sha256 and pades.sha256(current) == recorded:
        return
    with transaction.atomic():
        locked = lock(request)
        if locked.state == R.PENDING:
            apply_transition(
                locked,
                "invalidate",
                actor=actor,
                action="cpo.signature.invalidated",
                payload={"sent": request.document_sha256, "now": pades.sha256(content)},
            )
    raise DomainError(
        _(
            "Le document a changé depuis son envoi pour signature : la demande est annulée, "
            "il doit être renvoyé pour signature."
        ),
        code="document_changed",
    )


def _refuse(actor: User, signature: Signature, exc: DomainError) -> DomainError:
    """Remember a refused signature (its reason) before the error reaches the signatory."""
    with transaction.atomic():
        audit_log(
            actor=actor,
            obj=signature.request.agreement,
            action="cpo.signature.refused",
            reason=str(exc.message)[:500],
            payload={"signature": signature.pk, "code": exc.code},
        )
    return exc


# --------------------------------------------------------------------------- the association


def _code_hash(signature: Signature, user: User, code: str) -> str:
    key = str(settings.SECRET_KEY).encode()
    return hmac.new(key, f"{signature.pk}:{user.pk}:{code}".encode(), hashlib.sha256).hexdigest()


def _representative(actor: User, signature: Signature) -> SignatureRequest:
    """Permission first, then the order and the state."""
    signature = _fresh(signature)
    if signature.party != SignatureParty.ORGANISATION:
        raise PermissionDenied(_("Cette signature est celle d'un financeur."))
    if not can_sign_for_organisation(actor, signature.request.agreement):
        raise PermissionDenied(
            _(
                "Vous n'avez pas le pouvoir de signer pour cette association : seul·e son "
                "représentant·e légal·e ou une personne ayant délégation le peut."
            )
        )
    return _check_turn(signature)


def signature_code_send(*, actor: User, signature: Signature) -> SignatureCode:
    """E-mail a one-time code to the association's representative (the code itself is never
    stored: only its keyed hash). At most one a minute and five an hour."""
    signature = _fresh(signature)
    request = _representative(actor, signature)
    _check_unchanged(actor, request)
    moment = now()
    recent = SignatureCode.objects.filter(
        signature=signature, user=actor, created_at__gt=moment - datetime.timedelta(hours=1)
    )
    last = recent.order_by("-created_at").first()
    if last is not None and moment - last.created_at < CODE_THROTTLE:
        raise DomainError(
            _("Un code vient d'être envoyé : attendez une minute avant d'en demander un autre."),
            code="throttled",
        )
    if recent.count() >= CODES_PER_HOUR:
        raise DomainError(_("Trop de codes demandés : réessayez dans une heure."), code="throttled")
    code = f"{secrets.randbelow(10**6):06d}"
    minutes = settings.SIGNATURE_CODE_MINUTES
    agreement = request.agreement
    with transaction.atomic():
        # One code at a time: a new one cancels the older ones.
        SignatureCode.objects.filter(signature=signature, used_at__isnull=True).update(
            used_at=moment
        )
        row = SignatureCode.objects.create(
            signature=signature,
            user=actor,
            code_hash=_code_hash(signature, actor, code),
            created_at=moment,
            expires_at=moment + datetime.timedelta(minutes=minutes),
        )
        audit_log(
            actor=actor,
            obj=agreement,
            action="cpo.signature.code_sent",
            payload={"signature": signature.pk, "to": actor.email},
        )
        subject = _("[Pluriel] Votre code de signature — %(ref)s") % {"ref": agreement.reference}
        body = _(
            "Bonjour,\n\nVotre code pour signer « %(title)s » (%(ref)s) au nom de %(org)s : "
            "%(code)s\n\nIl est valable %(minutes)s minutes et ne sert qu'une fois. Si vous "
            "n'avez pas demandé ce code, ignorez ce message.\n"
        ) % {
            "title": agreement.title,
            "ref": agreement.reference,
            "org": agreement.organisation.name,
            "code": code,
            "minutes": minutes,
        }
        recipients = [actor.email]
        transaction.on_commit(lambda: send_email.delay(str(subject), str(body), recipients))
    return row


def _check_code(actor: User, signature: Signature, code: str) -> datetime.datetime:
    """The moment the code was verified; a wrong code counts one attempt (kept, even though the
    signature is refused)."""
    row = (
        SignatureCode.objects.filter(signature=signature, user=actor, used_at__isnull=True)
        .order_by("-created_at")
        .first()
    )
    if row is None:
        raise DomainError(
            _("Demandez d'abord un code : il vous sera envoyé par e-mail."), field="code"
        )
    moment = now()
    if moment >= row.expires_at:
        raise DomainError(
            _("Ce code a expiré : demandez-en un nouveau."), field="code", code="code_expired"
        )
    limit = settings.SIGNATURE_CODE_ATTEMPTS
    if row.attempts >= limit:
        raise DomainError(
            _("Trop d'essais : ce code est annulé, demandez-en un nouveau."),
            field="code",
            code="code_attempts",
        )
    given = "".join((code or "").split())
    if not hmac.compare_digest(row.code_hash, _code_hash(signature, actor, given)):
        with transaction.atomic():
            SignatureCode.objects.filter(pk=row.pk).update(attempts=row.attempts + 1)
            audit_log(
                actor=actor,
                obj=signature.request.agreement,
                action="cpo.signature.code_failed",
                payload={"signature": signature.pk, "attempt": row.attempts + 1},
            )
        left = limit - row.attempts - 1
        if left <= 0:
            raise DomainError(
                _("Code incorrect. Trop d'essais : ce code est annulé, demandez-en un nouveau."),
                field="code",
                code="code_attempts",
            )
        raise DomainError(
            _("Code incorrect (encore %(n)s essai(s)).") % {"n": left},
            field="code",
            code="code_wrong",
        )
    SignatureCode.objects.filter(pk=row.pk).update(used_at=moment)
    return moment


def _seal() -> tuple[Any, str]:
    owner = _("la plateforme (cachet)")
    signer = pades.load_signer(
        settings.SIGNATURE_SEAL_PKCS12, settings.SIGNATURE_PASSPHRASES.get("SEAL"), owner=owner
    )
    return signer, owner


def signature_sign_with_code(
    *, actor: User, signature: Signature, code: str, ip_address: str | None
) -> Signature:
    """The association's representative signs with the e-mailed code: the platform seals the PDF
    on their behalf, the evidence embedded (simple electronic signature)."""
    signature = _fresh(signature)
    request = _representative(actor, signature)
    _check_unchanged(actor, request)
    verified_at = _check_code(actor, signature, code)
    signer, owner = _seal()
    try:
        pades.check_certificate(signer.signing_cert, owner=owner)
    except DomainError as exc:
        raise _refuse(actor, signature, exc) from None
    agreement = request.agreement
    organisation = agreement.organisation
    before = _current_bytes(request)
    signed_at = now()
    name = actor.get_full_name() or actor.email
    evidence = {
        "type": "signature électronique simple (code à usage unique par e-mail)",
        "document": request.filename,
        "document_sha256": request.document_sha256,
        "hash_before": pades.sha256(before),
        "signer": {"name": name, "email": actor.email, "user_id": actor.pk},
        "on_behalf_of": {"name": organisation.name, "siret": organisation.siret or ""},
        "capacity": organisation.legal_rep_role or "représentant·e légal·e",
        "ip_address": ip_address or "",
        "code_sent_to": actor.email,
        "code_verified_at": verified_at.isoformat(),
        "signed_at": signed_at.isoformat(),
        "sealed_by": signer.signing_cert.subject.human_friendly,
        "request": request.pk,
        "agreement": agreement.reference,
    }
    content = pades.sign_pdf(
        before,
        signer,
        position=signature.position,
        field_name=signature.field_name,
        stamp_lines=[
            f"Signé électroniquement pour {organisation.name}",
            f"par {name} (code e-mail vérifié)",
            f"IP {ip_address or '?'} - cachet Pluriel",
        ],
        reason=f"Signature de {name} pour {organisation.name} - code vérifié le "
        f"{verified_at:%d/%m/%Y %H:%M:%S} UTC depuis {ip_address or '?'}",
        name=name,
        evidence=evidence,
    )
    return _record(
        actor,
        signature,
        content=content,
        before=before,
        signed_at=signed_at,
        ip_address=ip_address,
        subject=signer.signing_cert.subject.human_friendly,
        evidence=evidence,
    )


# --------------------------------------------------------------------------- the funders


def signature_sign_as_funder(
    *, actor: User, signature: Signature, ip_address: str | None
) -> Signature:
    """The funder's authorised signatory signs with the funder's certificate (PKCS#12), after
    the association: an incremental update, the earlier signature stays valid."""
    signature = _fresh(signature)
    if signature.party != SignatureParty.FUNDER or signature.funder is None:
        raise PermissionDenied(_("Cette signature est celle de l'association."))
    funder = signature.funder
    if not can_sign_for_funder(actor, funder.pk):
        raise PermissionDenied(
            _("Vous n'êtes pas habilité·e à signer pour %(funder)s.") % {"funder": funder}
        )
    request = _check_turn(signature)
    _check_unchanged(actor, request)
    config = FunderCertificate.objects.filter(funder=funder).first()
    owner = str(funder)
    try:
        if config is None:
            raise DomainError(
                _("Aucun certificat de signature n'est configuré pour %(funder)s.")
                % {"funder": funder},
                code="certificate_missing",
            )
        signer = pades.load_signer(
            config.pkcs12_path,
            settings.SIGNATURE_PASSPHRASES.get(config.passphrase_key),
            owner=owner,
        )
        pades.check_certificate(signer.signing_cert, owner=owner)
    except DomainError as exc:
        raise _refuse(actor, signature, exc) from None
    certificate = signer.signing_cert
    assert certificate is not None  # load_signer refuses a file without one
    before = _current_bytes(request)
    signed_at = now()
    name = actor.get_full_name() or actor.email
    content = pades.sign_pdf(
        before,
        signer,
        position=signature.position,
        field_name=signature.field_name,
        stamp_lines=[
            f"Signé électroniquement pour {funder}",
            f"par {name}",
            "certificat : " + certificate.subject.native.get("common_name", ""),
        ],
        reason=f"Signature de {name} pour {funder}",
        name=name,
    )
    return _record(
        actor,
        signature,
        content=content,
        before=before,
        signed_at=signed_at,
        ip_address=ip_address,
        subject=certificate.subject.human_friendly,
        evidence={"signer": {"name": name, "email": actor.email, "user_id": actor.pk}},
    )


# --------------------------------------------------------------------------- recording


def _record(
    actor: User,
    signature: Signature,
    *,
    content: bytes,
    before: bytes,
    signed_at: datetime.datetime,
    ip_address: str | None,
    subject: str,
    evidence: dict[str, Any],
) -> Signature:
    with transaction.atomic():
        request = lock(signature.request)
        signature = lock(signature)
        if request.state != R.PENDING or signature.state != S.PENDING:
            raise TransitionNotAllowed(_("Cette signature a déjà été donnée."))
        request.signed.save(f"{request.agreement.reference}-signee.pdf", ContentFile(content))
        request.signed_sha256 = pades.sha256(content)
        request.save(update_fields=["signed", "signed_sha256"])
        signature.signer = actor
        signature.signed_at = signed_at
        signature.timestamped_at = pades.signature_timestamp(content, signature.field_name)
        signature.ip_address = ip_address
        signature.hash_before = pades.sha256(before)
        signature.hash_after = request.signed_sha256
        signature.certificate_subject = subject[:500]
        signature.evidence = evidence
        signature = apply_transition(
            signature,
            "sign",
            actor=actor,
            action="cpo.signature.signed",
            payload={
                "request": request.pk,
                "position": signature.position,
                "party": signature.party,
                "funder": signature.funder_id,
                "ip_address": ip_address or "",
                "hash_before": signature.hash_before,
                "hash_after": signature.hash_after,
                "timestamp": signature.timestamped_at.isoformat()
                if signature.timestamped_at
                else "",
            },
            update_fields=[
                "signer",
                "signed_at",
                "timestamped_at",
                "ip_address",
                "hash_before",
                "hash_after",
                "certificate_subject",
                "evidence",
            ],
        )
        following = next_signature(request)
        if following is None:
            _complete(actor, request, content)
        elif following.funder_id is not None:
            notify(
                users=list(
                    User.objects.filter(
                        role_assignments__funder_id=following.funder_id,
                        role_assignments__can_sign=True,
                    )
                ),
                title=Msg(
                    gettext_noop("Document à signer électroniquement : %(ref)s"),
                    ref=request.agreement.reference,
                ),
            )
    return signature


def _complete(actor: User, request: SignatureRequest, content: bytes) -> None:
    """Every signature is in: validate the whole file once more, close the request and, for the
    agreement itself, record it as signed with this PDF as its signed copy."""
    pades.validate_signed_pdf(content, _expected(request))
    request.completed_at = now()
    apply_transition(
        request,
        "complete",
        actor=actor,
        action="cpo.signature.completed",
        payload={"request": request.pk, "sha256": request.signed_sha256},
        update_fields=["completed_at"],
    )
    if request.amendment_id is not None:
        return
    agreement = lock(request.agreement)
    agreement.signed_document.save(
        f"{agreement.reference}-signee.pdf", ContentFile(content), save=False
    )
    agreement_mark_signed(
        actor=actor,
        agreement=agreement,
        signed_on=request.completed_at.date(),
        payload={"electronic": True, "request": request.pk, "sha256": request.signed_sha256},
        update_fields=["signed_document"],
    )


# --------------------------------------------------------------------------- download


def signed_document_bytes(*, actor: User, request: SignatureRequest) -> bytes:
    """The signed PDF, validated again (pyHanko: integrity, trusted signer, signing time) and
    compared with the hash recorded; a broken file is refused and the refusal audited."""
    if not request.signed:
        raise DomainError(_("Ce document n'a encore aucune signature."), code="not_signed")
    content = _current_bytes(request)
    try:
        pades.validate_signed_pdf(content, _expected(request))
        if pades.sha256(content) != request.signed_sha256:
            raise pades.BrokenSignedDocument(
                _("Le fichier signé n'est pas celui enregistré. Téléchargement refusé."),
                code="signed_document_broken",
            )
    except DomainError as exc:
        with transaction.atomic():
            audit_log(
                actor=actor,
                obj=request.agreement,
                action="cpo.signature.document_rejected",
                reason=str(exc.message)[:500],
                payload={"request": request.pk, "sha256": pades.sha256(content)},
            )
        raise
    return content
