"""API of the directory (OpenAPI through drf-spectacular). Public reads: the listed actors and the
published experience sheets (no login). Signed in: members and staff also read the sheets of
their scope, draft a sheet from an accepted evaluation, edit, submit; reviewing staff publish and
return. Writes go through directory.services (DomainError → 400, PermissionDenied → 403,
a transition at the wrong moment → 409); a sheet outside the caller's scope is a 404."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter

from core.api_filters import StrictFilterSet, StrictIntegerFilter
from core.api_views import R400, R403, R404, R409
from core.limits import SHORT_TEXT
from core.models import QPV, Organisation, Pillar, TransitionTheme, User

from . import selectors, services
from .models import ExperienceSheet


@extend_schema_field({"type": "string", "maxLength": 20})
class _Code(serializers.SlugRelatedField):  # type: ignore[type-arg]
    """A reference list's code (QPV, theme, pillar): short, bounded in the schema."""


class SheetSerializer(serializers.ModelSerializer[ExperienceSheet]):
    organisation_name = serializers.CharField(source="organisation.name", read_only=True)
    agreement = serializers.CharField(source="agreement.reference", read_only=True)
    qpvs = _Code(many=True, slug_field="code", queryset=QPV.objects.all(), required=False)
    themes = _Code(
        many=True, slug_field="code", queryset=TransitionTheme.objects.all(), required=False
    )
    pillar = _Code(
        slug_field="code", queryset=Pillar.objects.all(), required=False, allow_null=True
    )

    class Meta:
        model = ExperienceSheet
        fields = [
            "id",
            "state",
            "organisation",
            "organisation_name",
            "agreement",
            "evaluation",
            "year",
            "title",
            "what",
            "place",
            "qpvs",
            "audience",
            "beneficiaries_count",
            "results",
            "indicators",
            "lessons",
            "cost",
            "funding_amount",
            "funding_kind",
            "pillar",
            "themes",
            "contact_consent",
            "contact_name",
            "contact_email",
            "return_reason",
            "published_at",
        ]
        read_only_fields = [
            "state",
            "organisation",
            "evaluation",
            "year",
            "indicators",
            "funding_amount",
            "return_reason",
            "published_at",
        ]


class SheetDraftSerializer(serializers.Serializer[Any]):
    evaluation = serializers.IntegerField(help_text=_("L'évaluation annuelle acceptée."))


class SheetReturnSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(max_length=SHORT_TEXT)


class SheetFilter(StrictFilterSet):
    qpv = django_filters.CharFilter(field_name="qpvs__code", distinct=True)
    theme = django_filters.CharFilter(field_name="themes__code", distinct=True)
    pillar = django_filters.CharFilter(field_name="pillar__code")
    # Strict integers, bounded (a 400, never a database overflow) and documented with their
    # bounds in the schema (schemathesis ST202 on `year=0` when they were not).
    year = StrictIntegerFilter(min_value=2000, max_value=2100)
    organisation = StrictIntegerFilter(field_name="organisation_id")

    class Meta:
        model = ExperienceSheet
        fields = ["funding_kind", "state"]


def _user(request: Request) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


READS = ("list", "retrieve")


