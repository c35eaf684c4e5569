"""API of agreements: list and filters, detail (years, funders, instalments, evaluations,
amendments, recoveries), creation from an approved application, transitions, amendments,
recoveries, the annual evaluation (submit, review) and the history.

Every agreement is looked up in cpo.selectors.agreements_visible_to: another organisation's
agreement, or one outside the user's staff scope, is a 404. Writes go through cpo.services and
cpo.services_changes, whose DomainError the exception handler (core.api) turns into 400, 403, 409."""

from __future__ import annotations

from typing import Any, cast

import django_filters
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework import serializers as drf_serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter
from rest_framework.serializers import BaseSerializer

from core.api_filters import StrictFilterSet, StrictIntegerFilter
from core.api_views import R400, R403, R404, R409
from core.audit import history_for
from core.errors import PermissionDenied
from core.models import User
from core.serializers import AuditEntrySerializer, StrictIntegerField
from grants.selectors import applications_visible_to

from . import services
from .api_partner_additions import PartnerAdditionInput, PartnerAdditionSerializer
from .api_partner_additions import propose as propose_partner_addition
from .models import Agreement, AgreementState, Recovery
from .selectors import (
    agreement_detail_queryset,
    agreements_visible_to,
    filter_agreements,
    is_agreement_staff,
)
from .serializers import (
    AGREEMENT_TRANSITIONS,
    RECOVERY_INPUTS,
    TRANSITION_INPUTS,
    AgreementCreateSerializer,
    AgreementDetailSerializer,
    AgreementListSerializer,
    AmendmentCreateInput,
    AmendmentPreviewInput,
    AmendmentSerializer,
    EvaluationReviewInput,
    EvaluationSubmitInput,
    EvaluationSummarySerializer,
    PreviewSerializer,
    RecoveryIssueInput,
    RecoverySerializer,
    plain,
)
from .services_changes.common import FINANCE, MANAGERS, agreement_staff_check_permission

WRITE_RESPONSES = {400: R400, 403: R403, 404: R404, 409: R409}


class SignatureRequestInput(drf_serializers.Serializer[Any]):
    """Empty for the agreement (or notification letter) itself; an amendment's id for it."""

    amendment = StrictIntegerField(required=False, allow_null=True, min_value=1)


RECOVERY_OPS = tuple(RECOVERY_INPUTS)


class AgreementFilter(StrictFilterSet):
    state = django_filters.ChoiceFilter(choices=AgreementState.choices, label=_lazy("État"))
    programme = StrictIntegerFilter(field_name="programme", label=_lazy("Programme (identifiant)"))
    organisation = StrictIntegerFilter(
        field_name="organisation", label=_lazy("Organisation (identifiant)")
    )
    q = django_filters.CharFilter(
        field_name="title", label=_lazy("Recherche : référence, objet ou organisation")
    )

    class Meta:
        model = Agreement
        fields = ["state", "programme", "organisation", "q"]

    def filter_queryset(self, queryset: QuerySet[Agreement]) -> QuerySet[Agreement]:
        values = {k: v for k, v in self.form.cleaned_data.items() if v not in (None, "")}
        return filter_agreements(queryset, values)


TransitionInput = PolymorphicProxySerializer(
    component_name="AgreementTransitionInput",
    serializers=list(dict.fromkeys(TRANSITION_INPUTS.values())),
    resource_type_field_name=None,
)
RecoveryActionInput = PolymorphicProxySerializer(
    component_name="RecoveryActionInput",
    serializers=list(dict.fromkeys(RECOVERY_INPUTS.values())),
    resource_type_field_name=None,
)
NAME_PARAMETER = OpenApiParameter(
    "name",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    enum=list(AGREEMENT_TRANSITIONS),
    description=_lazy(
        "Transition : send_for_signature, sign (`signed_on`), suspend et terminate (`reason` "
        "obligatoire), resume (`reason` facultatif)."
    ),
)
OP_PARAMETER = OpenApiParameter(
    "op",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    enum=list(RECOVERY_OPS),
    description=_lazy(
        "collect (recouvré), offset (`instalment` : échéance sur laquelle compenser), "
        "cancel (`reason`)."
    ),
)
RECOVERY_PARAMETER = OpenApiParameter(
    "recovery_id", OpenApiTypes.INT, OpenApiParameter.PATH, description=_lazy("Reversement")
)
YEAR_PARAMETER = OpenApiParameter(
    "year", OpenApiTypes.INT, OpenApiParameter.PATH, description=_lazy("Exercice évalué")
)


