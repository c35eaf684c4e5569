"""Payment runs and confirmation files of the finance workspace.

A run page shows its payments, its totals by budget line and funder, the approvals given, the
actions this person may take now (approve — or why not —, remove payments, abandon, hand to the
accounting system, download the stored files) and its history. Bank details and the payment files
are for finance officers only (docs/domain.md §1). A confirmation file is checked first (dry run, every
error by line and column); only a valid one can be applied, in the background."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.forms import Form
from django.http import FileResponse, Http404, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from core.audit import history_for
from core.errors import DomainError
from core.forms import add_domain_error
from core.http import AuthenticatedHttpRequest
from core.models import BackgroundJob
from core.tabular.writer import DIALECTS, EXCEL_FR
from finance import confirmations
from finance import services as services_finance
from finance.forms import ConfirmationUploadForm, ReasonForm, RemoveItemsForm
from finance.models import PaymentConfirmation, PaymentRun, PaymentRunState
from finance.resources import payment_run_csv
from finance.selectors import can_act_on_finance, run_totals, runs_list
from finance.views.common import base_context, error_message, finance_page, query_without, refused

RS = PaymentRunState
RUN_ACTIONS = ("approve", "remove", "cancel", "export")
FILES = {
    "csv": ("export_csv", "text/csv; charset=utf-8"),
    "xlsx": (
        "export_xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
}
ITEMS_PER_PAGE = 100


# --------------------------------------------------------------------------- runs


@finance_page
def runs(request: AuthenticatedHttpRequest) -> HttpResponse:
    state = request.GET.get("etat") or ""
    if state not in RS.values:
        state = ""
    page = Paginator(runs_list(state or None), 25).get_page(request.GET.get("page"))
    return render(
        request,
        "finance/runs.html",
        {
            **base_context(request, "runs"),
            "page": page,
            "state": state,
            "states": RS.choices,
            "query": query_without(request, "page"),
        },
    )


@finance_page
def run_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    return _render_run(request, get_object_or_404(PaymentRun, pk=pk))


def _render_run(
    request: AuthenticatedHttpRequest,
    run: PaymentRun,
    *,
    status: int = 200,
    error: str | None = None,
    forms: dict[str, Any] | None = None,
) -> HttpResponse:
    can_act = can_act_on_finance(request.user)
    items = run.items.select_related("instalment__funder__funder").order_by("pk")
    refusal = None
    if can_act and run.state == RS.DRAFT:
        refusal = services_finance.approval_refusal(request.user, run)
    forms = forms or {}
    response = render(
        request,
        "finance/run_detail.html",
        {
            **base_context(request, "runs"),
            "run": run,
            "page": Paginator(items, ITEMS_PER_PAGE).get_page(request.GET.get("page")),
            "totals": run_totals(run),
            "approvals": run.approvals.select_related("user").order_by("created_at", "pk"),
            "valid_approvals": run.approvals.filter(is_valid=True).count(),
            "refusal": refusal,
            "can_approve": can_act and run.state == RS.DRAFT and not refusal,
            "can_remove": can_act and run.state == RS.DRAFT,
            "can_cancel": can_act and run.state in (RS.DRAFT, RS.APPROVED),
            "can_export": can_act and run.state == RS.APPROVED,
            "can_download": can_act and bool(run.export_csv),
            "show_bank": can_act,
            "cancel_form": forms.get("cancel") or ReasonForm(prefix="cancel"),
            "remove_form": forms.get("remove") or RemoveItemsForm(prefix="remove"),
            "entries": history_for(run),
            "error": error,
        },
        status=status,
    )
    response["Cache-Control"] = "private, no-store"  # bank details
    return response


@finance_page
@require_POST
def run_action(request: AuthenticatedHttpRequest, pk: int, action: str) -> HttpResponse:
    """Approve, remove payments, abandon (with a reason) or hand to the accounting system."""
    if action not in RUN_ACTIONS:
        raise Http404
    run = get_object_or_404(PaymentRun, pk=pk)
    form: Form | None = None
    try:
        if action == "approve":
            run = services_finance.payment_run_approve(actor=request.user, run=run)
            if run.state == RS.APPROVED:
                message = _("Lot %(ref)s validé : il peut être transmis à la comptabilité.")
            else:
                message = _(
                    "Validation enregistrée : le lot %(ref)s attend une seconde validation."
                )
            message %= {"ref": run.reference}
        elif action == "remove":
            form = RemoveItemsForm(request.POST, prefix="remove")
            ids = [int(v) for v in request.POST.getlist("item") if v.isdigit()]
            if not form.is_valid():
                return _render_run(
                    request,
                    run,
                    status=400,
                    error=_("Le formulaire contient des erreurs."),
                    forms={"remove": form},
                )
            if not ids:
                raise DomainError(_("Cochez au moins un paiement à retirer."))
            before = run.item_count
            run = services_finance.payment_run_remove_items(
                actor=request.user, run=run, item_ids=ids, reason=form.cleaned_data["reason"]
            )
            removed = before - run.item_count
            message = ngettext(
                "%(n)d paiement retiré du lot %(ref)s.",
                "%(n)d paiements retirés du lot %(ref)s.",
                removed,
            ) % {"n": removed, "ref": run.reference}
        elif action == "cancel":
            form = ReasonForm(request.POST, prefix="cancel")
            if not form.is_valid():
                return _render_run(
                    request,
                    run,
                    status=400,
                    error=_("Le formulaire contient des erreurs."),
                    forms={"cancel": form},
                )
            run = services_finance.payment_run_cancel(
                actor=request.user, run=run, reason=form.cleaned_data["reason"]
            )
            message = _(
                "Lot %(ref)s abandonné : ses échéances peuvent entrer dans un autre lot."
            ) % {"ref": run.reference}
        else:
            confirmed = request.POST.get("confirm_missing_ej") == "1"
            try:
                run = services_finance.payment_run_export(
                    actor=request.user, run=run, allow_missing_ej=confirmed
                )
            except services_finance.MissingLegalCommitments as exc:
                return _render_missing_ej(request, run, exc)
            message = _(
                "Lot %(ref)s transmis à la comptabilité : les fichiers CSV et XLSX sont prêts."
            ) % {"ref": run.reference}
    except DomainError as exc:
        if form is not None:
            add_domain_error(form, exc)
        return _render_run(
            request,
            PaymentRun.objects.get(pk=pk),
            status=exc.status_code,
            error=error_message(exc),
            forms={action: form} if form is not None else None,
        )
    messages.success(request, message)
    return redirect("finance:run_detail", pk=run.pk)


def _render_missing_ej(
    request: AuthenticatedHttpRequest,
    run: PaymentRun,
    exc: services_finance.MissingLegalCommitments,
) -> HttpResponse:
    """The warning before exporting payments without an EJ: the list, « Exporter quand même »
    (a confirmation, audited by the service) or a link to each agreement to fill the number."""
    response = render(
        request,
        "finance/run_missing_ej.html",
        {
            **base_context(request, "runs"),
            "run": PaymentRun.objects.get(pk=run.pk),
            "message": error_message(exc),
            "items": exc.items,
        },
        status=exc.status_code,
    )
    response["Cache-Control"] = "private, no-store"
    return response


@finance_page
def run_download(request: AuthenticatedHttpRequest, pk: int, fmt: str) -> HttpResponseBase:
    """The payment file of an exported run. `csv` and `xlsx` are the stored files: the same bytes
    at every download; `excel-fr` is the stored CSV rewritten for Excel (France) — BOM, `;`,
    decimal comma. It carries bank details: finance officers only."""
    if fmt not in FILES and fmt != EXCEL_FR:
        raise Http404
    if not can_act_on_finance(request.user):
        return refused(request, _("Les fichiers de paiement sont réservés au service financier."))
    run = get_object_or_404(PaymentRun, pk=pk)
    field, content_type = FILES["csv" if fmt == EXCEL_FR else fmt]
    stored = getattr(run, field)
    if not stored:
        raise Http404
    if fmt == EXCEL_FR:
        with stored.open("rb") as fh:
            data = payment_run_csv(fh.read(), DIALECTS[EXCEL_FR])
        response: HttpResponseBase = HttpResponse(data, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{run.reference}-excel.csv"'
    else:
        response = FileResponse(
            stored.open("rb"),
            as_attachment=True,
            filename=f"{run.reference}.{fmt}",
            content_type=content_type,
        )
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --------------------------------------------------------------------------- confirmations


@finance_page
def confirmation_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Upload a confirmation file (checked at once, nothing applied) and the files received."""
    form = ConfirmationUploadForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                confirmation = confirmations.confirmation_check(
                    actor=request.user, data=upload.read(), name=upload.name
                )
            except DomainError as exc:
                add_domain_error(form, exc)
                status = exc.status_code
            else:
                return redirect("finance:confirmation_detail", pk=confirmation.pk)
        else:
            status = 400
    page = Paginator(
        PaymentConfirmation.objects.select_related("uploaded_by").order_by("-created_at", "-pk"),
        25,
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "finance/confirmations.html",
        {**base_context(request, "confirmations"), "form": form, "page": page},
        status=status,
    )


