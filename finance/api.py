"""API of the finance side (docs/domain.md §5), under /api/finance/: instalments (list with filters and a
keyset cursor, liquidation), payment runs (create, approve, remove items, cancel, export, the stored
files, the items), confirmation files (dry run, then applied by a background job) and fiscal years
(overview, closing). And /api/my-payments/: the association's own instalments, read-only.

Who: finance officers read and write; programme managers and auditors read (never the bank
details: no IBAN in the items, no payment file); everyone else gets 403. Writes go through
finance.services and finance.confirmations, whose DomainError the exception handler (core.api)
turns into 400, 403 or 409."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import django_filters
from django.conf import settings
from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import FileResponse, HttpResponse
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter
from rest_framework.serializers import BaseSerializer

from core.api_filters import StrictFilterSet, StrictIntegerFilter, year_filter
from core.api_views import R400, R403, R404, R409, ErrorSerializer
from core.errors import DomainError, PermissionDenied, TransitionNotAllowed
from core.models import BackgroundJob, Role, User
from core.permissions import has_role
from core.tabular.writer import DIALECTS, EXCEL_FR
from cpo.models import Instalment, InstalmentState
from cpo.selectors_payments import STATES_OF_STAGE, PaymentStage, my_instalments
from finance import confirmations
from finance import services as services_finance
from finance.api_files import (
    ALLOW_MISSING_EJ_PARAMETER,
    FORMAT_PARAMETER,
    R409_MISSING_EJ,
    MissingEjSerializer,
)
from finance.models import (
    PaymentConfirmation,
    PaymentRun,
    PaymentRunApproval,
    PaymentRunItem,
    PaymentRunState,
)
from finance.pagination import EarliestDateCursorPagination
from finance.resources import payment_run_csv
from finance.selectors_payments import fiscal_years_overview
from finance.serializers import (
    ConfirmationRejectedSerializer,
    ConfirmationUploadInput,
    FinanceInstalmentSerializer,
    FinanceNoInput,
    FiscalYearCloseInput,
    FiscalYearSerializer,
    InstalmentApproveInput,
    InstalmentApproveResult,
    JobStartedSerializer,
    MyPaymentSerializer,
    PaymentConfirmationSerializer,
    PaymentRunCreatedSerializer,
    PaymentRunCreateInput,
    PaymentRunDetailSerializer,
    PaymentRunItemSerializer,
    PaymentRunSerializer,
    RemoveItemsInput,
    RunCancelInput,
    run_actions,
)

I = InstalmentState  # noqa: E741
RS = PaymentRunState
READERS = (Role.FINANCE_OFFICER, Role.PROGRAMME_MANAGER, Role.AUDITOR)
WRITE_RESPONSES = {400: R400, 403: R403, 404: R404, 409: R409}
CONFIRMATION_EXTENSIONS = ("csv", "txt", "xlsx")


class FinanceAccess(BasePermission):
    """Reading: the finance team, programme managers and auditors. Writing: the finance team (the
    services check it again, with the segregation of duties)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return False
        if request.method in SAFE_METHODS:
            self.message = _(
                "Réservé au service financier, aux responsables de programme et aux auditeurs."
            )
            return has_role(user, *READERS)
        self.message = _("Réservé au service financier.")
        return has_role(user, Role.FINANCE_OFFICER)


def sees_bank_details(request: Request) -> bool:
    return has_role(cast(User, request.user), Role.FINANCE_OFFICER)


# --------------------------------------------------------------------------- instalments


