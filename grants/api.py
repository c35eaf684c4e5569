"""API of applications: list and filters, detail, drafting, transitions, history, and the
instruction's notes, opinions and scores.

Every file is looked up in grants.selectors.applications_visible_to: another organisation's file, or
one outside the user's scope, is a 404. Writes go through grants.services, whose DomainError the
exception handler (core.api) turns into 400, 403 or 409."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Prefetch, QuerySet
from django.utils.translation import get_language
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
from rest_framework.request import Request
from rest_framework.response import Response

from core.api_filters import StrictFilterSet, StrictIntegerFilter
from core.api_views import R400, R403, R404, R409
from core.audit import history_for
from core.data_version import cached_under
from core.errors import PermissionDenied
from core.models import QPV, TransitionTheme
from core.permissions import organisation_ids_of
from core.serializers import AuditEntrySerializer

from . import services
from .apps import list_counters
from .models import Application, ApplicationState, CompletionRequest, PartnerOpinion, Score
from .selectors import (
    INTERNAL_ACTIONS,
    applications_visible_to,
    counter_counts,
    filter_applications,
    is_staff_viewer,
    staff_visibility,
)
from .serializers import (
    ApplicationCreateSerializer,
    ApplicationDetailSerializer,
    ApplicationListSerializer,
    ApplicationUpdateSerializer,
    NoteSerializer,
    OpinionSerializer,
    ScoreSerializer,
    ScoresInput,
    internal_visible,
)
from .transitions import TRANSITION_INPUTS, TRANSITION_NAMES, TRANSITIONS

#: What a line of the list reads (ApplicationListSerializer.to_representation).
LIST_FIELDS = (
    *("pk", "reference", "kind", "state", "title", "requested_amount", "proposed_amount"),
    *("approved_amount", "submitted_at", "created_at", "updated_at"),
    *("organisation__name", "call__title", "programme__name", "pillar__label"),
    *("assigned_to__first_name", "assigned_to__last_name", "assigned_to__email"),
)


class ApplicationFilter(StrictFilterSet):
    """Query parameters of the list; the filtering itself is grants.selectors.filter_applications,
    shared with the instruction queue and exports."""

    state = django_filters.ChoiceFilter(choices=ApplicationState.choices, label=_lazy("État"))
    call = StrictIntegerFilter(field_name="call", label=_lazy("Appel (identifiant)"))
    programme = StrictIntegerFilter(field_name="programme", label=_lazy("Programme (identifiant)"))
    pillar = StrictIntegerFilter(field_name="pillar", label=_lazy("Pilier (identifiant)"))
    qpv = StrictIntegerFilter(field_name="qpvs", label=_lazy("Quartier ciblé (identifiant)"))
    assigned_to = StrictIntegerFilter(
        field_name="assigned_to", label=_lazy("Instructeur·rice (identifiant)")
    )
    q = django_filters.CharFilter(
        field_name="title", label=_lazy("Recherche : référence, titre, organisation ou SIRET")
    )

    class Meta:
        model = Application
        fields = ["state", "call", "programme", "pillar", "qpv", "assigned_to", "q"]

    def filter_queryset(self, queryset: QuerySet[Application]) -> QuerySet[Application]:
        values = {k: v for k, v in self.form.cleaned_data.items() if v not in (None, "")}
        return filter_applications(queryset, values)


TransitionInput = PolymorphicProxySerializer(
    component_name="TransitionInput",
    serializers=list(dict.fromkeys(TRANSITION_INPUTS.values())),
    resource_type_field_name=None,
)
NAME_PARAMETER = OpenApiParameter(
    "name",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    enum=TRANSITION_NAMES,
    description=_lazy(
        "Transition : submit et resubmit (réponse `answer`), withdraw, request_completion (`message`, "
        "`deadline`), declare_eligible, declare_ineligible (`reason`), start_review, send_to_committee "
        "(`proposed_amount`, `session`, `note`), approve (`amount`, `conditions`, `is_multi_year`, "
        "`envelope_override_reason`, `reason`), reject, dismiss et reopen (`reason` obligatoire)."
    ),
)
WRITE_RESPONSES = {400: R400, 403: R403, 404: R404, 409: R409}


@extend_schema_view(
    list=extend_schema(
        summary=_lazy("Dossiers visibles"), responses={200: ApplicationListSerializer(many=True)}
    ),
    retrieve=extend_schema(
        summary=_lazy("Un dossier"), responses={200: ApplicationDetailSerializer, 404: R404}
    ),
    create=extend_schema(
        summary=_lazy("Créer un brouillon de dossier"),
        request=ApplicationCreateSerializer,
        responses={201: ApplicationDetailSerializer, 400: R400, 403: R403},
    ),
    update=extend_schema(
        summary=_lazy("Modifier un dossier (brouillon ou à compléter)"),
        request=ApplicationUpdateSerializer,
        responses={200: ApplicationDetailSerializer, **WRITE_RESPONSES},
    ),
    partial_update=extend_schema(
        summary=_lazy("Modifier une partie d'un dossier (brouillon ou à compléter)"),
        request=ApplicationUpdateSerializer,
        responses={200: ApplicationDetailSerializer, **WRITE_RESPONSES},
    ),
)
class ApplicationViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Applications (dossiers) the user may see: their organisations' files and their staff scope."""

    filterset_class = ApplicationFilter
    queryset = Application.objects.none()  # for the schema; get_queryset is what counts

    def get_queryset(self) -> QuerySet[Application]:
        qs = (
            applications_visible_to(self.request.user)
            .select_related("organisation", "call", "programme", "pillar", "assigned_to")
            .order_by("-created_at", "-id")
        )
        if self.action == "list":
            # A line shows only the ids of its quarters and themes: no full rows to build; and
            # only the columns it shows of the file and its joined rows (whole rows of six
            # tables cost about a third of a cold page).
            qs = qs.only(*LIST_FIELDS).prefetch_related(
                Prefetch("qpvs", queryset=QPV.objects.only("pk")),
                Prefetch("themes", queryset=TransitionTheme.objects.only("pk")),
            )
        else:
            qs = qs.prefetch_related(
                "qpvs",
                "themes",
                "objectives",
                "indicators",
                "budget_items",
                Prefetch(
                    "completion_requests",
                    queryset=CompletionRequest.objects.order_by("-created_at"),
                ),
            )
        return qs

    def get_serializer_class(self):
        return ApplicationListSerializer if self.action == "list" else ApplicationDetailSerializer

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """A page of the list, cached (core.data_version, issue 17) with the user, the language
        and the whole address (filters, page; links are absolute) under the counters of what it
        shows: the filed files for a staff scope (drafts are never in it), the files of the
        user's organisations and of those they are partners of, and the shared tables."""

        def page() -> Any:
            return super(ApplicationViewSet, self).list(request, *args, **kwargs).data

        user = request.user
        counters = list_counters(
            organisation_ids_of(user), filed=staff_visibility(user) is not None
        )
        parts = ("grants.api.list", get_language(), user.pk, request.build_absolute_uri())
        return Response(cached_under(counters, parts, page))

    def known_count(self) -> int | None:
        """The list's total from the trigger-kept counters when they can answer (no COUNT(*))."""
        filters = {
            name: self.request.query_params.get(name) for name in ApplicationFilter.base_filters
        }
        counts = counter_counts(self.request.user, filters)
        return None if counts is None else sum(counts.values())

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        user = self.request.user
        if user.is_authenticated:
            context["staff_scope"] = staff_visibility(user) is not None
            context["org_ids"] = organisation_ids_of(user)
        return context

    def _detail(
        self, application: Application, *, status_code: int = status.HTTP_200_OK
    ) -> Response:
        # Re-read through the visible queryset so the answer carries every prefetched relation.
        fresh = self.get_queryset().filter(pk=application.pk).first() or application
        return Response(
            ApplicationDetailSerializer(fresh, context=self.get_serializer_context()).data,
            status=status_code,
        )

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = ApplicationCreateSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        application = services.application_create(
            actor=request.user,
            organisation=data.validated_data["organisation"],
            call=data.validated_data.get("call"),
            programme=data.validated_data.get("programme"),
            data=data.service_data(),
        )
        return self._detail(application, status_code=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        application = self.get_object()
        data = ApplicationUpdateSerializer(
            data=request.data,
            partial=kwargs.get("partial", False),
            context=self.get_serializer_context(),
        )
        data.is_valid(raise_exception=True)
        application = services.application_update(
            actor=request.user, application=application, data=data.service_data()
        )
        return self._detail(application)

    @extend_schema(
        summary=_lazy("Faire avancer un dossier"),
        parameters=[NAME_PARAMETER],
        request=TransitionInput,
        responses={200: ApplicationDetailSerializer, **WRITE_RESPONSES},
    )
    @action(
        detail=True,
        methods=["post"],
        url_path=r"transitions/(?P<name>{})".format("|".join(TRANSITION_NAMES)),
    )
    def transition(self, request: Request, pk: str | None = None, name: str = "") -> Response:
        """Run one transition with its inputs (grants.services.run_transition). 409 with
        `allowed_transitions` when it is not possible now, 403 when the user may not run it."""
        application = self.get_object()
        # The permission before the body (issue 11).
        services.application_transition_check_permission(
            name=name, actor=request.user, application=application
        )
        data = TRANSITIONS[name].input(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        application = services.run_transition(
            name=name, actor=request.user, application=application, data=dict(data.validated_data)
        )
        return self._detail(application)

    @extend_schema(
        summary=_lazy("Historique du dossier"),
        responses={200: AuditEntrySerializer(many=True), 404: R404},
    )
    @action(detail=True, methods=["get"], pagination_class=None, filterset_class=None)
    def history(self, request: Request, pk: str | None = None) -> Response:
        """What happened to the file, newest first, with human labels. Applicants do not see the
        instruction's internal work (notes, scores, opinions) nor the data behind each action."""
        application = self.get_object()
        internal = internal_visible(self.get_serializer_context(), application)
        rows = history_for(application)
        if not internal:
            rows = [row for row in rows if row.action not in INTERNAL_ACTIONS]
        return Response(
            AuditEntrySerializer(rows, many=True, context={"show_payload": internal}).data
        )

    # ------------------------------------------------------------------ instruction work (staff)

    def _staff_file(self) -> Application:
        application = self.get_object()
        if not is_staff_viewer(self.request.user, application):
            raise PermissionDenied(_("Réservé à l'instruction et aux partenaires."))
        return application

    @extend_schema(
        methods=["GET"],
        summary=_lazy("Notes internes"),
        responses={200: NoteSerializer(many=True), 403: R403, 404: R404},
    )
    @extend_schema(
        methods=["POST"],
        summary=_lazy("Ajouter une note interne"),
        request=NoteSerializer,
        responses={201: NoteSerializer, 400: R400, 403: R403, 404: R404},
    )
    @action(
        detail=True,
        methods=["get", "post"],
        pagination_class=None,
        filterset_class=None,
        serializer_class=NoteSerializer,
    )
    def notes(self, request: Request, pk: str | None = None) -> Response:
        """Private notes of the instruction: never shown to the applicant."""
        application = self._staff_file()
        if request.method == "POST":
            data = NoteSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            note = services.application_add_note(
                actor=request.user, application=application, text=data.validated_data["text"]
            )
            return Response(NoteSerializer(note).data, status=status.HTTP_201_CREATED)
        notes = application.notes.select_related("author").order_by("-created_at", "-id")
        return Response(NoteSerializer(notes, many=True).data)

    @extend_schema(
        methods=["GET"],
        summary=_lazy("Avis des partenaires"),
        responses={200: OpinionSerializer(many=True), 403: R403, 404: R404},
    )
    @extend_schema(
        methods=["POST"],
        summary=_lazy("Donner son avis (partenaire du contrat de ville)"),
        request=OpinionSerializer,
        responses={200: OpinionSerializer, 400: R400, 403: R403, 404: R404, 409: R409},
    )
    @action(
        detail=True,
        methods=["get", "post"],
        pagination_class=None,
        filterset_class=None,
        serializer_class=OpinionSerializer,
    )
    def opinions(self, request: Request, pk: str | None = None) -> Response:
        """Partners' opinions; a committee member gives or updates their own."""
        application = self._staff_file()
        if request.method == "POST":
            data = OpinionSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            row = services.application_give_opinion(
                actor=request.user,
                application=application,
                opinion=data.validated_data["opinion"],
                comment=data.validated_data.get("comment", ""),
            )
            return Response(OpinionSerializer(row).data)
        rows = PartnerOpinion.objects.filter(application=application).select_related("author")
        return Response(OpinionSerializer(rows, many=True).data)

    @extend_schema(
        methods=["GET"],
        summary=_lazy("Notation du dossier"),
        responses={200: ScoreSerializer(many=True), 403: R403, 404: R404},
    )
    @extend_schema(
        methods=["POST"],
        summary=_lazy("Noter le dossier selon la grille de l'appel"),
        request=ScoresInput,
        responses={200: ScoreSerializer(many=True), 400: R400, 403: R403, 404: R404, 409: R409},
    )
    @action(
        detail=True,
        methods=["get", "post"],
        pagination_class=None,
        filterset_class=None,
        serializer_class=ScoreSerializer,
    )
    def scores(self, request: Request, pk: str | None = None) -> Response:
        """Scores against the call's grid, one row per criterion and scorer."""
        application = self._staff_file()
        if request.method == "POST":
            data = ScoresInput(data=request.data)
            data.is_valid(raise_exception=True)
            rows = data.validated_data["scores"]
            services.application_score(
                actor=request.user,
                application=application,
                scores={row["criterion"]: row["value"] for row in rows},
                comments={row["criterion"]: row["comment"] for row in rows},
            )
        scores = (
            Score.objects.filter(application=application)
            .select_related("criterion", "scorer")
            .order_by("criterion__position", "criterion_id", "scorer_id")
        )
        return Response(ScoreSerializer(scores, many=True).data)


def register(router) -> None:
    """Register this app's viewsets on the API router."""
    from .api_bulk import register as register_bulk
    from .api_cofunding import register as register_cofunding

    register_bulk(router)
    register_cofunding(router)
    router.register("applications", ApplicationViewSet, basename="application")