@finance_page
def confirmation_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    return _render_confirmation(request, get_object_or_404(PaymentConfirmation, pk=pk))


def _render_confirmation(
    request: AuthenticatedHttpRequest,
    confirmation: PaymentConfirmation,
    *,
    status: int = 200,
    error: str | None = None,
) -> HttpResponse:
    report = confirmation.report or {}
    errors = report.get("errors", [])
    job = (
        BackgroundJob.objects.filter(
            kind="cpo.confirmation_apply",
            params__confirmation=confirmation.pk,
            owner=request.user,
        )
        .order_by("-pk")
        .first()
    )
    return render(
        request,
        "finance/confirmation_detail.html",
        {
            **base_context(request, "confirmations"),
            "confirmation": confirmation,
            "counts": report.get("counts", {}),
            "file_info": report.get("file", {}),
            "hints": report.get("hints", []),
            "read_warnings": report.get("warnings", []),
            "applied": report.get("applied"),
            "error_count": report.get("error_count", len(errors)),
            "errors_shown": len(errors),
            "errors": Paginator(errors, 50).get_page(request.GET.get("page")),
            "can_apply": can_act_on_finance(request.user)
            and confirmation.state == PaymentConfirmation.State.CHECKED,
            "job": job,
            "error": error,
        },
        status=status,
    )


@finance_page
@require_POST
def confirmation_apply(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Apply a checked file in the background: the job page shows its progress."""
    confirmation = get_object_or_404(PaymentConfirmation, pk=pk)
    try:
        job = confirmations.confirmation_apply(actor=request.user, confirmation=confirmation)
    except DomainError as exc:
        return _render_confirmation(
            request,
            PaymentConfirmation.objects.get(pk=pk),
            status=exc.status_code,
            error=error_message(exc),
        )
    messages.success(
        request,
        _("Application du fichier %(name)s lancée.") % {"name": confirmation.original_name},
    )
    return redirect("core:job_detail", pk=job.pk)
