"""« Préparer la convention » (/conventions/nouvelle/<application_id>/): the profile of the yearly
amounts, the duration, the instalments and the funders; « Prévisualiser » shows the yearly amounts,
each year's instalments and the effect on the programme's envelopes; « Créer la convention » calls
cpo.services.agreement_create_from_application. Nothing typed is lost on an error."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from core.errors import DomainError
from core.http import AuthenticatedHttpRequest
from grants.models import Application, ApplicationState
from grants.selectors import applications_visible_to, is_staff_viewer

from .. import services
from ..forms import (
    AgreementPrepareForm,
    BaseFunderFormSet,
    FunderFormSet,
    funder_initial,
    put_error,
)
from ..models import Agreement
from ..selectors import can_manage, preview_or_error
from .common import error_message


def _application(request: AuthenticatedHttpRequest, application_id: int) -> Application:
    """An approved file of the user's staff scope; 404 for anyone else (applicants included),
    403 for staff who may see it but not prepare agreements."""
    application = get_object_or_404(
        applications_visible_to(request.user)
        .select_related("programme__budget_line__funder", "organisation", "cofunder")
        .prefetch_related("funder_parts__funder"),
        pk=application_id,
    )
    if not is_staff_viewer(request.user, application):
        raise Http404
    if not can_manage(request.user):
        raise PermissionDenied
    return application


@login_required
def agreement_prepare(request: AuthenticatedHttpRequest, application_id: int) -> HttpResponse:
    application = _application(request, application_id)
    existing = Agreement.objects.filter(application=application).first()
    if existing is not None:
        messages.info(request, _("Ce dossier a déjà sa convention."))
        return redirect("cpo:agreement_detail", pk=existing.pk)
    context: dict[str, Any] = {"application": application, "preview": None, "error": ""}
    status = 200
    if application.state != ApplicationState.APPROVED or application.approved_amount is None:
        context["error"] = _("Seul un dossier accordé donne lieu à une convention.")
        return render(request, "cpo/agreement_prepare.html", context, status=409)

    # A co-funded file: its funders and their amounts come from their decisions (one joint
    # agreement, and one per funder that insists on its own), not from typed shares.
    part_agreements = services.part_agreements(application)
    context["part_agreements"] = part_agreements
    funders: Any = None
    if request.method != "POST":
        form = AgreementPrepareForm(
            application=application, initial=AgreementPrepareForm.initial_for(application)
        )
        if not part_agreements:
            funders = FunderFormSet(prefix="funders", initial=funder_initial(application))
    else:
        form = AgreementPrepareForm(request.POST, application=application)
        if not part_agreements:
            funders = FunderFormSet(request.POST, prefix="funders")
        stage = request.POST.get("stage", "preview")
        if not (form.is_valid() and (funders is None or funders.is_valid())):
            status = 400
            context["error"] = _("Le formulaire contient des erreurs.")
        else:
            params = form.service_params(
                None if funders is None else cast(BaseFunderFormSet, funders).service_rows()
            )
            preview, exc = preview_or_error(application=application, params=params)
            if exc is None and stage == "create":
                try:
                    agreement = services.agreement_create_from_application(
                        actor=request.user, application=application, **params
                    )
                except DomainError as error:
                    exc = error
                else:
                    count = Agreement.objects.filter(application=application).count()
                    messages.success(
                        request,
                        _("La convention %(ref)s est préparée (brouillon).")
                        % {"ref": agreement.reference}
                        if count == 1
                        else _(
                            "Les %(n)s conventions du dossier sont préparées (brouillons), "
                            "dont %(ref)s."
                        )
                        % {"ref": agreement.reference, "n": count},
                    )
                    return redirect("cpo:agreement_detail", pk=agreement.pk)
            if exc is not None:
                put_error(form, exc)
                status = exc.status_code
                context["error"] = error_message(exc)
                context["funder_errors"] = [
                    str(m)
                    for field in ("funders", "shares")
                    for m in (exc.errors or {}).get(field, [])
                ]
            else:
                context["preview"] = preview
    context.update({"form": form, "funders": funders})
    return render(request, "cpo/agreement_prepare.html", context, status=status)
