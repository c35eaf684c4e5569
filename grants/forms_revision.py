"""The budget revision form of a co-funded file (docs/domain.md §9): the applicant's own CERFA
budget lines, each subsidy (account 74) naming which of the file's funders it comes from, so that
the plan can be checked against what each funder granted (grants.services.budget_revision)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .budget import PRODUCT_ACCOUNTS, SUBSIDIES
from .forms import BUDGET_MAX_LINES, ProductRowForm
from .models import Application, FunderPart

KIND_SOURCES = {
    "state": "state",
    "region": "region",
    "departement": "departement",
    "municipality": "municipality",
    "eu": "eu",
    "caf": "social",
    "foundation": "private",
    "other": "other_public",
}


class RevisionProductRowForm(ProductRowForm):
    """A products line whose subsidy names one of the funders asked on the file."""

    funder = forms.TypedChoiceField(
        label=_("Financeur sollicité"), required=False, coerce=int, empty_value=None
    )

    def __init__(self, *args: Any, parts: list[FunderPart] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The CERFA source a subsidy line gets when the applicant names only its funder.
        self.sources = {p.funder_id: KIND_SOURCES.get(p.funder.kind, "") for p in parts or []}
        field = self.fields["funder"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [
            ("", "—"),
            *((p.funder_id, p.funder.name) for p in parts or []),
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("account") == SUBSIDIES and self.is_kept() and not data.get("funder"):
            self.add_error("funder", _("Choisissez le financeur de cette subvention."))
        return data

    def row(self) -> dict[str, Any]:
        row = super().row()
        funder = self.cleaned_data.get("funder")
        row["funder"] = funder if row["account"] == SUBSIDIES else None
        if row["funder"] and not row["subsidy_source"]:
            row["subsidy_source"] = self.sources.get(row["funder"], "")
        return row


RevisionProductFormSet = forms.formset_factory(
    RevisionProductRowForm,
    extra=0,
    can_delete=True,
    max_num=BUDGET_MAX_LINES,
    absolute_max=BUDGET_MAX_LINES,
)


def revision_initial(application: Application) -> tuple[list[dict], list[dict]]:
    """The applicant's own lines as they are, the subsidies with their funder."""
    charges: list[dict[str, Any]] = []
    products: list[dict[str, Any]] = []
    for item in application.budget_items.filter(partner=None).order_by("pk"):
        row = {
            "account": item.account,
            "subsidy_source": item.subsidy_source,
            "funder": item.funder_id,
            "label": item.label,
            "amount": item.amount,
        }
        (products if item.account in PRODUCT_ACCOUNTS else charges).append(row)
    return charges, products
