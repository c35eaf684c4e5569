"""Django admin: reference data, users and roles, organisations, and the read-only audit log.

Bank details and documents are changed through the application (core.services) so the change is
checked and audited; the admin shows them read-only.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from .models import (
    QPV,
    AuditLog,
    BudgetLine,
    Funder,
    Invitation,
    Membership,
    Organisation,
    OrganisationDocument,
    Pillar,
    RoleAssignment,
    TransitionTheme,
    User,
)

admin.site.site_header = _("Administration de Pluriel")
admin.site.site_title = _("Pluriel")
admin.site.index_title = _("Données de référence et comptes")


# --------------------------------------------------------------------------- reference data


@admin.register(QPV)
class QPVAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "commune_name", "commune_insee"]
    search_fields = ["code", "name", "commune_name", "commune_insee"]
    list_filter = ["commune_name"]


@admin.register(Funder)
class FunderAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "siret"]
    list_filter = ["kind"]
    search_fields = ["name", "siret"]


@admin.register(Pillar)
class PillarAdmin(admin.ModelAdmin):
    list_display = ["label", "code"]
    search_fields = ["label", "code"]


@admin.register(TransitionTheme)
class TransitionThemeAdmin(admin.ModelAdmin):
    list_display = ["label", "code"]
    search_fields = ["label", "code"]


@admin.register(BudgetLine)
class BudgetLineAdmin(admin.ModelAdmin):
    list_display = ["code", "label", "funder"]
    list_filter = ["funder"]
    search_fields = ["code", "label"]
    autocomplete_fields = ["funder"]


# --------------------------------------------------------------------------- users and roles


class RoleAssignmentInline(admin.TabularInline):
    model = RoleAssignment
    extra = 0
    fields = ["role", "calls_only", "territories", "funder", "can_sign"]
    filter_horizontal = ["territories"]
    autocomplete_fields = ["funder"]


class MembershipOfUserInline(admin.TabularInline):
    model = Membership
    fk_name = "user"
    extra = 0
    fields = ["organisation", "is_admin", "can_sign"]
    autocomplete_fields = ["organisation"]
    verbose_name_plural = _("organisations")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["last_name", "first_name", "email"]
    list_display = [
        "email",
        "first_name",
        "last_name",
        "is_active",
        "email_verified_at",
        "is_staff",
        "last_login",
    ]
    list_filter = ["is_active", "is_staff", "is_superuser", "role_assignments__role"]
    search_fields = ["email", "first_name", "last_name"]
    readonly_fields = ["last_login", "date_joined", "email_verified_at"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Identité"), {"fields": ("first_name", "last_name")}),
        (_("Accès"), {"fields": ("is_active", "email_verified_at", "is_staff", "is_superuser")}),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    inlines = [RoleAssignmentInline, MembershipOfUserInline]


# --------------------------------------------------------------------------- organisations


class MembershipInline(admin.TabularInline):
    model = Membership
    fk_name = "organisation"
    extra = 0
    fields = ["user", "is_admin", "can_sign", "created_at"]
    readonly_fields = ["created_at"]
    autocomplete_fields = ["user"]


class DocumentInline(admin.TabularInline):
    model = OrganisationDocument
    extra = 0
    fields = ["kind", "title", "original_name", "size", "valid_until", "uploaded_by", "uploaded_at"]
    readonly_fields = fields  # type: ignore[assignment]  # the stubs widen `fields` to fieldsets
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "siret", "rna", "legal_form", "city", "created_at"]
    list_filter = ["legal_form"]
    search_fields = ["name", "siret", "rna", "city"]
    # Bank details change only through organisation_set_bank_details (checked, audited, notified).
    readonly_fields = [
        "iban",
        "bic",
        "bank_details_changed_at",
        "bank_details_changed_by",
        "created_at",
    ]
    inlines = [MembershipInline, DocumentInline]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "organisation", "role", "invited_by", "expires_at", "accepted_at"]
    list_filter = ["role"]
    search_fields = ["email", "organisation__name"]
    readonly_fields = [
        "token",
        "email",
        "role",
        "organisation",
        "invited_by",
        "expires_at",
        "accepted_at",
        "created_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # invitations are sent from the application (core.services)


# --------------------------------------------------------------------------- audit


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    """The audit trail is evidence: readable, never added to, changed or deleted."""

    list_display = ["created_at", "action", "object_repr", "actor", "source_state", "target_state"]
    list_filter = ["action", "content_type"]
    search_fields = ["object_repr", "action", "reason", "actor__email"]
    date_hierarchy = "created_at"
    list_select_related = ["actor", "content_type"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# Admin classes kept in their own modules: retention rules and erasure requests, personal API tokens.
from . import admin_privacy, admin_security  # noqa: E402, F401
