"""Forms of the directory pages: they parse input; the rules live in directory.services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from core.limits import SHORT_TEXT
from core.models import QPV, Pillar, TransitionTheme
from grants.models import ApplicationKind

from .models import ExperienceSheet


class ProfileForm(forms.Form):
    is_listed = forms.BooleanField(
        label=_("Faire figurer l'organisation dans l'annuaire public"), required=False
    )
    presentation = forms.CharField(
        label=_("Présentation publique"),
        required=False,
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_(
            "Ce que fait l'organisation, pour qui. Ses quartiers et ses thèmes sont repris "
            "des actions financées."
        ),
    )
    website = forms.URLField(
        label=_("Site internet"), required=False, assume_scheme="https", max_length=200
    )
    contact_consent = forms.BooleanField(
        label=_("J'accepte que l'e-mail et le téléphone ci-dessous soient publiés"),
        required=False,
    )
    public_email = forms.EmailField(label=_("E-mail public"), required=False)
    public_phone = forms.CharField(label=_("Téléphone public"), required=False, max_length=30)


class SheetForm(forms.ModelForm):
    qpvs = forms.ModelMultipleChoiceField(
        label=_("Quartiers"), queryset=QPV.objects.order_by("name"), required=False
    )
    themes = forms.ModelMultipleChoiceField(
        label=_("Thèmes de transition"),
        queryset=TransitionTheme.objects.order_by("label"),
        required=False,
    )
    pillar = forms.ModelChoiceField(
        label=_("Pilier"), queryset=Pillar.objects.order_by("label"), required=False
    )

    class Meta:
        model = ExperienceSheet
        fields = [
            "title",
            "what",
            "place",
            "qpvs",
            "audience",
            "beneficiaries_count",
            "results",
            "lessons",
            "cost",
            "funding_kind",
            "pillar",
            "themes",
            "contact_consent",
            "contact_name",
            "contact_email",
        ]
        widgets = {
            "what": forms.Textarea(attrs={"rows": 4}),
            "audience": forms.Textarea(attrs={"rows": 2}),
            "results": forms.Textarea(attrs={"rows": 4}),
            "lessons": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Completeness is checked on submission (services._require_complete), not on each save.
        for name in ("what",):
            self.fields[name].required = False


class ReturnForm(forms.Form):
    reason = forms.CharField(
        label=_("Motif"), max_length=SHORT_TEXT, widget=forms.Textarea(attrs={"rows": 2})
    )


class ActorSearchForm(forms.Form):
    q = forms.CharField(label=_("Nom, commune, mot-clé"), required=False, max_length=100)
    quartier = forms.ModelChoiceField(
        label=_("Quartier prioritaire"),
        queryset=QPV.objects.order_by("name"),
        required=False,
        to_field_name="code",
        empty_label=_("Tous"),
    )
    pilier = forms.ModelChoiceField(
        label=_("Pilier"),
        queryset=Pillar.objects.order_by("label"),
        required=False,
        to_field_name="code",
        empty_label=_("Tous"),
    )
    theme = forms.ModelChoiceField(
        label=_("Thème de transition"),
        queryset=TransitionTheme.objects.order_by("label"),
        required=False,
        to_field_name="code",
        empty_label=_("Tous"),
    )

    def filters(self) -> dict[str, Any]:
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        return {
            "text": data.get("q") or "",
            "qpv": data.get("quartier"),
            "pillar": data.get("pilier"),
            "theme": data.get("theme"),
        }


class SheetSearchForm(ActorSearchForm):
    financement = forms.ChoiceField(
        label=_("Mode de financement"),
        choices=[("", _("Tous")), *ApplicationKind.choices],
        required=False,
    )

    def filters(self) -> dict[str, Any]:
        filters = super().filters()
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        filters["funding_kind"] = data.get("financement") or ""
        return filters
