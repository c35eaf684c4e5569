"""API of programmes and calls: read for signed-in users, open and published calls for anyone,
state changes through calls.services.call_transition."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from core.api_views import R400, R403, R404, R409

from .models import Programme
from .selectors import calls_readable_by
from .serializers import (
    CALL_TRANSITION_NAMES,
    CallSerializer,
    CallTransitionInputSerializer,
    ProgrammeSerializer,
)
from .services import call_transition, call_transition_check_permission


@extend_schema_view(
    list=extend_schema(summary=_("Programmes")),
    retrieve=extend_schema(
        summary=_("Un programme"), responses={200: ProgrammeSerializer, 404: R404}
    ),
)
class ProgrammeViewSet(viewsets.ReadOnlyModelViewSet):
    """Funding programmes, with their envelope and funders (signed-in users)."""

    serializer_class = ProgrammeSerializer
    queryset = Programme.objects.prefetch_related("funders").order_by("-fiscal_year", "name", "pk")
    filterset_fields = ["fiscal_year"]


@extend_schema_view(
    list=extend_schema(summary=_("Appels")),
    retrieve=extend_schema(summary=_("Un appel"), responses={200: CallSerializer, 404: R404}),
)
class CallViewSet(viewsets.ReadOnlyModelViewSet):
    """Calls: open and published ones for anyone; drafts for programme managers only."""

    serializer_class = CallSerializer
    permission_classes = [AllowAny]
    filterset_fields = ["state", "mode", "programme"]

    def get_queryset(self):
        return (
            calls_readable_by(self.request.user)
            .select_related("programme")
            .prefetch_related("eligible_qpvs", "eligible_pillars", "criteria")
            .order_by("-opens_at", "pk")
        )

    def get_permissions(self):
        if self.action == "transition":
            return [IsAuthenticated()]
        return super().get_permissions()

    @extend_schema(
        summary=_("Changer l'état d'un appel"),
        parameters=[
            OpenApiParameter(
                "name",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                enum=CALL_TRANSITION_NAMES,
                description=_("Transition à effectuer."),
            )
        ],
        request=CallTransitionInputSerializer,
        responses={200: CallSerializer, 400: R400, 403: R403, 404: R404, 409: R409},
    )
    @action(
        detail=True,
        methods=["post"],
        url_path=r"transitions/(?P<name>{})".format("|".join(CALL_TRANSITION_NAMES)),
    )
    def transition(self, request: Request, pk: str | None = None, name: str = "") -> Response:
        """Publish, open, close, deliberate, decide or archive the call (programme managers)."""
        call = self.get_object()
        call_transition_check_permission(request.user)  # the permission before the body
        data = CallTransitionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        call = call_transition(
            call=call, name=name, actor=request.user, reason=data.validated_data["reason"]
        )
        return Response(CallSerializer(call, context=self.get_serializer_context()).data)


def register(router) -> None:
    """Register this app's viewsets on the API router."""
    router.register("programmes", ProgrammeViewSet, basename="programme")
    router.register("calls", CallViewSet, basename="call")
