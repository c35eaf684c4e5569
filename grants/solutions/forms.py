"""Forms of the call for solutions pages: they parse and type the input; every rule is in
calls.services and grants.solutions.services (a DomainError is put back with `add_domain_error`)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from calls.models import Call, Panel, PanelMember
from core.models import QPV

from ..forms import add_domain_error  # noqa: F401 (re-exported for the views)
from ..models import AllocationRun, PanelAssessment
from .vote_loading import Target


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%dT%H:%M")


def _qpvs_of(call: Call):
    qpvs = call.eligible_qpvs.all()
    return qpvs if qpvs.exists() else QPV.objects.all()


class ChallengeProposeForm(forms.Form):
    """A resident's proposal (no account). `website` is a honeypot: people never see it, robots fill it."""

    name = forms.CharField(label=_("Votre nom"), max_length=200)
    email = forms.EmailField(
        label=_("Votre e-mail (facultatif)"),
        required=False,
        help_text=_("Seulement pour vous recontacter ; jamais publié."),
    )
    qpv = forms.ModelChoiceField(
        QPV.objects.none(), label=_("Quartier"), empty_label=_("— Choisissez le quartier —")
    )
    title = forms.CharField(
        label=_("La solution que vous attendez"),
        max_length=255,
        help_text=_("Par exemple : « plus de cafards dans les immeubles »."),
    )
    description = forms.CharField(
        label=_("Décrivez la situation et ce qui devrait changer"),
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    website = forms.CharField(
        label=_("Ne remplissez pas ce champ"),
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )

    def __init__(self, *args: Any, call: Call, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["qpv"].queryset = _qpvs_of(call)

    def is_robot(self) -> bool:
        return bool(self.data.get("website", "").strip())


class ChallengeRecordForm(forms.Form):
    qpv = forms.ModelChoiceField(
        QPV.objects.none(), label=_("Quartier"), empty_label=_("— Choisissez le quartier —")
    )
    title = forms.CharField(label=_("Solution attendue"), max_length=255)
    description = forms.CharField(label=_("Description"), widget=forms.Textarea(attrs={"rows": 4}))

    def __init__(self, *args: Any, call: Call, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["qpv"].queryset = _qpvs_of(call)


class ModerateForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("Décision"),
        widget=forms.RadioSelect,
        choices=[("approve", _("Retenir")), ("reject", _("Écarter"))],
    )
    note = forms.CharField(
        label=_("Motif (obligatoire pour écarter)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class PanelConfigForm(forms.Form):
    quorum = forms.IntegerField(label=_("Quorum (nombre minimum de votant·es)"), min_value=1)
    voting_opens_at = forms.DateTimeField(label=_("Ouverture du vote"), widget=DateTimeInput())
    voting_closes_at = forms.DateTimeField(label=_("Clôture du vote"), widget=DateTimeInput())
    ballot_kind = forms.ChoiceField(
        label=_("Mode de scrutin"), choices=Panel.BallotKind.choices, widget=forms.RadioSelect
    )
    score_criteria = forms.CharField(
        label=_("Critères de notation (vote par note)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Un critère par ligne."),
    )
    max_score = forms.IntegerField(label=_("Note maximale"), min_value=1, max_value=20, initial=5)
    secret_ballot = forms.BooleanField(
        label=_("Vote secret (aucun lien entre un·e votant·e et ses choix)"),
        required=False,
        initial=True,
    )

    @staticmethod
    def initial_for(panel: Panel | None) -> dict[str, Any]:
        if panel is None:
            return {
                "quorum": 5,
                "ballot_kind": Panel.BallotKind.APPROVAL,
                "max_score": 5,
                "secret_ballot": True,
            }
        return {
            "quorum": panel.quorum,
            "voting_opens_at": panel.voting_opens_at,
            "voting_closes_at": panel.voting_closes_at,
            "ballot_kind": panel.ballot_kind,
            "score_criteria": "\n".join(panel.score_criteria),
            "max_score": panel.max_score,
            "secret_ballot": panel.secret_ballot,
        }

    def service_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["score_criteria"] = [
            c.strip() for c in data["score_criteria"].splitlines() if c.strip()
        ]
        return data


class PanelMemberForm(forms.Form):
    email = forms.EmailField(
        label=_("Adresse e-mail de l'habitant·e"),
        help_text=_("Sans compte Pluriel, une invitation lui est envoyée."),
    )
    college = forms.ChoiceField(label=_("Collège"), choices=PanelMember.College.choices)


DECIDE_RULES = [
    (AllocationRun.Rule.GREEDY.value, _("Retenir la répartition par nombre de voix")),
    (AllocationRun.Rule.EQUAL_SHARES.value, _("Retenir la méthode des parts égales")),
    (AllocationRun.Rule.OVERRIDE.value, _("Choisir moi-même les projets (sélection ci-dessous)")),
]


class DecideForm(forms.Form):
    rule = forms.ChoiceField(
        label=_("Répartition retenue"), choices=DECIDE_RULES, widget=forms.RadioSelect
    )
    selection = forms.TypedMultipleChoiceField(
        label=_("Projets retenus (choix motivé seulement)"),
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    reason = forms.CharField(
        label=_("Motif du choix"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Obligatoire ; publié avec les résultats."),
    )

    def __init__(self, *args: Any, rows: list[dict[str, Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["selection"].choices = [
            (int(row["id"]), f"{row['application'].reference} — {row['application'].title}")
            for row in rows
        ]


class PbImportForm(forms.Form):
    file = forms.FileField(
        label=_("Fichier pabulib (.pb)"),
        help_text=_("Vote par approbation ; 5 Mo au plus. Rien n'est enregistré."),
    )


class AssessmentForm(forms.Form):
    """A panel member's appreciation of one chosen project for one year."""

    rating = forms.ChoiceField(
        label=_("Appréciation"), widget=forms.RadioSelect, choices=PanelAssessment.Rating.choices
    )
    comment = forms.CharField(
        label=_("Commentaire (facultatif)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class VoteLoadForm(forms.Form):
    file = forms.FileField(
        label=_("Fichier pabulib (.pb)"),
        help_text=_(
            "Vote par approbation tenu hors de Pluriel (sur papier, sur une autre plateforme, ou "
            "un vote passé) ; 30 Mo au plus. Le fichier est d'abord vérifié : rien n'est chargé "
            "avant votre confirmation."
        ),
    )


class VoteMappingForm(forms.Form):
    """Per project of the file: the call's candidate action it is, or the SIRET of the
    organisation that carries it (a new candidate action is then created)."""

    def __init__(
        self,
        *args: Any,
        rows: list[dict[str, Any]],
        candidates: list[Any],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.rows = rows
        choices = [("", _("— nouvelle action, portée par l'organisation ci-contre —"))] + [
            (str(a.pk), f"{a.reference} — {a.title} ({a.requested_amount} €)") for a in candidates
        ]
        for i, row in enumerate(rows):
            project = row["project"]
            label = row["name"] or project.id
            self.fields[f"target_{i}"] = forms.ChoiceField(
                label=_("Action candidate pour « %(p)s »") % {"p": label},
                choices=choices,
                required=False,
                initial=str(row["application"].pk) if row["application"] else "",
            )
            self.fields[f"siret_{i}"] = forms.CharField(
                label=_("SIRET de l'organisation porteuse de « %(p)s »") % {"p": label},
                max_length=20,
                required=False,
                initial=row["siret"],
            )
            row["target_field"] = self[f"target_{i}"]
            row["siret_field"] = self[f"siret_{i}"]

    def targets(self) -> dict[str, Any]:
        result = {}
        for i, row in enumerate(self.rows):
            chosen = self.cleaned_data.get(f"target_{i}") or ""
            siret = (self.cleaned_data.get(f"siret_{i}") or "").strip()
            result[row["project"].id] = (
                Target(application_id=int(chosen)) if chosen else Target(siret=siret)
            )
        return result
