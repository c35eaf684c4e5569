"""Staff forms to build a contract (programme managers): the contract, its parts, signatories and
commitments. They parse input; the rules live in contracts.services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from calls.models import Programme
from contracts.models import Commitment, Contract, Part, Signatory
from core.limits import LONG_TEXT, SHORT_TEXT
from core.models import QPV, Funder, Pillar, TransitionTheme

FIRST_YEAR, LAST_YEAR = 2000, 2100


class ContractForm(forms.Form):
    name = forms.CharField(label=_("Intitulé"), max_length=200)
    epci_name = forms.CharField(label=_("Intercommunalité (EPCI)"), max_length=200)
    epci_siren = forms.CharField(label=_("SIREN de l'EPCI"), max_length=9, required=False)
    first_year = forms.IntegerField(
        label=_("Première année"), min_value=FIRST_YEAR, max_value=LAST_YEAR
    )
    last_year = forms.IntegerField(
        label=_("Dernière année"), min_value=FIRST_YEAR, max_value=LAST_YEAR
    )
    qpvs = forms.ModelMultipleChoiceField(
        label=_("Quartiers prioritaires"), queryset=QPV.objects.order_by("name")
    )
    communes = forms.CharField(
        label=_("Communes signataires (une par ligne)"),
        required=False,
        max_length=SHORT_TEXT,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    summary = forms.CharField(
        label=_("Orientations"),
        required=False,
        max_length=LONG_TEXT,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


class PartForm(forms.Form):
    kind = forms.ChoiceField(label=_("Nature"), choices=Part.Kind.choices)
    title = forms.CharField(label=_("Intitulé du volet"), max_length=200)
    pillar = forms.ModelChoiceField(
        label=_("Pilier"), queryset=Pillar.objects.order_by("label"), required=False
    )
    theme = forms.ModelChoiceField(
        label=_("Thème de transition"),
        queryset=TransitionTheme.objects.order_by("label"),
        required=False,
    )
    position = forms.IntegerField(label=_("Ordre"), min_value=0, max_value=999, initial=0)


class AttachProgrammeForm(forms.Form):
    part = forms.ModelChoiceField(label=_("Volet"), queryset=Part.objects.none())
    programme = forms.ModelChoiceField(
        label=_("Programme"), queryset=Programme.objects.order_by("-fiscal_year", "name")
    )

    def __init__(self, *args: Any, contract: Contract, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["part"].queryset = contract.parts.all()  # type: ignore[attr-defined]
        self.fields["programme"].queryset = Programme.objects.filter(  # type: ignore[attr-defined]
            fiscal_year__gte=contract.first_year, fiscal_year__lte=contract.last_year
        ).order_by("-fiscal_year", "name")


class SignatoryForm(forms.Form):
    name = forms.CharField(label=_("Nom"), max_length=200)
    role = forms.ChoiceField(label=_("Rôle"), choices=Signatory.Role.choices)
    funder = forms.ModelChoiceField(
        label=_("Financeur dans Pluriel"),
        queryset=Funder.objects.order_by("name"),
        required=False,
        help_text=_("Ce que ce financeur engage et paie dans Pluriel compte pour ce signataire."),
    )
    signed_by = forms.CharField(label=_("Signé par"), max_length=200, required=False)


class CommitmentForm(forms.Form):
    signatory = forms.ModelChoiceField(label=_("Signataire"), queryset=Signatory.objects.none())
    part = forms.ModelChoiceField(label=_("Volet"), queryset=Part.objects.none())
    year = forms.TypedChoiceField(label=_("Année"), coerce=int, choices=())
    kind = forms.ChoiceField(label=_("Nature"), choices=Commitment.Kind.choices)
    amount = forms.DecimalField(
        label=_("Montant promis (€)"), required=False, max_digits=14, decimal_places=2
    )
    action = forms.CharField(label=_("Action"), max_length=255, required=False)
    indicator = forms.CharField(label=_("Indicateur"), max_length=200, required=False)
    target = forms.DecimalField(label=_("Cible"), required=False, max_digits=14, decimal_places=2)

    def __init__(self, *args: Any, contract: Contract, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["signatory"].queryset = contract.signatories.all()  # type: ignore[attr-defined]
        self.fields["part"].queryset = contract.parts.all()  # type: ignore[attr-defined]
        self.fields["year"].choices = [(y, y) for y in contract.years]  # type: ignore[attr-defined]