class FinanceInstalmentFilter(StrictFilterSet):
    # distinct=False: no join can repeat a row, and DISTINCT would sort every matching row.
    state = django_filters.MultipleChoiceFilter(
        choices=InstalmentState.choices, distinct=False, label=_lazy("État (plusieurs possibles)")
    )
    due_by = django_filters.DateFilter(
        field_name="earliest_date", lookup_expr="lte", label=_lazy("Payable au plus tard le")
    )
    programme = StrictIntegerFilter(
        field_name="agreement__programme", label=_lazy("Programme (identifiant)")
    )
    funder = StrictIntegerFilter(
        field_name="funder__funder", label=_lazy("Financeur (identifiant)")
    )
    budget_line = StrictIntegerFilter(
        field_name="agreement__programme__budget_line",
        label=_lazy("Ligne budgétaire (identifiant)"),
    )
    late = django_filters.BooleanFilter(
        field_name="is_late", label=_lazy("En retard (règle des 60 jours)")
    )
    agreement = StrictIntegerFilter(field_name="agreement", label=_lazy("Convention (identifiant)"))
    organisation = StrictIntegerFilter(
        field_name="agreement__organisation", label=_lazy("Organisation (identifiant)")
    )
    fiscal_year = year_filter(method="filter_fiscal_year", label=_lazy("Exercice d'imputation"))
    unpaid = django_filters.BooleanFilter(
        method="filter_unpaid", label=_lazy("Restant à payer (ni payée ni annulée)")
    )
    payable = django_filters.BooleanFilter(
        method="filter_payable",
        label=_lazy("Payable maintenant (ce qu'un lot prendrait, hors coordonnées bancaires)"),
    )

    class Meta:
        model = Instalment
        fields = [
            "state",
            "due_by",
            "programme",
            "funder",
            "budget_line",
            "late",
            "agreement",
            "organisation",
            "fiscal_year",
            "unpaid",
            "payable",
        ]

    @extend_schema_field(OpenApiTypes.INT)
    def filter_fiscal_year(
        self, queryset: QuerySet[Instalment], name: str, value: Any
    ) -> QuerySet[Instalment]:
        return queryset.filter(services_finance.effective_year_q(int(value)))

    @extend_schema_field(OpenApiTypes.BOOL)
    def filter_unpaid(
        self, queryset: QuerySet[Instalment], name: str, value: Any
    ) -> QuerySet[Instalment]:
        done = [I.PAID, I.CANCELLED]
        return queryset.exclude(state__in=done) if value else queryset.filter(state__in=done)

    @extend_schema_field(OpenApiTypes.BOOL)
    def filter_payable(
        self, queryset: QuerySet[Instalment], name: str, value: Any
    ) -> QuerySet[Instalment]:
        payable = services_finance.payable_instalments().values("pk")
        return queryset.filter(pk__in=payable) if value else queryset.exclude(pk__in=payable)


@extend_schema_view(
    list=extend_schema(
        summary=_lazy("Échéances (service financier)"),
        description=_lazy(
            "Triées par date de paiement au plus tôt puis identifiant ; pagination par curseur "
            "(`next`, `previous`), sans comptage, stable à un million d'échéances."
        ),
        responses={200: FinanceInstalmentSerializer(many=True), 403: R403},
    ),
)
class FinanceInstalmentViewSet(mixins.ListModelMixin, viewsets.GenericViewSet[Instalment]):
    """Every instalment, for the finance team, programme managers and auditors."""

    permission_classes = [FinanceAccess]
    serializer_class = FinanceInstalmentSerializer
    filterset_class = FinanceInstalmentFilter
    pagination_class = EarliestDateCursorPagination
    queryset = Instalment.objects.none()  # for the schema; get_queryset is what counts

    def get_queryset(self) -> QuerySet[Instalment]:
        return Instalment.objects.select_related(
            "agreement__organisation", "year", "funder__funder"
        )

    @extend_schema(
        summary=_lazy("Liquider des échéances (certifier le service fait)"),
        request=InstalmentApproveInput,
        responses={200: InstalmentApproveResult, **WRITE_RESPONSES},
    )
    @action(detail=False, methods=["post"], pagination_class=None, filterset_class=None)
    def approve(self, request: Request) -> Response:
        """Due instalments become approved (liquidated); those already approved are counted and
        left alone; anything else refuses the whole request (400)."""
        data = InstalmentApproveInput(data=request.data)
        data.is_valid(raise_exception=True)
        ids = set(data.validated_data["ids"])
        approved = services_finance.instalments_approve(
            actor=cast(User, request.user), instalment_ids=ids, note=data.validated_data["note"]
        )
        return Response({"approved": approved, "already_approved": len(ids) - approved})


