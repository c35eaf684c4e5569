"""Writes for agreements: creation from an approved application, signature and life cycle, the
daily job that makes instalments due (or holds them), and the annual evaluation that releases or
blocks the next payments (docs/domain.md §4).

- `creation`: agreements built from approved applications (one or in bulk), their years,
  instalments and expected evaluations;
- `lifecycle`: signature, activation, suspension, completion, termination, and the daily job;
- `evaluations`: submission, review and reminders of the annual evaluations;
- `common`: the guards and figures they share.
"""

from .common import ACCEPTED_EVALUATIONS, LATE_AFTER_DAYS, REMINDER_DAYS, funder_of
from .creation import (
    EVALUATION_COLUMNS,
    INSTALMENT_COLUMNS,
    agreement_create_from_application,
    agreement_spec,
    agreement_specs,
    agreements_create_bulk,
    evaluation_due_on,
    part_agreements,
)
from .evaluations import (
    REVIEW_OUTCOMES,
    evaluation_prefill,
    evaluation_review,
    evaluation_submit,
    evaluation_submit_check_permission,
    evaluations_remind,
)
from .lifecycle import (
    AGREEMENT_ACTIONS,
    ROW_FIELDS,
    agreement_activate,
    agreement_resume,
    agreement_send_for_signature,
    agreement_sign,
    agreement_suspend,
    agreement_terminate,
    instalments_refresh,
)

__all__ = [
    "ACCEPTED_EVALUATIONS",
    "AGREEMENT_ACTIONS",
    "EVALUATION_COLUMNS",
    "INSTALMENT_COLUMNS",
    "LATE_AFTER_DAYS",
    "REMINDER_DAYS",
    "REVIEW_OUTCOMES",
    "ROW_FIELDS",
    "agreement_activate",
    "agreement_create_from_application",
    "agreement_resume",
    "agreement_send_for_signature",
    "agreement_sign",
    "agreement_spec",
    "agreement_specs",
    "part_agreements",
    "agreement_suspend",
    "agreement_terminate",
    "agreements_create_bulk",
    "evaluation_due_on",
    "evaluation_prefill",
    "evaluation_review",
    "evaluation_submit",
    "evaluation_submit_check_permission",
    "evaluations_remind",
    "funder_of",
    "instalments_refresh",
]
