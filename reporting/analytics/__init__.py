"""Analytics behind the dashboards (« Pilotage »): money at every stage, the multi-year forecast,
processing times, multi-year security and the residents' part (docs/domain.md §5, §7).

pandas lives here and only here (this package). Data is loaded narrow and summed in SQL first:
money by the dimension's key (amounts as whole cents, so integers cross the wire), the equal split
of a file between its neighbourhoods or themes by window functions in the same statement, days as
day numbers; pandas then pivots, ranks and shapes. Sums are exact; money leaves as `Decimal` with 2
places. Nothing here writes. Every function takes the same `Filters` (fiscal year, programme,
funder) and returns `Table`s (or a few figures) — plain rows the views render, draw and export
without touching pandas. Modules: `base` (filters, tables, helpers), `money` (stages, envelopes,
forecast), `times` (processing times), `security` (multi-year security, residents' part).

Definitions (shown on the pages too):
- Fiscal year of each stage: the programme's year for the envelope, the requests and the
  decisions; the year of signature for the commitment (AE are consumed when the agreement is
  signed; the first year for imported agreements without a signature date); the year an instalment
  is charged to (`charged_year`, else its agreement year) for payments and the forecast (CP); the
  recovery's year for recoveries.
- Requested: filed files (not drafts, not withdrawn). Approved: files approved, their amount.
  Committed: agreements signed, active, suspended or completed, their total; a terminated
  agreement commits what was paid on it. Paid: instalments paid. Recovered: recoveries collected or
  offset. Forecast (restes à payer): unpaid instalments of committed agreements.
- Funder: programme-level amounts (envelope, requested, approved) count under every funder of the
  programme; agreement-level amounts are split by each funder's share, payments are exact.
- Neighbourhood (QPV) and transition theme: a file that targets several of them is split equally
  between them, to the cent (the first ones take the leftover cents), so rows add up to the total.
- Processing times, in calendar days (Europe/Paris): submission → decision (accord or refusal;
  ineligibility and dismissal are not decisions on the merits; anti-call files, funded when
  sourced, are left out), decision → signature, signature → first payment. Median and 90th
  percentile are nearest-rank: at least half (nine in ten) of the files took that long or less —
  the same definition as the estimate shown on call pages (grants.selectors_times).
- On time: decided on or before the call's « décision attendue le » when the call sets it; else
  within 60 days of submission (the usual two-month answer delay of the administration).
"""

from .base import DIMENSIONS, SPLIT_DIMENSIONS, STAGES, Column, Filters, Table, nearest_rank
from .money import (
    envelope_consumption,
    fiscal_years,
    forecast,
    money_by_stage,
    remaining_to_pay,
    totals,
)
from .security import multi_year_security, residents_part
from .times import decision_time_overall, processing_times

__all__ = [
    "DIMENSIONS",
    "SPLIT_DIMENSIONS",
    "STAGES",
    "Column",
    "Filters",
    "Table",
    "decision_time_overall",
    "envelope_consumption",
    "fiscal_years",
    "forecast",
    "money_by_stage",
    "multi_year_security",
    "nearest_rank",
    "processing_times",
    "remaining_to_pay",
    "residents_part",
    "totals",
]
