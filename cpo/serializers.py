"""API shapes of agreements: read (list, detail with years, funders, instalments, evaluations,
amendments, recoveries) and one input per write. Serializers check formats only; every rule is in
cpo.services and cpo.services_changes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from core.limits import LONG_TEXT, SHORT_TEXT
from core.models import Funder
from core.serializers import (
    NamedChoiceField,
    StrictDecimalField,
    StrictIntegerField,
    StrictModelSerializer,
    StrictPrimaryKeyRelatedField,
    UserSummarySerializer,
)
from grants.models import Application
from grants.serializers import DATE_ERRORS, PK_ERRORS, money

from .models import (
    Agreement,
    AgreementFunder,
    AgreementState,
    AgreementYear,
    Amendment,
    Evaluation,
    EvaluationState,
    Instalment,
    InstalmentState,
    InstalmentTemplate,
    Profile,
    Recovery,
    RecoveryState,
)
from .schedules import MAX_YEARS

AGREEMENT_TRANSITIONS = ("send_for_signature", "sign", "suspend", "resume", "terminate")


def plain(value: Any) -> Any:
    """JSON-ready copy of a service's dict: Decimals as strings ("1250.50"), dates ISO."""
    from datetime import date

    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "pk"):
        return value.pk
    return value


# --------------------------------------------------------------------------- read


class AgreementFunderSerializer(StrictModelSerializer[AgreementFunder]):
    funder_name = serializers.CharField(source="funder.name", read_only=True)

    class Meta:
        model = AgreementFunder
        fields = ["id", "funder", "funder_name", "share", "granted_amount", "ej_number"]
        read_only_fields = fields


class InstalmentSerializer(StrictModelSerializer[Instalment]):
    fiscal_year = StrictIntegerField(source="year.fiscal_year", read_only=True)
    funder = StrictIntegerField(source="funder.funder_id", read_only=True)
    kind = NamedChoiceField(
        choices=Instalment.Kind.choices, enum_name="InstalmentKindEnum", read_only=True
    )
    state = NamedChoiceField(
        choices=InstalmentState.choices, enum_name="InstalmentStateEnum", read_only=True
    )

    class Meta:
        model = Instalment
        fields = [
            "id",
            "fiscal_year",
            "funder",
            "number",
            "kind",
            "amount",
            "earliest_date",
            "requires_signature",
            "requires_evaluation_of",
            "requires_valid_documents",
            "state",
            "hold_reason",
            "due_since",
            "is_late",
            "amendment_version",
        ]
        read_only_fields = fields


class AgreementYearSerializer(StrictModelSerializer[AgreementYear]):
    class Meta:
        model = AgreementYear
        fields = ["fiscal_year", "amount"]
        read_only_fields = fields


class EvaluationSummarySerializer(StrictModelSerializer[Evaluation]):
    state = NamedChoiceField(
        choices=EvaluationState.choices, enum_name="EvaluationStateEnum", read_only=True
    )

    class Meta:
        model = Evaluation
        fields = [
            "id",
            "fiscal_year",
            "due_on",
            "is_final",
            "state",
            "is_overdue",
            "submitted_at",
            "reviewed_at",
            "review_comment",
        ]
        read_only_fields = fields


class AmendmentSerializer(StrictModelSerializer[Amendment]):
    author = UserSummarySerializer(read_only=True, allow_null=True)

    class Meta:
        model = Amendment
        fields = [
            "id",
            "version",
            "reason",
            "effective_on",
            "before",
            "after",
            "author",
            "created_at",
        ]
        read_only_fields = fields


class RecoverySerializer(StrictModelSerializer[Recovery]):
    state = NamedChoiceField(
        choices=RecoveryState.choices, enum_name="RecoveryStateEnum", read_only=True
    )

    class Meta:
        model = Recovery
        fields = [
            "id",
            "fiscal_year",
            "reason",
            "unspent",
            "surplus_kept",
            "amount",
            "state",
            "offset_instalment",
            "created_at",
            "closed_at",
        ]
        read_only_fields = fields


