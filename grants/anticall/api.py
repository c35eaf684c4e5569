"""API of the anti-call (anti-appel à projets): needs (list, record, publish), candidacies (list,
detail, sourcing, transitions, history), coaching entries and deliverables.

Needs and candidacies are looked up in grants.anticall.selectors: staff of the city policy read
every anti-call, a structure only its own candidacies once invited; anything else is a 404. Writes go
through calls.services and grants.anticall.services, whose DomainError the exception handler
(core.api) turns into 400, 403 or 409 (with `allowed_transitions`)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from calls import services as call_services
from calls.models import Need
from core.api_parsing import StrictJSONParser
from core.api_views import R400, R403, R404, R409
from core.audit import history_for
from core.errors import PermissionDenied
from core.serializers import AuditEntrySerializer

from ..models import Candidacy
from . import services as svc
from .selectors import (
    INTERNAL_CANDIDACY_ACTIONS,
    candidacies_visible_to,
    is_anticall_reader,
    needs_visible_to,
)
from .serializers import (
    CANDIDACY_TRANSITION_INPUTS,
    CANDIDACY_TRANSITION_NAMES,
    CandidacyDetailSerializer,
    CandidacyListSerializer,
    CandidacySourceSerializer,
    CoachingEntrySerializer,
    DeliverableSerializer,
    NeedCreateSerializer,
    NeedSerializer,
)

WRITE_RESPONSES = {400: R400, 403: R403, 404: R404, 409: R409}


@extend_schema_view(
    list=extend_schema(
        summary=_lazy("Besoins des anti-appels"), responses={200: NeedSerializer(many=True)}
    ),
    retrieve=extend_schema(summary=_lazy("Un besoin"), responses={200: NeedSerializer, 404: R404}),
    create=extend_schema(
        summary=_lazy("Enregistrer un besoin (partenaires, instruction, responsables)"),
        request=NeedCreateSerializer,
        responses={201: NeedSerializer, 400: R400, 403: R403},
    ),
)
class NeedViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Needs seen in the neighbourhoods by the partners of the city contract (staff only)."""

    serializer_class = NeedSerializer
    queryset = Need.objects.none()  # for the schema; get_queryset is what counts
    filterset_fields = ["call", "qpv", "state"]

    def get_queryset(self) -> QuerySet[Need]:
        return needs_visible_to(self.request.user).order_by("call_id", "qpv__code", "title", "pk")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        call_services.need_record_check_permission(request.user)  # the permission before the body
        data = NeedCreateSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        need = call_services.need_record(actor=request.user, **data.validated_data)
        return Response(
            NeedSerializer(self.get_queryset().get(pk=need.pk)).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(
        summary=_lazy("Publier un besoin (responsables de programme)"),
        request=None,
        responses={200: NeedSerializer, **WRITE_RESPONSES},
    )
    @action(detail=True, methods=["post"])
    def publish(self, request: Request, pk: str | None = None) -> Response:
        """Publish the need on its anti-call so that structures can be sourced for it. Idempotent."""
        need = call_services.need_publish(actor=request.user, need=self.get_object())
        return Response(NeedSerializer(self.get_queryset().get(pk=need.pk)).data)


CandidacyTransitionInput = PolymorphicProxySerializer(
    component_name="CandidacyTransitionInput",
    serializers=list(dict.fromkeys(CANDIDACY_TRANSITION_INPUTS.values())),
    resource_type_field_name=None,
)
NAME_PARAMETER = OpenApiParameter(
    "name",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    enum=CANDIDACY_TRANSITION_NAMES,
    description=_lazy(
        "Transition : invite (`message`), accept (`organisation`, la structure), decline (`reason`), "
        "start_prototyping (`start`, `prototyping_days`), present (`summary`), fund (`amount`, `cofunder`, "
        "`is_multi_year`, `duration_years`, `reason`, `envelope_override_reason` ; responsables de "
        "programme), not_fund et abandon (`reason` obligatoire)."
    ),
)


@extend_schema_view(
    list=extend_schema(
        summary=_lazy("Structures repérées visibles"),
        responses={200: CandidacyListSerializer(many=True)},
    ),
    retrieve=extend_schema(
        summary=_lazy("Une structure repérée"),
        responses={200: CandidacyDetailSerializer, 404: R404},
    ),
    create=extend_schema(
        summary=_lazy("Repérer une structure pour un besoin publié"),
        request=CandidacySourceSerializer,
        responses={201: CandidacyDetailSerializer, 400: R400, 403: R403},
    ),
)
class CandidacyViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Structures sourced to answer a need, invited, coached through prototyping, then funded."""

    queryset = Candidacy.objects.none()  # for the schema; get_queryset is what counts
    filterset_fields = ["need", "state", "organisation"]

    def get_queryset(self) -> QuerySet[Candidacy]:
        return candidacies_visible_to(self.request.user).order_by("-created_at", "-id")

    def get_serializer_class(self):
        return CandidacyListSerializer if self.action == "list" else CandidacyDetailSerializer

    def _detail(self, candidacy: Candidacy, *, status_code: int = status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().filter(pk=candidacy.pk).first() or candidacy
        return Response(
            CandidacyDetailSerializer(fresh, context=self.get_serializer_context()).data,
            status=status_code,
        )

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        svc.candidacy_source_check_permission(request.user)  # the permission before the body
        data = CandidacySourceSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        candidacy = svc.candidacy_source(actor=request.user, **data.validated_data)
        return self._detail(candidacy, status_code=status.HTTP_201_CREATED)

    @extend_schema(
        summary=_lazy("Faire avancer une structure repérée"),
        parameters=[NAME_PARAMETER],
        request=CandidacyTransitionInput,
        responses={200: CandidacyDetailSerializer, **WRITE_RESPONSES},
    )
    @action(
        detail=True,
        methods=["post"],
        url_path=r"transitions/(?P<name>{})".format("|".join(CANDIDACY_TRANSITION_NAMES)),
    )
    def transition(self, request: Request, pk: str | None = None, name: str = "") -> Response:
        """Run one transition with its inputs (grants.anticall.services.candidacy_run_transition). 409
        with `allowed_transitions` when it is not possible now, 403 when the user may not run it."""
        candidacy = self.get_object()
        # The permission before the body (issue 11).
        svc.candidacy_transition_check_permission(
            name=name, actor=request.user, candidacy=candidacy
        )
        data = CANDIDACY_TRANSITION_INPUTS[name](
            data=request.data, context=self.get_serializer_context()
        )
        data.is_valid(raise_exception=True)
        candidacy = svc.candidacy_run_transition(
            name=name, actor=request.user, candidacy=candidacy, data=dict(data.validated_data)
        )
        return self._detail(candidacy)

    @extend_schema(
        summary=_lazy("Historique de la structure repérée"),
        responses={200: AuditEntrySerializer(many=True), 404: R404},
    )
    @action(detail=True, methods=["get"], pagination_class=None, filterset_fields=[])
    def history(self, request: Request, pk: str | None = None) -> Response:
        """What happened, newest first. The structure does not see the team's internal work (sourcing
        note, coaching log) nor the data behind each action."""
        candidacy = self.get_object()
        staff = is_anticall_reader(request.user)
        rows = history_for(candidacy)
        if not staff:
            rows = [row for row in rows if row.action not in INTERNAL_CANDIDACY_ACTIONS]
        return Response(AuditEntrySerializer(rows, many=True, context={"show_payload": staff}).data)

    @extend_schema(
        methods=["GET"],
        summary=_lazy("Journal d'accompagnement"),
        responses={200: CoachingEntrySerializer(many=True), 403: R403, 404: R404},
    )
    @extend_schema(
        methods=["POST"],
        summary=_lazy("Consigner un accompagnement"),
        request=CoachingEntrySerializer,
        responses={201: CoachingEntrySerializer, **WRITE_RESPONSES},
    )
    @action(
        detail=True,
        methods=["get", "post"],
        pagination_class=None,
        filterset_fields=[],
        serializer_class=CoachingEntrySerializer,
    )
    def coaching(self, request: Request, pk: str | None = None) -> Response:
        """Coaching sessions, notes and support given during prototyping, with their cost (staff only:
        the structure never sees the team's notes)."""
        candidacy = self.get_object()
        if not is_anticall_reader(request.user):
            raise PermissionDenied(
                _("Réservé à l'équipe de la politique de la ville et aux partenaires.")
            )
        if request.method == "POST":
            data = CoachingEntrySerializer(data=request.data)
            data.is_valid(raise_exception=True)
            entry = svc.coaching_log(actor=request.user, candidacy=candidacy, **data.validated_data)
            return Response(CoachingEntrySerializer(entry).data, status=status.HTTP_201_CREATED)
        entries = candidacy.coaching.select_related("author").order_by("date", "id")
        return Response(CoachingEntrySerializer(entries, many=True).data)

    @extend_schema(
        methods=["GET"],
        summary=_lazy("Livrables du prototype"),
        responses={200: DeliverableSerializer(many=True), 404: R404},
    )
    @extend_schema(
        methods=["POST"],
        summary=_lazy("Ajouter un livrable (la structure ou son accompagnant·e)"),
        request={
            "multipart/form-data": DeliverableSerializer,
            "application/json": DeliverableSerializer,
        },
        responses={201: DeliverableSerializer, **WRITE_RESPONSES},
    )
    @action(
        detail=True,
        methods=["get", "post"],
        pagination_class=None,
        filterset_fields=[],
        serializer_class=DeliverableSerializer,
        parser_classes=[MultiPartParser, FormParser, StrictJSONParser],
    )
    def deliverables(self, request: Request, pk: str | None = None) -> Response:
        """What the prototyping produced; reused as the funded application's objectives."""
        candidacy = self.get_object()
        if request.method == "POST":
            data = DeliverableSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            deliverable = svc.deliverable_add(
                actor=request.user, candidacy=candidacy, **data.validated_data
            )
            return Response(DeliverableSerializer(deliverable).data, status=status.HTTP_201_CREATED)
        rows = candidacy.deliverables.select_related("created_by").order_by("created_at", "id")
        return Response(DeliverableSerializer(rows, many=True).data)


def register(router) -> None:
    """Register the anti-call's viewsets on the API router."""
    router.register("needs", NeedViewSet, basename="need")
    router.register("candidacies", CandidacyViewSet, basename="candidacy")
