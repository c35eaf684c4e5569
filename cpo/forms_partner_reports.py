"""Forms of a collective file's annual evaluation (docs/domain.md §9): a partner's own report, and
the lead's declaration that a partner's part is missing. They parse input; the rules live in
cpo.services_partner_reports."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from core.limits import LONG_TEXT, SHORT_TEXT
from grants.forms import MoneyField


class PartnerReportForm(forms.Form):
    """A partner's part: what it did, its key figures, what it spent of its share."""

    activity_report = forms.CharField(
        max_length=LONG_TEXT,
        label=_("Activité réalisée par votre organisation"),
        error_messages={"required": _("Décrivez l'activité réalisée par votre organisation.")},
        widget=forms.Textarea(attrs={"rows": 6}),
    )
    figures = forms.CharField(
        max_length=SHORT_TEXT,
        required=False,
        label=_("Chiffres clés"),
        help_text=_("Publics touchés, séances, bénévoles… ce qui mesure la part réalisée."),
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    spent_amount = MoneyField(
        label=_("Dépenses réalisées sur votre part (€)"),
        error_messages={"required": _("Indiquez un montant en euros.")},
    )


class MissingPartForm(forms.Form):
    """The lead files without a partner's part, saying why."""

    organisation = forms.IntegerField(widget=forms.HiddenInput)
    reason = forms.CharField(
        max_length=SHORT_TEXT,
        label=_("Motif"),
        error_messages={"required": _("Indiquez pourquoi cette part manque.")},
        widget=forms.Textarea(attrs={"rows": 2}),
    )
