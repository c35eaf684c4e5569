"""API of the electronic signature (cpo/signatures/services.py): the signatures of the agreements
the user may see, asking for the e-mailed code, signing, and downloading the signed PDF (validated
again). The permission is checked before the body is read; a refusal is 400/403/409 with its
reason (core.api.exception_handler)."""

from __future__ import annotations

from typing import Any, cast

from django.db.models import QuerySet
from django.http import HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api_views import R400, R403, R404, R409
from core.auth import client_ip
from core.errors import PermissionDenied
from core.models import User

from .models_signatures import Signature, SignatureParty
from .selectors import agreements_visible_to
from .signatures import services as signing

WRITE_RESPONSES = {400: R400, 403: R403, 404: R404, 409: R409}


class SignatureSerializer(serializers.ModelSerializer[Signature]):
    agreement = serializers.IntegerField(source="request.agreement_id", read_only=True)
    request_state = serializers.CharField(source="request.state", read_only=True)
    document_kind = serializers.CharField(source="request.document_kind", read_only=True)
    document_sha256 = serializers.CharField(source="request.document_sha256", read_only=True)
    signer = serializers.EmailField(source="signer.email", read_only=True, default=None)

    class Meta:
        model = Signature
        fields = [
            "id",
            "agreement",
            "request",
            "request_state",
            "document_kind",
            "document_sha256",
            "position",
            "party",
            "funder",
            "state",
            "signer",
            "signed_at",
            "hash_before",
            "hash_after",
        ]
        read_only_fields = fields


class SignInput(serializers.Serializer[Any]):
    code = serializers.CharField(max_length=20, required=False, allow_blank=True)


class SignatureViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Signature]
):
    """The signatures required by the documents of the agreements the user may see."""

    serializer_class = SignatureSerializer
    queryset = Signature.objects.none()  # for the schema; get_queryset is what counts

    def get_queryset(self) -> QuerySet[Signature]:
        visible = agreements_visible_to(cast(User, self.request.user)).values("pk")
        return (
            Signature.objects.filter(request__agreement_id__in=visible)
            .select_related("request", "signer")
            .order_by("-request__created_at", "request_id", "position")
        )

    @extend_schema(
        summary=_lazy("Recevoir le code de signature par e-mail"),
        request=None,
        responses={202: None, **WRITE_RESPONSES},
    )
    @action(detail=True, methods=["post"])
    def code(self, request: Request, pk: str | None = None) -> Response:
        signature = self.get_object()
        signing.signature_code_send(actor=cast(User, request.user), signature=signature)
        return Response(status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary=_lazy("Signer (avec le code pour l'association, le certificat pour un financeur)"),
        request=SignInput,
        responses={200: SignatureSerializer, **WRITE_RESPONSES},
    )
    @action(detail=True, methods=["post"])
    def sign(self, request: Request, pk: str | None = None) -> Response:
        signature = self.get_object()
        actor = cast(User, request.user)
        ip_address = client_ip(request._request)
        if signature.party == SignatureParty.ORGANISATION:
            # Permission before the body: a member without the power to sign learns nothing more.
            if not signing.can_sign_for_organisation(actor, signature.request.agreement):
                raise PermissionDenied(
                    _("Vous n'avez pas le pouvoir de signer pour cette association.")
                )
            data = SignInput(data=request.data)
            data.is_valid(raise_exception=True)
            signed = signing.signature_sign_with_code(
                actor=actor,
                signature=signature,
                code=data.validated_data.get("code", ""),
                ip_address=ip_address,
            )
        else:
            signed = signing.signature_sign_as_funder(
                actor=actor, signature=signature, ip_address=ip_address
            )
        return Response(SignatureSerializer(Signature.objects.get(pk=signed.pk)).data)

    @extend_schema(
        summary=_lazy("Document signé (PDF, vérifié avant envoi)"),
        responses={(200, "application/pdf"): bytes, 404: R404, 409: R409},
    )
    @action(detail=True, methods=["get"])
    def document(self, request: Request, pk: str | None = None) -> HttpResponse:
        signature = self.get_object()
        content = signing.signed_document_bytes(
            actor=cast(User, request.user), request=signature.request
        )
        response = HttpResponse(content, content_type="application/pdf")
        response["Content-Disposition"] = (
            f'attachment; filename="{signature.request.agreement.reference}-signee.pdf"'
        )
        response["Cache-Control"] = "private, no-store"
        return response
