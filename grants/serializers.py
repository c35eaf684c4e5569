"""API shapes of applications: read (list, detail), write (create, update) and one input per
transition. Serializers check formats only; every rule is in grants.services."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from calls.models import Call, Programme
from core.limits import LONG_TEXT, SHORT_TEXT
from core.models import QPV, Funder, Organisation, Pillar, TransitionTheme
from core.serializers import (
    AMOUNT_ERRORS,
    PK_ERRORS,
    REQUIRED,
    NamedChoiceField,
    StrictDecimalField,
    StrictIntegerField,
    StrictModelSerializer,
    StrictPrimaryKeyRelatedField,
    UserSummarySerializer,
    money,
)

from .budget import Account, SubsidySource
from .models import (
    Application,
    ApplicationKind,
    ApplicationState,
    BudgetItem,
    CommitteeSession,
    CompletionRequest,
    Indicator,
    InstructorNote,
    Objective,
    PartnerOpinion,
    Score,
)
from .selectors import budget_totals
from .serializers_cofunding import FunderPartSerializer
from .services import available_transitions

DATE_ERRORS = {**REQUIRED, "invalid": _("Saisissez une date valide au format AAAA-MM-JJ.")}


def internal_visible(context: dict[str, Any], application: Application) -> bool:
    """Whether the requesting user sees the instruction's internal fields of this file.

    Staff see them on files they reach through their staff scope, never on their own
    organisation's files (a member stays an applicant there). The view sets `staff_scope` and
    `org_ids` once per request so a list page costs no query per row."""
    return bool(context.get("staff_scope")) and application.organisation_id not in context.get(
        "org_ids", ()
    )


# --------------------------------------------------------------------------- read


class ObjectiveSerializer(StrictModelSerializer):
    class Meta:
        model = Objective
        fields = ["id", "text", "position"]
        read_only_fields = fields


class IndicatorSerializer(StrictModelSerializer):
    class Meta:
        model = Indicator
        fields = ["id", "label", "unit", "target", "position"]
        read_only_fields = fields


class BudgetItemSerializer(StrictModelSerializer):
    account_label = serializers.CharField(source="get_account_display", read_only=True)
    subsidy_source_label = serializers.CharField(
        source="get_subsidy_source_display", read_only=True
    )
    # Blank on lines other than account 74: documented as such (issue 11, schema conformance).
    subsidy_source = serializers.ChoiceField(
        choices=SubsidySource.choices, allow_blank=True, read_only=True
    )

    class Meta:
        model = BudgetItem
        fields = [
            "id",
            "account",
            "account_label",
            "subsidy_source",
            "subsidy_source_label",
            "funder",
            "label",
            "amount",
        ]
        read_only_fields = fields


class BudgetTotalsSerializer(serializers.Serializer):
    """CERFA budget totals; `balance` = products − charges (0 when balanced)."""

    charges = money(read_only=True)
    products = money(read_only=True)
    charges_without_in_kind = money(read_only=True)
    in_kind_charges = money(read_only=True)
    in_kind_products = money(read_only=True)
    subsidies = money(read_only=True)
    balance = money(read_only=True)


class CompletionRequestSerializer(StrictModelSerializer):
    class Meta:
        model = CompletionRequest
        fields = [
            "id",
            "message",
            "deadline",
            "created_at",
            "answer",
            "answered_at",
            "is_overdue",
            "is_pending",
        ]
        read_only_fields = fields


class AvailableTransitionSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    needs_reason = serializers.BooleanField()


class ApplicationFieldsSerializer(StrictModelSerializer):
    """The fields of a file every read shows (the list's line, the detail's head)."""

    kind = NamedChoiceField(
        choices=ApplicationKind.choices, enum_name="ApplicationKindEnum", read_only=True
    )
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    state = NamedChoiceField(
        choices=ApplicationState.choices, enum_name="ApplicationStateEnum", read_only=True
    )
    state_label = serializers.CharField(source="get_state_display", read_only=True)
    organisation_name = serializers.CharField(source="organisation.name", read_only=True)
    call_title = serializers.CharField(
        source="call.title", read_only=True, default=None, allow_null=True
    )
    programme_name = serializers.CharField(source="programme.name", read_only=True)
    pillar_label = serializers.CharField(
        source="pillar.label", read_only=True, default=None, allow_null=True
    )
    assigned_to = UserSummarySerializer(read_only=True, allow_null=True)
    proposed_amount = serializers.SerializerMethodField()

    class Meta:
        model = Application
        fields = [
            "id",
            "reference",
            "kind",
            "kind_label",
            "state",
            "state_label",
            "title",
            "organisation",
            "organisation_name",
            "call",
            "call_title",
            "programme",
            "programme_name",
            "pillar",
            "pillar_label",
            "qpvs",
            "themes",
            "requested_amount",
            "proposed_amount",
            "approved_amount",
            "assigned_to",
            "submitted_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(StrictDecimalField(max_digits=12, decimal_places=2, allow_null=True))
    def get_proposed_amount(self, obj: Application) -> str | None:
        if obj.proposed_amount is None or not internal_visible(self.context, obj):
            return None
        return f"{obj.proposed_amount:.2f}"


class ApplicationListSerializer(ApplicationFieldsSerializer):
    """A line of the list: what a queue shows, from joined and prefetched rows only.

    Same fields and output as the generic serializer (tests/api/test_applications.py compares
    them), written out once: DRF's field-by-field lookups cost about 3 ms CPU per page of 50
    (issue 17). Values needing formatting still go through the declared fields."""

    def to_representation(self, instance: Application) -> dict[str, Any]:
        a = instance
        fields = self.fields
        decimal = fields["requested_amount"].to_representation
        when = fields["created_at"].to_representation
        call, pillar, user = a.call, a.pillar, a.assigned_to
        return {
            "id": a.pk,
            "reference": a.reference,
            "kind": a.kind,
            "kind_label": a.get_kind_display(),
            "state": a.state,
            "state_label": a.get_state_display(),
            "title": a.title,
            "organisation": a.organisation_id,
            "organisation_name": a.organisation.name,
            "call": a.call_id,
            "call_title": call.title if call is not None else None,
            "programme": a.programme_id,
            "programme_name": a.programme.name,
            "pillar": a.pillar_id,
            "pillar_label": pillar.label if pillar is not None else None,
            "qpvs": [q.pk for q in a.qpvs.all()],
            "themes": [t.pk for t in a.themes.all()],
            "requested_amount": decimal(a.requested_amount),
            "proposed_amount": self.get_proposed_amount(a),
            "approved_amount": None if a.approved_amount is None else decimal(a.approved_amount),
            "assigned_to": None
            if user is None
            else {"id": user.pk, "name": user.get_full_name() or user.email, "email": user.email},
            "submitted_at": None if a.submitted_at is None else when(a.submitted_at),
            "created_at": when(a.created_at),
            "updated_at": when(a.updated_at),
        }


class ApplicationDetailSerializer(ApplicationFieldsSerializer):
    """One file with everything it holds, its budget totals and the actions the requesting user may
    run now (`allowed_transitions`). Instruction fields are null for the applicant."""

    objectives = ObjectiveSerializer(many=True, read_only=True)
    indicators = IndicatorSerializer(many=True, read_only=True)
    budget_items = BudgetItemSerializer(many=True, read_only=True)
    budget_totals = serializers.SerializerMethodField()
    completion_requests = CompletionRequestSerializer(many=True, read_only=True)
    allowed_transitions = serializers.SerializerMethodField()
    proposal_note = serializers.SerializerMethodField()
    envelope_override_reason = serializers.SerializerMethodField()
    funder_parts = serializers.SerializerMethodField()

    class Meta(ApplicationFieldsSerializer.Meta):
        fields = [
            *ApplicationFieldsSerializer.Meta.fields,
            "summary",
            "start_date",
            "end_date",
            "beneficiaries_count",
            "wants_multi_year",
            "duration_years",
            "previous",
            "challenge",
            "urgency_reason",
            "eligibility_note",
            "committee_session",
            "proposal_note",
            "decision_conditions",
            "decision_reason",
            "is_multi_year",
            "envelope_override_reason",
            "decided_at",
            "objectives",
            "indicators",
            "budget_items",
            "budget_totals",
            "completion_requests",
            "allowed_transitions",
            "funder_parts",
        ]
        read_only_fields = fields

    @extend_schema_field(FunderPartSerializer(many=True))
    def get_funder_parts(self, obj: Application) -> list[dict[str, Any]]:
        """Each funder's part (issue 15), as the requesting user may see it."""
        parts = obj.funder_parts.select_related("funder").order_by("pk")
        return list(FunderPartSerializer(parts, many=True, context=self.context).data)

    @extend_schema_field(BudgetTotalsSerializer)
    def get_budget_totals(self, obj: Application) -> dict[str, Any]:
        return BudgetTotalsSerializer(budget_totals(obj)).data

    @extend_schema_field(AvailableTransitionSerializer(many=True))
    def get_allowed_transitions(self, obj: Application) -> list[dict[str, Any]]:
        request = self.context.get("request")
        if request is None:
            return []
        return [
            {"name": spec.name, "label": str(spec.label), "needs_reason": spec.needs_reason}
            for spec in available_transitions(actor=request.user, application=obj)
        ]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_proposal_note(self, obj: Application) -> str | None:
        return obj.proposal_note if internal_visible(self.context, obj) else None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_envelope_override_reason(self, obj: Application) -> str | None:
        return obj.envelope_override_reason if internal_visible(self.context, obj) else None


