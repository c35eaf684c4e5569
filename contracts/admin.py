"""Admin of city contracts. States change only through the services (the FSM fields are
protected and read-only here); the admin is for looking and for light corrections."""

from django.contrib import admin

from .models import (
    Commitment,
    Contract,
    ContractMember,
    ContractVersion,
    Decision,
    Indicator,
    IndicatorValue,
    Meeting,
    Opinion,
    Part,
    Signatory,
)


class PartInline(admin.TabularInline):
    model = Part
    extra = 0
    fields = ["position", "kind", "title", "pillar", "theme"]


class SignatoryInline(admin.TabularInline):
    model = Signatory
    extra = 0
    fields = ["name", "role", "funder", "signed_by"]


class VersionInline(admin.TabularInline):
    model = ContractVersion
    extra = 0
    can_delete = False
    fields = ("number", "reason", "effective_on", "author", "created_at")
    readonly_fields = fields


@admin.register(Contract)
class ContractAdmin(admin.ModelAdmin):
    list_display = ["name", "epci_name", "first_year", "last_year", "state", "version"]
    list_filter = ["state"]
    search_fields = ["name", "epci_name"]
    readonly_fields = ["state", "version", "signed_on", "created_at"]
    filter_horizontal = ["qpvs"]
    inlines = [PartInline, SignatoryInline, VersionInline]


@admin.register(Part)
class PartAdmin(admin.ModelAdmin):
    list_display = ["title", "contract", "kind", "position"]
    list_filter = ["kind"]
    filter_horizontal = ["programmes"]
    list_select_related = ["contract"]


@admin.register(ContractMember)
class ContractMemberAdmin(admin.ModelAdmin):
    list_display = ["user", "contract", "role", "signatory", "qpv"]
    list_filter = ["role"]
    search_fields = ["user__email"]
    list_select_related = ["user", "contract", "signatory", "qpv"]


@admin.register(Commitment)
class CommitmentAdmin(admin.ModelAdmin):
    list_display = ["contract", "signatory", "part", "year", "kind", "amount", "reported_at"]
    list_filter = ["kind", "year"]
    list_select_related = ["contract", "signatory", "part"]


class DecisionInline(admin.TabularInline):
    model = Decision
    extra = 0
    can_delete = False
    fields = ("kind", "text", "from_programme", "to_programme", "amount", "recorded_by")
    readonly_fields = fields


@admin.register(Meeting)
class MeetingAdmin(admin.ModelAdmin):
    list_display = ["contract", "kind", "held_on", "state"]
    list_filter = ["kind", "state"]
    readonly_fields = ["state"]
    inlines = [DecisionInline]


class IndicatorValueInline(admin.TabularInline):
    model = IndicatorValue
    extra = 0


@admin.register(Indicator)
class IndicatorAdmin(admin.ModelAdmin):
    list_display = ["code", "label", "contract", "part", "qpv", "target", "target_year"]
    search_fields = ["code", "label"]
    list_select_related = ["contract", "part", "qpv"]
    inlines = [IndicatorValueInline]


@admin.register(Opinion)
class OpinionAdmin(admin.ModelAdmin):
    list_display = ["contract", "qpv", "part", "year", "assessment", "author"]
    list_filter = ["assessment", "year"]
    list_select_related = ["contract", "qpv", "part", "author"]
