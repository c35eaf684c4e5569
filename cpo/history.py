"""The electronic signature on the file's history page (grants/history.py): the audit rows of the
signature of every agreement of the file — on the agreement (sent, codes, refusals, the final
« signed »), on each request (completed, cancelled) and on each signature (who signed, for whom)
— each naming the document and the party (`detail`). Registered in CpoConfig.ready()."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db.models import Q
from django.utils.translation import gettext as _

from core.models import AuditLog
from grants.models import Application

from .models import Agreement
from .models_signatures import Signature, SignatureRequest

AGREEMENT_SIGNATURE_ACTIONS = Q(action__startswith="cpo.signature.") | Q(
    action__in=["cpo.agreement.sent_for_signature", "cpo.agreement.signed"]
)


def _document(request: SignatureRequest) -> str:
    if request.amendment is not None:
        name = _("Avenant n° %(n)s") % {"n": request.amendment.version - 1}
    else:
        name = str(request.get_document_kind_display())
    return f"{name} {request.agreement.reference}"


def _agreement_row_detail(
    row: AuditLog,
    agreements: dict[str, Agreement],
    requests: dict[str, SignatureRequest],
    signatures: dict[str, Signature],
) -> str:
    """The document an agreement's signature row is about: its request's, or its signature's
    request's (a code, a refusal), else the agreement itself."""
    payload = row.payload if isinstance(row.payload, dict) else {}
    request = requests.get(str(payload.get("request")))
    signature = signatures.get(str(payload.get("signature")))
    if request is None and signature is not None:
        request = requests.get(str(signature.request_id))
    if request is not None:
        return _document(request)
    return str(agreements[row.object_id].reference)


def signature_history(application: Application) -> list[AuditLog]:
    """The signature rows of the file's agreements, each with its `detail`."""
    # The file's manager: the file page prefetches them (with their funders) for its links.
    agreements = {str(a.pk): a for a in application.agreements.all()}
    if not agreements:
        return []
    requests = {
        str(r.pk): r
        for r in SignatureRequest.objects.filter(agreement_id__in=list(agreements)).select_related(
            "agreement", "amendment"
        )
    }
    signatures = {
        str(s.pk): s
        for s in Signature.objects.filter(request_id__in=[int(pk) for pk in requests])
        .select_related("funder", "request__agreement__organisation")
        .order_by()
    }
    of = ContentType.objects.get_for_model
    query = (
        Q(content_type=of(Agreement), object_id__in=list(agreements)) & AGREEMENT_SIGNATURE_ACTIONS
    )
    if requests:
        query |= Q(content_type=of(SignatureRequest), object_id__in=list(requests))
    if signatures:
        query |= Q(content_type=of(Signature), object_id__in=list(signatures))
    rows = list(AuditLog.objects.filter(query).select_related("actor", "content_type"))
    for row in rows:
        model = row.content_type.model_class()
        if model is Signature:
            signature = signatures[row.object_id]
            party = signature.funder or signature.request.agreement.organisation
            row.detail = _("%(document)s, pour %(party)s") % {  # type: ignore[attr-defined]
                "document": _document(requests[str(signature.request_id)]),
                "party": party,
            }
        elif model is SignatureRequest:
            row.detail = _document(requests[row.object_id])  # type: ignore[attr-defined]
        else:
            row.detail = _agreement_row_detail(row, agreements, requests, signatures)  # type: ignore[attr-defined]
        # The signature's own states (« À signer » → « Signée ») say nothing the label does not.
        row.source_label = row.target_label = ""  # type: ignore[attr-defined]
        row.source_state = row.target_state = ""
    return rows
