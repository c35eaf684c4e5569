"""The upload form of an import."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .imports.kinds import Kind
from .models import ImportProfile


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label=_("Fichier"),
        help_text=_("CSV (UTF-8 ou Latin-1, séparé par ; , ou tabulation), XLSX ou ODS."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.tsv,.txt,.xlsx,.ods"}),
    )
    strict = forms.TypedChoiceField(
        label=_("Contrôle du format"),
        choices=[
            ("1", _("Strict : fichier publié au format SCDL 2.1.1 (règles du schéma à la lettre)")),
            (
                "0",
                _(
                    "Tolérant : export d'un ancien outil ou d'un tableur (virgule décimale, dates "
                    "JJ/MM/AAAA, noms de colonnes approchés)"
                ),
            ),
        ],
        coerce=lambda value: value == "1",
        initial="1",
        widget=forms.RadioSelect,
    )

    sheet = forms.CharField(
        label=_("Feuille du classeur"),
        help_text=_("XLSX ou ODS : nom ou numéro de la feuille à lire (la première sinon)."),
        max_length=100,
        required=False,
    )

    profile = forms.TypedChoiceField(
        label=_("Profil de correspondance des colonnes"),
        help_text=_("Pour un fichier de la même source qu'un import précédent."),
        required=False,
        coerce=int,
        empty_value=None,
    )

    def __init__(
        self, *args: Any, kind: Kind, profiles: list[ImportProfile] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if not kind.strict_option:
            del self.fields["strict"]
        self.profiles = {p.pk: p for p in profiles or []}
        field = self.fields["profile"]
        if self.profiles and isinstance(field, forms.TypedChoiceField):
            field.choices = [("", _("Aucun : correspondance automatique"))] + [
                (p.pk, p.name) for p in self.profiles.values()
            ]
        else:
            del self.fields["profile"]

    def options(self) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if "strict" in self.cleaned_data:
            options["strict"] = self.cleaned_data["strict"]
        if self.cleaned_data.get("sheet"):
            options["sheet"] = self.cleaned_data["sheet"]
        profile = self.profiles.get(self.cleaned_data.get("profile") or 0)
        if profile is not None:
            options["mapping"] = profile.mapping
            options["profile"] = profile.name
        return options
