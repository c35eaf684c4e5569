"""The annual report's approval cycle (CGCT art. L. 1111-2; décret n° 2015-1118 du 3 septembre
2015; docs/domain.md §8): draft → submitted for opinions (at least one month to answer; no answer
counts as favourable) → approved by the council, with the date and reference of its deliberation.

What the report says is built by reporting (it reads grants, cpo and finance): reporting
registers the builder at startup (`register_report_builder`), and approval freezes its output."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from dateutil.relativedelta import relativedelta
from django.db import transaction
from django.utils.translation import gettext as _

from core.errors import DomainError
from core.fsm import apply_transition, lock
from core.models import User

from .models import AnnualReport, AnnualReportState, Contract, Meeting, Opinion
from .services import contract_write_check_permission

#: The conseils citoyens and municipal councils have at least one month to give their opinion.
OPINION_PERIOD = relativedelta(months=1)

ReportBuilder = Callable[[Contract, int], dict[str, Any]]
_builders: list[ReportBuilder] = []


def register_report_builder(builder: ReportBuilder) -> None:
    """reporting.contracts registers the function that builds a year's report as JSON blocks."""
    if builder not in _builders:
        _builders.append(builder)


def report_for(contract: Contract, year: int) -> AnnualReport | None:
    return AnnualReport.objects.filter(contract=contract, year=year).first()


def annual_report_submit(
    *,
    actor: User,
    contract: Contract,
    year: int,
    submitted_on: datetime.date,
    meeting: Meeting | None = None,
) -> AnnualReport:
    """Submit the year's report for opinions; the opinions are due one month later."""
    contract_write_check_permission(actor)
    if year not in contract.years:
        raise DomainError(_("Année hors de la période du contrat."), field="year")
    if meeting is not None and meeting.contract_id != contract.pk:
        raise DomainError(_("Instance d'un autre contrat."), field="meeting")
    with transaction.atomic():
        report, _created = AnnualReport.objects.get_or_create(contract=contract, year=year)
        report = lock(report)
        report.submitted_on = submitted_on
        report.opinions_due_on = submitted_on + OPINION_PERIOD
        report.meeting = meeting
        apply_transition(
            report,
            "submit",
            actor=actor,
            action="contracts.annual_report.submitted",
            update_fields=["submitted_on", "opinions_due_on", "meeting"],
            payload={"opinions_due_on": report.opinions_due_on},
        )
    return report


def missing_opinions(report: AnnualReport) -> list[str]:
    """QPVs of the contract whose conseil citoyen gave no opinion for the year."""
    given = set(
        Opinion.objects.filter(contract=report.contract, year=report.year).values_list(
            "qpv_id", flat=True
        )
    )
    return [q.name for q in report.contract.qpvs.order_by("name") if q.pk not in given]


def annual_report_approve(
    *,
    actor: User,
    report: AnnualReport,
    approved_on: datetime.date,
    deliberation_ref: str,
) -> AnnualReport:
    """The council approved the report: record the date and the deliberation, and freeze the
    version approved. Before the month for opinions is over, only if every conseil citoyen has
    answered."""
    contract_write_check_permission(actor)
    if not deliberation_ref.strip():
        raise DomainError(_("Indiquez la référence de la délibération."), field="deliberation_ref")
    if not _builders:
        raise DomainError(_("Le rapport ne peut pas être généré."))
    with transaction.atomic():
        report = lock(report)
        if report.state == AnnualReportState.APPROVED:
            return report
        if report.submitted_on and approved_on < report.submitted_on:
            raise DomainError(
                _("L'approbation ne peut pas précéder la soumission."), field="approved_on"
            )
        missing = missing_opinions(report)
        if report.opinions_due_on and approved_on < report.opinions_due_on and missing:
            raise DomainError(
                _(
                    "Les avis sont attendus jusqu'au %(date)s (un mois au moins) ; il manque "
                    "celui de : %(qpvs)s."
                )
                % {"date": report.opinions_due_on.strftime("%d/%m/%Y"), "qpvs": ", ".join(missing)},
                field="approved_on",
            )
        frozen = _builders[-1](report.contract, report.year)
        frozen.setdefault("blocks", []).insert(
            0,
            [
                "p",
                _("Approuvé le %(date)s — délibération %(ref)s.")
                % {"date": approved_on.strftime("%d/%m/%Y"), "ref": deliberation_ref.strip()},
            ],
        )
        report.frozen = frozen
        report.approved_on = approved_on
        report.deliberation_ref = deliberation_ref.strip()
        report.approved_by = actor
        apply_transition(
            report,
            "approve",
            actor=actor,
            action="contracts.annual_report.approved",
            update_fields=["frozen", "approved_on", "deliberation_ref", "approved_by"],
            payload={"approved_on": approved_on, "deliberation_ref": deliberation_ref.strip()},
        )
    return report
