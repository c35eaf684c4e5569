"""Writes that change a signed agreement: amendments (avenants) and recoveries (titres de recette).

Amendment (docs/domain.md §4): any change to the yearly amounts, the duration, the objectives or the
co-funding is a new version of the agreement, kept with its reason, author and effective date.
What is already due (and, later, paid) is never rewritten:

- only PLANNED / ON_HOLD instalments of fiscal years on or after the effective date are cancelled
  and re-planned, with the agreement's instalment template (`cpo.schedules`) and the new
  `amendment_version`;
- a year part of which is already settled — instalments due (or beyond), plus recoveries offset
  against its instalments — keeps that part; the re-planned rest makes the year's sum exact
  (new amount − settled), refused when negative. The re-planned instalments take the template's
  slots that are not settled yet (e.g. the balance once the advance is due), their amounts in
  proportion to the template, odd cents to the later ones (the rounding rule of `cpo.schedules`);
  when every slot is settled, one extra instalment carries the rest;
- co-funding: unchanged funders keep their share of each year (each funder's rest = its share of
  the new amount − what it already settled; refused when negative). When the funders or shares
  change, the new shares apply to what is still to be paid: the rest of the year is split between
  the new funders. A funder that leaves keeps its row with a share of 0 (its past instalments point
  to it);
- shortening removes only years with nothing settled (their planned instalments and expected
  evaluation go; the amendment's `before` keeps the old figures); extending adds years and their
  evaluations; the final evaluation is always the last year's.

Invariant (tested): for each year, non-cancelled instalments + recoveries offset against the year's
instalments = the year's amount.

Recovery (docs/domain.md §4): unspent or misused money of a fiscal year is recovered, less the
reasonable surplus the agreement lets the association keep (`surplus_allowance_percent` of that
year's amount); it is then collected, offset against a later instalment, or cancelled.
"""

from .amendments import amendment_create, amendment_preview
from .common import (
    AMENDABLE,
    FINANCE,
    HUNDRED,
    MANAGERS,
    NOMINAL,
    NOT_SETTLED,
    OFFSETTABLE,
    RECOVERABLE,
    REPLANNABLE,
)
from .partner_addition import (
    partner_addition_answer,
    partner_addition_apply,
    partner_addition_check_permission,
    partner_addition_propose,
    partner_addition_withdraw,
)
from .partner_parts import amendment_partner_parts, payee_parts
from .partner_removal import amendment_partner_remove
from .recoveries import recovery_cancel, recovery_collect, recovery_issue, recovery_offset

__all__ = [
    "AMENDABLE",
    "FINANCE",
    "HUNDRED",
    "MANAGERS",
    "NOMINAL",
    "NOT_SETTLED",
    "OFFSETTABLE",
    "RECOVERABLE",
    "REPLANNABLE",
    "amendment_create",
    "amendment_partner_parts",
    "amendment_partner_remove",
    "partner_addition_answer",
    "partner_addition_apply",
    "partner_addition_check_permission",
    "partner_addition_propose",
    "partner_addition_withdraw",
    "payee_parts",
    "amendment_preview",
    "recovery_cancel",
    "recovery_collect",
    "recovery_issue",
    "recovery_offset",
]
