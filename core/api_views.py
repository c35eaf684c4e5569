"""API of core: organisations, reference data and the token endpoint.

Views read through core.selectors and write through core.services only."""

from __future__ import annotations

from typing import Any, cast

from django.contrib.auth import authenticate
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.authtoken.models import Token
from rest_framework.decorators import (
    api_view,
    authentication_classes,
    permission_classes,
    schema,
)
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter

from .api import error_body
from .auth import throttled_message
from .jobs import job_file_available
from .models import QPV, BackgroundJob, Funder, Organisation, Pillar, TransitionTheme, User
from .selectors import organisations_visible_to
from .serializers import (
    FunderSerializer,
    OrganisationSerializer,
    OrganisationUpdateSerializer,
    PillarSerializer,
    QPVSerializer,
    StrictIntegerField,
    StrictModelSerializer,
    ThemeSerializer,
    TokenRequestSerializer,
    TokenSerializer,
)
from .services import organisation_update
from .twofactor import requires_two_factor

# The error bodies every endpoint may return (core.api.exception_handler).
ErrorSerializer = inline_serializer(
    name="Error",
    fields={
        "detail": serializers.CharField(),
        "code": serializers.CharField(required=False),
        "errors": serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()), required=False
        ),
    },
)
TransitionErrorSerializer = inline_serializer(
    name="TransitionNotAllowedError",
    fields={
        "detail": serializers.CharField(),
        "code": serializers.CharField(),
        "allowed_transitions": serializers.ListField(child=serializers.CharField()),
    },
)
R400 = OpenApiResponse(
    ErrorSerializer, description=_lazy("Données invalides ou règle métier non respectée.")
)
R403 = OpenApiResponse(
    ErrorSerializer, description=_lazy("Action non autorisée pour cet utilisateur.")
)
R404 = OpenApiResponse(
    ErrorSerializer, description=_lazy("Introuvable ou hors de votre périmètre.")
)
R409 = OpenApiResponse(
    TransitionErrorSerializer,
    description=_lazy("Action impossible dans l'état actuel ; liste les actions possibles."),
)
R429 = OpenApiResponse(ErrorSerializer, description=_lazy("Trop de tentatives de connexion."))


