"""API shapes of the finance side: instalments as the finance team sees them, payment runs (with
totals, approvals, blocked reason), their items, confirmation files and their dry-run report,
fiscal years; and the association's own payments. Serializers check formats only: every rule is
in finance.services and finance.confirmations."""

from __future__ import annotations

from typing import Any, cast

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.serializers import (
    NamedChoiceField,
    StrictDecimalField,
    StrictIntegerField,
    StrictModelSerializer,
    UserSummarySerializer,
)
from cpo.models import Instalment, InstalmentState
from cpo.selectors_payments import PaymentStage, payment_stage
from cpo.serializers import InstalmentSerializer
from finance.models import (
    PaymentConfirmation,
    PaymentRun,
    PaymentRunApproval,
    PaymentRunItem,
    PaymentRunState,
)
from grants.serializers import DATE_ERRORS

IDS_MAX = 50_000
NULLABLE_TEXT = serializers.CharField(allow_null=True)


def _ids(**kwargs: Any) -> serializers.ListField:
    return serializers.ListField(
        child=StrictIntegerField(min_value=1),
        allow_empty=False,
        min_length=1,  # `minItems: 1` in the schema (allow_empty does not show there)
        max_length=IDS_MAX,
        error_messages={
            "empty": _lazy("Choisissez au moins un élément."),
            "min_length": _lazy("Choisissez au moins un élément."),
            "not_a_list": _lazy("Attendu : une liste d'identifiants."),
            "max_length": _lazy("Au plus {max_length} identifiants à la fois."),
        },
        **kwargs,
    )


# --------------------------------------------------------------------------- instalments


class FinanceInstalmentSerializer(InstalmentSerializer):
    """An instalment as the finance team sees it: agreement, beneficiary, funder, state, the
    payment references. The fiscal year it is charged to is `charged_year` (its own year unless
    carried at a year's closing, or the run's year once paid)."""

    reference = serializers.CharField(read_only=True)
    agreement_reference = serializers.CharField(source="agreement.reference", read_only=True)
    organisation = StrictIntegerField(source="agreement.organisation_id", read_only=True)
    organisation_name = serializers.CharField(source="agreement.organisation.name", read_only=True)
    programme = StrictIntegerField(source="agreement.programme_id", read_only=True)
    charged_year = serializers.SerializerMethodField()
    funder_name = serializers.CharField(source="funder.funder.name", read_only=True)

    class Meta(InstalmentSerializer.Meta):
        fields = [
            "id",
            "reference",
            "agreement",
            "agreement_reference",
            "organisation",
            "organisation_name",
            "programme",
            "fiscal_year",
            "charged_year",
            "funder",
            "funder_name",
            "number",
            "kind",
            "amount",
            "earliest_date",
            "state",
            "hold_reason",
            "due_since",
            "is_late",
            "certified_at",
            "paid_on",
            "reject_reason",
        ]
        read_only_fields = fields

    def get_charged_year(self, obj: Instalment) -> int:
        return obj.charged_year or obj.year.fiscal_year


class InstalmentApproveInput(serializers.Serializer[Any]):
    ids = _ids(help_text=_lazy("Échéances exigibles dont le service fait est certifié."))
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class InstalmentApproveResult(serializers.Serializer[Any]):
    approved = StrictIntegerField(help_text=_lazy("Échéances liquidées par cet appel."))
    already_approved = StrictIntegerField(
        help_text=_lazy("Échéances qui l'étaient déjà (rien n'est fait deux fois).")
    )


# --------------------------------------------------------------------------- runs


class PaymentRunApprovalSerializer(StrictModelSerializer[PaymentRunApproval]):
    user = UserSummarySerializer(read_only=True)

    class Meta:
        model = PaymentRunApproval
        fields = ["id", "user", "total", "item_count", "is_valid", "created_at"]
        read_only_fields = fields


RUN_ACTIONS = ("approve", "remove-items", "cancel", "export")


