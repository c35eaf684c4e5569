"""API of direct awards (hors appel) and multi-year support:

- POST /api/direct-awards/ — an instructor opens a direct award, filed at once;
- GET, PUT /api/applications/{id}/years/ — the yearly amounts of a multi-year request;
- GET /api/programmes/{id}/multi-year-share/ — the share of associations supported over several years.

Files are looked up in grants.selectors.applications_visible_to (404 outside the user's scope);
writes go through grants.direct.services, whose DomainError core.api turns into 400, 403 or 409."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from calls.models import Programme
from core.api_views import R400, R403, R404, R409
from core.errors import PermissionDenied
from core.limits import LONG_TEXT, SHORT_TEXT
from core.models import QPV, Organisation, Pillar
from core.permissions import is_staff_member, organisation_ids_of
from core.serializers import (
    StrictDecimalField,
    StrictIntegerField,
    StrictModelSerializer,
    StrictPrimaryKeyRelatedField,
)

from ..models import Application, ApplicationYear
from ..selectors import applications_visible_to, staff_visibility
from ..serializers import PK_ERRORS, ApplicationDetailSerializer, internal_visible, money
from . import services as services_direct
from .selectors import multi_year_share

# --------------------------------------------------------------------------- shapes


class DirectAwardOpenInput(serializers.Serializer):
    """A direct award opened by instruction for an organisation, outside any call. Title, summary,
    amount and urgency reason are checked by the service (errors by field)."""

    organisation = StrictPrimaryKeyRelatedField(
        queryset=Organisation.objects.all(),
        error_messages={**PK_ERRORS, "does_not_exist": _lazy("Organisation inconnue.")},
    )
    programme = StrictPrimaryKeyRelatedField(
        queryset=Programme.objects.all(),
        error_messages={**PK_ERRORS, "does_not_exist": _lazy("Programme inconnu.")},
    )
    title = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    summary = serializers.CharField(
        max_length=LONG_TEXT, required=False, allow_blank=True, default=""
    )
    requested_amount = money(help_text=_lazy("Montant de l'attribution (€), supérieur à zéro."))
    urgency_reason = serializers.CharField(
        max_length=SHORT_TEXT,
        required=False,
        allow_blank=True,
        default="",
        help_text=_lazy(
            "Obligatoire : l'urgence ou le besoin qui justifie l'attribution hors appel."
        ),
    )
    qpvs = StrictPrimaryKeyRelatedField(
        queryset=QPV.objects.all(),
        many=True,
        required=False,
        default=list,
        error_messages=PK_ERRORS,
    )
    pillar = StrictPrimaryKeyRelatedField(
        queryset=Pillar.objects.all(),
        required=False,
        allow_null=True,
        default=None,
        error_messages=PK_ERRORS,
    )


class YearSerializer(StrictModelSerializer):
    """One fiscal year of a multi-year request: requested by the applicant, proposed by instruction
    (null for the applicant), approved by the decision."""

    proposed_amount = serializers.SerializerMethodField()

    class Meta:
        model = ApplicationYear
        fields = ["fiscal_year", "requested_amount", "proposed_amount", "approved_amount"]
        read_only_fields = fields

    @extend_schema_field(StrictDecimalField(max_digits=12, decimal_places=2, allow_null=True))
    def get_proposed_amount(self, obj: ApplicationYear) -> str | None:
        if not self.context.get("internal") or obj.proposed_amount is None:
            return None
        return f"{obj.proposed_amount:.2f}"


class YearInput(serializers.Serializer):
    fiscal_year = StrictIntegerField(
        min_value=2000,
        max_value=2100,
        error_messages={
            "required": _lazy("Ce champ est obligatoire."),
            "invalid": _lazy("Indiquez l'exercice (année)."),
            "min_value": _lazy("Exercice invalide."),
            "max_value": _lazy("Exercice invalide."),
        },
    )
    amount = money(help_text=_lazy("Montant demandé pour cet exercice (€)."))


class YearsInput(serializers.Serializer):
    """Every fiscal year of the request (the list replaces the saved one): consecutive years, 3 to 5
    for structural support, 1 to 5 otherwise; the file's requested amount becomes their total."""

    years = YearInput(many=True)


class MultiYearShareSerializer(serializers.Serializer):
    programme = StrictIntegerField(help_text=_lazy("Identifiant du programme."))
    supported = StrictIntegerField(
        help_text=_lazy("Associations ayant au moins un dossier accordé.")
    )
    multi_year = StrictIntegerField(help_text=_lazy("Dont celles soutenues en pluriannuel."))
    share = StrictDecimalField(
        max_digits=5,
        decimal_places=1,
        allow_null=True,
        help_text=_lazy("Part en % (null sans association soutenue)."),
    )


# --------------------------------------------------------------------------- views


