"""OpenAPI pieces of the payment-run file endpoints (finance.api): the `format` of the payment file
and the missing-EJ check of the export (issue 16)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, PolymorphicProxySerializer
from rest_framework import serializers

from core.api_views import ErrorSerializer

FORMAT_PARAMETER = OpenApiParameter(
    "format",
    OpenApiTypes.STR,
    OpenApiParameter.QUERY,
    enum=["csv", "excel-fr", "xlsx"],
    description=_lazy(
        "csv (par défaut) : le fichier transmis, UTF-8 sans BOM, séparateur « , », point "
        "décimal ; excel-fr : le même contenu pour Excel (France), UTF-8 avec BOM, « ; », "
        "virgule décimale ; xlsx."
    ),
)
ALLOW_MISSING_EJ_PARAMETER = OpenApiParameter(
    "allow_missing_ej",
    OpenApiTypes.BOOL,
    OpenApiParameter.QUERY,
    description=_lazy(
        "true : transmettre même si des paiements n'ont pas de numéro d'engagement juridique "
        "(EJ) ; la confirmation est inscrite à l'historique. Sans lui, réponse 409 avec la liste."
    ),
)


class MissingEjItemSerializer(serializers.Serializer[Any]):
    # A response body only (the 409's list): every field is read-only.
    id = serializers.IntegerField(read_only=True)
    beneficiary_name = serializers.CharField(read_only=True)
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, read_only=True)
    agreement_reference = serializers.CharField(read_only=True)
    agreement_id = serializers.IntegerField(read_only=True)
    instalment_reference = serializers.CharField(read_only=True)


class MissingEjSerializer(serializers.Serializer[Any]):
    detail = serializers.CharField(read_only=True)
    code = serializers.CharField(read_only=True)
    missing_ej = MissingEjItemSerializer(many=True, read_only=True)


R409_MISSING_EJ = OpenApiResponse(
    # Either body (`anyOf`, core/api_schema.py): the payments without an EJ, or the plain `Error`
    # of a run in the wrong state.
    PolymorphicProxySerializer(
        component_name="PaymentRunExportConflict",
        serializers=[MissingEjSerializer, ErrorSerializer],
        resource_type_field_name=None,
    ),
    description=_lazy(
        "Des paiements n'ont pas de numéro EJ (code missing_ej, liste dans missing_ej) ; ou le "
        "lot n'est pas dans un état qui permet l'export."
    ),
)
