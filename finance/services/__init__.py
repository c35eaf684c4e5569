"""Writes for the finance side of instalments (docs/domain.md §5): liquidation (service done
certified), payment runs with segregation of duties, the export handed to the accounting system, the
confirmations it returns, and the closing of a fiscal year.

Instalment life, finance side: due → approved → in_run → exported → paid; exported → due when the
accounting system rejects the payment (with its reason). Every step writes one audit row per
instalment, in the same transaction, set-based so a run of 20 000 payments stays a few queries.

- `liquidation`: certification of due instalments, and which instalments are payable;
- `runs`: creation, removal of items, cancellation and approval of runs; the hooks run when bank
  details change or an agreement stops;
- `export`: the files handed to the accounting system;
- `confirmations`: applying the accounting system's answer (paid or rejected), settling the runs;
- `fiscal_years`: the year an instalment is charged to, and the closing of a year;
- `common`: the role check, states and audit-row helpers they share.
"""

from .common import OPEN_RUN_STATES, PAYABLE_AGREEMENTS, second_approval_threshold
from .confirmations import confirmations_apply_rows
from .export import MissingLegalCommitments, missing_ej_items, payment_run_export
from .fiscal_years import CANCELLABLE, effective_year_q, fiscal_year_close, fiscal_year_is_closed
from .liquidation import instalment_unapprove, instalments_approve, payable_instalments
from .runs import (
    approval_refusal,
    bank_details_changed,
    instalments_withdraw_from_open_runs,
    payment_run_approve,
    payment_run_cancel,
    payment_run_create,
    payment_run_remove_items,
)

__all__ = [
    "MissingLegalCommitments",
    "missing_ej_items",
    "CANCELLABLE",
    "OPEN_RUN_STATES",
    "PAYABLE_AGREEMENTS",
    "approval_refusal",
    "bank_details_changed",
    "confirmations_apply_rows",
    "effective_year_q",
    "fiscal_year_close",
    "fiscal_year_is_closed",
    "instalment_unapprove",
    "instalments_approve",
    "instalments_withdraw_from_open_runs",
    "payable_instalments",
    "payment_run_approve",
    "payment_run_cancel",
    "payment_run_create",
    "payment_run_export",
    "payment_run_remove_items",
    "second_approval_threshold",
]
