"""Forms of the anti-call pages. They parse and type the input; every rule is in calls.services
(needs) and grants.anticall.services (candidacies), whose DomainError `add_domain_error` puts back
next to the field it names."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from calls.models import Call
from core.clock import today
from core.limits import LONG_TEXT, SEARCH_TEXT, SHORT_TEXT
from core.models import QPV, Funder, Organisation, User
from core.permissions import organisation_ids_of
from core.selectors import organisations_visible_to

from ..forms import DateInput, MoneyField, add_domain_error  # noqa: F401 (re-exported)
from ..models import Candidacy, CoachingEntry
from .models import DEFAULT_PROTOTYPING_DAYS
from .selectors import organisations_matching

# --------------------------------------------------------------------------- needs


class NeedForm(forms.Form):
    """A need seen in a neighbourhood (calls.services.need_record checks the required texts)."""

    qpv = forms.ModelChoiceField(
        QPV.objects.none(),
        label=_("Quartier prioritaire"),
        empty_label=_("— Choisissez un quartier —"),
    )
    title = forms.CharField(
        label=_("Besoin"),
        max_length=255,
        required=False,
        help_text=_("En une phrase, ce qui manque aux habitant·es."),
    )
    description = forms.CharField(
        max_length=LONG_TEXT,
        label=_("Description"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    raised_by = forms.CharField(
        label=_("Repéré par"),
        max_length=200,
        required=False,
        help_text=_("Partenaire ou acteur qui a fait remonter le besoin."),
    )
    evidence = forms.CharField(
        max_length=LONG_TEXT,
        label=_("Éléments probants (facultatif)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, call: Call, **kwargs: Any) -> None:
        super().__init__(*args, prefix="need", **kwargs)
        qpvs = call.eligible_qpvs.all()
        self.fields["qpv"].queryset = qpvs if qpvs.exists() else QPV.objects.all()


# --------------------------------------------------------------------------- sourcing


class OrganisationSearchForm(forms.Form):
    q = forms.CharField(
        label=_("Rechercher une organisation"),
        required=False,
        max_length=100,
        help_text=_("Nom ou SIRET"),
        widget=forms.TextInput(attrs={"type": "search"}),
    )


class SourceForm(forms.Form):
    """A structure sourced for a need: an existing organisation (found by the search), or one known
    only by name, SIRET or email."""

    q = forms.CharField(max_length=SEARCH_TEXT, required=False, widget=forms.HiddenInput)
    organisation = forms.ModelChoiceField(
        Organisation.objects.none(),
        label=_("Organisation existante"),
        required=False,
        widget=forms.RadioSelect,
        empty_label=None,
    )
    name = forms.CharField(label=_("Ou nom de la structure"), max_length=255, required=False)
    siret = forms.CharField(
        label=_("SIRET"),
        max_length=20,
        required=False,
        help_text=_("14 chiffres ; s'il est déjà connu, l'organisation est reprise."),
    )
    email = forms.CharField(
        label=_("E-mail de contact"),
        max_length=254,
        required=False,
        help_text=_("Nécessaire pour inviter une structure qui n'a pas encore de compte."),
        widget=forms.EmailInput,
    )
    why = forms.CharField(
        max_length=LONG_TEXT,
        label=_("Pourquoi cette structure ?"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Visible uniquement par l'équipe et les partenaires."),
    )

    def __init__(self, *args: Any, user: User, search: str = "", **kwargs: Any) -> None:
        super().__init__(*args, prefix="source", **kwargs)
        search = self.data.get(self.add_prefix("q"), search) if self.is_bound else search
        self.initial.setdefault("q", search)
        found = list(organisations_matching(user, search).values_list("pk", flat=True))
        posted = self.data.get(self.add_prefix("organisation")) if self.is_bound else None
        if posted and str(posted).isdigit():
            found.append(int(posted))
        self.fields["organisation"].queryset = (
            organisations_visible_to(user).filter(pk__in=found).order_by("name")
        )
        self.has_results = bool(found)


# --------------------------------------------------------------------------- transitions


class CandidacyTransitionForm(forms.Form):
    """The inputs of one candidacy transition; `service_data()` is what
    grants.anticall.services.candidacy_run_transition takes."""

    def __init__(self, *args: Any, candidacy: Candidacy, user: User, **kwargs: Any) -> None:
        self.candidacy = candidacy
        self.user = user
        super().__init__(*args, **kwargs)

    def service_data(self) -> dict[str, Any]:
        return dict(self.cleaned_data)


class InviteForm(CandidacyTransitionForm):
    message = forms.CharField(
        max_length=SHORT_TEXT,
        label=_("Message d'invitation"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Envoyé à la structure avec la description du besoin."),
    )


class AcceptForm(CandidacyTransitionForm):
    organisation = forms.ModelChoiceField(
        Organisation.objects.none(), label=_("Organisation qui accepte"), empty_label=None
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        ids = organisation_ids_of(self.user)
        if self.candidacy.organisation_id:
            ids = ids & {self.candidacy.organisation_id}
        self.fields["organisation"].queryset = Organisation.objects.filter(pk__in=ids).order_by(
            "name"
        )


class OptionalReasonForm(CandidacyTransitionForm):
    reason = forms.CharField(
        max_length=SHORT_TEXT,
        label=_("Motif (facultatif)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class ReasonForm(CandidacyTransitionForm):
    reason = forms.CharField(
        max_length=SHORT_TEXT,
        label=_("Motif"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Obligatoire ; gardé dans l'historique."),
    )


class StartPrototypingForm(CandidacyTransitionForm):
    start = forms.DateField(
        label=_("Début du prototypage"),
        required=False,
        widget=DateInput(),
        help_text=_("Aujourd'hui si vide."),
    )
    prototyping_days = forms.IntegerField(label=_("Durée (jours)"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["prototyping_days"].help_text = _(
            "Entre 1 et 120 jours ; %(n)d par défaut."
        ) % {"n": DEFAULT_PROTOTYPING_DAYS}
        self.initial.setdefault("start", today())
        self.initial.setdefault(
            "prototyping_days", self.candidacy.prototyping_days or DEFAULT_PROTOTYPING_DAYS
        )


class PresentForm(CandidacyTransitionForm):
    summary = forms.CharField(
        max_length=LONG_TEXT,
        label=_("Synthèse de la présentation"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


class FundForm(CandidacyTransitionForm):
    amount = MoneyField(label=_("Montant accordé (€)"), required=False)
    cofunder = forms.ModelChoiceField(
        Funder.objects.all(),
        label=_("Cofinanceur (facultatif)"),
        required=False,
        empty_label=_("— Aucun : sur l'enveloppe de l'anti-appel —"),
        help_text=_("Par exemple une fondation qui finance sur son propre fonds."),
    )
    is_multi_year = forms.BooleanField(label=_("Financement pluriannuel"), required=False)
    duration_years = forms.IntegerField(
        label=_("Durée (années)"), required=False, initial=1, help_text=_("De 1 à 5 ans.")
    )
    reason = forms.CharField(
        max_length=SHORT_TEXT,
        label=_("Motivation de la décision"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    envelope_override_reason = forms.CharField(
        max_length=SHORT_TEXT,
        label=_("Motif de dépassement d'enveloppe"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Seulement si le financement dépasse l'enveloppe de l'anti-appel."),
    )

    def service_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["duration_years"] = data.get("duration_years") or 1
        return data


CANDIDACY_TRANSITION_FORMS: dict[str, type[CandidacyTransitionForm]] = {
    "invite": InviteForm,
    "accept": AcceptForm,
    "decline": OptionalReasonForm,
    "start_prototyping": StartPrototypingForm,
    "present": PresentForm,
    "fund": FundForm,
    "not_fund": ReasonForm,
    "abandon": ReasonForm,
}


def candidacy_transition_form(name: str) -> type[CandidacyTransitionForm]:
    return CANDIDACY_TRANSITION_FORMS.get(name, OptionalReasonForm)


# --------------------------------------------------------------------------- prototyping


class CoachingForm(forms.Form):
    date = forms.DateField(label=_("Date"), widget=DateInput())
    kind = forms.ChoiceField(label=_("Type"), choices=CoachingEntry.Kind.choices)
    support = forms.ChoiceField(
        label=_("Appui apporté"),
        required=False,
        choices=[("", _("— Aucun —")), *CoachingEntry.Support.choices],
    )
    notes = forms.CharField(
        max_length=LONG_TEXT,
        label=_("Compte rendu"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    cost = MoneyField(label=_("Coût pris en charge (€)"), required=False, initial=Decimal("0"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, prefix="coaching", **kwargs)
        self.initial.setdefault("date", today())

    def service_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        if data.get("cost") is None:
            data["cost"] = Decimal("0")
        return data


class DeliverableForm(forms.Form):
    title = forms.CharField(label=_("Titre du livrable"), max_length=255, required=False)
    description = forms.CharField(
        max_length=LONG_TEXT,
        label=_("Description"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    file = forms.FileField(label=_("Fichier (facultatif)"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, prefix="deliverable", **kwargs)
        extensions = ", ".join(settings.UPLOAD_ALLOWED_EXTENSIONS)
        self.fields["file"].help_text = _("Formats acceptés : %(ext)s ; %(max)s Mo au plus.") % {
            "ext": extensions,
            "max": settings.UPLOAD_MAX_BYTES // (1024 * 1024),
        }
        self.fields["file"].widget.attrs["accept"] = ",".join(
            f".{e}" for e in settings.UPLOAD_ALLOWED_EXTENSIONS
        )
