"""Forms of the export pages. They parse the input; the rules (which columns, formats and filters
this person may use) are in reporting.exports.clean_export_request."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from calls.models import Programme
from core.models import User
from core.permissions import is_staff_member, organisation_ids_of

from .exports import FORMATS, TEMPLATE_NAME_MAX
from .resources import ExportDataset


class ColumnsField(forms.MultipleChoiceField):
    """The checked columns, in the order they were sent (the page's order). Every name is
    accepted here: the service names the unknown ones in its error."""

    def valid_value(self, value: Any) -> bool:
        return True


def programmes_for(user: User) -> QuerySet[Programme]:
    if is_staff_member(user):
        return Programme.objects.all()
    ids = organisation_ids_of(user)
    return Programme.objects.filter(
        Q(applications__organisation_id__in=ids) | Q(agreements__organisation_id__in=ids)
    ).distinct()


class ExportForm(forms.Form):
    columns = ColumnsField(label=_("Colonnes"), required=False)
    file_format = forms.ChoiceField(
        label=_("Format du fichier"),
        choices=[(f.key, f.label) for f in FORMATS.values()],
        initial="csv",
        widget=forms.RadioSelect,
    )
    fiscal_year = forms.IntegerField(
        label=_("Exercice"), required=False, min_value=1990, max_value=2100
    )
    programme = forms.ModelChoiceField(
        label=_("Programme"),
        queryset=Programme.objects.none(),
        required=False,
        empty_label=_("Tous"),
    )
    state = forms.ChoiceField(label=_("État"), required=False)
    template_name = forms.CharField(
        label=_("Nom du modèle"),
        required=False,
        max_length=TEMPLATE_NAME_MAX,
        help_text=_(
            "Facultatif : enregistre ces colonnes et ce format pour les réutiliser ; un modèle du "
            "même nom est remplacé."
        ),
    )

    def __init__(self, *args: Any, spec: ExportDataset, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("fiscal_year", "programme", "state"):
            if name not in spec.filters:
                del self.fields[name]
        if "programme" in self.fields:
            self.fields["programme"].queryset = programmes_for(user)
        if "state" in self.fields:
            self.fields["state"].choices = [("", _("Tous"))] + list(spec.state_choices)

    def filters(self) -> dict[str, Any]:
        data = self.cleaned_data
        programme = data.get("programme")
        return {
            "fiscal_year": data.get("fiscal_year"),
            "programme": programme.pk if programme else None,
            "state": data.get("state") or None,
        }