@extend_schema_view(
    list=extend_schema(
        summary=_lazy("Conventions visibles"),
        responses={200: AgreementListSerializer(many=True)},
    ),
    retrieve=extend_schema(
        summary=_lazy("Une convention"), responses={200: AgreementDetailSerializer, 404: R404}
    ),
    create=extend_schema(
        summary=_lazy("Préparer la convention d'un dossier accordé"),
        request=AgreementCreateSerializer,
        responses={201: AgreementDetailSerializer, **WRITE_RESPONSES},
    ),
)
class AgreementViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet[Agreement],
):
    """Agreements (conventions, CPO) the user may see: their organisations' and their staff
    scope's."""

    filterset_class = AgreementFilter
    queryset = Agreement.objects.none()  # for the schema; get_queryset is what counts

    def get_queryset(self) -> QuerySet[Agreement]:
        qs = agreements_visible_to(cast(User, self.request.user)).order_by("-created_at", "-id")
        if self.action != "list":
            qs = agreement_detail_queryset(qs)
        return qs

    def get_serializer_class(self) -> type[BaseSerializer[Any]]:
        return AgreementListSerializer if self.action == "list" else AgreementDetailSerializer

    def _detail(self, agreement: Agreement, *, status_code: int = status.HTTP_200_OK) -> Response:
        fresh = agreement_detail_queryset(
            agreements_visible_to(cast(User, self.request.user)).filter(pk=agreement.pk)
        ).first()
        return Response(AgreementDetailSerializer(fresh or agreement).data, status=status_code)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        agreement_staff_check_permission(cast(User, request.user))  # before the body (issue 11)
        data = AgreementCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        application = get_object_or_404(
            applications_visible_to(cast(User, request.user)),
            pk=data.validated_data["application"].pk,
        )
        agreement = services.agreement_create_from_application(
            actor=cast(User, request.user), application=application, **data.service_params()
        )
        return self._detail(agreement, status_code=status.HTTP_201_CREATED)

    @extend_schema(
        summary=_lazy("Faire avancer une convention"),
        parameters=[NAME_PARAMETER],
        request=TransitionInput,
        responses={200: AgreementDetailSerializer, **WRITE_RESPONSES},
    )
    @action(
        detail=True,
        methods=["post"],
        url_path=r"transitions/(?P<name>{})".format("|".join(AGREEMENT_TRANSITIONS)),
    )
    def transition(self, request: Request, pk: str | None = None, name: str = "") -> Response:
        """Run one transition (cpo.services). 409 with `allowed_transitions` when it is not
        possible now, 403 when the user may not run it."""
        agreement = self.get_object()
        agreement_staff_check_permission(cast(User, request.user))  # before the body
        data = TRANSITION_INPUTS[name](data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        actor = cast(User, request.user)
        if name == "send_for_signature":
            agreement = services.agreement_send_for_signature(actor=actor, agreement=agreement)
        elif name == "sign":
            agreement = services.agreement_sign(
                actor=actor, agreement=agreement, signed_on=values["signed_on"]
            )
        else:
            agreement = getattr(services, f"agreement_{name}")(
                actor=actor, agreement=agreement, reason=values.get("reason", "")
            )
        return self._detail(agreement)

    @extend_schema(
        summary=_lazy("Envoyer le document pour signature électronique"),
        request=SignatureRequestInput,
        responses={200: AgreementDetailSerializer, **WRITE_RESPONSES},
    )
    @action(detail=True, methods=["post"], url_path="signature-request")
    def signature_request(self, request: Request, pk: str | None = None) -> Response:
        """Freeze the document and list its signatories (cpo/signatures/services.py)."""
        from .selectors import can_manage
        from .signatures.services import signature_request_send

        agreement = self.get_object()
        actor = cast(User, request.user)
        if not can_manage(actor):  # permission before the body
            raise PermissionDenied(
                _lazy("Réservé à l'instruction et aux responsables de programme.")
            )
        data = SignatureRequestInput(data=request.data)
        data.is_valid(raise_exception=True)
        amendment = None
        if data.validated_data.get("amendment") is not None:
            amendment = get_object_or_404(agreement.amendments, pk=data.validated_data["amendment"])
        signature_request_send(actor=actor, agreement=agreement, amendment=amendment)
        return self._detail(agreement)

    @extend_schema(
        summary=_lazy("Historique de la convention"),
        responses={200: AuditEntrySerializer(many=True), 404: R404},
    )
    @action(detail=True, methods=["get"], pagination_class=None, filterset_class=None)
    def history(self, request: Request, pk: str | None = None) -> Response:
        """What happened to the agreement, newest first; the data behind each action for staff."""
        agreement = self.get_object()
        staff = is_agreement_staff(cast(User, request.user), agreement)
        return Response(
            AuditEntrySerializer(
                history_for(agreement), many=True, context={"show_payload": staff}
            ).data
        )

    # ------------------------------------------------------------------ amendments

    @extend_schema(
        methods=["GET"],
        summary=_lazy("Avenants"),
        responses={200: AmendmentSerializer(many=True), 404: R404},
    )
    @extend_schema(
        methods=["POST"],
        summary=_lazy("Enregistrer un avenant"),
        request=AmendmentCreateInput,
        responses={201: AmendmentSerializer, **WRITE_RESPONSES},
    )
    @action(
        detail=True,
        methods=["get", "post"],
        pagination_class=None,
        filterset_class=None,
        serializer_class=AmendmentSerializer,
    )
    def amendments(self, request: Request, pk: str | None = None) -> Response:
        """Every version of the agreement, with what changed, why and by whom."""
        agreement = self.get_object()
        if request.method == "POST":
            from . import services_changes

            agreement_staff_check_permission(cast(User, request.user))  # before the body
            data = AmendmentCreateInput(data=request.data)
            data.is_valid(raise_exception=True)
            amendment = services_changes.amendment_create(
                actor=cast(User, request.user),
                agreement=agreement,
                reason=data.validated_data["reason"],
                effective_on=data.validated_data["effective_on"],
                **data.change_params(),
            )
            return Response(AmendmentSerializer(amendment).data, status=status.HTTP_201_CREATED)
        return Response(AmendmentSerializer(agreement.amendments.all(), many=True).data)

    @extend_schema(
        summary=_lazy("Prévisualiser un avenant (rien n'est enregistré)"),
        request=AmendmentPreviewInput,
        responses={200: PreviewSerializer, **WRITE_RESPONSES},
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="amendments/preview",
        pagination_class=None,
        filterset_class=None,
    )
    def amendment_preview(self, request: Request, pk: str | None = None) -> Response:
        """Before/after of the proposed change (cpo.services_changes.amendment_preview). Staff
        who may amend only."""
        from core.errors import PermissionDenied

        from . import services_changes
        from .selectors import can_manage

        agreement = self.get_object()
        if not can_manage(cast(User, request.user)):
            raise PermissionDenied(
                _lazy("Réservé à l'instruction et aux responsables de programme.")
            )
        data = AmendmentPreviewInput(data=request.data)
        data.is_valid(raise_exception=True)
        preview = services_changes.amendment_preview(
            actor=cast(User, request.user), agreement=agreement, **data.change_params()
        )
        return Response({"preview": plain(preview)})

    @extend_schema(
        summary=_lazy("Proposer l'ajout d'un partenaire par avenant"),
        request=PartnerAdditionInput,
        responses={201: PartnerAdditionSerializer, **WRITE_RESPONSES},
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="partner-additions",
        pagination_class=None,
        filterset_class=None,
    )
    def partner_additions(self, request: Request, pk: str | None = None) -> Response:
        """The lead or the instruction proposes an organisation (cpo.api_partner_additions)."""
        return propose_partner_addition(request, self.get_object())

    # ------------------------------------------------------------------ recoveries

    @extend_schema(
        methods=["GET"],
        summary=_lazy("Reversements"),
        responses={200: RecoverySerializer(many=True), 404: R404},
    )
    @extend_schema(
        methods=["POST"],
        summary=_lazy("Émettre un reversement (titre de recette)"),
        request=RecoveryIssueInput,
        responses={201: RecoverySerializer, **WRITE_RESPONSES},
    )
    @action(
        detail=True,
        methods=["get", "post"],
        pagination_class=None,
        filterset_class=None,
        serializer_class=RecoverySerializer,
    )
    def recoveries(self, request: Request, pk: str | None = None) -> Response:
        agreement = self.get_object()
        if request.method == "POST":
            from . import services_changes

            agreement_staff_check_permission(cast(User, request.user))  # before the body
            data = RecoveryIssueInput(data=request.data)
            data.is_valid(raise_exception=True)
            recovery = services_changes.recovery_issue(
                actor=cast(User, request.user), agreement=agreement, **data.validated_data
            )
            return Response(RecoverySerializer(recovery).data, status=status.HTTP_201_CREATED)
        return Response(RecoverySerializer(agreement.recoveries.all(), many=True).data)

    @extend_schema(
        summary=_lazy("Recouvrer, compenser ou annuler un reversement"),
        operation_id="agreements_recovery_action",
        parameters=[RECOVERY_PARAMETER, OP_PARAMETER],
        request=RecoveryActionInput,
        responses={200: RecoverySerializer, **WRITE_RESPONSES},
    )
    @action(
        detail=True,
        methods=["post"],
        url_path=r"recoveries/(?P<recovery_id>\d+)/(?P<op>{})".format("|".join(RECOVERY_OPS)),
        pagination_class=None,
        filterset_class=None,
    )
    def recovery_action(
        self, request: Request, pk: str | None = None, recovery_id: str = "", op: str = ""
    ) -> Response:
        from . import services_changes

        agreement = self.get_object()
        recovery = get_object_or_404(Recovery, pk=recovery_id, agreement=agreement)
        # Before the body: collecting and offsetting are open to the finance team too.
        agreement_staff_check_permission(
            cast(User, request.user), FINANCE if op in ("collect", "offset") else MANAGERS
        )
        data = RECOVERY_INPUTS[op](data=request.data)
        data.is_valid(raise_exception=True)
        if op == "collect":
            recovery = services_changes.recovery_collect(
                actor=cast(User, request.user), recovery=recovery
            )
        elif op == "offset":
            instalment = get_object_or_404(
                agreement.instalments, pk=data.validated_data["instalment"]
            )
            recovery = services_changes.recovery_offset(
                actor=cast(User, request.user), recovery=recovery, instalment=instalment
            )
        else:
            recovery = services_changes.recovery_cancel(
                actor=cast(User, request.user),
                recovery=recovery,
                reason=data.validated_data["reason"],
            )
        return Response(RecoverySerializer(recovery).data)

    # ------------------------------------------------------------------ evaluations

    @extend_schema(
        summary=_lazy("Déposer l'évaluation annuelle (association)"),
        parameters=[YEAR_PARAMETER],
        request=EvaluationSubmitInput,
        responses={200: EvaluationSummarySerializer, **WRITE_RESPONSES},
    )
    @action(
        detail=True,
        methods=["post"],
        url_path=r"evaluations/(?P<year>\d{4})/submit",
        pagination_class=None,
        filterset_class=None,
    )
    def evaluation_submit(
        self, request: Request, pk: str | None = None, year: str = ""
    ) -> Response:
        agreement = self.get_object()
        evaluation = get_object_or_404(agreement.evaluations, fiscal_year=int(year))
        services.evaluation_submit_check_permission(cast(User, request.user), evaluation)
        data = EvaluationSubmitInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        evaluation = services.evaluation_submit(
            actor=cast(User, request.user),
            evaluation=evaluation,
            activity_report=values["activity_report"],
            budget_lines=[dict(r) for r in values["budget_lines"]],
            indicators=[dict(r) for r in values.get("indicators", [])],
        )
        return Response(EvaluationSummarySerializer(evaluation).data)

    @extend_schema(
        summary=_lazy("Examiner l'évaluation annuelle (instruction)"),
        parameters=[YEAR_PARAMETER],
        request=EvaluationReviewInput,
        responses={200: EvaluationSummarySerializer, **WRITE_RESPONSES},
    )
    @action(
        detail=True,
        methods=["post"],
        url_path=r"evaluations/(?P<year>\d{4})/review",
        pagination_class=None,
        filterset_class=None,
    )
    def evaluation_review(
        self, request: Request, pk: str | None = None, year: str = ""
    ) -> Response:
        agreement = self.get_object()
        evaluation = get_object_or_404(agreement.evaluations, fiscal_year=int(year))
        agreement_staff_check_permission(cast(User, request.user))  # before the body
        data = EvaluationReviewInput(data=request.data)
        data.is_valid(raise_exception=True)
        evaluation = services.evaluation_review(
            actor=cast(User, request.user), evaluation=evaluation, **data.validated_data
        )
        return Response(EvaluationSummarySerializer(evaluation).data)


def register(router: BaseRouter) -> None:
    """Register this app's viewsets on the API router."""
    router.register("agreements", AgreementViewSet, basename="agreement")
    from .api_signatures import SignatureViewSet

    router.register("signatures", SignatureViewSet, basename="signature")
    from .api_partner_additions import PartnerAdditionViewSet

    router.register("partner-additions", PartnerAdditionViewSet, basename="partner-addition")
