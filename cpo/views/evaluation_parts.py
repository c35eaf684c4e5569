"""The collective file's part of the evaluation page (docs/domain.md §9): a partner files its own
report, the lead declares a partner's part missing. Every write goes through
cpo.services_partner_reports."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from core.errors import DomainError
from core.forms import add_domain_error
from core.http import AuthenticatedHttpRequest
from core.models import Organisation

from .. import services_partner_reports as services
from ..forms_partner_reports import MissingPartForm, PartnerReportForm
from ..models import Evaluation
from ..selectors_partner_reports import PartnerPart


@dataclass
class PartnerPost:
    done: bool = False
    status: int = 200
    part_form: PartnerReportForm | None = None
    missing_form: MissingPartForm | None = None


def partner_post(
    request: AuthenticatedHttpRequest,
    evaluation: Evaluation,
    action: str,
    own_part: PartnerPart | None,
) -> PartnerPost:
    """Run the partner's filing (« partner_report ») or the lead's declaration of a missing part
    (« partner_missing »); on error the form comes back with what was typed and the messages."""
    if action == "partner_report" and own_part is not None:
        form = PartnerReportForm(request.POST)
        if not form.is_valid():
            return PartnerPost(status=400, part_form=form)
        try:
            services.partner_report_file(
                actor=request.user,
                evaluation=evaluation,
                organisation=own_part.organisation,
                activity_report=form.cleaned_data["activity_report"],
                figures=form.cleaned_data["figures"],
                spent_amount=form.cleaned_data["spent_amount"],
            )
        except DomainError as exc:
            add_domain_error(form, exc)
            return PartnerPost(status=exc.status_code, part_form=form)
        messages.success(
            request, _("Votre part est déposée : le chef de file peut déposer l'évaluation.")
        )
        return PartnerPost(done=True)
    missing = MissingPartForm(request.POST)
    if not missing.is_valid():
        return PartnerPost(status=400, missing_form=missing)
    organisation = get_object_or_404(Organisation, pk=missing.cleaned_data["organisation"])
    try:
        services.partner_report_mark_missing(
            actor=request.user,
            evaluation=evaluation,
            organisation=organisation,
            reason=missing.cleaned_data["reason"],
        )
    except DomainError as exc:
        add_domain_error(missing, exc)
        return PartnerPost(status=exc.status_code, missing_form=missing)
    messages.success(request, _("Part de %(org)s déclarée manquante.") % {"org": organisation.name})
    return PartnerPost(done=True)
