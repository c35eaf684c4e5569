"""Forms of the annual evaluation: the association's filing (reports, CERFA n° 15059 financial
report, indicator values, approved accounts) and the instructor's review. They parse input; the
rules live in cpo.services / cpo.services_evaluation."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from core.forms import DateInput
from core.limits import LONG_TEXT, SHORT_TEXT
from core.models import OrganisationDocument
from grants.budget import Account
from grants.forms import MoneyField

ACCOUNT_LABELS = dict(Account.choices)


class EvaluationForm(forms.Form):
    """One field per account group (the actual amount) and per indicator (the value reached);
    planned amounts and targets come from the application and are not typed again."""

    activity_report = forms.CharField(
        max_length=LONG_TEXT,
        label=_("Rapport d'activité"),
        error_messages={"required": _("Le rapport d'activité est obligatoire.")},
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_(
            "Les actions menées sur l'exercice, les publics touchés, ce qui a marché ou non."
        ),
    )
    approved_accounts = forms.ModelChoiceField(
        label=_("Comptes approuvés déjà déposés"),
        queryset=OrganisationDocument.objects.none(),
        required=False,
        empty_label=_("— Déposer un nouveau fichier ci-dessous —"),
    )
    accounts_file = forms.FileField(
        label=_("Nouveau fichier des comptes approuvés"),
        required=False,
        help_text=_(
            "PDF, OpenDocument, Office ou image. Il rejoint les documents de l'association."
        ),
    )
    accounts_valid_until = forms.DateField(
        label=_("Comptes valables jusqu'au (facultatif)"), required=False, widget=DateInput()
    )

    def __init__(
        self,
        *args: Any,
        rows: list[dict[str, Any]],
        indicators: list[dict[str, Any]],
        documents: QuerySet[OrganisationDocument],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.rows, self.indicators = rows, indicators
        accounts = cast(
            "forms.ModelChoiceField[OrganisationDocument]", self.fields["approved_accounts"]
        )
        accounts.queryset = documents
        for row in rows:
            field = MoneyField(
                label=_("Réalisé (€), %(account)s")
                % {"account": ACCOUNT_LABELS.get(row["account"], row["account"])},
                error_messages={"required": _("Indiquez le montant réalisé.")},
            )
            field.widget.attrs.update({"data-planned": str(row["planned"]), "class": "num"})
            self.fields[self.actual_name(row["account"])] = field
            if row.get("actual") is not None:
                self.initial.setdefault(self.actual_name(row["account"]), row["actual"])
        for i, indicator in enumerate(indicators):
            self.fields[f"indicator_{i}"] = forms.DecimalField(
                label=_("Valeur atteinte : %(label)s") % {"label": indicator["label"]},
                max_digits=12,
                decimal_places=2,
                widget=forms.TextInput(attrs={"inputmode": "decimal", "class": "num"}),
                error_messages={"required": _("Indiquez la valeur atteinte.")},
            )
            if indicator.get("actual") is not None:
                self.initial.setdefault(f"indicator_{i}", indicator["actual"])

    def clean(self) -> dict[str, Any]:
        data = cast(dict[str, Any], super().clean())
        missing = not data.get("approved_accounts") and not data.get("accounts_file")
        if missing and "accounts_file" not in self.errors:
            self.add_error(
                "approved_accounts", _("Joignez les derniers comptes approuvés de l'association.")
            )
        return data

    @staticmethod
    def actual_name(account: str) -> str:
        return f"actual_{account}"

    def budget_rows(self) -> list[dict[str, Any]]:
        """The rows with their bound field, for the template."""
        return [
            {
                **row,
                "label": ACCOUNT_LABELS.get(row["account"], row["account"]),
                "field": self[self.actual_name(row["account"])],
            }
            for row in self.rows
        ]

    def indicator_rows(self) -> list[dict[str, Any]]:
        return [
            {**indicator, "field": self[f"indicator_{i}"]}
            for i, indicator in enumerate(self.indicators)
        ]

    def budget_lines(self) -> list[dict[str, Any]]:
        return [
            {
                "account": row["account"],
                "planned": row["planned"],
                "actual": self.cleaned_data[self.actual_name(row["account"])],
            }
            for row in self.rows
        ]

    def indicator_values(self) -> list[dict[str, Any]]:
        return [
            {
                "label": indicator["label"],
                "unit": indicator.get("unit", ""),
                "target": indicator["target"],
                "actual": self.cleaned_data[f"indicator_{i}"],
            }
            for i, indicator in enumerate(self.indicators)
        ]


class ReviewForm(forms.Form):
    outcome = forms.ChoiceField(
        label=_("Décision"),
        widget=forms.RadioSelect,
        choices=[
            ("accept", _("Accepter")),
            ("accept_with_reservations", _("Accepter avec réserves")),
            ("reject", _("Rejeter")),
        ],
        error_messages={"required": _("Choisissez une décision.")},
    )
    comment = forms.CharField(
        max_length=SHORT_TEXT,
        label=_("Commentaires"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Obligatoires pour des réserves ou un rejet ; l'association les lira."),
    )