@extend_schema_view(
    list=extend_schema(summary=_("Fiches expérience (publiées pour le public)")),
    retrieve=extend_schema(
        summary=_("Une fiche expérience"), responses={200: SheetSerializer, 404: R404}
    ),
    partial_update=extend_schema(
        summary=_("Modifier une fiche expérience"),
        responses={200: SheetSerializer, 400: R400, 403: R403, 404: R404},
    ),
)
class SheetViewSet(mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet[ExperienceSheet]):
    """Experience sheets: published ones for anyone; drafts for their organisation and staff."""

    serializer_class = SheetSerializer
    filterset_class = SheetFilter
    queryset = ExperienceSheet.objects.none()
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_permissions(self) -> list[BasePermission]:
        if self.action in READS:
            return [AllowAny()]
        return [IsAuthenticated()]

    def get_queryset(self) -> QuerySet[ExperienceSheet]:
        if getattr(self, "swagger_fake_view", False):
            return ExperienceSheet.objects.none()
        return (
            selectors.sheets_visible_to(self.request.user)  # type: ignore[arg-type]
            .select_related("organisation", "agreement", "pillar")
            .prefetch_related("qpvs", "themes")
            .order_by("-year", "pk")
        )

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # The permission before the body (issue 11); sheet_update checks it again under lock.
        services.sheet_update_check_permission(_user(request), self.get_object())
        return super().update(request, *args, **kwargs)

    def perform_update(self, serializer: serializers.BaseSerializer[ExperienceSheet]) -> None:
        sheet = serializer.instance
        assert sheet is not None
        serializer.instance = services.sheet_update(
            actor=_user(self.request), sheet=sheet, **serializer.validated_data
        )

    def _out(self, sheet: ExperienceSheet) -> Response:
        return Response(SheetSerializer(self.get_queryset().get(pk=sheet.pk)).data)

    @extend_schema(
        summary=_("Rédiger une fiche à partir d'une évaluation acceptée"),
        request=SheetDraftSerializer,
        responses={201: SheetSerializer, 400: R400, 403: R403, 404: R404},
    )
    @action(detail=False, methods=["post"])
    def draft(self, request: Request) -> Response:
        payload = SheetDraftSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        user = _user(request)
        evaluation = get_object_or_404(
            selectors.evaluations_to_share(user), pk=payload.validated_data["evaluation"]
        )
        sheet = services.sheet_draft(actor=user, evaluation=evaluation)
        return Response(
            SheetSerializer(self.get_queryset().get(pk=sheet.pk)).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        summary=_("Soumettre une fiche à publication"),
        request=None,
        responses={200: SheetSerializer, 400: R400, 403: R403, 404: R404, 409: R409},
    )
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, pk: str | None = None) -> Response:
        sheet = services.sheet_submit(actor=_user(request), sheet=self.get_object())
        return self._out(sheet)

    @extend_schema(
        summary=_("Publier une fiche"),
        request=None,
        responses={200: SheetSerializer, 400: R400, 403: R403, 404: R404, 409: R409},
    )
    @action(detail=True, methods=["post"])
    def publish(self, request: Request, pk: str | None = None) -> Response:
        sheet = services.sheet_publish(actor=_user(request), sheet=self.get_object())
        return self._out(sheet)

    @extend_schema(
        summary=_("Renvoyer (ou dépublier) une fiche"),
        request=SheetReturnSerializer,
        responses={200: SheetSerializer, 400: R400, 403: R403, 404: R404, 409: R409},
    )
    @action(detail=True, methods=["post"], url_path="return")
    def return_sheet(self, request: Request, pk: str | None = None) -> Response:
        sheet = self.get_object()
        services.sheet_review_check_permission(_user(request))  # the permission before the body
        payload = SheetReturnSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        sheet = services.sheet_return(actor=_user(request), sheet=sheet, **payload.validated_data)
        return self._out(sheet)


class ActorSerializer(serializers.ModelSerializer[Organisation]):
    presentation = serializers.CharField(source="public_profile.presentation", read_only=True)
    website = serializers.CharField(source="public_profile.website", read_only=True)
    email = serializers.SerializerMethodField()
    phone = serializers.SerializerMethodField()
    qpvs = serializers.SerializerMethodField()
    pillars = serializers.SerializerMethodField()
    themes = serializers.SerializerMethodField()
    sheets = serializers.SerializerMethodField()

    class Meta:
        model = Organisation
        fields = [
            "id",
            "name",
            "city",
            "presentation",
            "website",
            "email",
            "phone",
            "qpvs",
            "pillars",
            "themes",
            "sheets",
        ]

    def get_email(self, obj: Organisation) -> str:
        profile = obj.public_profile  # type: ignore[attr-defined]
        return str(profile.public_email) if profile.contact_consent else ""

    def get_phone(self, obj: Organisation) -> str:
        profile = obj.public_profile  # type: ignore[attr-defined]
        return str(profile.public_phone) if profile.contact_consent else ""

    def get_qpvs(self, obj: Organisation) -> list[str]:
        return list(selectors.actor_qpvs(obj).values_list("code", flat=True))

    def get_pillars(self, obj: Organisation) -> list[str]:
        return list(selectors.actor_pillars(obj).values_list("code", flat=True))

    def get_themes(self, obj: Organisation) -> list[str]:
        return list(selectors.actor_themes(obj).values_list("code", flat=True))

    def get_sheets(self, obj: Organisation) -> list[int]:
        return list(
            selectors.published_sheets().filter(organisation=obj).values_list("pk", flat=True)
        )


@extend_schema_view(
    list=extend_schema(summary=_("Annuaire des acteurs")),
    retrieve=extend_schema(summary=_("Un acteur"), responses={200: ActorSerializer, 404: R404}),
)
class ActorViewSet(viewsets.ReadOnlyModelViewSet[Organisation]):
    """Organisations that opted into the public directory, with the neighbourhoods, pillars and
    themes of their funded actions and their published sheets (no login)."""

    serializer_class = ActorSerializer
    permission_classes = [AllowAny]
    queryset = Organisation.objects.none()

    def get_queryset(self) -> QuerySet[Organisation]:
        if getattr(self, "swagger_fake_view", False):
            return Organisation.objects.none()
        return selectors.listed_actors().order_by("name", "pk")


def register(router: BaseRouter) -> None:
    router.register("experience-sheets", SheetViewSet, basename="experience-sheet")
    router.register("directory-actors", ActorViewSet, basename="directory-actor")
