"""Forms of the agreement pages. They parse and type the input; every rule is in cpo.services,
cpo.services_changes and cpo.schedules (a DomainError is put back on the form by `put_error`)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from calls.models import Programme
from core.errors import DomainError
from core.forms import DateInput
from core.identifiers import validate_ej
from core.limits import LONG_TEXT, SEARCH_TEXT, SHORT_TEXT
from core.models import BudgetLine, Funder, Organisation
from grants.forms import MoneyField
from grants.models import Application

from .models import Agreement, AgreementState, Instalment, InstalmentTemplate, Profile
from .schedules import MAX_YEARS, RECOMMENDED_MAX_YEARS

HUNDRED = Decimal("100")
# Field names used by the services and cpo.schedules → the form's field names.
FIELD_MAP = {
    "years": "duration_years",
    "unit": "rounding_unit",
    "template": "instalment_template",
    "year_amount": "instalment_template",
    "total": "profile",
    "first_year_amount": "profile",
    "shares": "funders",
    "signature_date": None,
    "fiscal_year": "first_year",
}
TEMPLATE_CHOICES = InstalmentTemplate.choices
CUSTOM_ROW = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*%\s*(?:au|le|à)?\s*(\d{1,2})/(\d{1,2})\s*$")


def put_error(form: forms.Form, exc: DomainError, field_map: dict[str, Any] | None = None) -> None:
    """Show a service's DomainError next to the field it names (the services' field names
    translated to the form's), else at the top of the form."""
    mapping = {**FIELD_MAP, **(field_map or {})}
    if not exc.errors:
        form.add_error(None, str(exc.message))
        return
    for field, messages in exc.errors.items():
        target = mapping.get(field, field)
        for message in messages:
            form.add_error(target if target in form.fields else None, str(message))