# --------------------------------------------------------------------------- write


class IndicatorInputSerializer(serializers.Serializer):
    label = serializers.CharField(max_length=300, error_messages=REQUIRED)
    unit = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
    target = StrictDecimalField(
        max_digits=12,
        decimal_places=2,
        error_messages={
            **AMOUNT_ERRORS,
            "invalid": _("Saisissez une cible numérique."),
            "max_decimal_places": _("La cible a au plus 2 décimales."),
        },
    )


class BudgetRowInputSerializer(serializers.Serializer):
    """One line of the CERFA 12156*06 budget. Account 74 lines name their funder (checked by the
    service, with the balance checked on submission)."""

    account = serializers.ChoiceField(
        choices=Account.choices,
        error_messages={
            **REQUIRED,
            "invalid_choice": _(
                "« {input} » n'est pas un compte du budget (60 à 68, 70 à 78, 86, 87)."
            ),
        },
    )
    subsidy_source = serializers.ChoiceField(
        choices=SubsidySource.choices,
        required=False,
        allow_blank=True,
        default="",
        error_messages={"invalid_choice": _("« {input} » n'est pas un financeur connu.")},
    )
    funder = StrictPrimaryKeyRelatedField(
        queryset=Funder.objects.all(),
        required=False,
        allow_null=True,
        default=None,
        error_messages=PK_ERRORS,
    )
    label = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    amount = money(min_value=Decimal("0"))


