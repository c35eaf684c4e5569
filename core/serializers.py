"""API shapes of core: organisations (bank details only for who may see them), reference data,
audit rows and the token request. Serializers shape data; the rules stay in core.services."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent, build_choice_field
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .models import QPV, AuditLog, Funder, Organisation, Pillar, TransitionTheme, User
from .permissions import can_see_bank_details

if TYPE_CHECKING:
    from django_stubs_ext import StrPromise

REQUIRED: dict[str, str | StrPromise] = {
    "required": _("Ce champ est obligatoire."),
    "blank": _("Ce champ ne peut pas être vide."),
    "null": _("Ce champ ne peut pas être vide."),
}


class NamedChoiceField(serializers.ChoiceField):
    """A choice field documented as a named enum component (`ApplicationStateEnum`…), so that
    choice sets sharing a field name (an application's `state`, a call's `state`) never collide."""

    def __init__(self, *args: Any, enum_name: str, **kwargs: Any) -> None:
        self.enum_name = enum_name
        super().__init__(*args, **kwargs)


class NamedChoiceFieldExtension(OpenApiSerializerFieldExtension):  # type: ignore[no-untyped-call]
    target_class = NamedChoiceField

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> Any:
        schema = build_choice_field(self.target)
        schema.pop("x-spec-enum-id", None)
        if None in schema["enum"]:
            schema["enum"] = [v for v in schema["enum"] if v is not None]
        component = ResolvedComponent(  # type: ignore[no-untyped-call]
            name=self.target.enum_name,
            type=ResolvedComponent.SCHEMA,
            object=self.target.enum_name,
            schema=schema,
        )
        auto_schema.registry.register_on_missing(component)
        return component.ref


class UserSummarySerializer(serializers.ModelSerializer[User]):
    """Who acted: a name and an address, nothing else."""

    name = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "name", "email"]

    def get_name(self, obj: User) -> str:
        return obj.get_full_name() or obj.email


class QPVSerializer(serializers.ModelSerializer[QPV]):
    class Meta:
        model = QPV
        fields = ["id", "code", "name", "commune_insee", "commune_name"]


class PillarSerializer(serializers.ModelSerializer[Pillar]):
    class Meta:
        model = Pillar
        fields = ["id", "code", "label"]


class ThemeSerializer(serializers.ModelSerializer[TransitionTheme]):
    class Meta:
        model = TransitionTheme
        fields = ["id", "code", "label"]


class FunderSerializer(serializers.ModelSerializer[Funder]):
    kind = NamedChoiceField(choices=Funder.Kind.choices, enum_name="FunderKindEnum", read_only=True)
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)

    class Meta:
        model = Funder
        fields = ["id", "name", "kind", "kind_label", "siret"]


class OrganisationSerializer(serializers.ModelSerializer[Organisation]):
    """The organisation profile. `iban` and `bic` are present only for the organisation's members
    and finance officers (core.permissions.can_see_bank_details); everyone else gets null."""

    legal_form_label = serializers.CharField(source="get_legal_form_display", read_only=True)
    iban = serializers.SerializerMethodField()
    bic = serializers.SerializerMethodField()

    class Meta:
        model = Organisation
        fields = [
            "id",
            "name",
            "siret",
            "rna",
            "legal_form",
            "legal_form_label",
            "email",
            "phone",
            "address",
            "postcode",
            "city",
            "commune_insee",
            "legal_rep_name",
            "legal_rep_role",
            "iban",
            "bic",
            "created_at",
        ]
        read_only_fields = fields

    def _bank_visible(self, obj: Organisation) -> bool:
        request = self.context.get("request")
        return request is not None and can_see_bank_details(request.user, obj)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_iban(self, obj: Organisation) -> str | None:
        return obj.iban if self._bank_visible(obj) else None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_bic(self, obj: Organisation) -> str | None:
        return obj.bic if self._bank_visible(obj) else None


class OrganisationUpdateSerializer(serializers.Serializer[Any]):
    """The profile fields an organisation administrator may change (core.services.organisation_update).

    Format checks only; the SIRET and bank details are not edited here."""

    name = serializers.CharField(max_length=255, required=False, error_messages=REQUIRED)
    rna = serializers.CharField(max_length=10, required=False, allow_blank=True)
    legal_form = serializers.ChoiceField(
        choices=Organisation.LegalForm.choices,
        required=False,
        error_messages={"invalid_choice": _("« {input} » n'est pas une forme juridique connue.")},
    )
    email = serializers.EmailField(
        required=False,
        allow_blank=True,
        error_messages={"invalid": _("Saisissez une adresse e-mail valide.")},
    )
    phone = serializers.CharField(max_length=30, required=False, allow_blank=True)
    address = serializers.CharField(max_length=255, required=False, allow_blank=True)
    postcode = serializers.CharField(max_length=5, required=False, allow_blank=True)
    city = serializers.CharField(max_length=120, required=False, allow_blank=True)
    commune_insee = serializers.CharField(max_length=5, required=False, allow_blank=True)
    legal_rep_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    legal_rep_role = serializers.CharField(max_length=100, required=False, allow_blank=True)


class AuditEntrySerializer(serializers.ModelSerializer[AuditLog]):
    """One line of an object's history, with the action's and states' human labels."""

    label = serializers.CharField(read_only=True)  # type: ignore[assignment]  # a field, not Field.label
    source_label = serializers.CharField(read_only=True, default="")
    target_label = serializers.CharField(read_only=True, default="")
    actor = UserSummarySerializer(read_only=True, allow_null=True)
    payload = serializers.SerializerMethodField()

    class Meta:
        model = AuditLog
        fields = [
            "id",
            "created_at",
            "action",
            "label",
            "actor",
            "source_state",
            "source_label",
            "target_state",
            "target_label",
            "reason",
            "payload",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.DictField(allow_null=True))
    def get_payload(self, obj: AuditLog) -> dict[str, Any] | None:
        # The data behind an action is for staff; applicants see what happened and why.
        return obj.payload if self.context.get("show_payload") else None


class TokenRequestSerializer(serializers.Serializer[Any]):
    email = serializers.EmailField(
        error_messages={**REQUIRED, "invalid": _("Saisissez une adresse e-mail valide.")}
    )
    password = serializers.CharField(
        trim_whitespace=False, style={"input_type": "password"}, error_messages=REQUIRED
    )


class TokenSerializer(serializers.Serializer[Any]):
    token = serializers.CharField(read_only=True)


class StrictPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):  # type: ignore[type-arg]
    """A primary key given as an integer (or a string of digits): `1.5`, `true` or `"1e3"` are
    refused (400) instead of being truncated by the database lookup."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, bool) or not (
            isinstance(data, int) or (isinstance(data, str) and data.strip().isdigit())
        ):
            self.fail("incorrect_type", data_type=type(data).__name__)
        return super().to_internal_value(data)


def reject_negative_zero(value: Any) -> None:
    """`-0` (or `-0.00`) is not an amount: a sign on zero is refused rather than silently dropped."""
    if value is not None and value == 0 and value.is_signed():
        raise serializers.ValidationError(_("Un montant nul s'écrit sans signe (0.00)."))
