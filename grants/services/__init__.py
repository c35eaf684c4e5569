"""Writes for applications of the classic workflow, one module per concept:

- `workflow`: the permission predicates, and the helper every transition goes through (the
  transitions themselves are declared once in grants/transitions.py);
- `drafting`: creating and editing a draft, budget rows, renewal, attachments;
- `submission`: filing and withdrawing;
- `completion`: completion requests and their answers;
- `instruction`: eligibility, assignment, notes, opinions, scores, proposal to the committee;
- `approval`: the one decision path every funding mode's approval goes through, the envelope
  guard;
- `decision`: the committee's approval, refusal, reopening;
- `committee`: committee sessions and their decisions;
- `dispatch`: running a transition by name (API and pages).

This package re-exports their public functions, so callers write `from grants import services`.
"""

from .approval import (
    APPROVAL_PATHS,
    Approval,
    ApprovalPath,
    Notice,
    application_grant,
    audit_envelope_override,
    envelope_guard,
)
from .committee import (
    committee_record_decisions,
    committee_session_close,
    committee_session_create,
    committee_session_open,
    vote_outcome,
)
from .completion import (
    application_request_completion,
    application_resubmit,
    completion_requests_flag_overdue,
)
from .decision import (
    application_approve,
    application_reject,
    application_reopen,
)
from .dispatch import (
    run_transition,
)
from .drafting import (
    EDITABLE_FIELDS,
    application_attach,
    application_create,
    application_renew,
    application_set_budget_rows,
    application_update,
)
from .instruction import (
    application_add_note,
    application_assign,
    application_declare_eligible,
    application_declare_ineligible,
    application_dismiss,
    application_give_opinion,
    application_score,
    application_send_to_committee,
    application_start_review,
    applications_declare_eligible,
    applications_start_review,
)
from .partners import (
    PARTNERSHIP_OPEN_STATES,
    application_invite_partner,
    application_set_payment_flow,
    partner_accept,
    partner_decline,
    partner_draft_completion_answer,
    partner_leave,
    partner_update_part,
)
from .submission import (
    application_submit,
    application_withdraw,
)
from .workflow import (
    S,
    application_transition_check_permission,
    available_transitions,
    transition_specs,
)

__all__ = [
    "application_transition_check_permission",
    "PARTNERSHIP_OPEN_STATES",
    "application_invite_partner",
    "application_set_payment_flow",
    "partner_accept",
    "partner_decline",
    "partner_draft_completion_answer",
    "partner_leave",
    "partner_update_part",
    "APPROVAL_PATHS",
    "Approval",
    "ApprovalPath",
    "Notice",
    "application_grant",
    "EDITABLE_FIELDS",
    "S",
    "application_add_note",
    "application_approve",
    "application_assign",
    "application_attach",
    "application_create",
    "application_declare_eligible",
    "application_declare_ineligible",
    "application_dismiss",
    "application_give_opinion",
    "application_reject",
    "application_renew",
    "application_reopen",
    "application_request_completion",
    "application_resubmit",
    "application_score",
    "application_send_to_committee",
    "application_set_budget_rows",
    "application_start_review",
    "application_submit",
    "application_update",
    "applications_declare_eligible",
    "applications_start_review",
    "application_withdraw",
    "audit_envelope_override",
    "available_transitions",
    "committee_record_decisions",
    "committee_session_close",
    "committee_session_create",
    "committee_session_open",
    "vote_outcome",
    "completion_requests_flag_overdue",
    "envelope_guard",
    "run_transition",
    "transition_specs",
]

from .budget_revision import (  # noqa: E402  (builds on the modules above)
    budget_revision_confirm,
    budget_revision_submit,
)
from .cofunding import (  # noqa: E402
    committee_record_part_decisions,
    funder_part_decide,
    funder_part_propose,
    funder_part_set_note,
    funder_part_set_separate_agreement,
    funder_part_start_review,
    funder_parts_sync,
)

__all__ += [
    "budget_revision_confirm",
    "budget_revision_submit",
    "committee_record_part_decisions",
    "funder_part_decide",
    "funder_part_propose",
    "funder_part_set_note",
    "funder_part_set_separate_agreement",
    "funder_part_start_review",
    "funder_parts_sync",
]
