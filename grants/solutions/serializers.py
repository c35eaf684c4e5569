"""Serializers of the call for solutions API: expected solutions (challenges), the panel, ballots and
the published results. Input serializers only parse; the rules are in calls.services and
grants.solutions.services. A proposer's email is accepted, never returned."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from calls.models import Challenge, Panel, PanelMember
from core.limits import EMAIL_TEXT, SHORT_TEXT
from core.models import QPV
from core.serializers import (
    StrictDecimalField,
    StrictIntegerField,
    StrictModelSerializer,
    StrictPrimaryKeyRelatedField,
)

REQUIRED = {"required": _("Ce champ est obligatoire."), "blank": _("Ce champ est obligatoire.")}


class ChallengeSerializer(StrictModelSerializer):
    """An expected solution. The proposer's name is shown, their email never is."""

    qpv_name = serializers.CharField(source="qpv.name", read_only=True)
    source_label = serializers.CharField(source="get_source_display", read_only=True)
    state_label = serializers.CharField(source="get_state_display", read_only=True)

    class Meta:
        model = Challenge
        fields = [
            "id",
            "call",
            "qpv",
            "qpv_name",
            "title",
            "description",
            "source",
            "source_label",
            "state",
            "state_label",
            "proposer_name",
            "moderation_note",
            "created_at",
        ]
        read_only_fields = fields


class ChallengeProposeSerializer(serializers.Serializer):
    """A resident's proposal, no account needed; it waits for the panel's moderation."""

    qpv = StrictPrimaryKeyRelatedField(
        queryset=QPV.objects.all(),
        label=_("Quartier"),
        error_messages={
            "required": _("Choisissez le quartier."),
            "does_not_exist": _("Quartier inconnu."),
        },
    )
    title = serializers.CharField(
        max_length=255, label=_("Solution attendue"), error_messages=REQUIRED
    )
    description = serializers.CharField(
        max_length=SHORT_TEXT, label=_("Description"), error_messages=REQUIRED
    )
    name = serializers.CharField(max_length=200, label=_("Nom"), error_messages=REQUIRED)
    email = serializers.EmailField(
        max_length=EMAIL_TEXT,
        required=False,
        allow_blank=True,
        default="",
        label=_("E-mail (jamais publié)"),
    )


class ChallengeModerateSerializer(serializers.Serializer):
    approve = serializers.BooleanField(label=_("Retenir (vrai) ou écarter (faux)"))
    note = serializers.CharField(
        max_length=SHORT_TEXT,
        required=False,
        allow_blank=True,
        default="",
        label=_("Motif (obligatoire pour écarter)"),
    )


class PanelMemberSerializer(StrictModelSerializer):
    name = serializers.SerializerMethodField()
    college_label = serializers.CharField(source="get_college_display", read_only=True)

    class Meta:
        model = PanelMember
        fields = ["name", "college", "college_label"]
        read_only_fields = fields

    def get_name(self, obj: PanelMember) -> str:
        return obj.user.get_full_name() or obj.user.email


class PanelSerializer(StrictModelSerializer):
    """The panel's rules and members (by college). Who voted is never listed."""

    ballot_kind_label = serializers.CharField(source="get_ballot_kind_display", read_only=True)
    voting_open = serializers.SerializerMethodField()
    members = PanelMemberSerializer(many=True, read_only=True)

    class Meta:
        model = Panel
        fields = [
            "call",
            "quorum",
            "voting_opens_at",
            "voting_closes_at",
            "voting_open",
            "ballot_kind",
            "ballot_kind_label",
            "score_criteria",
            "max_score",
            "secret_ballot",
            "members",
        ]
        read_only_fields = fields

    def get_voting_open(self, obj: Panel) -> bool:
        from .services import voting_is_open

        return voting_is_open(obj)