class AgreementListSerializer(StrictModelSerializer[Agreement]):
    organisation_name = serializers.CharField(source="organisation.name", read_only=True)
    application_reference = serializers.CharField(source="application.reference", read_only=True)
    last_year = StrictIntegerField(read_only=True)
    kind = NamedChoiceField(
        choices=Agreement.Kind.choices, enum_name="AgreementKindEnum", read_only=True
    )
    state = NamedChoiceField(
        choices=AgreementState.choices, enum_name="AgreementStateEnum", read_only=True
    )

    class Meta:
        model = Agreement
        fields = [
            "id",
            "reference",
            "kind",
            "state",
            "title",
            "application",
            "application_reference",
            "funder",
            "organisation",
            "organisation_name",
            "programme",
            "first_year",
            "last_year",
            "duration_years",
            "total_amount",
            "version",
            "signed_on",
            "created_at",
        ]
        read_only_fields = fields


class AgreementDetailSerializer(AgreementListSerializer):
    years = AgreementYearSerializer(many=True, read_only=True)
    funders = AgreementFunderSerializer(many=True, read_only=True)
    instalments = InstalmentSerializer(many=True, read_only=True)
    evaluations = EvaluationSummarySerializer(many=True, read_only=True)
    amendments = AmendmentSerializer(many=True, read_only=True)
    recoveries = RecoverySerializer(many=True, read_only=True)
    has_signed_copy = serializers.SerializerMethodField()

    class Meta(AgreementListSerializer.Meta):
        fields = [
            *AgreementListSerializer.Meta.fields,
            "profile",
            "profile_rate",
            "profile_step",
            "rounding_unit",
            "instalment_template",
            "advance_cap_percent",
            "notified_on",
            "end_reason",
            "has_signed_copy",
            "years",
            "funders",
            "instalments",
            "evaluations",
            "amendments",
            "recoveries",
        ]
        read_only_fields = fields

    def get_has_signed_copy(self, obj: Agreement) -> bool:
        return bool(obj.signed_document)


# --------------------------------------------------------------------------- write


class FunderShareInput(serializers.Serializer[Any]):
    funder = StrictPrimaryKeyRelatedField(queryset=Funder.objects.all(), error_messages=PK_ERRORS)
    share = StrictDecimalField(
        max_digits=7,
        decimal_places=6,
        min_value=Decimal("0"),
        max_value=Decimal("1"),
        help_text=_("Fraction du montant (0.5 pour la moitié) ; les parts totalisent 1."),
    )
    ej_number = serializers.RegexField(
        r"^\d{10}$",
        max_length=10,
        required=False,
        allow_blank=True,
        default="",
        help_text=_("10 chiffres."),
    )


class AgreementCreateSerializer(serializers.Serializer[Any]):
    """The parameters of cpo.services.agreement_create_from_application; left out, they take the
    service's defaults (the approved years of the application, its programme's funder…)."""

    application = StrictPrimaryKeyRelatedField(
        queryset=Application.objects.all(), error_messages=PK_ERRORS
    )
    profile = serializers.ChoiceField(choices=Profile.choices, required=False)
    duration_years = StrictIntegerField(min_value=1, max_value=MAX_YEARS, required=False)
    first_year = StrictIntegerField(min_value=2000, max_value=2200, required=False)
    rate = StrictDecimalField(
        max_digits=6,
        decimal_places=4,
        required=False,
        help_text=_("Taux annuel en fraction (0.05 pour 5 %)."),
    )
    step = money(required=False)
    custom = serializers.ListField(child=money(), required=False, max_length=MAX_YEARS)
    rounding_unit = serializers.ChoiceField(choices=["1", "0.01"], required=False)
    instalment_template = serializers.ChoiceField(
        choices=[c for c in InstalmentTemplate.choices if c[0] != "custom"], required=False
    )
    advance_percent = StrictDecimalField(max_digits=5, decimal_places=2, required=False)
    interim_percent = StrictDecimalField(max_digits=5, decimal_places=2, required=False)
    advance_cap_percent = StrictDecimalField(max_digits=5, decimal_places=2, required=False)
    funders = FunderShareInput(many=True, required=False)

    def service_params(self) -> dict[str, Any]:
        data = dict(self.validated_data)
        data.pop("application")
        if "rounding_unit" in data:
            data["rounding_unit"] = Decimal(data["rounding_unit"])
        if "funders" in data:
            data["funders"] = [dict(row) for row in data["funders"]] or None
        return data


