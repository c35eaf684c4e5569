"""Forms of the direct-award and structural-support pages. They parse and type the input; every
rule is in grants.direct.services (a DomainError is put back on the form by `add_domain_error`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from calls.models import Programme
from core.forms import CheckboxList
from core.limits import LONG_TEXT, SEARCH_TEXT, SHORT_TEXT
from core.models import QPV, Organisation, Pillar
from core.search import search_organisations_by_name_or_siret

from ..forms import MoneyField
from ..models import Application, ApplicationKind
from .services import STRUCTURAL_MAX_YEARS

ORGANISATION_CHOICES_LIMIT = 50


def search_organisations(text: str) -> QuerySet[Organisation]:
    """Organisations whose name contains the text (accents and case aside), or whose SIRET (or
    SIREN) starts with it."""
    return search_organisations_by_name_or_siret(Organisation.objects.order_by("name"), text)


class OrganisationSearchForm(forms.Form):
    """The GET search that narrows the organisation list of the direct-award form (works without JS)."""

    q = forms.CharField(
        max_length=SEARCH_TEXT,
        label=_("Rechercher une organisation"),
        required=False,
        help_text=_("Nom, SIRET ou SIREN"),
        widget=forms.TextInput(attrs={"type": "search"}),
    )


class DirectAwardForm(forms.Form):
    """« Nouvelle attribution hors appel »: grants.direct.services.direct_award_open takes these."""

    organisation = forms.ModelChoiceField(
        Organisation.objects.none(),
        label=_("Organisation bénéficiaire"),
        empty_label=_("— Choisissez une organisation —"),
    )
    programme = forms.ModelChoiceField(
        Programme.objects.none(), label=_("Programme"), empty_label=_("— Choisissez un programme —")
    )
    title = forms.CharField(label=_("Titre du projet"), max_length=255, required=False)
    summary = forms.CharField(
        max_length=LONG_TEXT,
        label=_("Résumé du projet"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    qpvs = forms.ModelMultipleChoiceField(
        QPV.objects.all(),
        label=_("Quartiers prioritaires ciblés"),
        required=False,
        widget=CheckboxList,
        help_text=_("Cochez un ou plusieurs quartiers."),
    )
    pillar = forms.ModelChoiceField(
        Pillar.objects.all(),
        label=_("Pilier du contrat de ville"),
        required=False,
        empty_label=_("— Choisissez un pilier —"),
    )
    requested_amount = MoneyField(label=_("Montant (€)"), required=False)
    urgency_reason = forms.CharField(
        max_length=SHORT_TEXT,
        label=_("Motif de l'attribution hors appel"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "Obligatoire : l'urgence ou le besoin qui justifie de ne pas attendre un appel."
        ),
    )

    def __init__(self, *args: Any, search: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A posted choice is checked against every organisation; the blank form lists the search's matches.
        self.fields["organisation"].queryset = (
            Organisation.objects.order_by("name")
            if self.is_bound
            else search_organisations(search)[:ORGANISATION_CHOICES_LIMIT]
        )
        self.fields["organisation"].label_from_instance = lambda o: f"{o.name} — {o.siret}"
        self.fields["programme"].queryset = Programme.objects.order_by("-fiscal_year", "name")

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "organisation": data["organisation"],
            "programme": data["programme"],
            "title": data.get("title") or "",
            "summary": data.get("summary") or "",
            "requested_amount": data.get("requested_amount") or Decimal("0"),
            "urgency_reason": data.get("urgency_reason") or "",
            "data": {"qpvs": list(data.get("qpvs") or []), "pillar": data.get("pillar")},
        }


class ProgrammeFilterForm(forms.Form):
    programme = forms.ModelChoiceField(
        Programme.objects.none(),
        label=_("Programme"),
        required=False,
        empty_label=_("Tous les programmes"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["programme"].queryset = Programme.objects.order_by("-fiscal_year", "name")


# --------------------------------------------------------------------------- yearly amounts


class YearForm(forms.Form):
    """One fiscal year of a multi-year request; a row without an amount is ignored."""

    fiscal_year = forms.IntegerField(
        label=_("Exercice"), min_value=2000, max_value=2100, required=False
    )
    amount = MoneyField(label=_("Montant demandé (€)"), required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if (
            data.get("amount") is not None
            and data.get("fiscal_year") is None
            and "fiscal_year" not in self.errors
        ):
            self.add_error("fiscal_year", _("Indiquez l'exercice de ce montant."))
        return data


YearFormSet = forms.formset_factory(
    YearForm, extra=0, max_num=STRUCTURAL_MAX_YEARS, absolute_max=STRUCTURAL_MAX_YEARS
)


def shows_years(application: Application) -> bool:
    """The « Montants annuels » section: structural support, or any file asking for several years."""
    return application.kind == ApplicationKind.STRUCTURAL_SUPPORT or application.wants_multi_year


def years_initial(application: Application) -> list[dict[str, Any]]:
    """The saved years, completed up to 5 rows of consecutive fiscal years to fill in."""
    rows = [
        {"fiscal_year": y.fiscal_year, "amount": y.requested_amount}
        for y in application.years.all()
    ]
    if rows:
        start = rows[0]["fiscal_year"]
    elif application.start_date:
        start = application.start_date.year
    else:
        start = application.programme.fiscal_year
    while len(rows) < STRUCTURAL_MAX_YEARS:
        rows.append({"fiscal_year": start + len(rows), "amount": None})
    return rows


def years_formset(application: Application, data: Any = None) -> Any:
    if data is not None:
        return YearFormSet(data, prefix="years")
    return YearFormSet(prefix="years", initial=years_initial(application))


def years_rows(formset: Any) -> list[dict[str, Any]]:
    """The filled rows of a valid formset, as application_set_years takes them."""
    return [
        {"fiscal_year": f.cleaned_data["fiscal_year"], "amount": f.cleaned_data["amount"]}
        for f in formset
        if f.cleaned_data.get("amount") is not None
    ]


def link_errors(formset: Any) -> None:
    """Point each input in error at its message (aria-describedby) for screen readers."""
    for form in formset:
        for name in form.errors:
            if name in form.fields:
                form.fields[name].widget.attrs.update(
                    {"aria-describedby": f"{form[name].auto_id}_error", "aria-invalid": "true"}
                )