class PaymentRunSerializer(StrictModelSerializer[PaymentRun]):
    """A payment run: state, totals, approvals given over required, why it is blocked, and the
    actions possible in its state."""

    state = NamedChoiceField(
        choices=PaymentRunState.choices, enum_name="PaymentRunStateEnum", read_only=True
    )
    created_by = UserSummarySerializer(read_only=True, allow_null=True)
    exported_by = UserSummarySerializer(read_only=True, allow_null=True)
    approvals_given = StrictIntegerField(read_only=True)
    actions = serializers.SerializerMethodField()
    files = serializers.SerializerMethodField()

    class Meta:
        model = PaymentRun
        fields = [
            "id",
            "reference",
            "state",
            "fiscal_year",
            "label",
            "criteria",
            "item_count",
            "total",
            "paid_total",
            "rejected_total",
            "approvals_required",
            "approvals_given",
            "blocked_reason",
            "created_by",
            "created_at",
            "approved_at",
            "exported_at",
            "exported_by",
            "export_sha256",
            "closed_at",
            "actions",
            "files",
        ]
        read_only_fields = fields

    @extend_schema_field(
        serializers.ListField(
            child=NamedChoiceField(choices=list(RUN_ACTIONS), enum_name="PaymentRunActionEnum")
        )
    )
    def get_actions(self, obj: PaymentRun) -> list[str]:
        return run_actions(obj)

    @extend_schema_field(
        serializers.DictField(
            child=serializers.URLField(),
            help_text=_lazy("Fichiers transmis à la comptabilité (csv, xlsx), une fois exporté."),
        )
    )
    def get_files(self, obj: PaymentRun) -> dict[str, str]:
        if not obj.export_csv:
            return {}
        request = self.context.get("request")
        files = {}
        for fmt in ("csv", "xlsx"):
            url = f"/api/finance/runs/{obj.pk}/file/?format={fmt}"
            files[fmt] = request.build_absolute_uri(url) if request else url
        return files


def run_actions(run: PaymentRun) -> list[str]:
    """What may be done to a run in its state (the services decide who)."""
    state = run.state
    if state == PaymentRunState.DRAFT:
        return ["approve", "remove-items", "cancel"]
    if state == PaymentRunState.APPROVED:
        return ["export", "cancel"]
    return []


class PaymentRunDetailSerializer(PaymentRunSerializer):
    approvals = PaymentRunApprovalSerializer(many=True, read_only=True)
    approval_refusal = serializers.SerializerMethodField(
        help_text=_lazy("Pourquoi vous ne pouvez pas valider ce lot maintenant (ou null).")
    )

    class Meta(PaymentRunSerializer.Meta):
        fields = [*PaymentRunSerializer.Meta.fields, "approvals", "approval_refusal"]
        read_only_fields = fields

    @extend_schema_field(NULLABLE_TEXT)
    def get_approval_refusal(self, obj: PaymentRun) -> str | None:
        return self.context.get("approval_refusal")


class PaymentRunCreatedSerializer(PaymentRunDetailSerializer):
    without_bank_details = StrictIntegerField(
        read_only=True,
        help_text=_lazy("Échéances laissées hors du lot faute de coordonnées bancaires."),
    )
    not_included = serializers.ListField(
        child=StrictIntegerField(),
        read_only=True,
        help_text=_lazy(
            "Échéances demandées qui ne sont pas payables (ni exigibles ni liquidées, convention "
            "non en cours, exercice clos, déjà dans un lot ou sans coordonnées bancaires)."
        ),
    )

    class Meta(PaymentRunDetailSerializer.Meta):
        fields = [*PaymentRunDetailSerializer.Meta.fields, "without_bank_details", "not_included"]
        read_only_fields = fields


class RunCriteriaInput(serializers.Serializer[Any]):
    due_by = serializers.DateField(
        required=False,
        error_messages=DATE_ERRORS,
        help_text=_lazy("Échéances payables au plus tard à cette date."),
    )
    programme = StrictIntegerField(required=False, min_value=1)
    funder = StrictIntegerField(required=False, min_value=1)
    budget_line = StrictIntegerField(required=False, min_value=1)
    late_only = serializers.BooleanField(
        required=False, default=False, help_text=_lazy("Seulement les échéances en retard.")
    )


class PaymentRunCreateInput(serializers.Serializer[Any]):
    """Either selection criteria (every payable instalment matching them; `{}` = every payable
    instalment) or the instalments chosen, or both (the chosen ones that match)."""

    criteria = RunCriteriaInput(required=False)
    instalment_ids = _ids(required=False)
    fiscal_year = StrictIntegerField(
        required=False,
        min_value=2000,
        max_value=2200,
        help_text=_lazy("Exercice du lot ; par défaut l'année en cours."),
    )
    # A field named `label` shadows `Field.label` in the stubs; DRF allows it.
    label = serializers.CharField(  # type: ignore[assignment]
        required=False, allow_blank=True, default="", max_length=255
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "criteria" not in attrs and "instalment_ids" not in attrs:
            raise serializers.ValidationError(
                {
                    "criteria": [
                        _(
                            "Donnez des critères de sélection (`criteria`) ou les échéances "
                            "à payer (`instalment_ids`)."
                        )
                    ]
                }
            )
        return attrs


class RemoveItemsInput(serializers.Serializer[Any]):
    item_ids = _ids(help_text=_lazy("Paiements du lot à retirer."))
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=255)


class RunCancelInput(serializers.Serializer[Any]):
    reason = serializers.CharField(
        max_length=2000,
        error_messages={
            "required": _lazy("Un motif est obligatoire pour cette action."),
            "blank": _lazy("Un motif est obligatoire pour cette action."),
        },
    )