@extend_schema(tags=["direct-awards"])
class DirectAwardViewSet(viewsets.GenericViewSet):
    """Direct awards (hors appel): an instructor (or programme manager) opens the file for an
    organisation and files it at once; a programme manager then decides it through
    POST /api/applications/{id}/transitions/award_directly/ (or refuse_directly)."""

    serializer_class = DirectAwardOpenInput
    queryset = Application.objects.none()

    @extend_schema(
        summary=_lazy("Ouvrir une attribution hors appel"),
        request=DirectAwardOpenInput,
        responses={201: ApplicationDetailSerializer, 400: R400, 403: R403},
    )
    def create(self, request: Request) -> Response:
        # The permission before the body (issue 11).
        services_direct.direct_award_open_check_permission(request.user)
        data = DirectAwardOpenInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        application = services_direct.direct_award_open(
            actor=request.user,
            organisation=values["organisation"],
            programme=values["programme"],
            title=values["title"],
            summary=values["summary"],
            requested_amount=values["requested_amount"],
            urgency_reason=values["urgency_reason"],
            data={"qpvs": list(values["qpvs"]), "pillar": values["pillar"]},
        )
        return Response(
            ApplicationDetailSerializer(application, context=_context(request)).data,
            status=status.HTTP_201_CREATED,
        )


def _context(request: Request) -> dict[str, Any]:
    user = request.user
    return {
        "request": request,
        "staff_scope": staff_visibility(user) is not None,
        "org_ids": organisation_ids_of(user),
    }


APPLICATION_ID = OpenApiParameter(
    "application_pk",
    OpenApiTypes.INT,
    OpenApiParameter.PATH,
    description=_lazy("Identifiant du dossier."),
)
PROGRAMME_ID = OpenApiParameter(
    "programme_pk",
    OpenApiTypes.INT,
    OpenApiParameter.PATH,
    description=_lazy("Identifiant du programme."),
)


@extend_schema(tags=["applications"])
class ApplicationYearsViewSet(viewsets.GenericViewSet):
    """The yearly amounts of a multi-year request (structural support: 3 to 5 years)."""

    serializer_class = YearSerializer
    queryset = ApplicationYear.objects.none()
    pagination_class = None
    filterset_class = None

    def _application(self) -> Application:
        return get_object_or_404(
            applications_visible_to(self.request.user), pk=self.kwargs["application_pk"]
        )

    @extend_schema(
        methods=["GET"],
        summary=_lazy("Montants annuels du dossier"),
        parameters=[APPLICATION_ID],
        responses={200: YearSerializer(many=True), 404: R404},
    )
    @extend_schema(
        methods=["PUT"],
        summary=_lazy("Définir les montants annuels du dossier"),
        parameters=[APPLICATION_ID],
        request=YearsInput,
        responses={200: YearSerializer(many=True), 400: R400, 403: R403, 404: R404, 409: R409},
    )
    @action(detail=False, methods=["get", "put"], url_path="years")
    def years(self, request: Request, application_pk: str | None = None) -> Response:
        """GET: requested, proposed and approved amount per fiscal year. PUT: the applicant replaces
        the years of a draft (or a file returned for completion)."""
        application = self._application()
        if request.method == "PUT":
            data = YearsInput(data=request.data)
            data.is_valid(raise_exception=True)
            services_direct.application_set_years(
                actor=request.user,
                application=application,
                years=[dict(row) for row in data.validated_data["years"]],
            )
        internal = internal_visible(_context(request), application)
        rows = ApplicationYear.objects.filter(application=application).order_by("fiscal_year")
        return Response(YearSerializer(rows, many=True, context={"internal": internal}).data)


@extend_schema(tags=["programmes"])
class MultiYearShareViewSet(viewsets.GenericViewSet):
    """The share of a programme's supported associations that have multi-year security (staff)."""

    serializer_class = MultiYearShareSerializer
    queryset = Programme.objects.none()
    pagination_class = None
    filterset_class = None

    @extend_schema(
        summary=_lazy("Part des associations soutenues en pluriannuel"),
        parameters=[PROGRAMME_ID],
        responses={200: MultiYearShareSerializer, 403: R403, 404: R404},
    )
    @action(detail=False, methods=["get"], url_path="multi-year-share")
    def share(self, request: Request, programme_pk: str | None = None) -> Response:
        if not is_staff_member(request.user):
            raise PermissionDenied(_("Réservé aux équipes et partenaires du contrat de ville."))
        programme = get_object_or_404(Programme, pk=programme_pk)
        return Response(
            MultiYearShareSerializer(
                {"programme": programme.pk, **multi_year_share(programme)}
            ).data
        )


def register(router) -> None:
    """Register this module's viewsets on the API router (config/api_urls.py)."""
    router.register("direct-awards", DirectAwardViewSet, basename="direct-award")
    router.register(
        r"applications/(?P<application_pk>\d+)",
        ApplicationYearsViewSet,
        basename="application-years",
    )
    router.register(
        r"programmes/(?P<programme_pk>\d+)", MultiYearShareViewSet, basename="programme-multi-year"
    )
