"""The API of co-funded files (issue 15): the funders' parts of the files the user sees, their
instruction and decision by each funder's agents, and the applicant's budget revision.

As the file's transitions: a part outside the user's files is a 404; the permission is checked
before the body is read (403 whatever was sent); a step already done returns the part unchanged
(the services return early), and an `Idempotency-Key` replays the first answer."""

from __future__ import annotations

from typing import Any, cast

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api_views import R400, R403, R404, R409
from core.errors import PermissionDenied
from core.limits import SHORT_TEXT
from core.models import User

from . import services
from .models import BudgetRevision, FunderPart
from .selectors import applications_visible_to
from .serializers import BudgetRowInputSerializer
from .serializers_cofunding import (
    BudgetRevisionSerializer,
    FunderPartSerializer,
    PartDecideInput,
    PartNoteInput,
    PartProposeInput,
)
from .services.cofunding import may_decide_part, may_review_part
from .services.workflow import applicant_of

WRITE = {400: R400, 403: R403, 404: R404, 409: R409}


class BudgetRevisionAnswerInput(serializers.Serializer[Any]):
    """The applicant's answer: a comment, and for a revision the new budget lines."""

    comment = serializers.CharField(required=False, allow_blank=True, max_length=SHORT_TEXT)
    budget = BudgetRowInputSerializer(many=True, required=False)


def _user(request: Request) -> User:
    return cast(User, request.user)


def _denied() -> PermissionDenied:
    return PermissionDenied(_("Vous n'agissez pas pour le financeur de cette part."))


@extend_schema_view(
    list=extend_schema(summary=_lazy("Parts des financeurs des dossiers visibles")),
    retrieve=extend_schema(summary=_lazy("Part d'un financeur")),
)
class FunderPartViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The part of a file asked of each funder (`?application=<id>` for one file's parts)."""

    serializer_class = FunderPartSerializer
    queryset = FunderPart.objects.none()
    filterset_class = None

    def get_queryset(self) -> QuerySet[FunderPart]:
        visible = applications_visible_to(_user(self.request)).values("pk")
        qs = (
            FunderPart.objects.filter(application__in=visible)
            .select_related("application", "funder")
            .order_by("application_id", "pk")
        )
        application = self.request.query_params.get("application", "")
        if application:
            if not application.isdigit():
                from rest_framework.exceptions import ValidationError

                raise ValidationError({"application": [_("Identifiant de dossier invalide.")]})
            qs = qs.filter(application_id=int(application))
        return qs

    def _answer(self, part: FunderPart) -> Response:
        fresh = self.get_queryset().filter(pk=part.pk).first() or part
        return Response(self.get_serializer(fresh).data)

    @extend_schema(
        summary=_lazy("Commencer l'instruction d'une part"),
        request=None,
        responses={200: FunderPartSerializer, **WRITE},
    )
    @action(detail=True, methods=["post"], url_path="start-review")
    def start_review(self, request: Request, pk: str | None = None) -> Response:
        part = self.get_object()
        if not may_review_part(_user(request), part):
            raise _denied()
        return self._answer(services.funder_part_start_review(actor=_user(request), part=part))

    @extend_schema(
        summary=_lazy("Proposer un montant pour une part"),
        request=PartProposeInput,
        responses={200: FunderPartSerializer, **WRITE},
    )
    @action(detail=True, methods=["post"])
    def propose(self, request: Request, pk: str | None = None) -> Response:
        part = self.get_object()
        if not may_review_part(_user(request), part):
            raise _denied()
        data = PartProposeInput(data=request.data)
        data.is_valid(raise_exception=True)
        part = services.funder_part_propose(actor=_user(request), part=part, **data.validated_data)
        return self._answer(part)

    @extend_schema(
        summary=_lazy("Décider une part (accord, accord partiel, refus)"),
        request=PartDecideInput,
        responses={200: FunderPartSerializer, **WRITE},
    )
    @action(detail=True, methods=["post"])
    def decide(self, request: Request, pk: str | None = None) -> Response:
        part = self.get_object()
        if not may_decide_part(_user(request), part):
            raise _denied()
        data = PartDecideInput(data=request.data)
        data.is_valid(raise_exception=True)
        part = services.funder_part_decide(actor=_user(request), part=part, **data.validated_data)
        return self._answer(part)

    @extend_schema(
        summary=_lazy("Note interne du financeur sur sa part"),
        request=PartNoteInput,
        responses={200: FunderPartSerializer, **WRITE},
    )
    @action(detail=True, methods=["post"])
    def note(self, request: Request, pk: str | None = None) -> Response:
        part = self.get_object()
        if not (may_review_part(_user(request), part) or may_decide_part(_user(request), part)):
            raise _denied()
        data = PartNoteInput(data=request.data)
        data.is_valid(raise_exception=True)
        part = services.funder_part_set_note(
            actor=_user(request), part=part, text=data.validated_data["text"]
        )
        return self._answer(part)


@extend_schema_view(
    list=extend_schema(summary=_lazy("Révisions de budget des dossiers visibles")),
    retrieve=extend_schema(summary=_lazy("Révision de budget")),
)
class BudgetRevisionViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """A co-funded file whose part was refused or cut: the applicant confirms or revises its
    budget."""

    serializer_class = BudgetRevisionSerializer
    queryset = BudgetRevision.objects.none()
    filterset_class = None

    def get_queryset(self) -> QuerySet[BudgetRevision]:
        visible = applications_visible_to(_user(self.request)).values("pk")
        return (
            BudgetRevision.objects.filter(application__in=visible)
            .select_related("application__organisation")
            .order_by("-requested_at", "-id")
        )

    def _applicant_revision(self) -> BudgetRevision:
        revision = self.get_object()
        if not applicant_of(_user(self.request), revision.application):
            raise PermissionDenied(_("Vous n'agissez pas pour cette organisation."))
        return revision

    @extend_schema(
        summary=_lazy("Confirmer le budget tel quel"),
        request=BudgetRevisionAnswerInput,
        responses={200: BudgetRevisionSerializer, **WRITE},
    )
    @action(detail=True, methods=["post"])
    def confirm(self, request: Request, pk: str | None = None) -> Response:
        revision = self._applicant_revision()
        data = BudgetRevisionAnswerInput(data=request.data)
        data.is_valid(raise_exception=True)
        revision = services.budget_revision_confirm(
            actor=_user(request), revision=revision, comment=data.validated_data.get("comment", "")
        )
        return Response(self.get_serializer(revision).data)

    @extend_schema(
        summary=_lazy("Réviser le budget selon les montants accordés"),
        request=BudgetRevisionAnswerInput,
        responses={200: BudgetRevisionSerializer, **WRITE},
    )
    @action(detail=True, methods=["post"])
    def revise(self, request: Request, pk: str | None = None) -> Response:
        revision = self._applicant_revision()
        data = BudgetRevisionAnswerInput(data=request.data)
        data.is_valid(raise_exception=True)
        rows: list[dict[str, Any]] = [
            {**row, "funder": row["funder"].pk if row.get("funder") else None}
            for row in data.validated_data.get("budget", [])
        ]
        revision = services.budget_revision_submit(
            actor=_user(request),
            revision=revision,
            rows=rows,
            comment=data.validated_data.get("comment", ""),
        )
        return Response(self.get_serializer(revision).data)


def register(router: Any) -> None:
    router.register("funder-parts", FunderPartViewSet, basename="funder-part")
    router.register("budget-revisions", BudgetRevisionViewSet, basename="budget-revision")
