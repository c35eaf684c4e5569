"""API of city contracts (OpenAPI through drf-spectacular): contracts, commitments and
observatory indicators, read within the user's scope (404 outside); writes through
contracts.services (DomainError → 400, PermissionDenied → 403)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter

from core.api_views import R400, R403, R404
from core.limits import LONG_TEXT
from core.models import QPV, User
from core.serializers import StrictDecimalField, StrictModelSerializer

from . import services as cs
from .models import Commitment, Contract, Indicator, IndicatorValue, Part, Signatory
from .selectors import contracts_readable_by
from .services_observatory import indicator_set_value


class ContractPartSerializer(StrictModelSerializer[Part]):
    class Meta:
        model = Part
        fields = ["id", "kind", "title", "position", "programmes"]


class ContractSignatorySerializer(StrictModelSerializer[Signatory]):
    class Meta:
        model = Signatory
        fields = ["id", "name", "role", "funder"]


class ContractSerializer(StrictModelSerializer[Contract]):
    parts = ContractPartSerializer(many=True, read_only=True)
    signatories = ContractSignatorySerializer(many=True, read_only=True)
    qpvs: serializers.SlugRelatedField[QPV] = serializers.SlugRelatedField(
        many=True, read_only=True, slug_field="code"
    )

    class Meta:
        model = Contract
        fields = [
            "id",
            "name",
            "epci_name",
            "epci_siren",
            "first_year",
            "last_year",
            "state",
            "version",
            "signed_on",
            "qpvs",
            "parts",
            "signatories",
        ]


class ContractCommitmentSerializer(StrictModelSerializer[Commitment]):
    class Meta:
        model = Commitment
        fields = [
            "id",
            "contract",
            "signatory",
            "part",
            "year",
            "kind",
            "amount",
            "action",
            "indicator",
            "target",
            "realised_amount",
            "realised_value",
            "realised_note",
            "reported_at",
        ]
        read_only_fields = ["realised_amount", "realised_value", "realised_note", "reported_at"]


class ContractCommitmentReportSerializer(serializers.Serializer[Any]):
    note = serializers.CharField(
        max_length=LONG_TEXT,
    )
    realised_amount = StrictDecimalField(
        max_digits=14, decimal_places=2, required=False, allow_null=True
    )
    realised_value = StrictDecimalField(
        max_digits=14, decimal_places=2, required=False, allow_null=True
    )


class ContractIndicatorValueSerializer(StrictModelSerializer[IndicatorValue]):
    class Meta:
        model = IndicatorValue
        fields = ["year", "value", "source", "measured_on"]


class ContractIndicatorSerializer(StrictModelSerializer[Indicator]):
    values = ContractIndicatorValueSerializer(many=True, read_only=True)
    qpv: serializers.SlugRelatedField[QPV] = serializers.SlugRelatedField(
        read_only=True, slug_field="code", allow_null=True
    )

    class Meta:
        model = Indicator
        fields = [
            "id",
            "contract",
            "part",
            "qpv",
            "code",
            "label",
            "unit",
            "target",
            "target_year",
            "source",
            "values",
        ]


def _user(request: Request) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


@extend_schema_view(
    list=extend_schema(summary=_("Contrats de ville")),
    retrieve=extend_schema(
        summary=_("Un contrat de ville"), responses={200: ContractSerializer, 404: R404}
    ),
)
class ContractViewSet(viewsets.ReadOnlyModelViewSet[Contract]):
    """City contracts the user may read (staff, or a role on the contract)."""

    serializer_class = ContractSerializer
    queryset = Contract.objects.none()
    filterset_fields = ["state"]

    def get_queryset(self) -> QuerySet[Contract]:
        if getattr(self, "swagger_fake_view", False):
            return Contract.objects.none()
        return (
            contracts_readable_by(_user(self.request))
            .prefetch_related("parts__programmes", "signatories", "qpvs")
            .order_by("pk")
        )


@extend_schema_view(
    list=extend_schema(summary=_("Engagements des signataires")),
    retrieve=extend_schema(
        summary=_("Un engagement"), responses={200: ContractCommitmentSerializer, 404: R404}
    ),
    create=extend_schema(
        summary=_("Enregistrer un engagement"),
        responses={201: ContractCommitmentSerializer, 400: R400, 403: R403},
    ),
)
class CommitmentViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet[Commitment]):
    """Each signatory's commitments per part and year; representatives declare what was done."""

    serializer_class = ContractCommitmentSerializer
    filterset_fields = ["contract", "signatory", "part", "year", "kind"]

    queryset = Commitment.objects.none()

    def get_queryset(self) -> QuerySet[Commitment]:
        if getattr(self, "swagger_fake_view", False):
            return Commitment.objects.none()
        readable = contracts_readable_by(_user(self.request))
        return Commitment.objects.filter(contract__in=readable).order_by("pk")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        cs.contract_write_check_permission(_user(request))  # the permission before the body
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer: serializers.BaseSerializer[Commitment]) -> None:
        data = serializer.validated_data
        contract = data["contract"]
        if not contracts_readable_by(_user(self.request)).filter(pk=contract.pk).exists():
            raise serializers.ValidationError({"contract": [_("Contrat introuvable.")]})
        serializer.instance = cs.commitment_record(
            actor=_user(self.request),
            contract=contract,
            signatory=data["signatory"],
            part=data["part"],
            year=data["year"],
            kind=data["kind"],
            amount=data.get("amount"),
            action=data.get("action", ""),
            indicator=data.get("indicator", ""),
            target=data.get("target"),
        )

    @extend_schema(
        summary=_("Déclarer la réalisation d'un engagement"),
        request=ContractCommitmentReportSerializer,
        responses={200: ContractCommitmentSerializer, 400: R400, 403: R403, 404: R404},
    )
    @action(detail=True, methods=["post"])
    def report(self, request: Request, pk: str | None = None) -> Response:
        commitment = self.get_object()
        payload = ContractCommitmentReportSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        done = cs.commitment_report(
            actor=_user(request), commitment=commitment, **payload.validated_data
        )
        return Response(ContractCommitmentSerializer(done).data)