class ApplicationUpdateSerializer(serializers.Serializer):
    """What the applicant edits on a draft or a file returned for completion. Lists (qpvs, themes,
    objectives, indicators, budget) replace the whole list when sent."""

    title = serializers.CharField(max_length=255, required=False, error_messages=REQUIRED)
    summary = serializers.CharField(max_length=LONG_TEXT, required=False, allow_blank=True)
    start_date = serializers.DateField(required=False, allow_null=True, error_messages=DATE_ERRORS)
    end_date = serializers.DateField(required=False, allow_null=True, error_messages=DATE_ERRORS)
    pillar = StrictPrimaryKeyRelatedField(
        queryset=Pillar.objects.all(), required=False, allow_null=True, error_messages=PK_ERRORS
    )
    requested_amount = money(required=False, min_value=Decimal("0"))
    beneficiaries_count = StrictIntegerField(
        required=False,
        allow_null=True,
        min_value=0,
        max_value=2_147_483_647,  # the column is a 32-bit integer
        error_messages={
            "invalid": _("Saisissez un nombre entier."),
            "min_value": _("Le nombre ne peut pas être négatif."),
        },
    )
    wants_multi_year = serializers.BooleanField(required=False)
    qpvs = StrictPrimaryKeyRelatedField(
        queryset=QPV.objects.all(), many=True, required=False, error_messages=PK_ERRORS
    )
    themes = StrictPrimaryKeyRelatedField(
        queryset=TransitionTheme.objects.all(), many=True, required=False, error_messages=PK_ERRORS
    )
    objectives = serializers.ListField(child=serializers.CharField(max_length=500), required=False)
    indicators = IndicatorInputSerializer(many=True, required=False)
    budget = BudgetRowInputSerializer(many=True, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("start_date"), attrs.get("end_date")
        if start and end and end < start:
            raise serializers.ValidationError(
                {"end_date": [_("La date de fin doit suivre la date de début.")]}
            )
        return attrs

    def service_data(self) -> dict[str, Any]:
        """The validated data in the shape grants.services expects (funders as ids)."""
        data = dict(self.validated_data)
        if "budget" in data:
            data["budget"] = [
                {**row, "funder": row["funder"].pk if row.get("funder") else None}
                for row in data["budget"]
            ]
        if "indicators" in data:
            data["indicators"] = [dict(row) for row in data["indicators"]]
        return data


class ApplicationCreateSerializer(ApplicationUpdateSerializer):
    """A new draft for one of the user's organisations, in a call (or a programme for a direct award)."""

    organisation = StrictPrimaryKeyRelatedField(
        queryset=Organisation.objects.none(),
        error_messages={
            **PK_ERRORS,
            "does_not_exist": _("Organisation inconnue ou hors de votre périmètre."),
        },
    )
    call = StrictPrimaryKeyRelatedField(
        queryset=Call.objects.none(),
        required=False,
        allow_null=True,
        error_messages={**PK_ERRORS, "does_not_exist": _("Appel inconnu.")},
    )
    programme = StrictPrimaryKeyRelatedField(
        queryset=Programme.objects.all(), required=False, allow_null=True, error_messages=PK_ERRORS
    )
    title = serializers.CharField(max_length=255, error_messages=REQUIRED)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only what the user may see can be named: anything else reads as unknown.
        from calls.selectors import calls_readable_by
        from core.selectors import organisations_visible_to

        request = self.context.get("request")
        if request is not None:
            self.fields["organisation"].queryset = organisations_visible_to(request.user)
            self.fields["call"].queryset = calls_readable_by(request.user)

    def service_data(self) -> dict[str, Any]:
        data = super().service_data()
        for key in ("organisation", "call", "programme"):
            data.pop(key, None)
        return data


# --------------------------------------------------------------------------- transition inputs


class NoInput(serializers.Serializer):
    """No input needed."""


class ReasonInput(serializers.Serializer):
    reason = serializers.CharField(
        max_length=SHORT_TEXT,
        required=False,
        allow_blank=True,
        default="",
        help_text=_("Motif facultatif, gardé dans l'historique."),
    )


class RequiredReasonInput(serializers.Serializer):
    reason = serializers.CharField(
        max_length=SHORT_TEXT,
        error_messages={**REQUIRED, "blank": _("Un motif est obligatoire pour cette action.")},
        help_text=_("Motif obligatoire, communiqué au porteur et gardé dans l'historique."),
    )


class ResubmitInput(serializers.Serializer):
    answer = serializers.CharField(
        max_length=SHORT_TEXT,
        error_messages={**REQUIRED, "blank": _("Répondez à la demande de compléments.")},
        help_text=_("Réponse à la demande de compléments."),
    )


class RequestCompletionInput(serializers.Serializer):
    message = serializers.CharField(
        max_length=SHORT_TEXT,
        error_messages={**REQUIRED, "blank": _("Précisez ce qui doit être complété.")},
    )
    deadline = serializers.DateField(
        error_messages=DATE_ERRORS, help_text=_("Date limite (dans le futur).")
    )


class SendToCommitteeInput(serializers.Serializer):
    proposed_amount = money(help_text=_("Montant proposé par l'instruction (≤ montant demandé)."))
    session = StrictPrimaryKeyRelatedField(
        queryset=CommitteeSession.objects.all(),
        required=False,
        allow_null=True,
        default=None,
        error_messages=PK_ERRORS,
    )
    note = serializers.CharField(max_length=LONG_TEXT, required=False, allow_blank=True, default="")


class ApproveInput(serializers.Serializer):
    amount = money(help_text=_("Montant accordé (≤ montant demandé)."))
    conditions = serializers.CharField(
        max_length=SHORT_TEXT, required=False, allow_blank=True, default=""
    )
    is_multi_year = serializers.BooleanField(required=False, default=False)
    envelope_override_reason = serializers.CharField(
        max_length=SHORT_TEXT,
        required=False,
        allow_blank=True,
        default="",
        help_text=_("Obligatoire si la décision dépasse l'enveloppe de l'appel ou du programme."),
    )
    reason = serializers.CharField(
        max_length=SHORT_TEXT, required=False, allow_blank=True, default=""
    )
    yearly_amounts = serializers.DictField(
        child=StrictDecimalField(max_digits=12, decimal_places=2, min_value=0),
        required=False,
        allow_null=True,
        default=None,
        help_text=_(
            'Demande pluriannuelle : montant accordé par exercice (ex. {"2026": "30000.00"}) ; '
            "à défaut, réparti au prorata de la demande."
        ),
    )
    payment_flow = serializers.ChoiceField(
        choices=["", "lead", "partners"],
        required=False,
        default="",
        help_text=_(
            "Dossier collectif : « lead » (versée au chef de file) ou « partners » (chaque "
            "partenaire reçoit sa part) ; vide : comme le dossier l'indique."
        ),
    )


class DirectAwardInput(serializers.Serializer):
    amount = money(help_text=_("Montant accordé hors appel (≤ montant demandé)."))
    envelope_override_reason = serializers.CharField(
        max_length=SHORT_TEXT,
        required=False,
        allow_blank=True,
        default="",
        help_text=_("Obligatoire si la décision dépasse l'enveloppe du programme."),
    )
    reason = serializers.CharField(
        max_length=SHORT_TEXT, required=False, allow_blank=True, default=""
    )


# --------------------------------------------------------------------------- instruction work


class NoteSerializer(StrictModelSerializer):
    author = UserSummarySerializer(read_only=True, allow_null=True)

    class Meta:
        model = InstructorNote
        fields = ["id", "author", "text", "created_at"]
        read_only_fields = ["id", "author", "created_at"]
        extra_kwargs = {"text": {"error_messages": REQUIRED, "max_length": LONG_TEXT}}


class OpinionSerializer(StrictModelSerializer):
    author = UserSummarySerializer(read_only=True, allow_null=True)
    opinion_label = serializers.CharField(source="get_opinion_display", read_only=True)

    class Meta:
        model = PartnerOpinion
        fields = ["id", "author", "funder", "opinion", "opinion_label", "comment", "created_at"]
        read_only_fields = ["id", "author", "funder", "created_at"]
        extra_kwargs = {
            "opinion": {
                "error_messages": {
                    **REQUIRED,
                    "invalid_choice": _("Avis inconnu : favourable, reserved ou unfavourable."),
                }
            }
        }


class ScoreSerializer(StrictModelSerializer):
    scorer = UserSummarySerializer(read_only=True)
    criterion_label = serializers.CharField(source="criterion.label", read_only=True)

    class Meta:
        model = Score
        fields = ["id", "criterion", "criterion_label", "scorer", "value", "comment", "updated_at"]
        read_only_fields = fields


class ScoreRowInput(serializers.Serializer):
    criterion = StrictIntegerField(
        error_messages={**REQUIRED, "invalid": _("Identifiant invalide.")}
    )
    value = StrictIntegerField(
        error_messages={**REQUIRED, "invalid": _("Saisissez une note entière.")}
    )
    comment = serializers.CharField(
        max_length=SHORT_TEXT, required=False, allow_blank=True, default=""
    )


class ScoresInput(serializers.Serializer):
    scores = ScoreRowInput(many=True, error_messages=REQUIRED)
