"""Forms of the application pages. They parse and type the input; every rule is in grants.services
(a DomainError is put back on the form by `add_domain_error`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.db.models import QuerySet
from django.utils.formats import number_format
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from calls.models import Call, CallMode, CallState, Challenge
from calls.selectors import eligible_ids
from core.forms import (  # noqa: F401  (shared with the grants views)
    CheckboxList,
    DateInput,
    add_domain_error,
)
from core.limits import LONG_TEXT, SEARCH_TEXT, SHORT_TEXT
from core.models import QPV, Organisation, Pillar, Role, TransitionTheme, User

from .budget import CHARGE_ACCOUNTS, PRODUCT_ACCOUNTS, Account, SubsidySource
from .models import (
    Application,
    ApplicationState,
    CommitteeSession,
    CommitteeVote,
    PartnerOpinion,
    PaymentFlow,
)


class MoneyField(forms.DecimalField):
    """Euros to the cent, typed the French way or not: « 1 234,56 », « 1234.56 »."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", 12)
        kwargs.setdefault("decimal_places", 2)
        kwargs.setdefault("min_value", Decimal("0"))
        super().__init__(**kwargs)
        self.widget = forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"})

    def to_python(self, value: Any) -> Decimal | None:
        if isinstance(value, str):
            value = (
                value.replace("\u202f", "").replace("\xa0", "").replace(" ", "").replace("€", "")
            )
            if get_language() == "en":
                value = value.replace(",", "")  # 10,000.50
            elif "," in value:
                value = value.replace(".", "").replace(",", ".")  # 10 000,50 or 10.000,50
        return super().to_python(value)

    def prepare_value(self, value: Any) -> Any:
        """Shown as typed in the user's language: « 10 000,00 » in French, « 10000.00 » in English."""
        if isinstance(value, Decimal):
            if get_language() == "en":
                return f"{value:.2f}"
            return number_format(value, decimal_pos=2, use_l10n=True, force_grouping=True)
        return value


def _open_calls():
    return (
        Call.objects.filter(state=CallState.OPEN).select_related("programme").order_by("closes_at")
    )


# --------------------------------------------------------------------------- applicant


