"""Forms of the contract pages: they parse input; the rules live in contracts.services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from calls.models import Programme
from contracts.models import Commitment, Contract, Meeting, Opinion, Part
from core.forms import DateInput
from core.limits import LONG_TEXT, SHORT_TEXT
from core.models import QPV


class CommitmentReportForm(forms.Form):
    note = forms.CharField(
        max_length=LONG_TEXT,
        label=_("Ce qui a été réalisé"),
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    realised_amount = forms.DecimalField(
        label=_("Montant réalisé (€)"), required=False, min_value=0, max_digits=14, decimal_places=2
    )
    realised_value = forms.DecimalField(
        label=_("Valeur atteinte"), required=False, max_digits=14, decimal_places=2
    )


class MeetingForm(forms.Form):
    kind = forms.ChoiceField(label=_("Instance"), choices=Meeting.Kind.choices)
    held_on = forms.DateField(label=_("Date"), widget=DateInput())


class MeetingHoldForm(forms.Form):
    other_attendees = forms.CharField(
        max_length=SHORT_TEXT,
        label=_("Participant·es (hors Pluriel)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    minutes = forms.CharField(
        max_length=LONG_TEXT,
        label=_("Relevé de décisions"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


class DecisionForm(forms.Form):
    text = forms.CharField(
        max_length=LONG_TEXT, label=_("Décision"), widget=forms.Textarea(attrs={"rows": 3})
    )
    part = forms.ModelChoiceField(label=_("Volet"), queryset=Part.objects.none(), required=False)

    def __init__(self, *args: Any, contract: Contract, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["part"].queryset = contract.parts.all()  # type: ignore[attr-defined]


class ReorientForm(forms.Form):
    from_programme = forms.ModelChoiceField(
        label=_("Programme qui cède"), queryset=Programme.objects.none()
    )
    to_programme = forms.ModelChoiceField(
        label=_("Programme qui reçoit"), queryset=Programme.objects.none()
    )
    amount = forms.DecimalField(
        label=_("Montant (€)"), min_value=0, max_digits=14, decimal_places=2
    )
    text = forms.CharField(
        max_length=SHORT_TEXT, label=_("Motif"), widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, programmes: list[Programme], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        qs = Programme.objects.filter(pk__in=[p.pk for p in programmes])
        self.fields["from_programme"].queryset = qs  # type: ignore[attr-defined]
        self.fields["to_programme"].queryset = qs  # type: ignore[attr-defined]


class OpinionForm(forms.Form):
    qpv = forms.ModelChoiceField(label=_("Quartier"), queryset=QPV.objects.none())
    part = forms.ModelChoiceField(label=_("Volet"), queryset=Part.objects.none())
    year = forms.TypedChoiceField(label=_("Année"), coerce=int, choices=())
    assessment = forms.ChoiceField(
        label=_("Appréciation"), choices=Opinion.Assessment.choices, widget=forms.RadioSelect
    )
    text = forms.CharField(
        max_length=LONG_TEXT,
        label=_("Avis du conseil citoyen"),
        widget=forms.Textarea(attrs={"rows": 5}),
    )

    def __init__(self, *args: Any, contract: Contract, qpvs: list[QPV], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["qpv"].queryset = QPV.objects.filter(pk__in=[q.pk for q in qpvs])  # type: ignore[attr-defined]
        if len(qpvs) == 1:
            self.fields["qpv"].empty_label = None  # type: ignore[attr-defined]
        self.fields["part"].queryset = contract.parts.all()  # type: ignore[attr-defined]
        self.fields["year"].choices = [(y, y) for y in contract.years]  # type: ignore[attr-defined]


class IndicatorImportForm(forms.Form):
    file = forms.FileField(label=_("Fichier CSV ou XLSX"))
    apply = forms.BooleanField(label=_("Enregistrer (sinon : simulation)"), required=False)


COMMITMENT_KINDS = Commitment.Kind