@extend_schema_view(
    list=extend_schema(summary=_("Indicateurs de l'observatoire")),
    retrieve=extend_schema(
        summary=_("Un indicateur"), responses={200: ContractIndicatorSerializer, 404: R404}
    ),
)
class IndicatorViewSet(viewsets.ReadOnlyModelViewSet[Indicator]):
    """Observatory indicators per QPV (or EPCI) and part, with their yearly values."""

    serializer_class = ContractIndicatorSerializer
    filterset_fields = ["contract", "part", "code"]

    queryset = Indicator.objects.none()

    def get_queryset(self) -> QuerySet[Indicator]:
        if getattr(self, "swagger_fake_view", False):
            return Indicator.objects.none()
        readable = contracts_readable_by(_user(self.request))
        return (
            Indicator.objects.filter(contract__in=readable)
            .select_related("qpv")
            .prefetch_related("values")
            .order_by("pk")
        )

    @extend_schema(
        summary=_("Enregistrer la valeur d'une année"),
        request=ContractIndicatorValueSerializer,
        responses={200: ContractIndicatorSerializer, 400: R400, 403: R403, 404: R404},
    )
    @action(detail=True, methods=["post"])
    def values(self, request: Request, pk: str | None = None) -> Response:
        indicator = self.get_object()
        payload = ContractIndicatorValueSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        indicator_set_value(actor=_user(request), indicator=indicator, **payload.validated_data)
        return Response(ContractIndicatorSerializer(self.get_queryset().get(pk=indicator.pk)).data)


def register(router: BaseRouter) -> None:
    router.register("contracts", ContractViewSet, basename="contract")
    router.register("contract-commitments", CommitmentViewSet, basename="contract-commitment")
    router.register("contract-indicators", IndicatorViewSet, basename="contract-indicator")
