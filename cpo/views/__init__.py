"""Pages of agreements: preparation from an approved application, the list, the agreement page
with its timeline and actions, and the downloads. The evaluation pages are in `evaluation.py`."""

from .agreements import (
    agreement_action,
    agreement_amend,
    agreement_detail,
    agreement_document,
    agreement_list,
    agreement_signed_copy,
    amendment_document,
    partnership_document,
    recovery_action,
    recovery_issue,
)
from .payments import my_payments
from .prepare import agreement_prepare
from .signatures import (
    amendment_signature_send,
    signature_code,
    signature_document,
    signature_send,
    signature_sign,
)

__all__ = [
    "agreement_action",
    "agreement_amend",
    "agreement_detail",
    "agreement_document",
    "agreement_list",
    "agreement_prepare",
    "agreement_signed_copy",
    "amendment_document",
    "amendment_signature_send",
    "my_payments",
    "partnership_document",
    "recovery_action",
    "signature_code",
    "signature_document",
    "signature_send",
    "signature_sign",
    "recovery_issue",
]