# --------------------------------------------------------------------------- payment runs


class PaymentRunFilter(StrictFilterSet):
    state = django_filters.ChoiceFilter(choices=PaymentRunState.choices, label=_lazy("État"))
    fiscal_year = year_filter(field_name="fiscal_year", label=_lazy("Exercice"))

    class Meta:
        model = PaymentRun
        fields = ["state", "fiscal_year"]


class ItemStatusFilter(StrictFilterSet):
    status = django_filters.ChoiceFilter(
        choices=PaymentRunItem.Status.choices, label=_lazy("Statut du paiement")
    )

    class Meta:
        model = PaymentRunItem
        fields = ["status"]


FILE_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@extend_schema_view(
    list=extend_schema(
        summary=_lazy("Lots de paiement"),
        responses={200: PaymentRunSerializer(many=True), 403: R403},
    ),
    retrieve=extend_schema(
        summary=_lazy("Un lot de paiement"),
        responses={200: PaymentRunDetailSerializer, 403: R403, 404: R404},
    ),
    create=extend_schema(
        summary=_lazy("Préparer un lot de paiement"),
        description=_lazy(
            "Prend les échéances payables qui correspondent aux critères (ou celles choisies) ; "
            "celles qui sont exigibles sont liquidées au passage par vous. Une autre personne "
            "valide le lot."
        ),
        request=PaymentRunCreateInput,
        responses={201: PaymentRunCreatedSerializer, **WRITE_RESPONSES},
    ),
)
class PaymentRunViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet[PaymentRun],
):
    """Payment runs (lots de paiement): preparation, approvals (never by the creator; two above the
    configured total), export to the accounting system, items."""

    permission_classes = [FinanceAccess]
    serializer_class = PaymentRunSerializer
    filterset_class = PaymentRunFilter
    queryset = PaymentRun.objects.none()  # for the schema; get_queryset is what counts

    def get_queryset(self) -> QuerySet[PaymentRun]:
        qs = (
            PaymentRun.objects.select_related("created_by", "exported_by")
            .annotate(approvals_given=Count("approvals", filter=Q(approvals__is_valid=True)))
            .order_by("-created_at", "-id")
        )
        if self.action not in ("list", "items", "file"):
            qs = qs.prefetch_related(
                Prefetch(
                    "approvals",
                    queryset=PaymentRunApproval.objects.select_related("user").order_by(
                        "created_at", "pk"
                    ),
                )
            )
        return qs

    def get_serializer_class(self) -> type[BaseSerializer[Any]]:
        return PaymentRunSerializer if self.action == "list" else PaymentRunDetailSerializer

    def perform_content_negotiation(
        self, request: Request, force: bool = False
    ) -> tuple[BaseRenderer, str]:
        # `?format=csv|xlsx` names the stored file to serve, not a renderer: errors stay JSON.
        if self.action == "file":
            renderer = JSONRenderer()
            return renderer, renderer.media_type
        return super().perform_content_negotiation(request, force)

    def _context(self, run: PaymentRun) -> dict[str, Any]:
        refusal = None
        if run.state == RS.DRAFT and has_role(cast(User, self.request.user), Role.FINANCE_OFFICER):
            refusal = services_finance.approval_refusal(cast(User, self.request.user), run)
        return {"request": self.request, "approval_refusal": refusal}

    def _detail(
        self, run: PaymentRun, *, serializer: type = PaymentRunDetailSerializer, **extra: Any
    ) -> dict[str, Any]:
        """The run as it is now (re-read: the services change it under a lock)."""
        fresh = self.get_queryset().get(pk=run.pk)
        for name, value in extra.items():
            setattr(fresh, name, value)
        return cast(dict[str, Any], serializer(fresh, context=self._context(fresh)).data)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        run = self.get_object()
        return Response(PaymentRunDetailSerializer(run, context=self._context(run)).data)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = PaymentRunCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        ids = values.get("instalment_ids")
        run = services_finance.payment_run_create(
            actor=cast(User, request.user),
            criteria=dict(values["criteria"]) if "criteria" in values else None,
            instalment_ids=ids,
            fiscal_year=values.get("fiscal_year"),
            label=values["label"],
        )
        not_included: list[int] = []
        if ids is not None:
            taken = set(run.items.values_list("instalment_id", flat=True))
            not_included = sorted(set(ids) - taken)
        body = self._detail(
            run,
            serializer=PaymentRunCreatedSerializer,
            without_bank_details=getattr(run, "without_bank_details", 0),
            not_included=not_included,
        )
        return Response(body, status=status.HTTP_201_CREATED)

    def _act(self, run: PaymentRun, operation: Callable[[], PaymentRun]) -> Response:
        """Run a service; a refusal because of the run's state lists what is possible now."""
        try:
            run = operation()
        except TransitionNotAllowed as exc:
            if not exc.allowed:
                exc.allowed = run_actions(PaymentRun.objects.get(pk=run.pk))
            raise
        return Response(self._detail(run))

    @extend_schema(
        summary=_lazy("Valider un lot"),
        description=_lazy(
            "Pas par la personne qui l'a préparé, ni par celle qui a modifié les coordonnées "
            "bancaires d'un compte payé ; au-delà du seuil, deux personnes différentes."
        ),
        request=FinanceNoInput,
        responses={200: PaymentRunDetailSerializer, **WRITE_RESPONSES},
    )
    @action(detail=True, methods=["post"], filterset_class=None)
    def approve(self, request: Request, pk: str | None = None) -> Response:
        run = self.get_object()
        return self._act(
            run,
            lambda: services_finance.payment_run_approve(actor=cast(User, request.user), run=run),
        )

    @extend_schema(
        summary=_lazy("Retirer des paiements d'un lot en préparation"),
        request=RemoveItemsInput,
        responses={200: PaymentRunDetailSerializer, **WRITE_RESPONSES},
    )
    @action(detail=True, methods=["post"], url_path="remove-items", filterset_class=None)
    def remove_items(self, request: Request, pk: str | None = None) -> Response:
        run = self.get_object()
        data = RemoveItemsInput(data=request.data)
        data.is_valid(raise_exception=True)
        ids = set(data.validated_data["item_ids"])
        return self._act(
            run,
            lambda: services_finance.payment_run_remove_items(
                actor=cast(User, request.user),
                run=run,
                item_ids=ids,
                reason=data.validated_data["reason"],
            ),
        )

    @extend_schema(
        summary=_lazy("Abandonner un lot non transmis"),
        request=RunCancelInput,
        responses={200: PaymentRunDetailSerializer, **WRITE_RESPONSES},
    )
    @action(detail=True, methods=["post"], filterset_class=None)
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        run = self.get_object()
        data = RunCancelInput(data=request.data)
        data.is_valid(raise_exception=True)
        return self._act(
            run,
            lambda: services_finance.payment_run_cancel(
                actor=cast(User, request.user), run=run, reason=data.validated_data["reason"]
            ),
        )

    @extend_schema(
        summary=_lazy("Transmettre un lot validé à la comptabilité"),
        description=_lazy(
            "Écrit une fois pour toutes les fichiers CSV et XLSX du lot. Refusé (400) si des "
            "coordonnées bancaires ont changé depuis la validation : le lot repart en validation. "
            "Refusé (409, code missing_ej, avec la liste) si des paiements n'ont pas de numéro "
            "d'engagement juridique, sauf avec ?allow_missing_ej=true."
        ),
        parameters=[ALLOW_MISSING_EJ_PARAMETER],
        request=FinanceNoInput,
        responses={
            200: PaymentRunDetailSerializer,
            **WRITE_RESPONSES,
            409: R409_MISSING_EJ,
        },
    )
    @action(detail=True, methods=["post"], filterset_class=None)
    def export(self, request: Request, pk: str | None = None) -> Response:
        run = self.get_object()
        flag = (request.query_params.get("allow_missing_ej") or "").strip().lower()
        if flag not in ("", "true", "false", "1", "0"):
            raise DomainError(_("allow_missing_ej vaut true ou false."), field="allow_missing_ej")
        try:
            return self._act(
                run,
                lambda: services_finance.payment_run_export(
                    actor=cast(User, request.user), run=run, allow_missing_ej=flag in ("true", "1")
                ),
            )
        except services_finance.MissingLegalCommitments as exc:
            body = MissingEjSerializer(
                {"detail": str(exc.message), "code": exc.code, "missing_ej": exc.items}
            ).data
            return Response(body, status=exc.status_code)

    @extend_schema(
        summary=_lazy("Fichier transmis à la comptabilité"),
        description=_lazy(
            "Le fichier écrit à l'export, identique à chaque téléchargement. Contient les "
            "coordonnées bancaires : service financier seulement."
        ),
        parameters=[FORMAT_PARAMETER],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY),
            (
                200,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ): OpenApiResponse(OpenApiTypes.BINARY),
            400: R400,
            403: R403,
            404: R404,
            409: R409,
        },
    )
    @action(detail=True, methods=["get"], filterset_class=None, pagination_class=None)
    def file(self, request: Request, pk: str | None = None) -> HttpResponseBase:
        if not sees_bank_details(request):
            raise PermissionDenied(
                _("Le fichier contient des coordonnées bancaires : réservé au service financier.")
            )
        run = self.get_object()
        fmt = request.query_params.get("format", "csv")
        if fmt not in FILE_TYPES and fmt != EXCEL_FR:
            raise DomainError(_("Format inconnu : csv, excel-fr ou xlsx."), field="format")
        stored = run.export_xlsx if fmt == "xlsx" else run.export_csv
        if not stored:
            raise TransitionNotAllowed(
                _("Le lot %(ref)s n'a pas encore été transmis à la comptabilité : pas de fichier.")
                % {"ref": run.reference},
                allowed=run_actions(run),
            )
        try:
            handle = stored.open("rb")
        except FileNotFoundError:
            raise NotFound(
                _("Le fichier de ce lot n'est plus disponible sur le serveur.")
            ) from None
        if fmt == EXCEL_FR:
            with handle:
                data = payment_run_csv(handle.read(), DIALECTS[EXCEL_FR])
            response: HttpResponseBase = HttpResponse(data, content_type=FILE_TYPES["csv"])
            response["Content-Disposition"] = f'attachment; filename="{run.reference}-excel.csv"'
        else:
            response = FileResponse(
                handle,
                as_attachment=True,
                filename=f"{run.reference}.{fmt}",
                content_type=FILE_TYPES[fmt],
            )
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, no-store"
        return response

    @extend_schema(
        summary=_lazy("Paiements du lot"),
        description=_lazy("IBAN et BIC : service financier seulement (null pour les autres)."),
        parameters=[
            OpenApiParameter(
                "status",
                OpenApiTypes.STR,
                OpenApiParameter.QUERY,
                enum=list(PaymentRunItem.Status.values),
                description=_lazy("Statut du paiement"),
            )
        ],
        responses={200: PaymentRunItemSerializer(many=True), 403: R403, 404: R404},
    )
    @action(detail=True, methods=["get"], filterset_class=None)
    def items(self, request: Request, pk: str | None = None) -> Response:
        run = self.get_object()
        items = run.items.order_by("pk")
        wanted = request.query_params.get("status")
        if wanted:
            if wanted not in PaymentRunItem.Status.values:
                raise DomainError(_("Statut inconnu."), field="status")
            items = items.filter(status=wanted)
        # The stubs expect this viewset's model (runs); these are the run's items.
        page = cast(
            "list[PaymentRunItem] | None",
            self.paginate_queryset(items),  # type: ignore[arg-type]
        )
        context = {"request": request, "bank_details": sees_bank_details(request)}
        data = PaymentRunItemSerializer(page, many=True, context=context).data
        return self.get_paginated_response(data)


