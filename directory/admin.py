"""Admin of the directory: for looking. Profiles are changed by the organisation's administrator
and sheets move through directory.services (audited), so both are read-only here."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import ActorProfile, ExperienceSheet


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ActorProfile)
class ActorProfileAdmin(ReadOnlyAdmin):
    list_display = ["organisation", "is_listed", "contact_consent", "listed_at", "updated_at"]
    list_filter = ["is_listed", "contact_consent"]
    search_fields = ["organisation__name"]


@admin.register(ExperienceSheet)
class ExperienceSheetAdmin(ReadOnlyAdmin):
    list_display = ["title", "organisation", "year", "funding_kind", "state", "published_at"]
    list_filter = ["state", "funding_kind", "year"]
    search_fields = ["title", "organisation__name"]