class ApplicationCreateForm(forms.Form):
    organisation = forms.ModelChoiceField(
        Organisation.objects.none(), label=_("Organisation qui dépose"), empty_label=None
    )
    call = forms.ModelChoiceField(
        Call.objects.none(), label=_("Appel"), empty_label=_("— Choisissez un appel ouvert —")
    )
    title = forms.CharField(label=_("Titre du projet"), max_length=255)

    def __init__(self, *args: Any, user: User, organisation_ids: set[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["organisation"].queryset = Organisation.objects.filter(pk__in=organisation_ids)
        self.fields["call"].queryset = _open_calls()


class RenewForm(forms.Form):
    call = forms.ModelChoiceField(
        Call.objects.none(),
        label=_("Appel dans lequel renouveler le dossier"),
        empty_label=_("— Choisissez un appel ouvert —"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["call"].queryset = _open_calls()


class ApplicationForm(forms.Form):
    """The project part of the dossier (the budget and indicators are formsets beside it)."""

    title = forms.CharField(label=_("Titre du projet"), max_length=255)
    summary = forms.CharField(
        max_length=LONG_TEXT,
        label=_("Résumé du projet"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    start_date = forms.DateField(label=_("Début du projet"), required=False, widget=DateInput())
    end_date = forms.DateField(label=_("Fin du projet"), required=False, widget=DateInput())
    qpvs = forms.ModelMultipleChoiceField(
        QPV.objects.none(),
        label=_("Quartiers prioritaires ciblés"),
        required=False,
        widget=CheckboxList,
        help_text=_("Cochez un ou plusieurs quartiers."),
    )
    pillar = forms.ModelChoiceField(
        Pillar.objects.none(),
        label=_("Pilier du contrat de ville"),
        required=False,
        empty_label=_("— Choisissez un pilier —"),
    )
    themes = forms.ModelMultipleChoiceField(
        TransitionTheme.objects.all(),
        label=_("Thèmes de transition"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    beneficiaries_count = forms.IntegerField(
        label=_("Nombre de bénéficiaires visés"), required=False, min_value=0
    )
    requested_amount = MoneyField(label=_("Montant demandé (€)"), required=False)
    wants_multi_year = forms.BooleanField(
        label=_("Je demande un financement pluriannuel"), required=False
    )
    objectives = forms.CharField(
        max_length=LONG_TEXT,
        label=_("Objectifs"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Un objectif par ligne."),
    )

    def __init__(self, *args: Any, call: Call | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # An open call lists its eligible neighbourhoods and pillars; no restriction means all.
        # Read once for both (one query on their link tables, issue 17).
        qpv_ids, pillar_ids = eligible_ids(call) if call is not None else (set(), set())
        restricts_qpvs, restricts_pillars = bool(qpv_ids), bool(pillar_ids)
        self.fields["qpvs"].queryset = (
            call.eligible_qpvs.all() if call is not None and restricts_qpvs else QPV.objects.all()
        )
        self.fields["pillar"].queryset = (
            call.eligible_pillars.all()
            if call is not None and restricts_pillars
            else Pillar.objects.all()
        )
        if call is not None and call.mode == CallMode.SOLUTIONS_CALL:
            # Call for solutions: the action answers one of the expected solutions retained for the call
            # (required on submission: grants.eligibility).
            self.fields["challenge"] = forms.ModelChoiceField(
                Challenge.objects.filter(call=call, state=Challenge.State.APPROVED).select_related(
                    "qpv"
                ),
                label=_("Solution attendue à laquelle l'action répond"),
                required=False,
                empty_label=_("— Choisissez une solution attendue —"),
                help_text=_(
                    "Les solutions attendues ont été définies par les habitant·es du quartier."
                ),
            )

    @staticmethod
    def initial_for(application: Application) -> dict[str, Any]:
        return {
            "title": application.title,
            "summary": application.summary,
            "start_date": application.start_date,
            "end_date": application.end_date,
            "qpvs": list(application.qpvs.all()),
            "pillar": application.pillar,
            "themes": list(application.themes.all()),
            "beneficiaries_count": application.beneficiaries_count,
            "requested_amount": application.requested_amount,
            "wants_multi_year": application.wants_multi_year,
            "objectives": "\n".join(o.text for o in application.objectives.all()),
            "challenge": application.challenge_id,
        }

    def service_data(self) -> dict[str, Any]:
        """The valid part of the input, as application_update takes it (invalid fields left out)."""
        data = dict(self.cleaned_data)
        if "requested_amount" in data and data["requested_amount"] is None:
            data["requested_amount"] = Decimal("0")
        if "objectives" in data:
            data["objectives"] = [line for line in data["objectives"].splitlines() if line.strip()]
        return data


class IndicatorForm(forms.Form):
    label = forms.CharField(label=_("Indicateur"), max_length=300, required=False)
    unit = forms.CharField(label=_("Unité"), max_length=50, required=False)
    target = forms.DecimalField(
        label=_("Cible"),
        max_digits=12,
        decimal_places=2,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("label") and data.get("target") is None and "target" not in self.errors:
            self.add_error("target", _("Indiquez la valeur cible de l'indicateur."))
        return data


IndicatorFormSet = forms.formset_factory(IndicatorForm, extra=2)


class BudgetRowForm(forms.Form):
    """One line of the CERFA 12156*06 budget: an account, its funder for 74, a label, an amount."""

    account = forms.ChoiceField(label=_("Compte"), required=False)
    subsidy_source = forms.ChoiceField(
        label=_("Financeur (compte 74)"),
        required=False,
        choices=[("", "—"), *SubsidySource.choices],
    )
    label = forms.CharField(label=_("Libellé"), max_length=200, required=False)
    amount = MoneyField(label=_("Montant (€)"), required=False)

    accounts: list[str] = []
    side = ""

    def is_blank(self) -> bool:
        """No amount and no label: a starter line whose account alone is chosen is not a line."""
        data = getattr(self, "cleaned_data", {})
        return data.get("amount") is None and not data.get("label")

    def is_kept(self) -> bool:
        """A filled line whose « Supprimer » box is not ticked."""
        return not self.is_blank() and not getattr(self, "cleaned_data", {}).get("DELETE")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if (data.get("amount") is not None or data.get("label")) and not data.get("account"):
            self.add_error("account", _("Choisissez le compte de cette ligne."))
        return data

    def row(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "account": data["account"],
            "subsidy_source": data.get("subsidy_source", ""),
            "label": data.get("label", ""),
            "amount": data.get("amount") or Decimal("0"),
        }


def _account_field(accounts: list[str]) -> forms.ChoiceField:
    """The account of a line of one side: its choices are built once, with the class, not for
    each line of each request (issue 17)."""
    labels = dict(Account.choices)
    return forms.ChoiceField(
        label=_("Compte"),
        required=False,
        choices=[("", _("— Compte —")), *((a, labels[a]) for a in accounts)],
    )


def _amount_field(side: str) -> MoneyField:
    field = MoneyField(label=_("Montant (€)"), required=False)
    field.widget.attrs["data-budget"] = side
    return field


class ChargeRowForm(BudgetRowForm):
    accounts = CHARGE_ACCOUNTS
    side = "charge"
    account = _account_field(CHARGE_ACCOUNTS)
    subsidy_source = None  # type: ignore[assignment]  # a charge has no funder
    amount = _amount_field("charge")


class ProductRowForm(BudgetRowForm):
    accounts = PRODUCT_ACCOUNTS
    side = "product"
    account = _account_field(PRODUCT_ACCOUNTS)
    amount = _amount_field("product")


# Lines are added in place (static/js/budget.js) or with « Ajouter une ligne » without JavaScript,
# and removed with their « Supprimer » box; a posted formset is capped at BUDGET_MAX_LINES.
BUDGET_MAX_LINES = 60
ChargeFormSet = forms.formset_factory(
    ChargeRowForm, extra=0, can_delete=True, max_num=BUDGET_MAX_LINES, absolute_max=BUDGET_MAX_LINES
)
ProductFormSet = forms.formset_factory(
    ProductRowForm,
    extra=0,
    can_delete=True,
    max_num=BUDGET_MAX_LINES,
    absolute_max=BUDGET_MAX_LINES,
)
# A new budget starts with the lines most projects fill in (CERFA 12156*06): purchases, staff,
# external services on the charges side; the city's and the State's subsidies, own resources on the
# products side. They are blank until an amount is typed; a blank line is never saved.
STARTER_LINES = {
    "charges": [{"account": "60"}, {"account": "64"}, {"account": "62"}],
    "products": [
        {"account": "74", "subsidy_source": "state"},
        {"account": "74", "subsidy_source": "municipality"},
        {"account": "75"},
    ],
}


def budget_formset(formset_class: Any, side: str, initial: list[dict]) -> Any:
    """An unbound budget formset: the saved lines and one blank line, or the starter lines."""
    if not initial:
        return formset_class(prefix=side, initial=STARTER_LINES[side])
    formset = formset_class(prefix=side, initial=initial)
    formset.extra = 1
    return formset


def budget_initial(application: Application) -> tuple[list[dict], list[dict]]:
    charges, products = [], []
    for item in application.budget_items.filter(partner=None):
        row = {
            "account": item.account,
            "subsidy_source": item.subsidy_source,
            "label": item.label,
            "amount": item.amount,
        }
        (charges if item.account in CHARGE_ACCOUNTS else products).append(row)
    return charges, products


# --------------------------------------------------------------------------- transitions


class TransitionForm(forms.Form):
    """The inputs of one transition (declared in grants.transitions); `service_data()` is what
    grants.services.run_transition takes."""

    def __init__(self, *args: Any, application: Application, **kwargs: Any) -> None:
        self.application = application
        super().__init__(*args, **kwargs)

    def service_data(self) -> dict[str, Any]:
        return dict(self.cleaned_data)


class EmptyTransitionForm(TransitionForm):
    pass


class OptionalReasonForm(TransitionForm):
    reason = forms.CharField(
        max_length=SHORT_TEXT,
        label=_("Commentaire (facultatif)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class ReasonForm(TransitionForm):
    reason = forms.CharField(
        max_length=SHORT_TEXT,
        label=_("Motif"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Obligatoire : il est communiqué au porteur de projet."),
    )


class RequestCompletionForm(TransitionForm):
    message = forms.CharField(
        max_length=SHORT_TEXT,
        label=_("Ce qui doit être complété"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    deadline = forms.DateField(
        label=_("Date limite de réponse"), required=False, widget=DateInput()
    )


class ResubmitForm(TransitionForm):
    answer = forms.CharField(
        max_length=SHORT_TEXT,
        label=_("Votre réponse"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    attachment = forms.FileField(label=_("Pièce jointe (facultatif)"), required=False)
    attachment_title = forms.CharField(
        label=_("Titre de la pièce jointe"), max_length=200, required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        extensions = ", ".join(settings.UPLOAD_ALLOWED_EXTENSIONS)
        max_mb = settings.UPLOAD_MAX_BYTES // (1024 * 1024)
        self.fields["attachment"].help_text = _(
            "Formats acceptés : %(ext)s ; %(max)s Mo au plus."
        ) % {"ext": extensions, "max": max_mb}
        self.fields["attachment"].widget.attrs["accept"] = ",".join(
            f".{e}" for e in settings.UPLOAD_ALLOWED_EXTENSIONS
        )

    def service_data(self) -> dict[str, Any]:
        return {"answer": self.cleaned_data.get("answer", "")}


class SendToCommitteeForm(TransitionForm):
    proposed_amount = MoneyField(label=_("Montant proposé (€)"), required=False)
    session = forms.ModelChoiceField(
        CommitteeSession.objects.none(),
        label=_("Séance de comité"),
        required=False,
        empty_label=_("— Prochaine séance du programme —"),
    )
    note = forms.CharField(
        max_length=LONG_TEXT,
        label=_("Avis de l'instruction"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["session"].queryset = CommitteeSession.objects.filter(
            programme_id=self.application.programme_id,
            state__in=[CommitteeSession.State.PLANNED, CommitteeSession.State.OPEN],
        )
        if not self.is_bound and self.application.requested_amount:
            self.initial.setdefault(
                "proposed_amount",
                self.application.proposed_amount or self.application.requested_amount,
            )


class ApproveForm(TransitionForm):
    amount = MoneyField(label=_("Montant accordé (€)"), required=False)
    conditions = forms.CharField(
        max_length=SHORT_TEXT,
        label=_("Conditions"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    is_multi_year = forms.BooleanField(label=_("Financement pluriannuel (CPO)"), required=False)
    envelope_override_reason = forms.CharField(
        max_length=SHORT_TEXT,
        label=_("Motif de dépassement d'enveloppe"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Seulement si la décision dépasse l'enveloppe."),
    )
    reason = forms.CharField(
        max_length=SHORT_TEXT,
        label=_("Motivation de la décision"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    payment_flow = forms.ChoiceField(
        label=_("Versement (dossier collectif)"),
        required=False,
        choices=PaymentFlow.choices,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound and self.application.proposed_amount is not None:
            self.initial.setdefault("amount", self.application.proposed_amount)
        if self.application.partners.filter(state="accepted").exists():
            self.initial.setdefault("payment_flow", self.application.payment_flow)
        else:
            del self.fields["payment_flow"]
        # A multi-year request (structural support): the approved amount of each year.
        self.years = list(self.application.years.all())
        for year in self.years:
            self.fields[f"year_{year.fiscal_year}"] = MoneyField(
                label=_("Montant accordé pour %(y)d (€)") % {"y": year.fiscal_year},
                required=False,
                help_text=_("Demandé : %(a)s €. Vide : réparti au prorata de la demande.")
                % {"a": year.requested_amount},
            )

    def service_data(self) -> dict[str, Any]:
        data = {k: v for k, v in self.cleaned_data.items() if not k.startswith("year_")}
        yearly = {y.fiscal_year: self.cleaned_data.get(f"year_{y.fiscal_year}") for y in self.years}
        if yearly and all(v is not None for v in yearly.values()):
            data["yearly_amounts"] = yearly
        return data


# --------------------------------------------------------------------------- instruction


def instructors() -> Any:
    return (
        User.objects.filter(
            role_assignments__role__in=[Role.INSTRUCTOR, Role.PROGRAMME_MANAGER], is_active=True
        )
        .distinct()
        .order_by("last_name", "first_name", "email")
    )


class AssignForm(forms.Form):
    assigned_to = forms.ModelChoiceField(
        User.objects.none(),
        label=_("Instructeur·rice"),
        required=False,
        empty_label=_("— Personne —"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assigned_to"].queryset = instructors()


class NoteForm(forms.Form):
    text = forms.CharField(
        max_length=LONG_TEXT,
        label=_("Nouvelle note interne"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Visible uniquement par l'instruction et le comité, jamais par le porteur."),
    )


class OpinionForm(forms.Form):
    opinion = forms.ChoiceField(
        label=_("Avis"), choices=PartnerOpinion.Opinion.choices, widget=forms.RadioSelect
    )
    comment = forms.CharField(
        max_length=SHORT_TEXT,
        label=_("Commentaire"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class ScoreForm(forms.Form):
    """One input per criterion of the call's grid: score_<criterion id>."""

    def __init__(self, *args: Any, criteria: list, mine: dict[int, int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for criterion in criteria:
            self.fields[f"score_{criterion.pk}"] = forms.IntegerField(
                label=_("%(label)s (sur %(max)d)")
                % {"label": criterion.label, "max": criterion.max_score},
                required=False,
                initial=mine.get(criterion.pk),
                widget=forms.NumberInput(attrs={"min": 0, "max": criterion.max_score}),
            )

    def scores(self) -> dict[int, int]:
        return {
            int(name.removeprefix("score_")): value
            for name, value in self.cleaned_data.items()
            if value is not None
        }


class QueueFilterForm(forms.Form):
    q = forms.CharField(
        max_length=SEARCH_TEXT,
        label=_("Rechercher"),
        required=False,
        help_text=_("Référence, organisation, SIRET ou titre"),
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    state = forms.ChoiceField(
        label=_("État"),
        required=False,
        choices=[
            ("", _("Tous")),
            *((v, lbl) for v, lbl in ApplicationState.choices if v != ApplicationState.DRAFT),
        ],
    )
    call = forms.ModelChoiceField(
        Call.objects.none(), label=_("Appel"), required=False, empty_label=_("Tous")
    )
    pillar = forms.ModelChoiceField(
        Pillar.objects.all(), label=_("Pilier"), required=False, empty_label=_("Tous")
    )
    qpv = forms.ModelChoiceField(
        QPV.objects.all(), label=_("Quartier"), required=False, empty_label=_("Tous")
    )
    assigned_to = forms.ModelChoiceField(
        User.objects.none(), label=_("Instructeur·rice"), required=False, empty_label=_("Tous")
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["call"].queryset = Call.objects.exclude(state=CallState.DRAFT).order_by(
            "-opens_at"
        )
        self.fields["assigned_to"].queryset = instructors()

    def filters(self) -> dict[str, Any]:
        """The selector's filter dict (ids), without the state: the tabs count every state."""
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        return {
            "q": data.get("q") or "",
            "call": data["call"].pk if data.get("call") else None,
            "pillar": data["pillar"].pk if data.get("pillar") else None,
            "qpv": data["qpv"].pk if data.get("qpv") else None,
            "assigned_to": data["assigned_to"].pk if data.get("assigned_to") else None,
        }


# --------------------------------------------------------------------------- committee


class SessionCreateForm(forms.Form):
    programme = forms.ModelChoiceField(None, label=_("Programme"))
    call = forms.ModelChoiceField(
        Call.objects.none(),
        label=_("Appel (facultatif)"),
        required=False,
        empty_label=_("— Tout le programme —"),
    )
    title = forms.CharField(label=_("Intitulé de la séance"), max_length=200, required=False)
    date = forms.DateField(label=_("Date de la séance"), widget=DateInput())
    chair = forms.ModelChoiceField(
        None,
        label=_("Président·e de séance"),
        required=False,
        empty_label=_("— À désigner à l'ouverture —"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from calls.models import Programme

        super().__init__(*args, **kwargs)
        self.fields["programme"].queryset = Programme.objects.all()
        self.fields["chair"].queryset = committee_members()
        self.fields["call"].queryset = Call.objects.exclude(state=CallState.DRAFT).select_related(
            "programme"
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        call, programme = data.get("call"), data.get("programme")
        if call is not None and programme is not None and call.programme_id != programme.pk:
            self.add_error("call", _("Cet appel n'appartient pas au programme choisi."))
        return data


class DecisionForm(forms.Form):
    """One file of the agenda in the session's single decisions form (prefix app-<id>)."""

    DECISIONS = [("defer", _("Reporter")), ("approve", _("Accorder")), ("reject", _("Refuser"))]

    decision = forms.ChoiceField(
        label=_("Décision"), choices=DECISIONS, initial="defer", widget=forms.RadioSelect
    )
    amount = MoneyField(label=_("Montant accordé (€)"), required=False)
    conditions = forms.CharField(
        max_length=SHORT_TEXT,
        label=_("Conditions"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    is_multi_year = forms.BooleanField(label=_("Pluriannuel"), required=False)
    envelope_override_reason = forms.CharField(
        max_length=SHORT_TEXT,
        label=_("Motif de dépassement d'enveloppe"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    reason = forms.CharField(
        max_length=SHORT_TEXT,
        label=_("Motivation"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, application: Application, **kwargs: Any) -> None:
        self.application = application
        kwargs.setdefault("prefix", f"app-{application.pk}")
        super().__init__(*args, **kwargs)
        if not self.is_bound and application.proposed_amount is not None:
            self.initial.setdefault("amount", application.proposed_amount)

    def service_row(self) -> dict[str, Any]:
        return {"application": self.application.pk, **self.cleaned_data}


def committee_members() -> QuerySet[User]:
    """The people who may sit in a committee: committee members and programme managers."""
    return (
        User.objects.filter(
            role_assignments__role__in=[Role.COMMITTEE_MEMBER, Role.PROGRAMME_MANAGER],
            is_active=True,
        )
        .distinct()
        .order_by("last_name", "first_name", "email")
    )


class _MemberChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:  # type: ignore[override]
        return obj.get_full_name() or obj.email


class _MembersChoice(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: User) -> str:  # type: ignore[override]
        return obj.get_full_name() or obj.email


class SessionOpenForm(forms.Form):
    """Opening a session: who chairs it and who is present (the programme's quorum)."""

    chair = _MemberChoice(None, label=_("Président·e de séance"))
    present = _MembersChoice(None, label=_("Membres présents"), widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args: Any, session: CommitteeSession, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "open")
        super().__init__(*args, **kwargs)
        members = committee_members()
        self.fields["chair"].queryset = members
        self.fields["present"].queryset = members
        if not self.is_bound and session.chair_id:
            self.initial.setdefault("chair", session.chair_id)


class VoteDecisionForm(DecisionForm):
    """One file of the agenda where the programme decides by vote: each present member's vote;
    the decision is the outcome (grants.services.committee.vote_outcome)."""

    DECISIONS = [("defer", _("Reporter")), ("vote", _("Soumettre au vote"))]

    def __init__(self, *args: Any, members: list[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["decision"].choices = self.DECISIONS
        self.members = members
        for member in members:
            self.fields[f"vote_{member.pk}"] = forms.ChoiceField(
                label=member.get_full_name() or member.email,
                choices=[("", "—"), *CommitteeVote.Choice.choices],
                required=False,
            )

    def vote_fields(self) -> list[forms.BoundField]:
        return [self[f"vote_{m.pk}"] for m in self.members]

    def service_row(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        votes = {m.pk: data.pop(f"vote_{m.pk}", "") for m in self.members}
        return {"application": self.application.pk, **data, "votes": votes}


class MinutesForm(forms.Form):
    minutes = forms.CharField(
        max_length=LONG_TEXT,
        label=_("Procès-verbal"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
    )