# --------------------------------------------------------------------------- confirmations


@extend_schema_view(
    list=extend_schema(
        summary=_lazy("Retours de la comptabilité"),
        responses={200: PaymentConfirmationSerializer(many=True), 403: R403},
    ),
    retrieve=extend_schema(
        summary=_lazy("Un retour de la comptabilité et son compte rendu"),
        responses={200: PaymentConfirmationSerializer, 403: R403, 404: R404},
    ),
    create=extend_schema(
        summary=_lazy("Déposer un retour de la comptabilité (vérification à blanc)"),
        description=_lazy(
            "Lit et vérifie tout le fichier sans rien payer. 201 : fichier valide, avec ce que "
            "son application ferait. 400 : erreurs par ligne et colonne (`line_errors`) ; rien "
            "ne sera appliqué."
        ),
        request={"multipart/form-data": ConfirmationUploadInput},
        responses={
            201: PaymentConfirmationSerializer,
            400: OpenApiResponse(
                # Either body: a file with line errors (`ConfirmationRejected`, code
                # `invalid_file`) or a refusal before reading it (`Error`: format, size).
                PolymorphicProxySerializer(
                    component_name="ConfirmationUploadError",
                    serializers=[ConfirmationRejectedSerializer, ErrorSerializer],
                    resource_type_field_name=None,
                ),
                description=_lazy(
                    "Fichier refusé : erreurs par ligne (`ConfirmationRejected`), ou refusé avant "
                    "lecture (format, taille : `Error`)."
                ),
            ),
            403: R403,
        },
    ),
)
class PaymentConfirmationViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet[PaymentConfirmation],
):
    """Confirmation files returned by the accounting system: dry run first, then applied in the
    background (idempotent: the same file twice pays nothing twice)."""

    permission_classes = [FinanceAccess]
    serializer_class = PaymentConfirmationSerializer
    queryset = PaymentConfirmation.objects.none()

    def get_queryset(self) -> QuerySet[PaymentConfirmation]:
        return PaymentConfirmation.objects.select_related("uploaded_by").order_by(
            "-created_at", "-id"
        )

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = ConfirmationUploadInput(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        name = upload.name or "retour.csv"
        if upload.size > settings.UPLOAD_MAX_BYTES:
            raise DomainError(
                _("Le fichier dépasse la taille maximale de %(max)s Mo.")
                % {"max": settings.UPLOAD_MAX_BYTES // (1024 * 1024)},
                field="file",
            )
        if name.rsplit(".", 1)[-1].lower() not in CONFIRMATION_EXTENSIONS:
            raise DomainError(
                _("Format refusé : déposez un fichier CSV ou XLSX."),
                field="file",
            )
        confirmation = confirmations.confirmation_check(
            actor=cast(User, request.user), data=upload.read(), name=name
        )
        context = {"request": request}
        if confirmation.state == PaymentConfirmation.State.INVALID:
            return Response(
                ConfirmationRejectedSerializer(confirmation, context=context).data,
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response(
            PaymentConfirmationSerializer(confirmation, context=context).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        summary=_lazy("Appliquer un retour vérifié"),
        description=_lazy(
            "Lance une tâche de fond qui applique le fichier par paquets de 2 000 lignes ; "
            "suivez-la à l'adresse `url` (JSON)."
        ),
        request=FinanceNoInput,
        responses={202: JobStartedSerializer, **WRITE_RESPONSES},
    )
    @action(detail=True, methods=["post"])
    def apply(self, request: Request, pk: str | None = None) -> Response:
        confirmation = self.get_object()
        job = confirmations.confirmation_apply(
            actor=cast(User, request.user), confirmation=confirmation
        )
        job = BackgroundJob.objects.get(pk=job.pk)
        url = reverse("core:job_detail", args=[job.pk]) + "?format=json"
        return Response(
            {
                "job": job.pk,
                "state": job.state,
                "url": request.build_absolute_uri(url),
                "confirmation": confirmation.pk,
            },
            status=status.HTTP_202_ACCEPTED,
        )


# --------------------------------------------------------------------------- fiscal years

YEAR_PARAMETER = OpenApiParameter(
    "year", OpenApiTypes.INT, OpenApiParameter.PATH, description=_lazy("Exercice (année civile)")
)


class FiscalYearViewSet(viewsets.ViewSet):
    """Fiscal years: what remains on each, and their closing (every unpaid instalment charged to
    the year carried to the next one or cancelled, explicitly; no run left open)."""

    permission_classes = [FinanceAccess]
    lookup_field = "year"
    lookup_value_regex = r"\d{4}"

    @extend_schema(
        summary=_lazy("Exercices budgétaires"),
        responses={200: FiscalYearSerializer(many=True), 403: R403},
    )
    def list(self, request: Request) -> Response:
        return Response(FiscalYearSerializer(fiscal_years_overview(), many=True).data)

    @extend_schema(
        summary=_lazy("Un exercice budgétaire"),
        parameters=[YEAR_PARAMETER],
        responses={200: FiscalYearSerializer, 403: R403},
    )
    def retrieve(self, request: Request, year: str | None = None) -> Response:
        return Response(FiscalYearSerializer(fiscal_years_overview(int(cast(str, year)))[0]).data)

    @extend_schema(
        summary=_lazy("Clore un exercice"),
        description=_lazy(
            "Chaque échéance non payée imputée sur l'exercice doit être reportée (`carry_ids`) "
            "ou annulée (`cancel_ids`) ; aucun lot de l'exercice ne doit rester ouvert. Tout ou "
            "rien."
        ),
        parameters=[YEAR_PARAMETER],
        request=FiscalYearCloseInput,
        responses={200: FiscalYearSerializer, **WRITE_RESPONSES},
    )
    @action(detail=True, methods=["post"])
    def close(self, request: Request, year: str | None = None) -> Response:
        data = FiscalYearCloseInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        services_finance.fiscal_year_close(
            actor=cast(User, request.user),
            year=int(cast(str, year)),
            carry_ids=values["carry_ids"],
            cancel_ids=values["cancel_ids"],
            note=values["note"],
        )
        return Response(FiscalYearSerializer(fiscal_years_overview(int(cast(str, year)))[0]).data)


# --------------------------------------------------------------------------- the association's


class MyPaymentFilter(StrictFilterSet):
    agreement = StrictIntegerFilter(field_name="agreement", label=_lazy("Convention (identifiant)"))
    fiscal_year = year_filter(field_name="year__fiscal_year", label=_lazy("Exercice"))
    stage = django_filters.ChoiceFilter(
        choices=PaymentStage.choices, method="filter_stage", label=_lazy("Étape")
    )

    class Meta:
        model = Instalment
        fields = ["agreement", "fiscal_year", "stage"]

    def filter_stage(
        self, queryset: QuerySet[Instalment], name: str, value: str
    ) -> QuerySet[Instalment]:
        return queryset.filter(state__in=STATES_OF_STAGE[value])


@extend_schema_view(
    list=extend_schema(
        summary=_lazy("Mes paiements (association)"),
        description=_lazy(
            "Les échéances des conventions de vos organisations : prévues, exigibles, "
            "suspendues (et pourquoi), en cours de paiement, payées (et quand)."
        ),
        responses={200: MyPaymentSerializer(many=True)},
    ),
    retrieve=extend_schema(
        summary=_lazy("Une de mes échéances"), responses={200: MyPaymentSerializer, 404: R404}
    ),
)
class MyPaymentViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Instalment]
):
    """The instalments of the user's organisations, read-only; another organisation's is a 404."""

    permission_classes = [IsAuthenticated]
    serializer_class = MyPaymentSerializer
    filterset_class = MyPaymentFilter
    queryset = Instalment.objects.none()

    def get_queryset(self) -> QuerySet[Instalment]:
        return my_instalments(cast(User, self.request.user))


def register(router: BaseRouter) -> None:
    """Register this module's viewsets on the API router (config/api_urls.py)."""
    router.register("finance/instalments", FinanceInstalmentViewSet, basename="finance-instalment")
    router.register("finance/runs", PaymentRunViewSet, basename="finance-run")
    router.register(
        "finance/confirmations", PaymentConfirmationViewSet, basename="finance-confirmation"
    )
    router.register("finance/fiscal-years", FiscalYearViewSet, basename="finance-fiscal-year")
    router.register("my-payments", MyPaymentViewSet, basename="my-payment")
