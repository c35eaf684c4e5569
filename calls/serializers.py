"""API shapes of programmes and calls."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from core.limits import SHORT_TEXT
from core.serializers import FunderSerializer, NamedChoiceField, StrictModelSerializer

from .models import Call, CallMode, CallState, Programme, ScoringCriterion
from .services import CALL_TRANSITION_ACTIONS

CALL_TRANSITION_NAMES = list(CALL_TRANSITION_ACTIONS)


class ProgrammeSerializer(StrictModelSerializer):
    funders = FunderSerializer(many=True, read_only=True)

    class Meta:
        model = Programme
        fields = [
            "id",
            "name",
            "fiscal_year",
            "envelope",
            "funders",
            "budget_line",
            "description",
            "committee_quorum",
            "committee_decision_mode",
        ]
        read_only_fields = fields


class ScoringCriterionSerializer(StrictModelSerializer):
    class Meta:
        model = ScoringCriterion
        fields = ["id", "label", "weight", "max_score", "position"]
        read_only_fields = fields


class CallSerializer(StrictModelSerializer):
    """A call as the public sees it: dates, envelope and eligibility rules."""

    mode = NamedChoiceField(choices=CallMode.choices, enum_name="CallModeEnum", read_only=True)
    mode_label = serializers.CharField(source="get_mode_display", read_only=True)
    state = NamedChoiceField(choices=CallState.choices, enum_name="CallStateEnum", read_only=True)
    state_label = serializers.CharField(source="get_state_display", read_only=True)
    programme_name = serializers.CharField(source="programme.name", read_only=True)
    required_document_labels = serializers.ListField(child=serializers.CharField(), read_only=True)
    criteria = ScoringCriterionSerializer(many=True, read_only=True)

    class Meta:
        model = Call
        fields = [
            "id",
            "programme",
            "programme_name",
            "mode",
            "mode_label",
            "title",
            "description",
            "state",
            "state_label",
            "opens_at",
            "closes_at",
            "decision_expected_on",
            "envelope",
            "eligible_qpvs",
            "eligible_pillars",
            "max_amount",
            "max_share_percent",
            "required_documents",
            "required_document_labels",
            "multi_year_allowed",
            "criteria",
        ]
        read_only_fields = fields


class CallTransitionInputSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=SHORT_TEXT,
        required=False,
        allow_blank=True,
        default="",
        help_text=_("Motif, gardé dans l'historique de l'appel."),
    )
