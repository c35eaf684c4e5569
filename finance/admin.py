"""Admin of the payment side: read-only. Runs, approvals and confirmation files move through the
services only (finance.services, finance.confirmations), so the admin shows them and nothing more."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from .models import FiscalYear, PaymentConfirmation, PaymentRun, PaymentRunApproval, PaymentRunItem


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(FiscalYear)
class FiscalYearAdmin(ReadOnlyAdmin):
    list_display = ["year", "closed_at", "closed_by"]


@admin.register(PaymentRun)
class PaymentRunAdmin(ReadOnlyAdmin):
    list_display = ["reference", "fiscal_year", "state", "item_count", "total", "created_at"]
    list_filter = ["state", "fiscal_year"]
    search_fields = ["reference", "label"]


@admin.register(PaymentRunItem)
class PaymentRunItemAdmin(ReadOnlyAdmin):
    list_display = ["run", "instalment_reference", "beneficiary_name", "amount", "status"]
    list_filter = ["status"]
    search_fields = ["instalment_reference", "agreement_reference", "beneficiary_name", "siret"]
    list_select_related = ["run"]


@admin.register(PaymentRunApproval)
class PaymentRunApprovalAdmin(ReadOnlyAdmin):
    list_display = ["run", "user", "total", "item_count", "is_valid", "created_at"]
    list_select_related = ["run", "user"]


@admin.register(PaymentConfirmation)
class PaymentConfirmationAdmin(ReadOnlyAdmin):
    list_display = ["original_name", "state", "row_count", "uploaded_by", "created_at"]
    list_filter = ["state"]
