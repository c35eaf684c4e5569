"""Admin of agreements: read-mostly. States move through the services only (FSM fields are
protected), so the admin shows them without letting anyone edit them."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import (
    Agreement,
    AgreementFunder,
    AgreementYear,
    Amendment,
    Evaluation,
    Instalment,
    Recovery,
)
from .models_signatures import FunderCertificate, SignatureRequest


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class FunderInline(ReadOnlyInline):
    model = AgreementFunder
    fields = ["funder", "share", "ej_number"]
    readonly_fields = ["funder", "share", "ej_number"]


class YearInline(ReadOnlyInline):
    model = AgreementYear
    fields = ["fiscal_year", "amount"]
    readonly_fields = ["fiscal_year", "amount"]


@admin.register(Agreement)
class AgreementAdmin(admin.ModelAdmin):
    list_display = [
        "reference",
        "organisation",
        "programme",
        "kind",
        "state",
        "first_year",
        "duration_years",
        "total_amount",
    ]
    list_filter = ["state", "kind", "programme"]
    search_fields = ["reference", "title", "organisation__name", "organisation__siret"]
    readonly_fields = [f.name for f in Agreement._meta.fields]
    inlines = [FunderInline, YearInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # created from an approved application (cpo.services)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Instalment)
class InstalmentAdmin(admin.ModelAdmin):
    list_display = [
        "agreement",
        "year",
        "number",
        "kind",
        "amount",
        "earliest_date",
        "state",
        "is_late",
    ]
    list_filter = ["state", "kind", "is_late"]
    search_fields = ["agreement__reference"]
    readonly_fields = [f.name for f in Instalment._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Evaluation)
class EvaluationAdmin(admin.ModelAdmin):
    list_display = ["agreement", "fiscal_year", "due_on", "state", "is_overdue", "is_final"]
    list_filter = ["state", "is_overdue", "is_final"]
    search_fields = ["agreement__reference"]
    readonly_fields = [f.name for f in Evaluation._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Amendment)
class AmendmentAdmin(admin.ModelAdmin):
    list_display = ["agreement", "version", "effective_on", "author", "created_at"]
    search_fields = ["agreement__reference"]
    readonly_fields = [f.name for f in Amendment._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Recovery)
class RecoveryAdmin(admin.ModelAdmin):
    list_display = ["agreement", "fiscal_year", "amount", "state", "created_at"]
    list_filter = ["state"]
    search_fields = ["agreement__reference"]
    readonly_fields = [f.name for f in Recovery._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(FunderCertificate)
class FunderCertificateAdmin(admin.ModelAdmin):
    """Which PKCS#12 file each funder signs with; the passphrase stays in the environment."""

    list_display = ["funder", "pkcs12_path", "passphrase_key"]
    search_fields = ["funder__name"]
    autocomplete_fields = ["funder"]


@admin.register(SignatureRequest)
class SignatureRequestAdmin(admin.ModelAdmin):
    """Read only: signatures move through cpo/signatures/services.py."""

    list_display = ["agreement", "document_kind", "state", "created_at", "completed_at"]
    list_filter = ["state", "document_kind"]
    search_fields = ["agreement__reference"]
    readonly_fields = [f.name for f in SignatureRequest._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
