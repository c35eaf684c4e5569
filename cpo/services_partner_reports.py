"""The partners' reports of a collective file's annual evaluation (docs/domain.md §9).

Each accepted partner files its own part from its own account — its activity, its figures and what
it spent of its share of the year — while the evaluation is to be filed (expected, or rejected
and filed again). The lead files the whole evaluation (`cpo.services.evaluation_submit` refuses
while a partner's report is awaited) or marks a partner's part missing with a reason. Every step
writes one audit row on the evaluation, so its history tells who filed what."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from core.audit import audit_log
from core.clock import now
from core.errors import DomainError, PermissionDenied, TransitionNotAllowed
from core.fsm import allowed_transition_names, lock, transition_step
from core.limits import LONG_TEXT, SHORT_TEXT
from core.models import Organisation, User
from core.notifications import Msg, absolute_url, notify
from core.permissions import is_member

from .models import AgreementState, Evaluation, EvaluationState
from .models_partner_reports import PartnerReport, PartnerReportState
from .selectors_partner_reports import partner_parts

A, E, R = AgreementState, EvaluationState, PartnerReportState
#: While the evaluation is in one of these states, partners file and the lead marks missing parts.
OPEN_EVALUATION_STATES = (E.EXPECTED, E.REJECTED)
OPEN_AGREEMENT_STATES = (A.SIGNED, A.ACTIVE, A.SUSPENDED)


def _url(evaluation: Evaluation) -> str:
    return absolute_url(
        f"/conventions/{evaluation.agreement_id}/evaluations/{evaluation.fiscal_year}/"
    )


def _check_open(evaluation: Evaluation) -> None:
    if (
        evaluation.state not in OPEN_EVALUATION_STATES
        or evaluation.agreement.state not in OPEN_AGREEMENT_STATES
    ):
        raise TransitionNotAllowed(
            _("L'évaluation est « %(state)s » : les parts des partenaires ne changent plus.")
            % {"state": evaluation.get_state_display()},
            allowed=allowed_transition_names(evaluation),
        )


def _part(evaluation: Evaluation, organisation: Organisation) -> Any:
    part = next(
        (p for p in partner_parts(evaluation) if p.organisation.pk == organisation.pk), None
    )
    if part is None:
        raise PermissionDenied(_("Cette organisation n'est pas partenaire du dossier."))
    return part


def _amount(value: Any) -> Decimal:
    try:
        amount = Decimal(str(value if value not in (None, "") else "").replace(",", ".").strip())
    except (InvalidOperation, ValueError):
        raise DomainError(_("Indiquez un montant en euros."), field="spent_amount")
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise DomainError(_("Le montant doit être positif, au centime près."), field="spent_amount")
    if amount >= Decimal("10000000000"):
        raise DomainError(_("Ce montant est trop élevé."), field="spent_amount")
    return amount


def partner_report_file(
    *,
    actor: User,
    evaluation: Evaluation,
    organisation: Organisation,
    activity_report: str,
    figures: str,
    spent_amount: Any,
) -> PartnerReport:
    """A partner files (or corrects) its part of the annual evaluation: its activity, its key
    figures and what it spent of its share of the year. Only the partner's own members; every
    problem is reported at once; the lead is notified."""
    if not is_member(actor, organisation):
        raise PermissionDenied(_("Vous n'agissez pas pour cette organisation partenaire."))
    activity_report = (activity_report or "").strip()
    figures = (figures or "").strip()
    errors: dict[str, list[str]] = {}
    if not activity_report:
        errors["activity_report"] = [_("Décrivez l'activité réalisée par votre organisation.")]
    elif len(activity_report) > LONG_TEXT:
        errors["activity_report"] = [_("Ce texte est trop long.")]
    if len(figures) > SHORT_TEXT:
        errors["figures"] = [_("Ce texte est trop long.")]
    try:
        spent = _amount(spent_amount)
    except DomainError as exc:
        errors["spent_amount"] = [str(exc.message)]
    if errors:
        raise DomainError(_("Votre part de l'évaluation est incomplète."), errors=errors)
    with transaction.atomic():
        evaluation = lock(evaluation)
        _check_open(evaluation)
        part = _part(evaluation, organisation)
        report, _created = PartnerReport.objects.get_or_create(
            evaluation=evaluation, organisation=organisation
        )
        report = lock(report)
        source = transition_step(report, "file")
        report.activity_report, report.figures, report.spent_amount = (
            activity_report,
            figures,
            spent,
        )
        report.share_amount = part.share
        report.filed_by, report.filed_at = actor, now()
        report.save()
        audit_log(
            actor=actor,
            obj=evaluation,
            action="cpo.evaluation.partner_report_filed",
            source=source,
            target=report.state,
            payload={
                "partner": organisation.name,
                "organisation_id": organisation.pk,
                "share_amount": part.share,
                "spent_amount": spent,
            },
        )
        notify(
            users=evaluation.agreement.organisation.members.all(),
            title=Msg(
                gettext_noop("%(org)s a déposé sa part de l'évaluation %(year)s (%(ref)s)"),
                org=organisation.name,
                year=evaluation.fiscal_year,
                ref=evaluation.agreement.reference,
            ),
            url=_url(evaluation),
        )
    return report


def partner_report_mark_missing(
    *, actor: User, evaluation: Evaluation, organisation: Organisation, reason: str
) -> PartnerReport:
    """The lead files without a partner's part: the part is marked missing, with the reason the
    instructor will read. Only the lead's members; a part already filed cannot be marked."""
    reason = (reason or "").strip()
    if not is_member(actor, evaluation.agreement.organisation):
        raise PermissionDenied(_("Seul le chef de file peut déclarer une part manquante."))
    if not reason:
        raise DomainError(_("Indiquez pourquoi cette part manque."), field="reason")
    if len(reason) > SHORT_TEXT:
        raise DomainError(_("Ce texte est trop long."), field="reason")
    with transaction.atomic():
        evaluation = lock(evaluation)
        _check_open(evaluation)
        part = _part(evaluation, organisation)
        report, _created = PartnerReport.objects.get_or_create(
            evaluation=evaluation, organisation=organisation
        )
        report = lock(report)
        if report.state == R.FILED:
            raise TransitionNotAllowed(
                _("%(org)s a déjà déposé sa part.") % {"org": organisation.name},
                allowed=allowed_transition_names(report),
            )
        if report.state == R.MISSING and report.missing_reason == reason:
            return report
        source = report.state
        if report.state == R.EXPECTED:
            transition_step(report, "mark_missing")
        report.missing_reason = reason
        report.share_amount = part.share
        report.filed_by, report.filed_at = actor, now()
        report.save()
        audit_log(
            actor=actor,
            obj=evaluation,
            action="cpo.evaluation.partner_report_missing",
            source=source,
            target=report.state,
            reason=reason,
            payload={"partner": organisation.name, "organisation_id": organisation.pk},
        )
        notify(
            users=organisation.members.all(),
            title=Msg(
                gettext_noop(
                    "Le chef de file déposera l'évaluation %(year)s (%(ref)s) sans votre part"
                ),
                year=evaluation.fiscal_year,
                ref=evaluation.agreement.reference,
            ),
            body=reason,
            url=_url(evaluation),
        )
    return report
