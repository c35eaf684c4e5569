"""API of the partners added to an agreement by amendment (cpo.services_changes.partner_addition):
proposals are made on the agreement (`POST /api/agreements/{id}/partner-additions/`), then read
and moved here (accept and decline by the proposed organisation, apply by the instruction,
withdraw by the lead or the instruction). The permission is checked before any body is read; a
refusal is 400/403/409 with its reason (core.api.exception_handler)."""

from __future__ import annotations

from typing import Any, cast

from django.http import Http404
from django.utils.translation import gettext_lazy as _lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api_views import R400, R403, R404, R409
from core.errors import PermissionDenied
from core.limits import LONG_TEXT, SHORT_TEXT
from core.models import User
from core.permissions import is_member
from core.serializers import money

from . import services_changes
from .models import Agreement
from .models_partner_additions import PartnerAddition
from .selectors_partner_additions import additions_visible_to, organisation_by_siret
from .services_changes.common import agreement_staff_check_permission

WRITE_RESPONSES = {400: R400, 403: R403, 404: R404, 409: R409}
PARTNER_ADDITION_OPS = ("accept", "decline", "apply", "withdraw")


class PartnerAdditionSerializer(serializers.ModelSerializer[PartnerAddition]):
    organisation_name = serializers.CharField(source="organisation.name", read_only=True)
    parts = serializers.DictField(
        child=serializers.CharField(),
        read_only=True,
        help_text=_lazy("Part du partenaire par exercice, en euros (chaînes décimales)."),
    )
    amendment_version = serializers.IntegerField(
        source="amendment.version", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = PartnerAddition
        fields = [
            "id",
            "agreement",
            "organisation",
            "organisation_name",
            "role",
            "actions",
            "parts",
            "from_lead",
            "reason",
            "effective_on",
            "state",
            "proposed_at",
            "answered_at",
            "amendment_version",
        ]
        read_only_fields = fields


class PartnerAdditionInput(serializers.Serializer[Any]):
    siret = serializers.CharField(max_length=20, help_text=_lazy("SIRET de l'organisation."))
    role = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    actions = serializers.CharField(
        max_length=LONG_TEXT, required=False, allow_blank=True, default=""
    )
    parts = serializers.DictField(
        child=money(),
        allow_empty=False,
        help_text=_lazy('Montant par exercice : {"2027": "600.00"}.'),
    )
    from_lead = serializers.BooleanField(required=False, default=False)
    reason = serializers.CharField(max_length=SHORT_TEXT)
    effective_on = serializers.DateField()


def propose(request: Request, agreement: Agreement) -> Response:
    """`POST /api/agreements/{id}/partner-additions/` (called by the agreement viewset once the
    agreement is found visible)."""
    actor = cast(User, request.user)
    services_changes.partner_addition_check_permission(actor, agreement)  # before the body
    data = PartnerAdditionInput(data=request.data)
    data.is_valid(raise_exception=True)
    values = data.validated_data
    addition = services_changes.partner_addition_propose(
        actor=actor,
        agreement=agreement,
        organisation=organisation_by_siret(values["siret"]),
        role=values["role"],
        actions=values["actions"],
        parts=values["parts"],
        from_lead=values["from_lead"],
        reason=values["reason"],
        effective_on=values["effective_on"],
    )
    return Response(PartnerAdditionSerializer(addition).data, status=status.HTTP_201_CREATED)


OP_PARAMETER = OpenApiParameter(
    "op",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    enum=list(PARTNER_ADDITION_OPS),
    description=_lazy(
        "accept, decline (l'organisation proposée), apply (l'instruction signe l'avenant), "
        "withdraw (le chef de file ou l'instruction). Aucun corps."
    ),
)


class PartnerAdditionViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[PartnerAddition]
):
    """Partners added to agreements by amendment, as far as the user may see them."""

    serializer_class = PartnerAdditionSerializer
    filterset_class = None

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return PartnerAddition.objects.none()
        return additions_visible_to(cast(User, self.request.user)).order_by("-id")

    @extend_schema(
        operation_id="partner_additions_action",
        summary=_lazy("Faire avancer l'ajout d'un partenaire"),
        request=None,
        parameters=[OP_PARAMETER],
        responses={200: PartnerAdditionSerializer, **WRITE_RESPONSES},
    )
    @action(detail=True, methods=["post"], url_path=r"(?P<op>[a-z_]+)")
    def op(self, request: Request, pk: str | None = None, op: str = "") -> Response:
        addition = self.get_object()
        actor = cast(User, request.user)
        if op not in PARTNER_ADDITION_OPS:
            raise Http404
        # The permission of each step, before anything else (no body is read).
        if op in ("accept", "decline") and not is_member(actor, addition.organisation):
            raise PermissionDenied(_lazy("Seule l'organisation proposée peut répondre."))
        if op == "apply":
            agreement_staff_check_permission(actor)
            addition = services_changes.partner_addition_apply(actor=actor, addition=addition)
        elif op == "withdraw":
            addition = services_changes.partner_addition_withdraw(actor=actor, addition=addition)
        else:
            addition = services_changes.partner_addition_answer(
                actor=actor, addition=addition, accept=op == "accept"
            )
        return Response(PartnerAdditionSerializer(addition).data)
