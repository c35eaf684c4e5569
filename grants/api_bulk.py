"""API of bulk actions: `POST /api/applications/bulk/` starts one action on a selection of files
(ticked ids, or every file matching the queue's filters), `GET /api/applications/bulk/{id}/` gives
its result per file. Same service as the queue's page (grants.services.bulk)."""

from __future__ import annotations

from typing import Any, cast

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _lazy
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from core.api_views import R400, R403, R404
from core.limits import SEARCH_TEXT, SHORT_TEXT
from core.models import User
from core.serializers import StrictIntegerField, StrictModelSerializer, StrictPrimaryKeyRelatedField

from .models import ApplicationState, BulkAction, BulkActionItem
from .services.bulk import ACTIONS, bulk_action_check_permission, bulk_action_start, bulk_counts

MAX_ID = 2**63 - 1  # ids are 64-bit: a larger number is a 400, never a database error


class BulkFiltersInput(serializers.Serializer):
    state = serializers.ChoiceField(choices=ApplicationState.choices, required=False)
    call = StrictIntegerField(min_value=1, max_value=MAX_ID, required=False)
    programme = StrictIntegerField(min_value=1, max_value=MAX_ID, required=False)
    pillar = StrictIntegerField(min_value=1, max_value=MAX_ID, required=False)
    qpv = StrictIntegerField(min_value=1, max_value=MAX_ID, required=False)
    assigned_to = StrictIntegerField(min_value=1, max_value=MAX_ID, required=False)
    q = serializers.CharField(max_length=SEARCH_TEXT, required=False, allow_blank=True)


class BulkActionInput(serializers.Serializer):
    action = serializers.ChoiceField(
        choices=[(name, str(spec.label)) for name, spec in ACTIONS.items()],
        help_text=_lazy("L'action à appliquer à chaque dossier sélectionné."),
    )
    ids = serializers.ListField(
        child=StrictIntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        allow_empty=False,
        min_length=1,  # `minItems: 1` in the schema
        max_length=20000,
        error_messages={"empty": _lazy("Sélectionnez au moins un dossier.")},
        help_text=_lazy("Les dossiers cochés ; sinon `filters` (tous les dossiers filtrés)."),
    )
    filters = BulkFiltersInput(
        required=False,
        help_text=_lazy(
            "Tous les dossiers de la file d'instruction qui correspondent à ces filtres."
        ),
    )
    instructor = StrictIntegerField(
        min_value=1, max_value=MAX_ID, required=False, help_text=_lazy("Pour `assign`.")
    )
    message = serializers.CharField(
        max_length=SHORT_TEXT,
        required=False,
        allow_blank=True,
        help_text=_lazy("Pour `request_completion` et `message`."),
    )
    subject = serializers.CharField(
        max_length=200, required=False, allow_blank=True, help_text=_lazy("Pour `message`.")
    )
    deadline = serializers.DateField(required=False, help_text=_lazy("Pour `request_completion`."))
    session = StrictIntegerField(
        min_value=1, max_value=MAX_ID, required=False, help_text=_lazy("Pour `send_to_committee`.")
    )
    reason = serializers.CharField(
        max_length=SHORT_TEXT, required=False, allow_blank=True, help_text=_lazy("Pour `dismiss`.")
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "ids" not in attrs and "filters" not in attrs:
            raise serializers.ValidationError(
                {"ids": [_lazy("Cochez des dossiers ou donnez des filtres.")]}
            )
        return attrs


class BulkActionItemSerializer(StrictModelSerializer):
    reference = serializers.SerializerMethodField()

    class Meta:
        model = BulkActionItem
        fields = ["requested_id", "reference", "status", "reason", "processed_at"]

    def get_reference(self, item: BulkActionItem) -> str:
        return item.application.reference if item.application_id and item.application else ""


class BulkActionSerializer(StrictModelSerializer):
    counts = serializers.SerializerMethodField()
    finished = serializers.SerializerMethodField()
    job: serializers.PrimaryKeyRelatedField[Any] = StrictPrimaryKeyRelatedField(
        read_only=True, allow_null=True
    )
    items = BulkActionItemSerializer(many=True, read_only=True)

    class Meta:
        model = BulkAction
        fields = [
            "id",
            "action",
            "params",
            "filters",
            "all_matching",
            "job",
            "created_at",
            "finished_at",
            "finished",
            "counts",
            "items",
        ]

    def get_counts(self, bulk: BulkAction) -> dict[str, int]:
        return bulk_counts(bulk)

    def get_finished(self, bulk: BulkAction) -> bool:
        return bulk.finished_at is not None


@extend_schema_view(
    create=extend_schema(
        summary=_lazy("Appliquer une action à plusieurs dossiers"),
        description=_lazy(
            "Chaque dossier passe par le même service, les mêmes droits et la même trace que "
            "l'action unitaire ; un dossier où l'action n'est pas permise est laissé tel quel, avec "
            "le motif. Au-delà du seuil (BULK_ACTION_JOB_THRESHOLD), l'action s'exécute en tâche de "
            "fond : suivre `GET …/bulk/{id}/`."
        ),
        request=BulkActionInput,
        responses={201: BulkActionSerializer, 400: R400, 403: R403},
    ),
    retrieve=extend_schema(
        summary=_lazy("Le résultat d'une action groupée, dossier par dossier"),
        responses={200: BulkActionSerializer, 404: R404},
    ),
)
class BulkActionViewSet(
    mixins.CreateModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Bulk actions of the instruction; each person sees only the ones they started."""

    serializer_class = BulkActionSerializer
    queryset = BulkAction.objects.none()

    def get_queryset(self) -> QuerySet[BulkAction]:
        return BulkAction.objects.filter(actor=cast(User, self.request.user)).prefetch_related(
            "items__application"
        )

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        bulk_action_check_permission(cast(User, request.user))  # the permission before the body
        data = BulkActionInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        bulk = bulk_action_start(
            actor=cast(User, request.user),
            action=values.pop("action"),
            ids=values.pop("ids", None),
            filters=values.pop("filters", None),
            params=values,
        )
        fresh = self.get_queryset().get(pk=bulk.pk)
        return Response(BulkActionSerializer(fresh).data, status=status.HTTP_201_CREATED)


def register(router: Any) -> None:
    """Registered before the applications' viewset, so `applications/bulk/` is not read as a file id."""
    router.register("applications/bulk", BulkActionViewSet, basename="application-bulk")