class BallotInputSerializer(serializers.Serializer):
    """Approval: the ids of the actions approved. Score: per action id, a score per criterion."""

    approvals = serializers.ListField(
        child=StrictIntegerField(),
        required=False,
        default=list,
        label=_("Actions approuvées (identifiants)"),
    )
    scores = serializers.DictField(
        child=serializers.DictField(child=StrictIntegerField(min_value=0)),
        required=False,
        default=dict,
        label=_("Notes : {identifiant d'action: {critère: note}}"),
    )

    abstain = serializers.BooleanField(
        required=False,
        default=False,
        label=_("Abstention explicite (aucune approbation, aucune note)"),
    )

    def validate(self, attrs: dict) -> dict:
        """An empty ballot is refused: abstaining is said with `abstain: true`, never implied."""
        chosen = bool(attrs.get("approvals")) or bool(attrs.get("scores"))
        if attrs.get("abstain") and chosen:
            raise serializers.ValidationError(
                {"abstain": [_("Une abstention ne comporte ni approbation ni note.")]}
            )
        if not attrs.get("abstain") and not chosen:
            raise serializers.ValidationError(
                {
                    "approvals": [
                        _(
                            "Bulletin vide : choisissez au moins une action, ou indiquez "
                            "« abstain »: true pour vous abstenir."
                        )
                    ]
                }
            )
        return attrs

    def service_scores(self) -> dict[int, dict[str, int]]:
        if self.validated_data.get("abstain"):
            return {}
        try:
            return {int(pk): dict(per) for pk, per in self.validated_data["scores"].items()}
        except ValueError:
            raise serializers.ValidationError(
                {"scores": [_("Les clés sont des identifiants d'action.")]}
            )


class BallotSerializer(serializers.Serializer):
    call = StrictIntegerField(source="call_id")
    cast_at = serializers.DateTimeField()


class RuleSideSerializer(serializers.Serializer):
    selection = serializers.ListField(child=StrictIntegerField())
    total = StrictDecimalField(max_digits=14, decimal_places=2)
    remaining = StrictDecimalField(max_digits=14, decimal_places=2)


class ResultProjectSerializer(serializers.Serializer):
    id = StrictIntegerField()
    reference = serializers.CharField()
    title = serializers.CharField()
    organisation = serializers.CharField()
    challenge = serializers.CharField(allow_null=True)
    cost = StrictDecimalField(max_digits=14, decimal_places=2)
    votes = StrictIntegerField()
    selected = serializers.BooleanField()
    supporters_paying = StrictIntegerField(
        allow_null=True,
        help_text=_(
            "Méthode des parts égales : nombre de soutiens qui ont payé le projet (null s'il n'a pas été payé ainsi)."
        ),
    )
    payment_min = StrictDecimalField(max_digits=14, decimal_places=2, allow_null=True)
    payment_max = StrictDecimalField(max_digits=14, decimal_places=2, allow_null=True)


class ResultsSerializer(serializers.Serializer):
    """The published results: the tally, both rules side by side, the rule retained and its reason.
    Aggregates only: no voter is ever named."""

    call = StrictIntegerField()
    published_at = serializers.DateTimeField(allow_null=True)
    budget = StrictDecimalField(max_digits=14, decimal_places=2)
    rule = serializers.CharField()
    rule_label = serializers.CharField()
    reason = serializers.CharField()
    total = StrictDecimalField(max_digits=14, decimal_places=2)
    members = StrictIntegerField()
    voters = StrictIntegerField()
    turnout_percent = StrictDecimalField(max_digits=5, decimal_places=1)
    quorum = StrictIntegerField()
    quorum_reached = serializers.BooleanField()
    equal_shares_variant = serializers.CharField()
    greedy = RuleSideSerializer()
    equal_shares = RuleSideSerializer()
    projects = ResultProjectSerializer(many=True)

    @staticmethod
    def from_report(report: dict[str, Any]) -> dict[str, Any]:
        run = report["run"]
        projects = []
        for row in report["rows"]:
            a, paid = row["application"], row["payment"] or {}
            projects.append(
                {
                    "id": a.pk,
                    "reference": a.reference,
                    "title": a.title,
                    "organisation": a.organisation.name,
                    "challenge": a.challenge.title if a.challenge_id else None,
                    "cost": row["cost"],
                    "votes": row["votes"],
                    "selected": row["chosen"],
                    "supporters_paying": paid.get("payers"),
                    "payment_min": paid.get("min"),
                    "payment_max": paid.get("max"),
                }
            )

        def side(data: dict[str, Any]) -> dict[str, Any]:
            return {
                "selection": [int(x) for x in data["ids"]],
                "total": data["total"],
                "remaining": data["remaining"],
            }

        return {
            "call": run.call_id,
            "published_at": run.published_at,
            "budget": report["budget"],
            "rule": report["chosen"]["rule"],
            "rule_label": str(report["chosen"]["label"]),
            "reason": report["chosen"]["reason"],
            "total": report["chosen"]["total"],
            "members": report["members"],
            "voters": report["voters"],
            "turnout_percent": round(report["turnout"], 1),
            "quorum": report["quorum"],
            "quorum_reached": report["quorum_reached"],
            "equal_shares_variant": report["equal_shares"]["variant"],
            "greedy": side(report["greedy"]),
            "equal_shares": side(report["equal_shares"]),
            "projects": projects,
        }