class PercentField(forms.DecimalField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", 7)
        kwargs.setdefault("decimal_places", 4)
        kwargs.setdefault("min_value", Decimal("0"))
        kwargs.setdefault("max_value", HUNDRED)
        super().__init__(**kwargs)
        self.widget = forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"})

    # The stubs make DecimalField inherit IntegerField.to_python's return type (int).
    def to_python(self, value: Any) -> Decimal | None:  # type: ignore[override]
        if isinstance(value, str):
            value = value.replace("%", "").replace(" ", "").replace("\xa0", "").replace(",", ".")
        return super().to_python(value)


# --------------------------------------------------------------------------- preparation


class AgreementPrepareForm(forms.Form):
    """« Préparer la convention »: the profile of the yearly amounts, the duration, the rounding,
    the instalments; the funders are a formset beside it."""

    profile = forms.ChoiceField(label=_("Profil des montants annuels"), choices=Profile.choices)
    duration_years = forms.IntegerField(
        label=_("Durée (exercices)"),
        min_value=1,
        max_value=MAX_YEARS,
        help_text=_("De 1 à 5 ans ; le modèle de 2015 recommande 4 ans au plus."),
    )
    first_year = forms.IntegerField(label=_("Premier exercice"), min_value=2000, max_value=2200)
    rate = PercentField(
        label=_("Taux d'évolution annuel (%)"),
        required=False,
        max_value=None,  # the service explains why a rate is too high for the profile
        help_text=_("Profils progressif ou dégressif par taux : 5 pour 5 % par an."),
    )
    step = MoneyField(
        label=_("Pas annuel (€)"),
        required=False,
        help_text=_("Profils progressif ou dégressif par pas fixe."),
    )
    rounding_unit = forms.ChoiceField(
        label=_("Arrondi des montants annuels"),
        choices=[("1", _("À l'euro (par défaut)")), ("0.01", _("Au centime"))],
        initial="1",
    )
    instalment_template = forms.ChoiceField(label=_("Échéancier"), choices=TEMPLATE_CHOICES)
    advance_percent = PercentField(
        label=_("Avance (% du montant de l'année)"), initial=Decimal("50"), required=False
    )
    interim_percent = PercentField(
        label=_("Acompte (% du montant de l'année)"),
        initial=Decimal("30"),
        required=False,
        help_text=_("Échéancier « avance, acompte et solde » seulement."),
    )
    instalment_custom = forms.CharField(
        max_length=500,
        label=_("Échéancier personnalisé"),
        required=False,
        help_text=_(
            "Échéancier « personnalisé » seulement : les versements de chaque année, séparés par « ; », "
            "par exemple « 40 % au 15/01 ; 35 % au 01/06 ; 25 % au 01/10 »."
        ),
    )
    advance_cap_percent = PercentField(
        label=_("Plafond de l'avance (%)"),
        initial=Decimal("50"),
        help_text=_("50 % au plus selon la circulaire du 29 septembre 2015."),
    )

    def __init__(self, *args: Any, application: Application, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.application = application
        for year in range(1, MAX_YEARS + 1):
            self.fields[f"custom_{year}"] = MoneyField(
                label=_("Montant de l'année %(n)s (€)") % {"n": year}, required=False
            )

    @property
    def custom_fields(self) -> list[forms.BoundField]:
        return [self[f"custom_{year}"] for year in range(1, MAX_YEARS + 1)]

    @property
    def main_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if not name.startswith("custom_")]

    @property
    def long_duration(self) -> bool:
        value = self.data.get(self.add_prefix("duration_years")) if self.is_bound else None
        value = value or self.initial.get("duration_years")
        try:
            return int(cast(Any, value)) > RECOMMENDED_MAX_YEARS
        except (TypeError, ValueError):
            return False

    @classmethod
    def initial_for(cls, application: Application) -> dict[str, Any]:
        """Prefilled from the decision: the approved years (custom profile) when there are some."""
        years = sorted(application.years.all(), key=lambda y: y.fiscal_year)
        approved = [y for y in years if y.approved_amount is not None]
        initial: dict[str, Any] = {
            "profile": Profile.FLAT,
            "duration_years": max(application.duration_years or 1, 1),
            "first_year": application.programme.fiscal_year,
            "rounding_unit": "1",
            "instalment_template": InstalmentTemplate.ADVANCE_BALANCE,
            "advance_percent": Decimal("50"),
            "interim_percent": Decimal("30"),
            "advance_cap_percent": Decimal("50"),
        }
        if approved and len(approved) == len(years):
            initial.update(
                profile=Profile.CUSTOM,
                duration_years=len(approved),
                first_year=approved[0].fiscal_year,
            )
            for index, year in enumerate(approved[:MAX_YEARS], start=1):
                initial[f"custom_{index}"] = year.approved_amount
        return initial

    def clean_instalment_custom(self) -> str:
        """« 40 % au 15/01 ; 35 % au 01/06 » → rows of percent, month, day (checked by the service)."""
        text = self.cleaned_data.get("instalment_custom") or ""
        rows = []
        for i, part in enumerate(p for p in text.split(";") if p.strip()):
            match = CUSTOM_ROW.match(part)
            if not match:
                raise forms.ValidationError(
                    _("Versement %(n)d illisible : écrivez par exemple « 40 %% au 15/01 ».")
                    % {"n": i + 1}
                )
            percent, day, month = match.groups()
            rows.append(
                {"percent": percent.replace(",", "."), "month": int(month), "day": int(day)}
            )
        self.cleaned_data["instalment_custom_rows"] = rows
        return text

    def service_params(self, funders: list[dict[str, Any]] | None) -> dict[str, Any]:
        """The keyword arguments of agreement_create_from_application (but actor and application).
        Parameters of another profile than the one chosen are left out, not refused."""
        data = self.cleaned_data
        profile = data["profile"]
        duration = data["duration_years"]
        params: dict[str, Any] = {
            "profile": profile,
            "duration_years": duration,
            "first_year": data["first_year"],
            "rounding_unit": Decimal(data["rounding_unit"]),
            "instalment_template": data["instalment_template"],
            "advance_cap_percent": data["advance_cap_percent"],
            "funders": funders,
        }
        if data.get("advance_percent") is not None:
            params["advance_percent"] = data["advance_percent"]
        if data.get("interim_percent") is not None:
            params["interim_percent"] = data["interim_percent"]
        if data["instalment_template"] == InstalmentTemplate.CUSTOM:
            params["instalment_custom"] = data.get("instalment_custom_rows") or []
        if profile.endswith("_rate"):
            params["rate"] = None if data.get("rate") is None else data["rate"] / HUNDRED
        elif profile.endswith("_step"):
            params["step"] = data.get("step")
        elif profile == Profile.CUSTOM:
            params["custom"] = [
                data[f"custom_{year}"]
                for year in range(1, duration + 1)
                if data.get(f"custom_{year}") is not None
            ]
        return params


class FunderRowForm(forms.Form):
    funder = forms.ModelChoiceField(
        Funder.objects.order_by("name"),
        label=_("Financeur"),
        required=False,
        empty_label=_("— Aucun —"),
    )
    share = PercentField(label=_("Part (%)"), required=False)
    ej_number = forms.CharField(
        label=_("N° d'engagement juridique (EJ)"),
        max_length=10,
        required=False,
        validators=[validate_ej],
        help_text=_("10 chiffres (Chorus) ; peut être complété plus tard."),
    )

    def clean(self) -> dict[str, Any]:
        data = cast(dict[str, Any], super().clean())
        if data.get("funder") and data.get("share") in (None, Decimal("0")):
            self.add_error("share", _("Indiquez la part de ce financeur."))
        if not data.get("funder") and data.get("share"):
            self.add_error("funder", _("Choisissez le financeur de cette part."))
        return data


class BaseFunderFormSet(forms.BaseFormSet):
    def clean(self) -> None:
        if any(self.errors):
            return
        rows = [f.cleaned_data for f in self.forms if f.cleaned_data.get("funder")]
        if not rows:
            raise ValidationError(_("Indiquez au moins un financeur."))
        funders = [r["funder"].pk for r in rows]
        if len(set(funders)) != len(funders):
            raise ValidationError(_("Un même financeur figure deux fois."))

    def service_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "funder": f.cleaned_data["funder"],
                "share": f.cleaned_data["share"] / HUNDRED,
                "ej_number": f.cleaned_data.get("ej_number", ""),
            }
            for f in self.forms
            if f.cleaned_data.get("funder")
        ]


