"""Admin of applications (read-mostly), committee sessions and assignment rules.

An application changes only through grants.services (state, amounts, decisions are audited there):
the admin shows it read-only and never adds or deletes one."""

from django.contrib import admin

from .models import (
    Application,
    AssignmentRule,
    BudgetItem,
    BudgetRevision,
    CommitteeSession,
    CompletionRequest,
    FunderPart,
    Indicator,
    Objective,
)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class ObjectiveInline(ReadOnlyInline):
    model = Objective
    fields = ["text"]


class IndicatorInline(ReadOnlyInline):
    model = Indicator
    fields = ["label", "unit", "target"]


class BudgetItemInline(ReadOnlyInline):
    model = BudgetItem
    fields = ["account", "subsidy_source", "funder", "label", "amount"]


class CompletionRequestInline(ReadOnlyInline):
    model = CompletionRequest
    fields = ["message", "deadline", "answer", "answered_at", "is_overdue"]


@admin.register(Application)
class ApplicationAdmin(admin.ModelAdmin):
    list_display = [
        "reference",
        "title",
        "organisation",
        "call",
        "state",
        "requested_amount",
        "approved_amount",
        "assigned_to",
        "submitted_at",
    ]
    list_filter = ["state", "kind", "programme__fiscal_year", "call"]
    search_fields = ["reference", "title", "organisation__name", "organisation__siret"]
    list_select_related = ["organisation", "call", "assigned_to"]
    date_hierarchy = "submitted_at"
    inlines = [ObjectiveInline, IndicatorInline, BudgetItemInline, CompletionRequestInline]

    def get_readonly_fields(self, request, obj=None):
        return [
            f.name for f in self.model._meta.get_fields() if f.concrete and not f.auto_created
        ] + ["created_at", "updated_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(CommitteeSession)
class CommitteeSessionAdmin(admin.ModelAdmin):
    list_display = ["title", "date", "programme", "call", "state"]
    list_filter = ["state", "programme"]
    search_fields = ["title"]
    filter_horizontal = ["members"]
    # Opening (attendance, quorum) and closing go through grants.services.committee, audited.
    readonly_fields = ["state", "chair", "present", "opened_at", "closed_at"]

    def get_readonly_fields(self, request, obj=None):  # type: ignore[no-untyped-def]
        return self.readonly_fields if obj is not None else ["state", "opened_at", "closed_at"]

    def get_exclude(self, request, obj=None):  # type: ignore[no-untyped-def]
        return None if obj is not None else ["present"]

    list_select_related = ["programme", "call"]


@admin.register(AssignmentRule)
class AssignmentRuleAdmin(admin.ModelAdmin):
    list_display = ["priority", "call", "qpv", "pillar", "instructor"]
    list_filter = ["call"]
    list_select_related = ["call", "qpv", "pillar", "instructor"]


@admin.register(FunderPart)
class FunderPartAdmin(admin.ModelAdmin):
    """Read only: a part moves through grants.services.cofunding (audited)."""

    list_display = ["application", "funder", "state", "requested_amount", "decided_amount"]
    list_filter = ["state", "funder"]
    search_fields = ["application__reference", "funder__name"]
    readonly_fields = [f.name for f in FunderPart._meta.fields]

    def has_add_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(BudgetRevision)
class BudgetRevisionAdmin(admin.ModelAdmin):
    """Read only: answered by the applicant through grants.services.budget_revision (audited)."""

    list_display = ["application", "state", "granted_total", "asked_total", "requested_at"]
    list_filter = ["state"]
    readonly_fields = [f.name for f in BudgetRevision._meta.fields]

    def has_add_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False
