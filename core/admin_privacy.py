"""Admin of personal data: the declared retention rules and their daily runs, erasure requests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _

from .errors import DomainError
from .models import ErasureRequest, RetentionRun, User
from .privacy.retention import rules
from .privacy.services import erasure_request_create, erasure_request_process

if TYPE_CHECKING:
    _RunAdmin = admin.ModelAdmin[RetentionRun]
    _RequestAdmin = admin.ModelAdmin[ErasureRequest]
    _AnyAdmin = admin.ModelAdmin[Any]
else:  # ModelAdmin is not subscriptable at run time
    _RunAdmin = _RequestAdmin = _AnyAdmin = admin.ModelAdmin


@admin.register(RetentionRun)
class RetentionRunAdmin(_RunAdmin):
    """The list page shows the declared rules (core.privacy.retention) above the daily runs."""

    list_display = ["started_at", "results"]
    readonly_fields = ["started_at", "results"]
    change_list_template = "admin/core/retentionrun/change_list.html"

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra_context = {**(extra_context or {}), "retention_rules": rules()}
        return super().changelist_view(request, extra_context=extra_context)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ErasureRequest)
class ErasureRequestAdmin(_RequestAdmin):
    list_display = ["pk", "person", "state", "created_at", "processed_at"]
    list_filter = ["state"]
    fields = ["person", "reason", "state", "refusal_reason", "outcome", "requested_by"]
    readonly_fields = ["state", "refusal_reason", "outcome", "requested_by"]
    raw_id_fields = ["person"]
    actions = ["process"]

    def save_model(
        self, request: HttpRequest, obj: ErasureRequest, form: Any, change: bool
    ) -> None:
        if change:
            return  # a request is never edited: processed or refused through the action
        created = erasure_request_create(
            actor=cast(User, request.user), person=obj.person, reason=obj.reason
        )
        obj.pk = created.pk

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description=_("Traiter les demandes sélectionnées (effacer ou refuser)"))
    def process(self, request: HttpRequest, queryset: QuerySet[ErasureRequest]) -> None:
        for item in queryset:
            try:
                done = erasure_request_process(actor=cast(User, request.user), request=item)
            except DomainError as exc:
                self.message_user(request, f"#{item.pk} : {exc.message}", messages.ERROR)
                continue
            if done.state == ErasureRequest.State.REFUSED:
                self.message_user(
                    request,
                    f"#{item.pk} : {_('refusée')} — {done.refusal_reason}",
                    messages.WARNING,
                )
            else:
                self.message_user(request, f"#{item.pk} : {_('effectuée')}", messages.SUCCESS)


@admin.action(description=_("Exporter les données personnelles (au nom de la personne)"))
def export_personal_data(
    modeladmin: _AnyAdmin, request: HttpRequest, queryset: QuerySet[Any]
) -> None:
    """An administrator prepares a person's export on their behalf; the file is the
    administrator's job (core:jobs), to hand over to the person."""
    from .privacy.export import personal_data_export_start

    for person in queryset:
        job = personal_data_export_start(actor=cast(User, request.user), person=person)
        modeladmin.message_user(
            request, _("Export lancé : tâche n° %(pk)s (Mon compte → tâches).") % {"pk": job.pk}
        )


def _add_user_action() -> None:
    user_admin = admin.site._registry.get(User)
    if user_admin is not None and export_personal_data not in (user_admin.actions or []):
        user_admin.actions = [*(user_admin.actions or []), export_personal_data]


_add_user_action()