FunderFormSet = forms.formset_factory(
    FunderRowForm, formset=BaseFunderFormSet, extra=0, min_num=3, max_num=6
)


def funder_initial(application: Application) -> list[dict[str, Any]]:
    """The programme's funder, and the application's co-funder when there is one (half each, to
    adjust)."""
    programme = application.programme
    main = (
        cast(BudgetLine, programme.budget_line).funder if programme.budget_line_id else None
    ) or programme.funders.first()
    cofunder = application.cofunder if application.cofunder_id else None
    if cofunder and main and cofunder != main:
        return [
            {"funder": main, "share": Decimal("50")},
            {"funder": cofunder, "share": Decimal("50")},
        ]
    first = main or cofunder
    return [{"funder": first, "share": HUNDRED}] if first else []


# --------------------------------------------------------------------------- list


class AgreementFilterForm(forms.Form):
    state = forms.ChoiceField(
        label=_("État"), choices=[("", _("Tous"))] + list(AgreementState.choices), required=False
    )
    programme = forms.ModelChoiceField(
        Programme.objects.none(), label=_("Programme"), required=False, empty_label=_("Tous")
    )
    organisation = forms.ModelChoiceField(
        Organisation.objects.none(),
        label=_("Organisation"),
        required=False,
        empty_label=_("Toutes"),
    )
    q = forms.CharField(
        max_length=SEARCH_TEXT,
        label=_("Recherche (référence, objet, organisation)"),
        required=False,
    )

    def __init__(self, *args: Any, agreements: QuerySet[Agreement], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(
            "forms.ModelChoiceField[Programme]", self.fields["programme"]
        ).queryset = Programme.objects.filter(pk__in=agreements.values("programme_id")).order_by(
            "-fiscal_year", "name"
        )
        cast(
            "forms.ModelChoiceField[Organisation]", self.fields["organisation"]
        ).queryset = Organisation.objects.filter(
            pk__in=agreements.values("organisation_id")
        ).order_by("name")


# --------------------------------------------------------------------------- actions


class SignForm(forms.Form):
    signed_on = forms.DateField(label=_("Signée (ou notifiée) le"), widget=DateInput())
    signed_document = forms.FileField(
        label=_("Exemplaire signé (PDF)"),
        required=False,
        help_text=_("Stocké en accès restreint : instruction et membres de l'association."),
    )

    def __init__(self, *args: Any, require_document: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["signed_document"].required = require_document


class ReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=SHORT_TEXT, label=_("Motif"), widget=forms.Textarea(attrs={"rows": 3})
    )


class OptionalReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=SHORT_TEXT,
        label=_("Motif (facultatif)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class AmendmentForm(forms.Form):
    """« Proposer un avenant »: new amounts of future years, duration, objectives, with a reason."""

    reason = forms.CharField(
        max_length=SHORT_TEXT,
        label=_("Motif de l'avenant"),
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    effective_on = forms.DateField(label=_("Prend effet le"), widget=DateInput())
    duration_years = forms.IntegerField(
        label=_("Nouvelle durée (exercices)"),
        min_value=1,
        max_value=MAX_YEARS,
        required=False,
        help_text=_("Laisser vide pour garder la durée."),
    )
    objectives = forms.CharField(
        max_length=LONG_TEXT,
        label=_("Nouveaux objectifs"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Un objectif par ligne ; laisser vide pour les garder."),
    )

    def __init__(self, *args: Any, fiscal_years: list[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fiscal_years = fiscal_years
        for year in fiscal_years:
            self.fields[f"year_{year}"] = MoneyField(
                label=_("Montant %(year)s (€)") % {"year": year},
                required=False,
                help_text=_("Laisser vide pour garder le montant."),
            )

    @property
    def year_fields(self) -> list[forms.BoundField]:
        return [self[f"year_{y}"] for y in self.fiscal_years]

    def change_params(self) -> dict[str, Any]:
        data = self.cleaned_data
        years = {
            y: data[f"year_{y}"] for y in self.fiscal_years if data.get(f"year_{y}") is not None
        }
        objectives = [line.strip() for line in (data.get("objectives") or "").splitlines()]
        return {
            "years": years or None,
            "duration_years": data.get("duration_years"),
            "objectives": [o for o in objectives if o] or None,
        }


class RecoveryForm(forms.Form):
    fiscal_year = forms.TypedChoiceField(label=_("Exercice"), coerce=int, choices=())
    unspent = MoneyField(label=_("Non consommé ou mal employé (€)"))
    reason = forms.CharField(
        max_length=SHORT_TEXT, label=_("Motif"), widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args: Any, fiscal_years: list[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["fiscal_year"]).choices = [
            (y, str(y)) for y in fiscal_years
        ]


class RecoveryOffsetForm(forms.Form):
    instalment = forms.ModelChoiceField(
        Instalment.objects.none(), label=_("Échéance sur laquelle compenser")
    )

    def __init__(self, *args: Any, instalments: QuerySet[Instalment], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast("forms.ModelChoiceField[Instalment]", self.fields["instalment"])
        field.queryset = instalments
        field.label_from_instance = lambda i: (  # type: ignore[method-assign, assignment]
            f"{i.year.fiscal_year} n° {i.number} — {i.get_kind_display()} — "
            f"{i.amount} € ({i.funder.funder}) — {i.get_state_display()}"
        )
