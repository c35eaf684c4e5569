"""API shapes of core: organisations (bank details only for who may see them), reference data,
audit rows and the token request. Serializers shape data; the rules stay in core.services."""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from django.db import models
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent, build_choice_field
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .limits import EMAIL_TEXT, PASSWORD_TEXT
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


class NonEmptyDictFieldExtension(OpenApiSerializerFieldExtension):  # type: ignore[no-untyped-call]
    """An object that may not be empty (`DictField(allow_empty=False)`) is documented so:
    drf-spectacular maps `allow_empty` for lists (minItems) but not for objects (schemathesis
    ST202: `{}` was valid by the schema and refused by the API)."""

    target_class = serializers.DictField
    match_subclasses = True

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> Any:
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if not getattr(self.target, "allow_empty", True):
            schema["minProperties"] = 1
        return schema


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
        max_length=EMAIL_TEXT,
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
        max_length=EMAIL_TEXT,
        error_messages={**REQUIRED, "invalid": _("Saisissez une adresse e-mail valide.")},
    )
    password = serializers.CharField(
        max_length=PASSWORD_TEXT,
        trim_whitespace=False,
        style={"input_type": "password"},
        error_messages=REQUIRED,
    )


class TokenSerializer(serializers.Serializer[Any]):
    token = serializers.CharField(read_only=True)


# --------------------------------------------------------------------------- strict numbers
# One set of number fields for every API input (issue 11): an id or a count is an integer, never
# `1.5`, `1.0`, `true` or `"1e3"`; an amount has at most two decimals, no sign on zero, no NaN or
# Infinity. tests/api/test_strict_numbers.py walks every serializer and fails on a number field
# that is not one of these.

MAX_ID = 2**63 - 1  # ids are 64-bit: a larger number is a 400, never a database error
_INTEGER = re.compile(r"^-?[0-9]+$")
_DECIMAL = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")

INTEGER_ERRORS: dict[str, str | StrPromise] = {
    **REQUIRED,
    "invalid": _("Saisissez un nombre entier."),
    "max_value": _("Assurez-vous que cette valeur est inférieure ou égale à {max_value}."),
    "min_value": _("Assurez-vous que cette valeur est supérieure ou égale à {min_value}."),
}
AMOUNT_ERRORS: dict[str, str | StrPromise] = {
    **REQUIRED,
    "invalid": _("Saisissez un montant valide (par exemple 1250.50)."),
    "max_decimal_places": _("Le montant s'exprime au centime près (2 décimales au plus)."),
    "max_digits": _("Ce montant est trop élevé."),
    "max_whole_digits": _("Ce montant est trop élevé."),
    "min_value": _("Le montant ne peut pas être négatif."),
}
PK_ERRORS: dict[str, str | StrPromise] = {
    **REQUIRED,
    "does_not_exist": _("Élément introuvable (identifiant {pk_value})."),
    "incorrect_type": _("Identifiant invalide."),
}


def _is_strict_integer(data: Any) -> bool:
    if isinstance(data, bool):
        return False
    return isinstance(data, int) or (isinstance(data, str) and bool(_INTEGER.match(data)))


class StrictIntegerField(serializers.IntegerField):
    """An integer as a JSON integer or a string of digits; `1.5`, `1.0`, `true`, `"1e3"` are
    refused (DRF's IntegerField accepts `1.0`). Bounded by default to what a 64-bit column holds,
    which the schema says (`minimum`/`maximum`)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_value", MAX_ID)
        kwargs.setdefault("min_value", -MAX_ID)
        kwargs["error_messages"] = {**INTEGER_ERRORS, **kwargs.get("error_messages", {})}
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        if not _is_strict_integer(data):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictDecimalField(serializers.DecimalField):
    """A decimal as a JSON number or a string of digits with an optional point: no exponent, no
    NaN or Infinity, no sign on zero (`-0`), never more decimals than `decimal_places` (refused,
    not rounded)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["validators"] = [*kwargs.get("validators", []), reject_negative_zero]
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Decimal:
        if isinstance(data, bool) or not isinstance(data, int | float | str | Decimal):
            self.fail("invalid")
        if isinstance(data, float):
            if not math.isfinite(data):
                self.fail("invalid")
        elif not _DECIMAL.match(str(data).strip()):
            self.fail("invalid")
        return super().to_internal_value(data)


class MoneyField(StrictDecimalField):
    """An amount in euros: exact to the cent, sent and returned as a string ("1250.50")."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", 12)
        kwargs.setdefault("decimal_places", 2)
        kwargs["error_messages"] = {**AMOUNT_ERRORS, **kwargs.get("error_messages", {})}
        super().__init__(**kwargs)


def money(**kwargs: Any) -> MoneyField:
    """An amount in euros (MoneyField), the spelling the serializers use."""
    return MoneyField(**kwargs)


class StrictPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):  # type: ignore[type-arg]
    """A primary key given as an integer (or a string of digits): `1.5`, `true` or `"1e3"` are
    refused (400) instead of being truncated by the database lookup."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["error_messages"] = {**PK_ERRORS, **kwargs.get("error_messages", {})}
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Any:
        if not _is_strict_integer(data):
            self.fail("incorrect_type", data_type=type(data).__name__)
        return super().to_internal_value(data)


class StrictDecimalFieldExtension(OpenApiSerializerFieldExtension):  # type: ignore[no-untyped-call]
    """The schema of a strict decimal says what it accepts: at least one digit, no sign when it
    cannot be negative (drf-spectacular's default pattern also matches "" and "-")."""

    target_class = StrictDecimalField
    match_subclasses = True

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> Any:
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        field = self.target
        if "pattern" in schema and field.max_whole_digits is not None:
            sign = "" if field.min_value is not None and field.min_value >= 0 else "-?"
            places = rf"(?:\.\d{{1,{field.decimal_places}}})?" if field.decimal_places else ""
            schema["pattern"] = rf"^{sign}\d{{1,{max(field.max_whole_digits, 1)}}}{places}$"
        return schema


class StrictPrimaryKeyRelatedFieldExtension(OpenApiSerializerFieldExtension):  # type: ignore[no-untyped-call]
    """An id in a body is an integer from 1 to 2⁶³ − 1, as the schema now says."""

    target_class = StrictPrimaryKeyRelatedField
    match_subclasses = True

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> Any:
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if schema.get("type") == "integer" and direction == "request":
            schema.update(minimum=1, maximum=MAX_ID)
        return schema


def reject_negative_zero(value: Any) -> None:
    """`-0` (or `-0.00`) is not an amount: a sign on zero is refused rather than silently dropped."""
    if value is not None and value == 0 and value.is_signed():
        raise serializers.ValidationError(_("Un montant nul s'écrit sans signe (0.00)."))


_M = TypeVar("_M", bound=models.Model)


class StrictModelSerializer(serializers.ModelSerializer[_M]):
    """A model serializer whose generated number and key fields are the strict ones above."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.IntegerField: StrictIntegerField,
        models.BigIntegerField: StrictIntegerField,
        models.SmallIntegerField: StrictIntegerField,
        models.PositiveIntegerField: StrictIntegerField,
        models.PositiveSmallIntegerField: StrictIntegerField,
        models.PositiveBigIntegerField: StrictIntegerField,
        models.DecimalField: StrictDecimalField,
    }
    serializer_related_field = StrictPrimaryKeyRelatedField
