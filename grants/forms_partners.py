"""The forms of a collective file (docs/domain.md §9): inviting a partner, its part of the draft,
leaving, drafting its answer to a completion request, the money flow, accepting an invitation."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from core.limits import LONG_TEXT
from core.models import Organisation

from .forms import MoneyField
from .models import PaymentFlow


class InvitePartnerForm(forms.Form):
    """The lead invites a partner organisation, by SIRET or by e-mail."""

    siret = forms.CharField(
        label=_("SIRET de l'organisation partenaire"),
        required=False,
        max_length=20,
        help_text=_("Si elle est déjà inscrite sur Pluriel."),
    )
    email = forms.EmailField(
        label=_("ou adresse e-mail d'un·e de ses membres"),
        required=False,
        help_text=_("La personne accepte depuis son compte, pour son organisation."),
    )
    role = forms.CharField(label=_("Rôle dans le projet"), required=False, max_length=200)


class PartnerPartForm(forms.Form):
    """A partner's own part of the draft (its budget lines are in the formsets beside)."""

    role = forms.CharField(label=_("Rôle dans le projet"), required=False, max_length=200)
    actions = forms.CharField(
        label=_("Actions portées"),
        required=False,
        max_length=LONG_TEXT,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    requested_amount = MoneyField(
        label=_("Part du montant demandé (€)"),
        required=False,
        help_text=_("À faire figurer dans vos subventions (compte 74)."),
    )


class LeaveForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("Je confirme : les lignes de budget du partenaire quittent le dossier avec lui."),
        required=False,
    )


class CompletionDraftForm(forms.Form):
    text = forms.CharField(
        label=_("Projet de réponse pour votre part"),
        max_length=LONG_TEXT,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


class PaymentFlowForm(forms.Form):
    payment_flow = forms.ChoiceField(label=_("Versement de la subvention"), choices=[])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["payment_flow"]).choices = PaymentFlow.choices


class AcceptInvitationForm(forms.Form):
    """An invitation by e-mail: the organisation that joins, among the person's own."""

    organisation = forms.ModelChoiceField(
        label=_("Organisation qui rejoint le dossier"), queryset=Organisation.objects.none()
    )

    def __init__(self, *args: Any, organisation_ids: set[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(
            forms.ModelChoiceField, self.fields["organisation"]
        ).queryset = Organisation.objects.filter(pk__in=organisation_ids).order_by("name")
