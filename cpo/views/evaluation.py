"""The annual evaluation pages: the association files its reports (activity, CERFA n° 15059
financial report, indicators, approved accounts); the instructor reviews them on the same page,
beside the panel's assessments for a call for solutions; the lists of evaluations to file and to
review. Every write goes through a service."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from calls.models import Call, CallMode
from core.audit import history_for
from core.errors import DomainError
from core.forms import add_domain_error
from core.http import AuthenticatedHttpRequest
from core.models import DocumentKind, OrganisationDocument
from core.permissions import is_member, organisation_ids_of
from core.services import document_upload
from grants.budget import CHARGE_ACCOUNTS
from grants.models import Application

from .. import services, services_evaluation
from ..forms_evaluation import ACCOUNT_LABELS, EvaluationForm, ReviewForm
from ..forms_partner_reports import MissingPartForm, PartnerReportForm
from ..models import AgreementState, Evaluation, EvaluationState
from ..selectors_evaluation import (
    OPEN_AGREEMENTS,
    TO_FILE,
    approved_accounts_documents,
    can_read_as_staff,
    can_review,
    evaluations_to_file,
    evaluations_visible_to,
    panel_assessments_for,
    review_queue,
)
from ..selectors_partner_reports import PartnerPart, partner_part_of, partner_parts
from .evaluation_parts import partner_post

E = EvaluationState
# Errors of core.services.document_upload, shown next to the evaluation form's own fields.
UPLOAD_FIELDS = {"file": "accounts_file", "valid_until": "accounts_valid_until", "kind": None}


def _agreement_url(evaluation: Evaluation, anchor: str = "") -> str | None:
    """The agreement page (Engineer N's cpo:agreement_detail), if it is installed."""
    try:
        url = reverse("cpo:agreement_detail", args=[evaluation.agreement_id])
    except NoReverseMatch:
        return None
    return f"{url}#{anchor}" if anchor else url


def evaluation_url(evaluation: Evaluation) -> str:
    return reverse("cpo:evaluation_detail", args=[evaluation.agreement_id, evaluation.fiscal_year])


def _rows(evaluation: Evaluation) -> list[dict[str, Any]]:
    """The financial report's rows: the filed lines (a rejected evaluation is filed again from
    them), else the planned amounts of the application's budget."""
    filed = list(evaluation.budget_lines.all())
    if filed:
        return [{"account": b.account, "planned": b.planned, "actual": b.actual} for b in filed]
    return services.evaluation_prefill(evaluation)


def _indicators(evaluation: Evaluation) -> list[dict[str, Any]]:
    filed = {v.label: v.actual for v in evaluation.indicator_values.all()}
    return [
        {"label": i.label, "unit": i.unit, "target": i.target, "actual": filed.get(i.label)}
        for i in (
            cast(Application, evaluation.agreement.application).indicators.all()
            if evaluation.agreement.application_id
            else []
        )
    ]


def _gap(planned: Decimal, actual: Decimal) -> dict[str, Any]:
    gap = actual - planned
    percent = (gap * 100 / planned).quantize(Decimal("0.1")) if planned else None
    return {"planned": planned, "actual": actual, "gap": gap, "gap_percent": percent}


def _report(evaluation: Evaluation) -> dict[str, Any]:
    """The filed financial report with its gaps per line and per side (charges, products)."""
    lines = list(evaluation.budget_lines.all())
    for line in lines:
        line.label = ACCOUNT_LABELS.get(line.account, line.account)  # type: ignore[attr-defined]
    sides = []
    for key, title, accounts in (
        ("charges", _("Charges"), set(CHARGE_ACCOUNTS)),
        ("products", _("Produits"), None),
    ):
        rows = [
            line
            for line in lines
            if (line.account in accounts if accounts else line.account not in CHARGE_ACCOUNTS)
        ]
        if rows:
            sides.append(
                {
                    "key": key,
                    "title": title,
                    "rows": rows,
                    "total": _gap(
                        sum((r.planned for r in rows), Decimal("0")),
                        sum((r.actual for r in rows), Decimal("0")),
                    ),
                }
            )
    indicators = []
    for value in evaluation.indicator_values.all():
        reached = (
            (value.actual * 100 / value.target).quantize(Decimal("1"))
            if value.target and value.actual is not None
            else None
        )
        indicators.append({"value": value, "reached_percent": reached})
    return {"sides": sides, "indicators": indicators}


@login_required
def evaluation_detail(
    request: AuthenticatedHttpRequest, agreement_pk: int, year: int
) -> HttpResponse:
    """One year's evaluation: the association's form while it is to be filed, the filed reports
    and their gaps otherwise; the instructor's review form once it is submitted."""
    evaluation = get_object_or_404(
        evaluations_visible_to(request.user), agreement_id=agreement_pk, fiscal_year=year
    )
    agreement = evaluation.agreement
    member = is_member(request.user, agreement.organisation)
    staff = can_read_as_staff(request.user)
    own_part = partner_part_of(request.user, evaluation)
    if not member and not staff and own_part is None:
        raise PermissionDenied
    is_open = evaluation.state in TO_FILE and agreement.state in OPEN_AGREEMENTS
    can_file = member and is_open
    parts = partner_parts(evaluation)
    part_form: PartnerReportForm | None = None
    missing_form: MissingPartForm | None = None
    if own_part is not None and is_open:
        part_form = _part_form(own_part)
    reviewer = can_review(request.user)
    can_review_now = reviewer and evaluation.state == E.SUBMITTED

    form = review_form = None
    status = 200
    if can_file:
        form = _evaluation_form(evaluation)
    if can_review_now:
        review_form = ReviewForm()

    if request.method == "POST":
        action = request.POST.get("action")
        if action == "submit":
            if not member:
                raise PermissionDenied
            form, status, done = _file(request, evaluation)
            if done:
                messages.success(
                    request,
                    _("Évaluation %(year)d déposée : l'instruction va l'examiner.")
                    % {"year": evaluation.fiscal_year},
                )
                return redirect(evaluation_url(evaluation))
        elif action in ("partner_report", "partner_missing"):
            if not is_open or (own_part is None if action == "partner_report" else not member):
                raise PermissionDenied
            outcome = partner_post(request, evaluation, action, own_part)
            if outcome.done:
                return redirect(evaluation_url(evaluation))
            status = outcome.status
            part_form = outcome.part_form or part_form
            missing_form = outcome.missing_form
        elif action == "review":
            if not reviewer:
                raise PermissionDenied
            review_form = ReviewForm(request.POST)
            if review_form.is_valid():
                try:
                    reviewed = services.evaluation_review(
                        actor=request.user,
                        evaluation=evaluation,
                        outcome=review_form.cleaned_data["outcome"],
                        comment=review_form.cleaned_data["comment"],
                    )
                except DomainError as exc:
                    add_domain_error(review_form, exc)
                    status = exc.status_code
                else:
                    messages.success(
                        request,
                        _("Évaluation %(year)d : %(outcome)s.")
                        % {"year": reviewed.fiscal_year, "outcome": reviewed.get_state_display()},
                    )
                    return redirect(evaluation_url(evaluation))
            else:
                status = 400
        else:
            status = 400

    assessments = []
    application = agreement.application
    is_solutions = (
        application is not None
        and bool(application.call_id)
        and cast(Call, application.call).mode == CallMode.SOLUTIONS_CALL
    )
    if staff and is_solutions:
        assessments = list(panel_assessments_for(evaluation))
    instalments = agreement.instalments.filter(
        requires_evaluation_of=evaluation.fiscal_year
    ).select_related("year", "funder__funder")
    return render(
        request,
        "cpo/evaluation_detail.html",
        {
            "evaluation": evaluation,
            "agreement": agreement,
            "form": form,
            "review_form": review_form,
            "can_file": can_file,
            "can_review_now": can_review_now,
            "is_member": member,
            "staff_view": staff,
            "reviewer": reviewer,
            "report": _report(evaluation),
            "is_solutions": is_solutions,
            "assessments": assessments,
            "waiting_instalments": instalments,
            "agreement_url": _agreement_url(evaluation),
            "follow_up": _follow_up(evaluation) if reviewer else [],
            "entries": history_for(evaluation),
            "parts": parts,
            "own_part": own_part,
            "part_form": part_form,
            "missing_form": missing_form,
            "can_mark_missing": member and is_open,
        },
        status=status,
    )


def _part_form(part: PartnerPart) -> PartnerReportForm:
    report = part.report
    if report is None or report.state != "filed":
        return PartnerReportForm()
    return PartnerReportForm(
        initial={
            "activity_report": report.activity_report,
            "figures": report.figures,
            "spent_amount": report.spent_amount,
        }
    )


def _follow_up(evaluation: Evaluation) -> list[dict[str, str]]:
    """What the review may lead to, on the agreement's page (its forms are there, not here)."""
    if evaluation.agreement.state not in OPEN_AGREEMENTS:
        return []
    links = [
        ("amendment", _("Proposer un avenant")),
        ("recovery", _("Émettre un reversement")),
        ("terminate", _("Résilier")),
    ]
    if evaluation.agreement.state == AgreementState.ACTIVE:
        links.insert(1, ("suspend", _("Suspendre")))
    return [
        {"url": url, "label": label, "anchor": anchor}
        for anchor, label in links
        if (url := _agreement_url(evaluation, anchor))
    ]


def _evaluation_form(evaluation: Evaluation, data: Any = None, files: Any = None) -> EvaluationForm:
    documents = approved_accounts_documents(evaluation)
    form = EvaluationForm(
        data,
        files,
        rows=_rows(evaluation),
        indicators=_indicators(evaluation),
        documents=documents,
        initial={
            "activity_report": evaluation.activity_report,
            "approved_accounts": evaluation.approved_accounts_id
            or (cast(OrganisationDocument, documents.first()).pk if documents.exists() else None),
        },
    )
    return form


def _file(
    request: AuthenticatedHttpRequest, evaluation: Evaluation
) -> tuple[EvaluationForm, int, bool]:
    """Upload the approved accounts if a file is given, then file the evaluation. Nothing typed is
    lost: on error the form comes back with every value and each message beside its field; an
    uploaded file is kept on the organisation's profile and pre-selected (a browser cannot
    keep a chosen file across a reload)."""
    data = request.POST.copy()
    form = _evaluation_form(evaluation, data, request.FILES)
    valid = form.is_valid()
    upload_error: DomainError | None = None
    if upload := form.cleaned_data.get("accounts_file"):
        try:
            document = document_upload(
                actor=request.user,
                organisation=evaluation.agreement.organisation,
                kind=DocumentKind.APPROVED_ACCOUNTS,
                file=upload,
                valid_until=form.cleaned_data.get("accounts_valid_until"),
                title=_("Comptes approuvés (évaluation %(year)d)")
                % {"year": evaluation.fiscal_year},
            )
        except DomainError as exc:
            upload_error = exc
        else:
            data["approved_accounts"] = str(document.pk)
            form = _evaluation_form(evaluation, data)
            valid = form.is_valid()
    if upload_error is not None:
        for field, problems in upload_error.errors.items():
            for problem in problems:
                form.add_error(UPLOAD_FIELDS.get(field) or "accounts_file", str(problem))
        if not upload_error.errors:
            form.add_error("accounts_file", str(upload_error.message))
        return form, upload_error.status_code, False
    if not valid:
        return form, 400, False
    try:
        services_evaluation.evaluation_file(
            actor=request.user,
            evaluation=evaluation,
            activity_report=form.cleaned_data["activity_report"],
            budget_lines=form.budget_lines(),
            indicators=form.indicator_values(),
            approved_accounts=form.cleaned_data["approved_accounts"],
        )
    except DomainError as exc:
        add_domain_error(form, exc)
        return form, exc.status_code, False
    return form, 200, True


@login_required
def evaluation_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Staff: the evaluations to review, overdue, due soon. Association: its evaluations to file."""
    staff = can_read_as_staff(request.user)
    if not staff and not organisation_ids_of(request.user):
        raise PermissionDenied
    own = evaluations_to_file(request.user)
    return render(
        request,
        "cpo/evaluation_list.html",
        {
            "queue": review_queue(request.user) if staff else None,
            "own": own,
            "to_file_states": TO_FILE,
        },
    )