@extend_schema_view(
    list=extend_schema(
        summary=_lazy("Organisations visibles"), responses={200: OrganisationSerializer(many=True)}
    ),
    retrieve=extend_schema(
        summary=_lazy("Une organisation"), responses={200: OrganisationSerializer, 404: R404}
    ),
    partial_update=extend_schema(
        summary=_lazy("Modifier le profil de l'organisation"),
        request=OrganisationUpdateSerializer,
        responses={200: OrganisationSerializer, 400: R400, 403: R403, 404: R404},
    ),
)
class OrganisationViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet[Organisation],
):
    """Members see their organisations, staff every one, anyone else nothing (404).

    Bank details appear only for members and finance officers. Profile changes go through
    core.services.organisation_update (organisation administrators)."""

    serializer_class = OrganisationSerializer
    http_method_names = ["get", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[Organisation]:
        return organisations_visible_to(cast(User, self.request.user)).order_by("name", "pk")

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        organisation = self.get_object()
        data = OrganisationUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        organisation = organisation_update(
            actor=cast(User, request.user),
            organisation=organisation,
            data=dict(data.validated_data),
        )
        return Response(
            OrganisationSerializer(organisation, context=self.get_serializer_context()).data
        )


class _Reference(viewsets.ReadOnlyModelViewSet[Any]):
    """Reference data: read-only for every signed-in user, not paginated (short lists)."""

    pagination_class = None


class QPVViewSet(_Reference):
    """Priority neighbourhoods (QPV)."""

    queryset = QPV.objects.order_by("code")
    serializer_class = QPVSerializer


class PillarViewSet(_Reference):
    """Pillars of the city contract."""

    queryset = Pillar.objects.order_by("label")
    serializer_class = PillarSerializer


class ThemeViewSet(_Reference):
    """Transition themes."""

    queryset = TransitionTheme.objects.order_by("label")
    serializer_class = ThemeSerializer


class FunderViewSet(_Reference):
    """Funders (State, region, commune, CAF, foundations…)."""

    queryset = Funder.objects.order_by("name")
    serializer_class = FunderSerializer


class TokenViewSet(viewsets.GenericViewSet[Any]):
    """POST /api/auth/token/: an API token for an email and password.

    Goes through the same throttled authentication as the login page (django-axes, core.auth):
    after too many failures for an account or an address, the password is not even checked."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []
    serializer_class = TokenRequestSerializer

    @extend_schema(
        summary=_lazy("Obtenir un jeton d'API"),
        request=TokenRequestSerializer,
        responses={200: TokenSerializer, 400: R400, 403: R403, 429: R429},
    )
    def create(self, request: Request) -> Response:
        data = TokenRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        email = data.validated_data["email"].strip().lower()
        user = authenticate(
            request._request, username=email, password=data.validated_data["password"]
        )
        if getattr(request._request, "axes_locked_out", False):
            return Response(
                {"detail": throttled_message(), "code": "throttled"},
                status=status.HTTP_429_TOO_MANY_REQUESTS,
            )
        if user is None:
            return Response(
                {"detail": _("Adresse e-mail ou mot de passe incorrect."), "code": "invalid_login"},
                status=status.HTTP_400_BAD_REQUEST,
            )
        if requires_two_factor(user):
            # A password alone must not open the API to someone who needs a second factor.
            return Response(
                {
                    "detail": _(
                        "Ce compte utilise la double authentification : créez un jeton personnel "
                        "depuis la page « Mon compte »."
                    ),
                    "code": "personal_token_required",
                },
                status=status.HTTP_403_FORBIDDEN,
            )
        token, _created = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})


class JobSerializer(StrictModelSerializer[BackgroundJob]):
    percent = StrictIntegerField(read_only=True, allow_null=True)
    download = serializers.SerializerMethodField()

    class Meta:
        model = BackgroundJob
        fields = [
            "id",
            "kind",
            "label",
            "state",
            "progress_done",
            "progress_total",
            "percent",
            "result",
            "error",
            "created_at",
            "finished_at",
            "expires_at",
            "download",
        ]

    def get_download(self, job: BackgroundJob) -> str | None:
        if not job_file_available(job):
            return None
        url: str = self.context["request"].build_absolute_uri(
            reverse("core:job_download", args=[job.pk])
        )
        return url


@extend_schema_view(
    list=extend_schema(summary=_lazy("Mes tâches de fond")),
    retrieve=extend_schema(summary=_lazy("Avancement d'une tâche de fond")),
)
class JobViewSet(viewsets.ReadOnlyModelViewSet[BackgroundJob]):
    """GET /api/jobs/{id}/: progress and result of one of the caller's background jobs (exports,
    imports, confirmation files). Someone else's job is a 404. The file itself is downloaded from
    `download` with the same authentication."""

    serializer_class = JobSerializer
    queryset = BackgroundJob.objects.none()

    def get_queryset(self) -> QuerySet[BackgroundJob]:
        if getattr(self, "swagger_fake_view", False):
            return BackgroundJob.objects.none()
        return BackgroundJob.objects.filter(owner=cast(User, self.request.user)).order_by(
            "-created_at", "-id"
        )


def register(router: BaseRouter) -> None:
    """Register this app's viewsets on the API router."""
    router.register("auth/token", TokenViewSet, basename="auth-token")
    router.register("organisations", OrganisationViewSet, basename="organisation")
    router.register("qpvs", QPVViewSet, basename="qpv")
    router.register("pillars", PillarViewSet, basename="pillar")
    router.register("themes", ThemeViewSet, basename="theme")
    router.register("funders", FunderViewSet, basename="funder")
    router.register("jobs", JobViewSet, basename="job")


@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@authentication_classes([])
@permission_classes([AllowAny])
@schema(None)
def api_not_found(request: Request) -> Response:
    """Any path under /api/ that no route matches: a JSON 404 like every other API error."""
    return Response(error_body(_("Introuvable."), "not_found"), status=status.HTTP_404_NOT_FOUND)