class FinanceNoInput(serializers.Serializer[Any]):
    pass


class PaymentRunItemSerializer(StrictModelSerializer[PaymentRunItem]):
    """One payment of a run. IBAN and BIC are shown to the finance team only (docs/domain.md §1)."""

    status = NamedChoiceField(
        choices=PaymentRunItem.Status.choices, enum_name="PaymentRunItemStatusEnum", read_only=True
    )
    iban = serializers.SerializerMethodField()
    bic = serializers.SerializerMethodField()

    class Meta:
        model = PaymentRunItem
        fields = [
            "id",
            "instalment",
            "instalment_reference",
            "agreement_reference",
            "organisation",
            "beneficiary_name",
            "siret",
            "iban",
            "bic",
            "amount",
            "budget_line",
            "ej_number",
            "fiscal_year",
            "status",
            "paid_on",
            "reject_reason",
            "confirmed_at",
        ]
        read_only_fields = fields

    @extend_schema_field(NULLABLE_TEXT)
    def get_iban(self, obj: PaymentRunItem) -> str | None:
        return obj.iban if self.context.get("bank_details") else None

    @extend_schema_field(NULLABLE_TEXT)
    def get_bic(self, obj: PaymentRunItem) -> str | None:
        return obj.bic if self.context.get("bank_details") else None


# --------------------------------------------------------------------------- confirmations


class LineErrorSerializer(serializers.Serializer[Any]):
    line = StrictIntegerField(help_text=_lazy("Numéro de ligne dans le fichier (en-tête = 1)."))
    column = serializers.CharField()
    value = serializers.CharField(allow_blank=True)
    message = serializers.CharField()


class ConfirmationCountsSerializer(serializers.Serializer[Any]):
    lines = StrictIntegerField()
    paid = StrictIntegerField()
    rejected = StrictIntegerField()
    unchanged = StrictIntegerField()


class PaymentConfirmationSerializer(StrictModelSerializer[PaymentConfirmation]):
    """A confirmation file and its dry-run report: what applying it would do, every error by line
    and column (the first 1 000; `error_count` says how many in all)."""

    state = NamedChoiceField(
        choices=PaymentConfirmation.State.choices,
        enum_name="PaymentConfirmationStateEnum",
        read_only=True,
    )
    uploaded_by = UserSummarySerializer(read_only=True, allow_null=True)
    counts = serializers.SerializerMethodField()
    line_errors = serializers.SerializerMethodField()
    error_count = serializers.SerializerMethodField()
    applied = serializers.SerializerMethodField()

    class Meta:
        model = PaymentConfirmation
        fields = [
            "id",
            "original_name",
            "sha256",
            "state",
            "row_count",
            "counts",
            "error_count",
            "line_errors",
            "applied",
            "uploaded_by",
            "created_at",
            "applied_at",
        ]
        read_only_fields = fields

    @extend_schema_field(ConfirmationCountsSerializer)
    def get_counts(self, obj: PaymentConfirmation) -> dict[str, int]:
        return cast(dict[str, int], (obj.report or {}).get("counts", {}))

    @extend_schema_field(LineErrorSerializer(many=True))
    def get_line_errors(self, obj: PaymentConfirmation) -> list[dict[str, Any]]:
        return cast(list[dict[str, Any]], (obj.report or {}).get("errors", []))

    @extend_schema_field(OpenApiTypes.INT)
    def get_error_count(self, obj: PaymentConfirmation) -> int:
        return cast(int, (obj.report or {}).get("error_count", 0))

    @extend_schema_field(
        serializers.DictField(
            child=StrictIntegerField(),
            help_text=_lazy("Ce que l'application a fait (payés, rejetés, déjà pris en compte)."),
        )
    )
    def get_applied(self, obj: PaymentConfirmation) -> dict[str, int]:
        return cast(dict[str, int], (obj.report or {}).get("applied", {}))


class ConfirmationRejectedSerializer(PaymentConfirmationSerializer):
    """The 400 answer to a file with errors: the usual error fields, then the report."""

    detail = serializers.SerializerMethodField()
    code = serializers.SerializerMethodField()

    class Meta(PaymentConfirmationSerializer.Meta):
        fields = ["detail", "code", *PaymentConfirmationSerializer.Meta.fields]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.STR)
    def get_detail(self, obj: PaymentConfirmation) -> str:
        count = self.get_error_count(obj)
        return _(
            "Le fichier contient %(n)d erreur(s) : rien ne sera appliqué. Corrigez-le et "
            "déposez-le à nouveau."
        ) % {"n": count}

    @extend_schema_field(OpenApiTypes.STR)
    def get_code(self, obj: PaymentConfirmation) -> str:
        return "invalid_file"


