"""The API's shapes for co-funded files (issue 15): a funder's part as each reader may see it, the
inputs of its instruction and decision, the budget revision."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.limits import LONG_TEXT, SHORT_TEXT
from core.permissions import is_staff_member
from core.serializers import StrictModelSerializer, money

from .models import BudgetRevision, FunderPart
from .services.cofunding import may_decide_part, may_read_private_note, may_review_part


class FunderPartSerializer(StrictModelSerializer[FunderPart]):
    """A funder's part: everyone who sees the file sees its funder, amount asked, state, decision
    and reference; the instruction's proposal only staff; the private note only the part's own
    funder's agents (or staff tied to no funder)."""

    funder_name = serializers.CharField(source="funder.name", read_only=True)
    state_label = serializers.CharField(source="get_state_display", read_only=True)
    proposed_amount = serializers.SerializerMethodField()
    proposal_note = serializers.SerializerMethodField()
    private_note = serializers.SerializerMethodField()
    can_review = serializers.SerializerMethodField()
    can_decide = serializers.SerializerMethodField()

    class Meta:
        model = FunderPart
        fields = [
            "id",
            "application",
            "funder",
            "funder_name",
            "programme",
            "state",
            "state_label",
            "requested_amount",
            "proposed_amount",
            "proposal_note",
            "decided_amount",
            "conditions",
            "refusal_reason",
            "reference",
            "committee_session",
            "separate_agreement",
            "decided_at",
            "private_note",
            "can_review",
            "can_decide",
        ]
        read_only_fields = fields

    def _user(self) -> Any:
        request = self.context.get("request")
        return getattr(request, "user", None)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_proposed_amount(self, obj: FunderPart) -> str | None:
        user = self._user()
        if user is None or not is_staff_member(user) or obj.proposed_amount is None:
            return None
        return f"{obj.proposed_amount:.2f}"

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_proposal_note(self, obj: FunderPart) -> str | None:
        user = self._user()
        return obj.proposal_note if user is not None and is_staff_member(user) else None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_private_note(self, obj: FunderPart) -> str | None:
        user = self._user()
        return obj.private_note if user is not None and may_read_private_note(user, obj) else None

    @extend_schema_field(serializers.BooleanField())
    def get_can_review(self, obj: FunderPart) -> bool:
        user = self._user()
        return bool(user is not None and user.is_authenticated and may_review_part(user, obj))

    @extend_schema_field(serializers.BooleanField())
    def get_can_decide(self, obj: FunderPart) -> bool:
        user = self._user()
        return bool(user is not None and user.is_authenticated and may_decide_part(user, obj))


class PartProposeInput(serializers.Serializer[Any]):
    amount = money(min_value=0)
    note = serializers.CharField(required=False, allow_blank=True, max_length=SHORT_TEXT)
    envelope_override_reason = serializers.CharField(
        required=False, allow_blank=True, max_length=SHORT_TEXT
    )


class PartDecideInput(serializers.Serializer[Any]):
    decision = serializers.ChoiceField(choices=["approve", "refuse"])
    amount = money(min_value=0, required=False, allow_null=True)
    conditions = serializers.CharField(required=False, allow_blank=True, max_length=SHORT_TEXT)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=SHORT_TEXT)
    reference = serializers.CharField(required=False, allow_blank=True, max_length=200)
    envelope_override_reason = serializers.CharField(
        required=False, allow_blank=True, max_length=SHORT_TEXT
    )


class PartNoteInput(serializers.Serializer[Any]):
    text = serializers.CharField(allow_blank=True, max_length=LONG_TEXT)


class BudgetRevisionSerializer(StrictModelSerializer[BudgetRevision]):
    state_label = serializers.CharField(source="get_state_display", read_only=True)

    class Meta:
        model = BudgetRevision
        fields = [
            "id",
            "application",
            "state",
            "state_label",
            "granted_total",
            "asked_total",
            "comment",
            "requested_at",
            "answered_at",
        ]
        read_only_fields = fields
