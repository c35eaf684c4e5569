"""Reads for the partners' reports of a collective file's annual evaluation (docs/domain.md §9):
which partners owe a report, each one's share of the year, which reports are still awaited."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.models import Organisation, User
from core.money import ZERO, split_exact
from core.permissions import organisation_ids_of
from grants.models import ApplicationPartner, PartnerState

from .models import Evaluation, InstalmentState
from .models_partner_additions import PartnerAddition, PartnerAdditionState
from .models_partner_reports import PartnerReport, PartnerReportState


@dataclass
class PartnerPart:
    """One partner's line on the evaluation page: its share of the year and its report (None while
    nothing was filed or marked)."""

    organisation: Organisation
    share: Decimal
    report: PartnerReport | None

    @property
    def state(self) -> str:
        return self.report.state if self.report else PartnerReportState.EXPECTED

    @property
    def state_label(self) -> str:
        if self.report:
            return self.report.get_state_display()
        return str(PartnerReportState.EXPECTED.label)

    @property
    def is_pending(self) -> bool:
        return self.state == PartnerReportState.EXPECTED


def evaluation_partners(evaluation: Evaluation) -> list[ApplicationPartner]:
    """The accepted partners of the agreement's collective file (none for a file of one
    organisation, or an imported agreement) that owe a report for the evaluated year."""
    application_id = evaluation.agreement.application_id
    if application_id is None:
        return []
    # A partner added by amendment reports from the first fiscal year it has a part of.
    joined_later = [
        organisation_id
        for organisation_id, parts in PartnerAddition.objects.filter(
            agreement_id=evaluation.agreement_id, state=PartnerAdditionState.APPLIED
        ).values_list("organisation_id", "parts")
        if parts and min(int(year) for year in parts) > evaluation.fiscal_year
    ]
    return list(
        ApplicationPartner.objects.filter(
            application_id=application_id,
            state=PartnerState.ACCEPTED,
            organisation__isnull=False,
        )
        .exclude(organisation_id__in=joined_later)
        .select_related("organisation")
        .order_by("pk")
    )


def _shares(evaluation: Evaluation, partners: list[ApplicationPartner]) -> dict[int, Decimal]:
    """Each partner's share of the evaluated year. Paid per partner: what its instalments of that
    year plan (cancelled ones aside). Paid to the lead: the year's amount split in proportion to
    the approved parts (the lead keeps the rest), exact to the cent."""
    agreement = evaluation.agreement
    year = evaluation.fiscal_year
    per_partner = agreement.instalments.filter(beneficiary__isnull=False)
    if per_partner.exists():
        shares: dict[int, Decimal] = {}
        for beneficiary_id, amount in (
            per_partner.filter(year__fiscal_year=year)
            .exclude(state=InstalmentState.CANCELLED)
            .values_list("beneficiary_id", "amount")
        ):
            shares[beneficiary_id] = shares.get(beneficiary_id, ZERO) + amount
        return shares
    year_row = agreement.years.filter(fiscal_year=year).first()
    parts = [p.approved_amount or ZERO for p in partners]
    lead_part = agreement.total_amount - sum(parts, ZERO)
    if year_row is None or not agreement.total_amount or lead_part < 0:
        return {}
    split = split_exact(year_row.amount, [lead_part, *parts])[1:]
    return {
        p.organisation_id: amount
        for p, amount in zip(partners, split, strict=True)
        if p.organisation_id
    }


def partner_parts(evaluation: Evaluation) -> list[PartnerPart]:
    """Every accepted partner of the file with its share of the year and its report."""
    partners = evaluation_partners(evaluation)
    if not partners:
        return []
    reports = {r.organisation_id: r for r in evaluation.partner_reports.all()}
    shares = _shares(evaluation, partners)
    return [
        PartnerPart(
            organisation=p.organisation,
            share=shares.get(p.organisation.pk, ZERO),
            report=reports.get(p.organisation.pk),
        )
        for p in partners
        if p.organisation is not None
    ]


def pending_partners(evaluation: Evaluation) -> list[Organisation]:
    """The partners whose report is neither filed nor marked missing: the lead cannot file yet."""
    return [part.organisation for part in partner_parts(evaluation) if part.is_pending]


def partner_part_of(user: User, evaluation: Evaluation) -> PartnerPart | None:
    """The user's organisation's part, if it is a partner of the file (the lead has none)."""
    ids = organisation_ids_of(user)
    if not ids or evaluation.agreement.organisation_id in ids:
        return None
    return next((p for p in partner_parts(evaluation) if p.organisation.pk in ids), None)
