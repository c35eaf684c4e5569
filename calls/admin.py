"""Admin of programmes, calls and scoring grids. A call's state changes only through its page
(calls.services.call_transition): the FSM field is protected, so it is read-only here."""

from django.contrib import admin

from .models import Call, Programme, ScoringCriterion


@admin.register(Programme)
class ProgrammeAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "fiscal_year",
        "envelope",
        "budget_line",
        "committee_quorum",
        "committee_decision_mode",
    ]
    list_filter = ["fiscal_year", "committee_decision_mode"]
    search_fields = ["name"]
    filter_horizontal = ["funders", "managers"]


class ScoringCriterionInline(admin.TabularInline):
    model = ScoringCriterion
    extra = 1
    fields = ["position", "label", "weight", "max_score"]


@admin.register(Call)
class CallAdmin(admin.ModelAdmin):
    list_display = ["title", "programme", "mode", "state", "opens_at", "closes_at", "envelope"]
    list_filter = ["mode", "state", "programme__fiscal_year"]
    search_fields = ["title", "programme__name"]
    readonly_fields = ["state", "created_at"]
    filter_horizontal = ["eligible_qpvs", "eligible_pillars", "instructors"]
    inlines = [ScoringCriterionInline]
    date_hierarchy = "opens_at"


@admin.register(ScoringCriterion)
class ScoringCriterionAdmin(admin.ModelAdmin):
    list_display = ["label", "call", "weight", "max_score", "position"]
    list_filter = ["call__programme"]
    search_fields = ["label", "call__title"]
    list_select_related = ["call"]