class AgreementNoInput(serializers.Serializer[Any]):
    pass


class AgreementSignInput(serializers.Serializer[Any]):
    signed_on = serializers.DateField(error_messages=DATE_ERRORS)


class AgreementReasonInput(serializers.Serializer[Any]):
    reason = serializers.CharField(
        max_length=SHORT_TEXT, required=False, allow_blank=True, default=""
    )


TRANSITION_INPUTS: dict[str, type[serializers.Serializer[Any]]] = {
    "send_for_signature": AgreementNoInput,
    "sign": AgreementSignInput,
    "suspend": AgreementReasonInput,
    "resume": AgreementReasonInput,
    "terminate": AgreementReasonInput,
}


class AmendmentPreviewInput(serializers.Serializer[Any]):
    years = serializers.DictField(
        child=money(),
        required=False,
        help_text=_('Nouveaux montants par exercice : {"2027": "32000.00"}.'),
    )
    duration_years = StrictIntegerField(min_value=1, max_value=MAX_YEARS, required=False)
    funders = FunderShareInput(many=True, required=False)

    def validate_years(self, value: dict[str, Decimal]) -> dict[int, Decimal]:
        try:
            return {int(k): v for k, v in value.items()}
        except ValueError:
            raise serializers.ValidationError(
                _("Les exercices sont des années (ex. 2027).")
            ) from None

    def change_params(self) -> dict[str, Any]:
        data = self.validated_data
        params = {
            "years": data.get("years") or None,
            "duration_years": data.get("duration_years"),
            "funders": [dict(r) for r in data["funders"]] if data.get("funders") else None,
        }
        return params


class AmendmentCreateInput(AmendmentPreviewInput):
    reason = serializers.CharField(
        max_length=SHORT_TEXT,
    )
    effective_on = serializers.DateField(error_messages=DATE_ERRORS)
    objectives = serializers.ListField(
        child=serializers.CharField(max_length=500), required=False, max_length=100
    )

    def change_params(self) -> dict[str, Any]:
        return {**super().change_params(), "objectives": self.validated_data.get("objectives")}


class RecoveryIssueInput(serializers.Serializer[Any]):
    fiscal_year = StrictIntegerField(min_value=2000, max_value=2200)
    unspent = money()
    reason = serializers.CharField(
        max_length=SHORT_TEXT,
    )


class RecoveryOffsetInput(serializers.Serializer[Any]):
    instalment = StrictIntegerField(help_text=_("Identifiant de l'échéance de la convention."))


class RecoveryCancelInput(serializers.Serializer[Any]):
    reason = serializers.CharField(
        max_length=SHORT_TEXT,
    )


RECOVERY_INPUTS: dict[str, type[serializers.Serializer[Any]]] = {
    "collect": AgreementNoInput,
    "offset": RecoveryOffsetInput,
    "cancel": RecoveryCancelInput,
}


class BudgetLineInput(serializers.Serializer[Any]):
    account = serializers.CharField(max_length=2)
    planned = money()
    actual = money()


class IndicatorValueInput(serializers.Serializer[Any]):
    # A field named `label` shadows `Field.label` in the stubs; DRF allows it.
    label = serializers.CharField(max_length=300)  # type: ignore[assignment]
    unit = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
    target = StrictDecimalField(max_digits=12, decimal_places=2)
    actual = StrictDecimalField(max_digits=12, decimal_places=2, allow_null=True)


class EvaluationSubmitInput(serializers.Serializer[Any]):
    activity_report = serializers.CharField(max_length=LONG_TEXT, allow_blank=True)
    budget_lines = BudgetLineInput(many=True)
    indicators = IndicatorValueInput(many=True, required=False, default=list)


class EvaluationReviewInput(serializers.Serializer[Any]):
    outcome = serializers.ChoiceField(choices=["accept", "accept_with_reservations", "reject"])
    comment = serializers.CharField(
        max_length=SHORT_TEXT, required=False, allow_blank=True, default=""
    )


class PreviewSerializer(serializers.Serializer[Any]):
    """A service's before/after preview, as returned by cpo.services_changes.amendment_preview."""

    preview = serializers.DictField()
