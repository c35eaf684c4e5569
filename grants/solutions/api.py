"""API of the call for solutions (appel à solutions): expected solutions (list, public proposal,
moderation), the panel (read), the panel member's ballot and the published results.

Every route is under /api/calls/{call_pk}/: the call must be a call for solutions the user may read
(calls.selectors.calls_readable_by), else 404. Writes go through calls.services and
grants.solutions.services, whose DomainError the exception handler (core.api) turns into 400, 403
or 409 (a ballot outside the voting phase)."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle

from calls.models import Call, CallMode, Challenge, Panel
from calls.selectors import calls_readable_by
from calls.services import call_panel_member, challenge_moderate, challenge_propose
from core.api_views import R400, R403, R404, R409
from core.auth import client_ip
from core.errors import PermissionDenied
from core.models import Role
from core.permissions import has_role, is_staff_member

from . import services as svc
from .serializers import (
    BallotInputSerializer,
    BallotSerializer,
    ChallengeModerateSerializer,
    ChallengeProposeSerializer,
    ChallengeSerializer,
    PanelSerializer,
    ResultsSerializer,
)

CALL_PK = OpenApiParameter(
    "call_pk",
    OpenApiTypes.INT,
    OpenApiParameter.PATH,
    description=_("Identifiant de l'appel à solutions."),
)
CHALLENGE_PK = OpenApiParameter(
    "challenge_pk",
    OpenApiTypes.INT,
    OpenApiParameter.PATH,
    description=_("Identifiant de la solution attendue."),
)


class ProposalThrottle(AnonRateThrottle):
    """Anonymous proposals are slowed down per address (reading is not)."""

    rate = "10/hour"

    def get_ident(self, request) -> str:
        # DRF would believe any X-Forwarded-For; core.auth only believes a trusted proxy's.
        return client_ip(request) or super().get_ident(request)

    def allow_request(self, request, view) -> bool:
        if request.method != "POST":
            return True
        return super().allow_request(request, view)


def _moderator(user, call: Call) -> bool:
    return (
        has_role(user, Role.PROGRAMME_MANAGER, Role.INSTRUCTOR)
        or call_panel_member(call, user) is not None
    )


class CallSolutionsViewSet(viewsets.ViewSet):
    """Routes of one call for solutions."""

    def get_permissions(self):
        if self.action in ("challenges", "results"):
            return [AllowAny()]
        return [IsAuthenticated()]

    def get_throttles(self):
        if self.action == "challenges":
            return [ProposalThrottle()]
        return super().get_throttles()

    def _call(self) -> Call:
        calls = calls_readable_by(self.request.user).filter(mode=CallMode.SOLUTIONS_CALL)
        return get_object_or_404(calls.select_related("programme"), pk=self.kwargs["call_pk"])

    @extend_schema(
        methods=["GET"],
        summary=_("Solutions attendues d'un appel"),
        parameters=[CALL_PK],
        description=_(
            "Les solutions retenues pour tout le monde ; aussi les propositions à modérer "
            "et écartées pour le panel de l'appel et l'équipe. Jamais l'e-mail d'un·e "
            "habitant·e."
        ),
        responses={200: ChallengeSerializer(many=True), 404: R404},
    )
    @extend_schema(
        methods=["POST"],
        summary=_("Proposer une solution attendue (sans compte)"),
        parameters=[CALL_PK],
        request=ChallengeProposeSerializer,
        responses={201: ChallengeSerializer, 400: R400, 404: R404},
    )
    @action(detail=False, methods=["get", "post"], url_path="challenges")
    def challenges(self, request: Request, call_pk: str | None = None) -> Response:
        call = self._call()
        if request.method == "POST":
            data = ChallengeProposeSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            challenge = challenge_propose(call=call, **data.validated_data)
            return Response(ChallengeSerializer(challenge).data, status=status.HTTP_201_CREATED)
        challenges = (
            Challenge.objects.filter(call=call)
            .select_related("qpv")
            .order_by("qpv__code", "title", "pk")
        )
        if not _moderator(request.user, call):
            challenges = challenges.filter(state=Challenge.State.APPROVED)
        return Response(ChallengeSerializer(challenges, many=True).data)

    @extend_schema(
        summary=_("Modérer une proposition"),
        parameters=[CALL_PK, CHALLENGE_PK],
        description=_(
            "Retenir ou écarter (avec un motif) : panel de l'appel, instruction, "
            "responsables de programme."
        ),
        request=ChallengeModerateSerializer,
        responses={200: ChallengeSerializer, 400: R400, 403: R403, 404: R404},
    )
    @action(
        detail=False, methods=["post"], url_path=r"challenges/(?P<challenge_pk>[0-9]+)/moderate"
    )
    def moderate(
        self, request: Request, call_pk: str | None = None, challenge_pk: str | None = None
    ) -> Response:
        call = self._call()
        challenge = get_object_or_404(Challenge.objects.filter(call=call), pk=challenge_pk)
        data = ChallengeModerateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        challenge = challenge_moderate(
            actor=request.user, challenge=challenge, **data.validated_data
        )
        return Response(ChallengeSerializer(challenge).data)

    @extend_schema(
        summary=_("Le panel d'habitant·es"),
        parameters=[CALL_PK],
        description=_(
            "Règles du vote et membres par collège : équipe et membres du panel de l'appel."
        ),
        responses={200: PanelSerializer, 403: R403, 404: R404},
    )
    @action(detail=False, methods=["get"], url_path="panel")
    def panel(self, request: Request, call_pk: str | None = None) -> Response:
        call = self._call()
        panel = Panel.objects.filter(call=call).first()
        if panel is None:
            raise Http404
        if not (is_staff_member(request.user) or call_panel_member(call, request.user) is not None):
            raise PermissionDenied(_("Le panel se consulte par l'équipe et ses membres."))
        return Response(
            PanelSerializer(Panel.objects.prefetch_related("members__user").get(pk=panel.pk)).data
        )

    @extend_schema(
        summary=_("Voter (membre du panel)"),
        parameters=[CALL_PK],
        description=_(
            "Un seul bulletin par membre, pendant la phase de vote (409 en dehors ; 400 si "
            "déjà voté). Vote secret : le bulletin n'est pas relié à la personne."
        ),
        request=BallotInputSerializer,
        responses={201: BallotSerializer, 400: R400, 403: R403, 404: R404, 409: R409},
    )
    @action(detail=False, methods=["post"], url_path="ballot")
    def ballot(self, request: Request, call_pk: str | None = None) -> Response:
        call = self._call()
        data = BallotInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ballot = svc.ballot_cast(
            actor=request.user,
            call=call,
            approvals=data.validated_data["approvals"],
            scores=data.service_scores(),
        )
        return Response(BallotSerializer(ballot).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary=_("Résultats du vote"),
        parameters=[CALL_PK],
        description=_(
            "Publics une fois publiés : dépouillement, participation, les deux règles côte à "
            "côte, la règle retenue et son motif. Avant : responsables de programme seulement."
        ),
        responses={200: ResultsSerializer, 404: R404},
    )
    @action(detail=False, methods=["get"], url_path="results")
    def results(self, request: Request, call_pk: str | None = None) -> Response:
        call = self._call()
        run = svc.latest_run(call)
        if run is None or (
            run.published_at is None and not has_role(request.user, Role.PROGRAMME_MANAGER)
        ):
            raise Http404
        return Response(
            ResultsSerializer(ResultsSerializer.from_report(svc.allocation_report(run))).data
        )


def register(router) -> None:
    """Register this module's routes on the API router (under /api/calls/{call_pk}/)."""
    router.register(r"calls/(?P<call_pk>[0-9]+)", CallSolutionsViewSet, basename="call-solutions")