class ConfirmationUploadInput(serializers.Serializer[Any]):
    file = serializers.FileField(
        help_text=_lazy(
            "Retour de la comptabilité, CSV ou XLSX : reference_echeance, date_paiement, statut "
            "(payé / rejeté), motif (obligatoire pour un rejet), reference_lot facultative."
        ),
        error_messages={
            "required": _lazy("Joignez le fichier de retour de la comptabilité."),
            "empty": _lazy("Le fichier est vide."),
            "invalid": _lazy("Envoyez un fichier (formulaire multipart, champ « file »)."),
        },
    )


class JobStartedSerializer(serializers.Serializer[Any]):
    job = StrictIntegerField(help_text=_lazy("Identifiant de la tâche de fond."))
    state = serializers.CharField()
    url = serializers.CharField(
        help_text=_lazy("Où suivre la tâche : avancement, résultat (JSON).")
    )
    confirmation = StrictIntegerField()


# --------------------------------------------------------------------------- fiscal years


class FiscalYearSerializer(serializers.Serializer[Any]):
    """A fiscal year and what is left on it: unpaid instalments charged to it (to carry or cancel
    before closing), runs still open, what was paid on it."""

    year = StrictIntegerField()
    is_closed = serializers.BooleanField()
    closed_at = serializers.DateTimeField(allow_null=True)
    closed_by = UserSummarySerializer(allow_null=True)
    closing_note = serializers.CharField(allow_blank=True)
    remaining_count = StrictIntegerField(
        help_text=_lazy("Échéances non payées imputées sur l'exercice.")
    )
    remaining_amount = StrictDecimalField(max_digits=14, decimal_places=2)
    paid_amount = StrictDecimalField(max_digits=14, decimal_places=2)
    open_runs = serializers.ListField(
        child=serializers.CharField(),
        help_text=_lazy("Lots de l'exercice pas encore soldés : ils empêchent la clôture."),
    )


class FiscalYearCloseInput(serializers.Serializer[Any]):
    carry_ids = serializers.ListField(
        child=StrictIntegerField(min_value=1),
        required=False,
        default=list,
        max_length=IDS_MAX,
        help_text=_lazy("Échéances reportées sur l'exercice suivant."),
    )
    cancel_ids = serializers.ListField(
        child=StrictIntegerField(min_value=1),
        required=False,
        default=list,
        max_length=IDS_MAX,
        help_text=_lazy("Échéances annulées."),
    )
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


# --------------------------------------------------------------------------- the association's


class MyPaymentSerializer(StrictModelSerializer[Instalment]):
    """One instalment of the user's organisations, as the association sees it: `stage` folds the
    finance team's steps (liquidated, in a run, sent to the accounting system) into
    `in_payment`; `state` is the detailed state."""

    agreement_reference = serializers.CharField(source="agreement.reference", read_only=True)
    agreement_title = serializers.CharField(source="agreement.title", read_only=True)
    organisation = StrictIntegerField(source="agreement.organisation_id", read_only=True)
    organisation_name = serializers.CharField(source="agreement.organisation.name", read_only=True)
    fiscal_year = StrictIntegerField(source="year.fiscal_year", read_only=True)
    funder_name = serializers.CharField(source="funder.funder.name", read_only=True)
    kind = NamedChoiceField(
        choices=Instalment.Kind.choices, enum_name="InstalmentKindEnum", read_only=True
    )
    state = NamedChoiceField(
        choices=InstalmentState.choices, enum_name="InstalmentStateEnum", read_only=True
    )
    stage = serializers.SerializerMethodField()
    stage_label = serializers.SerializerMethodField()
    reject_reason = serializers.SerializerMethodField(
        help_text=_lazy(
            "Motif du dernier virement rejeté par la comptabilité ; vide une fois payée."
        )
    )

    class Meta:
        model = Instalment
        fields = [
            "id",
            "agreement",
            "agreement_reference",
            "agreement_title",
            "organisation",
            "organisation_name",
            "fiscal_year",
            "funder_name",
            "number",
            "kind",
            "amount",
            "earliest_date",
            "stage",
            "stage_label",
            "state",
            "hold_reason",
            "paid_on",
            "reject_reason",
        ]
        read_only_fields = fields

    @extend_schema_field(
        NamedChoiceField(choices=PaymentStage.choices, enum_name="PaymentStageEnum")
    )
    def get_stage(self, obj: Instalment) -> str:
        return payment_stage(obj.state)

    @extend_schema_field(OpenApiTypes.STR)
    def get_stage_label(self, obj: Instalment) -> str:
        return str(PaymentStage(payment_stage(obj.state)).label)

    @extend_schema_field(OpenApiTypes.STR)
    def get_reject_reason(self, obj: Instalment) -> str:
        return "" if obj.state == InstalmentState.PAID else obj.reject_reason
