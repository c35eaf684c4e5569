"""Money by beneficiary organisation, collective files counted part by part (docs/domain.md §9).

- Requested and approved: the lead counts the file's amount less its partners' parts; each
  accepted partner counts its own part (asked, approved).
- Paid: the organisation each instalment paid — a partner's own instalments when the agreement
  pays each partner; everything paid to the lead when the lead redistributes (Pluriel records no
  redistribution, so the partners' parts stay with the lead: the page says so).
- Recovered: the agreement's organisation (the lead repays).
- Envelope and committed do not apply (a commitment is the whole agreement's, signed by the lead).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db.models import DecimalField, F, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from cpo.models import Instalment, Recovery, RecoveryState
from grants.models import Application, ApplicationPartner, PartnerState

from .base import I, S

if TYPE_CHECKING:
    from .money import _Source

MONEY_FIELD = DecimalField(max_digits=14, decimal_places=2)


def _partners_sum(field: str) -> Coalesce:
    """The sum of the accepted partners' `field` of the outer application (0 without partner)."""
    parts = (
        ApplicationPartner.objects.filter(
            application_id=OuterRef("pk"),
            state=PartnerState.ACCEPTED,
            **{f"{field}__isnull": False},
        )
        .order_by()
        .values("application_id")
        .annotate(total=Sum(field))
        .values("total")
    )
    return Coalesce(Subquery(parts, output_field=MONEY_FIELD), Value(Decimal("0")))


def organisation_sources(stage: str) -> list[_Source]:
    """The sources of one stage keyed by beneficiary organisation (empty: not applicable)."""
    from .money import _agreement_keys, _application_keys, _Source

    def application_keys() -> dict[str, Any]:
        return {**_application_keys(), "organisation": F("organisation_id")}

    def partner_keys() -> dict[str, Any]:
        # The application's keys (money._application_keys) read from its partner's row; only the
        # filters matter here (the dimension is the organisation).
        return {
            "programme": F("application__programme_id"),
            "call": F("application__call_id"),
            "mode": F("application__kind"),
            "pillar": F("application__pillar_id"),
            "fiscal_year": F("application__programme__fiscal_year"),
            "funder": F("application__programme__funders"),
            "organisation": F("organisation_id"),
        }

    if stage == "requested":
        return [
            _Source(
                lambda: Application.objects.exclude(state__in=[S.DRAFT, S.WITHDRAWN]),
                application_keys,
                lambda: F("requested_amount") - _partners_sum("requested_amount"),
            ),
            _Source(
                lambda: ApplicationPartner.objects.filter(state=PartnerState.ACCEPTED).exclude(
                    application__state__in=[S.DRAFT, S.WITHDRAWN]
                ),
                partner_keys,
                lambda: F("requested_amount"),
            ),
        ]
    if stage == "approved":
        return [
            _Source(
                lambda: Application.objects.filter(state=S.APPROVED, approved_amount__isnull=False),
                application_keys,
                lambda: F("approved_amount") - _partners_sum("approved_amount"),
            ),
            _Source(
                lambda: ApplicationPartner.objects.filter(
                    state=PartnerState.ACCEPTED,
                    approved_amount__isnull=False,
                    application__state=S.APPROVED,
                ),
                partner_keys,
                lambda: F("approved_amount"),
            ),
        ]
    if stage == "paid":
        return [
            _Source(
                lambda: Instalment.objects.filter(state=I.PAID),
                lambda: {
                    **_agreement_keys("agreement__"),
                    "fiscal_year": Coalesce(F("charged_year"), F("year__fiscal_year")),
                    "funder": F("funder__funder_id"),
                    "organisation": Coalesce(F("beneficiary_id"), F("agreement__organisation_id")),
                },
                lambda: F("amount"),
            )
        ]
    if stage == "recovered":
        return [
            _Source(
                lambda: Recovery.objects.filter(
                    state__in=[RecoveryState.COLLECTED, RecoveryState.OFFSET]
                ),
                lambda: {
                    **_agreement_keys("agreement__"),
                    "fiscal_year": F("fiscal_year"),
                    "organisation": F("agreement__organisation_id"),
                },
                lambda: F("amount"),
                lambda: F("amount") * F("agreement__funders__share"),
            )
        ]
    return []
