"""Admin of personal API tokens: listed, revoked (never created here: the key is shown once, to
its owner, at /compte/securite/). Lockouts (django-axes) and devices (django-otp) have their own
admin pages."""

from __future__ import annotations

from typing import cast

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from .models import User
from .models_security import PersonalApiToken
from .twofactor import api_token_revoke


@admin.register(PersonalApiToken)
class PersonalApiTokenAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = [
        "name",
        "user",
        "hint",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    ]
    list_filter = ["revoked_at"]
    search_fields = ["name", "user__email", "hint"]
    readonly_fields = [
        "user",
        "name",
        "hint",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    ]
    exclude = ["digest"]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description=_("Révoquer les jetons sélectionnés"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[PersonalApiToken]) -> None:
        for token in queryset.select_related("user"):
            api_token_revoke(actor=cast(User, request.user), token=token)
        messages.success(request, _("Jetons révoqués."))
