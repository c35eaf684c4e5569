"""Forms of the finance workspace. They parse and type the input; the rules are in
finance.services, finance.confirmations and cpo.services_changes (a DomainError is put back on the
form by cpo.forms.put_error)."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.core.validators import FileExtensionValidator, MaxValueValidator
from django.utils.translation import gettext_lazy as _

from calls.models import Programme
from core.clock import today
from core.forms import DateInput
from core.models import BudgetLine, Funder
from cpo.models import Instalment, InstalmentState

#: The list shows due instalments unless asked otherwise: the work to do, and the index
#: (state, earliest_date) keeps the first page instant at a million rows.
DEFAULT_STATE = InstalmentState.DUE
MAX_CONFIRMATION_BYTES = 50 * 1024 * 1024


class InstalmentFilterForm(forms.Form):
    state = forms.ChoiceField(
        label=_("État"),
        choices=[("all", _("Tous les états")), *InstalmentState.choices],
        required=False,
    )
    due_by = forms.DateField(label=_("Payable au plus tard le"), required=False, widget=DateInput())
    programme = forms.ModelChoiceField(
        Programme.objects.order_by("-fiscal_year", "name"),
        label=_("Programme"),
        required=False,
        empty_label=_("Tous"),
    )
    funder = forms.ModelChoiceField(
        Funder.objects.order_by("name"), label=_("Financeur"), required=False, empty_label=_("Tous")
    )
    budget_line = forms.ModelChoiceField(
        BudgetLine.objects.order_by("code"),
        label=_("Ligne budgétaire"),
        required=False,
        empty_label=_("Toutes"),
    )
    late_only = forms.BooleanField(label=_("En retard seulement (60 jours)"), required=False)
    q = forms.CharField(
        label=_("Convention ou organisation"),
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"type": "search"}),
    )

    def __init__(self, data: Any = None, **kwargs: Any) -> None:
        if data is not None and "state" not in data:
            data = data.copy()
            data["state"] = DEFAULT_STATE
        super().__init__(data if data is not None else {"state": DEFAULT_STATE}, **kwargs)


class RunCreateForm(forms.Form):
    """The run made from the list: the fiscal year it is charged to and its label."""

    fiscal_year = forms.IntegerField(label=_("Exercice d'imputation"), min_value=2000)
    label = forms.CharField(label=_("Libellé du lot"), required=False, max_length=255)
    note = forms.CharField(label=_("Note de certification"), required=False, max_length=500)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"fiscal_year": today().year})
        super().__init__(*args, **kwargs)
        # Read when the form is built, not at import: tests move the clock.
        self.fields["fiscal_year"].validators.append(MaxValueValidator(today().year + 1))
        self.fields["fiscal_year"].widget.attrs["max"] = today().year + 1


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Motif"), max_length=255, widget=forms.Textarea(attrs={"rows": 2})
    )


class RemoveItemsForm(forms.Form):
    reason = forms.CharField(label=_("Motif du retrait"), required=False, max_length=255)


class ConfirmationUploadForm(forms.Form):
    file = forms.FileField(
        label=_("Fichier de retour de la comptabilité (CSV ou XLSX)"),
        help_text=_(
            "Colonnes : reference_echeance, date_paiement, statut (payé ou rejeté), motif "
            "(obligatoire pour un rejet), reference_lot (facultative)."
        ),
        validators=[FileExtensionValidator(["csv", "xlsx"])],
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx"}),
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_CONFIRMATION_BYTES:
            raise forms.ValidationError(
                _("Le fichier dépasse %(mb)d Mo : découpez-le.")
                % {"mb": MAX_CONFIRMATION_BYTES // (1024 * 1024)}
            )
        return upload


CARRY, CANCEL = "carry", "cancel"
CLOSE_CHOICES = [(CARRY, _("Reporter sur l'exercice suivant")), (CANCEL, _("Annuler"))]


class FiscalYearCloseForm(forms.Form):
    """The closing of a year: a choice for every row shown (radio `row-<pk>`), a choice for every
    other remaining instalment, and a note."""

    default = forms.ChoiceField(
        label=_("Pour les échéances sans choix ligne par ligne"),
        choices=[("", _("Aucun : chaque échéance doit être choisie")), *CLOSE_CHOICES],
        required=False,
    )
    note = forms.CharField(
        label=_("Note de clôture"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class OffsetForm(forms.Form):
    instalment = forms.ModelChoiceField(
        Instalment.objects.none(), label=_("Échéance sur laquelle compenser")
    )

    def __init__(self, *args: Any, instalments: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast("forms.ModelChoiceField[Instalment]", self.fields["instalment"]).queryset = instalments
