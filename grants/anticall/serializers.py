"""API shapes of the anti-call: needs, candidacies (sourced structures), one input per candidacy
transition, coaching entries and deliverables. Serializers check formats only; every rule is in
calls.services (needs) and grants.anticall.services."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from calls.models import Call, Need
from core.clock import today
from core.limits import LONG_TEXT, SHORT_TEXT
from core.models import QPV, Funder, Organisation
from core.permissions import organisation_ids_of
from core.selectors import organisations_visible_to
from core.serializers import (
    REQUIRED,
    NamedChoiceField,
    StrictIntegerField,
    StrictModelSerializer,
    StrictPrimaryKeyRelatedField,
    UserSummarySerializer,
)

from ..models import Candidacy, CandidacyState, CoachingEntry, PrototypeDeliverable
from ..serializers import DATE_ERRORS, PK_ERRORS, money
from .selectors import anti_calls_visible_to, is_anticall_reader, needs_visible_to
from .services import candidacy_available_transitions, candidacy_transition_specs

INT_ERRORS = {**REQUIRED, "invalid": _("Saisissez un nombre entier.")}


def _staff(context: dict[str, Any]) -> bool:
    request = context.get("request")
    return request is not None and is_anticall_reader(request.user)


# --------------------------------------------------------------------------- needs


class NeedSerializer(StrictModelSerializer):
    """A need seen in a neighbourhood, with its state (recorded → published)."""

    state = NamedChoiceField(choices=Need.State.choices, enum_name="NeedStateEnum", read_only=True)
    state_label = serializers.CharField(source="get_state_display", read_only=True)
    call_title = serializers.CharField(source="call.title", read_only=True)
    qpv_code = serializers.CharField(source="qpv.code", read_only=True)
    qpv_name = serializers.CharField(source="qpv.name", read_only=True)
    recorded_by = UserSummarySerializer(read_only=True, allow_null=True)

    class Meta:
        model = Need
        fields = [
            "id",
            "call",
            "call_title",
            "qpv",
            "qpv_code",
            "qpv_name",
            "title",
            "description",
            "raised_by",
            "evidence",
            "state",
            "state_label",
            "recorded_by",
            "created_at",
            "published_at",
        ]
        read_only_fields = fields


class NeedCreateSerializer(serializers.Serializer):
    """A need to record on an anti-call (partners of the city contract, instructors, managers)."""

    call = StrictPrimaryKeyRelatedField(
        queryset=Call.objects.none(),
        error_messages={**PK_ERRORS, "does_not_exist": _("Anti-appel inconnu.")},
    )
    qpv = StrictPrimaryKeyRelatedField(
        queryset=QPV.objects.all(),
        error_messages={**PK_ERRORS, "does_not_exist": _("Quartier inconnu.")},
    )
    title = serializers.CharField(max_length=255, allow_blank=True, error_messages=REQUIRED)
    description = serializers.CharField(
        max_length=LONG_TEXT, allow_blank=True, error_messages=REQUIRED
    )
    raised_by = serializers.CharField(
        max_length=200,
        allow_blank=True,
        error_messages=REQUIRED,
        help_text=_("Partenaire ou acteur qui a fait remonter le besoin."),
    )
    evidence = serializers.CharField(
        max_length=LONG_TEXT, required=False, allow_blank=True, default=""
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["call"].queryset = anti_calls_visible_to(request.user)


# --------------------------------------------------------------------------- candidacies


class AvailableCandidacyTransitionSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    needs_reason = serializers.BooleanField()


class CandidacyListSerializer(StrictModelSerializer):
    """A sourced structure: an organisation on Pluriel, or one known only by name, SIRET or email.
    `why` and `sourced_by` are the team's: null for the structure."""

    state = NamedChoiceField(
        choices=CandidacyState.choices, enum_name="CandidacyStateEnum", read_only=True
    )
    state_label = serializers.CharField(source="get_state_display", read_only=True)
    display_name = serializers.CharField(read_only=True)
    need_title = serializers.CharField(source="need.title", read_only=True)
    call = StrictIntegerField(source="need.call_id", read_only=True)
    qpv = StrictIntegerField(source="need.qpv_id", read_only=True)
    organisation_name = serializers.CharField(
        source="organisation.name", read_only=True, default=None, allow_null=True
    )
    why = serializers.SerializerMethodField()
    sourced_by = serializers.SerializerMethodField()

    # Empty when the structure is an existing organisation: a string, not always an e-mail.
    prospect_email = serializers.CharField(read_only=True, allow_blank=True)

    class Meta:
        model = Candidacy
        fields = [
            "id",
            "need",
            "need_title",
            "call",
            "qpv",
            "organisation",
            "organisation_name",
            "display_name",
            "prospect_name",
            "prospect_siret",
            "prospect_email",
            "state",
            "state_label",
            "why",
            "sourced_by",
            "prototyping_days",
            "prototype_start",
            "prototype_deadline",
            "is_overdue",
            "reminder_sent_at",
            "funded_amount",
            "cofunder",
            "application",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_why(self, obj: Candidacy) -> str | None:
        return obj.why if _staff(self.context) else None

    @extend_schema_field(UserSummarySerializer(allow_null=True))
    def get_sourced_by(self, obj: Candidacy) -> dict[str, Any] | None:
        if not _staff(self.context) or obj.sourced_by is None:
            return None
        return UserSummarySerializer(obj.sourced_by).data


class CandidacyDetailSerializer(CandidacyListSerializer):
    """One candidacy with its outcome, the days left of its prototyping and the actions the
    requesting user may run now (`allowed_transitions`)."""

    days_left = serializers.SerializerMethodField()
    allowed_transitions = serializers.SerializerMethodField()

    class Meta(CandidacyListSerializer.Meta):
        fields = [
            *CandidacyListSerializer.Meta.fields,
            "presentation_summary",
            "outcome_reason",
            "days_left",
            "allowed_transitions",
        ]
        read_only_fields = fields

    @extend_schema_field(StrictIntegerField(allow_null=True))
    def get_days_left(self, obj: Candidacy) -> int | None:
        if obj.state != CandidacyState.PROTOTYPING or obj.prototype_deadline is None:
            return None
        return (obj.prototype_deadline - today()).days

    @extend_schema_field(AvailableCandidacyTransitionSerializer(many=True))
    def get_allowed_transitions(self, obj: Candidacy) -> list[dict[str, Any]]:
        request = self.context.get("request")
        if request is None:
            return []
        return [
            {"name": spec.name, "label": str(spec.label), "needs_reason": spec.needs_reason}
            for spec in candidacy_available_transitions(actor=request.user, candidacy=obj)
        ]


class CandidacySourceSerializer(serializers.Serializer):
    """Source a structure for a published need: `organisation` (an existing one), or at least one of
    `name`, `siret`, `email` for a structure not yet on Pluriel."""

    need = StrictPrimaryKeyRelatedField(
        queryset=Need.objects.none(),
        error_messages={**PK_ERRORS, "does_not_exist": _("Besoin inconnu.")},
    )
    organisation = StrictPrimaryKeyRelatedField(
        queryset=Organisation.objects.none(),
        required=False,
        allow_null=True,
        default=None,
        error_messages={**PK_ERRORS, "does_not_exist": _("Organisation inconnue.")},
    )
    name = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    siret = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    email = serializers.CharField(max_length=254, required=False, allow_blank=True, default="")
    why = serializers.CharField(max_length=LONG_TEXT, required=False, allow_blank=True, default="")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["need"].queryset = needs_visible_to(request.user)
            self.fields["organisation"].queryset = organisations_visible_to(request.user)


# --------------------------------------------------------------------------- transition inputs


class CandidacyInviteInput(serializers.Serializer):
    message = serializers.CharField(
        max_length=SHORT_TEXT,
        required=False,
        allow_blank=True,
        default="",
        help_text=_("Message envoyé à la structure avec la description du besoin."),
    )


class CandidacyAcceptInput(serializers.Serializer):
    organisation = StrictPrimaryKeyRelatedField(
        queryset=Organisation.objects.none(),
        required=False,
        allow_null=True,
        default=None,
        help_text=_(
            "L'organisation (dont vous êtes membre) qui accepte ; par défaut celle de l'invitation."
        ),
        error_messages={
            **PK_ERRORS,
            "does_not_exist": _("Organisation inconnue ou dont vous n'êtes pas membre."),
        },
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["organisation"].queryset = Organisation.objects.filter(
                pk__in=organisation_ids_of(request.user)
            )


class CandidacyReasonInput(serializers.Serializer):
    reason = serializers.CharField(
        max_length=SHORT_TEXT,
        required=False,
        allow_blank=True,
        default="",
        help_text=_("Motif, gardé dans l'historique (obligatoire pour not_fund et abandon)."),
    )


class CandidacyStartPrototypingInput(serializers.Serializer):
    start = serializers.DateField(
        required=False,
        allow_null=True,
        default=None,
        error_messages=DATE_ERRORS,
        help_text=_("Début du prototypage ; aujourd'hui par défaut."),
    )
    prototyping_days = StrictIntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=1,
        max_value=120,
        error_messages=INT_ERRORS,
        help_text=_("Durée en jours (1 à 120) ; 15 par défaut."),
    )


class CandidacyPresentInput(serializers.Serializer):
    summary = serializers.CharField(
        max_length=LONG_TEXT,
        required=False,
        allow_blank=True,
        default="",
        help_text=_("Synthèse de la présentation du prototype."),
    )


class CandidacyFundInput(serializers.Serializer):
    amount = money(help_text=_("Montant accordé, au centime près."))
    cofunder = StrictPrimaryKeyRelatedField(
        queryset=Funder.objects.all(),
        required=False,
        allow_null=True,
        default=None,
        error_messages=PK_ERRORS,
        help_text=_(
            "Cofinanceur qui paie sur son propre fonds (ex. une fondation) ; sinon l'enveloppe de "
            "l'anti-appel."
        ),
    )
    is_multi_year = serializers.BooleanField(required=False, default=False)
    duration_years = StrictIntegerField(
        required=False,
        default=1,
        min_value=1,
        max_value=5,
        error_messages=INT_ERRORS,
        help_text=_("Durée en années (1 à 5)."),
    )
    reason = serializers.CharField(
        max_length=SHORT_TEXT, required=False, allow_blank=True, default=""
    )
    envelope_override_reason = serializers.CharField(
        max_length=SHORT_TEXT,
        required=False,
        allow_blank=True,
        default="",
        help_text=_("Obligatoire si le financement dépasse l'enveloppe de l'anti-appel."),
    )


# One input per transition of grants.anticall.services.candidacy_run_transition.
CANDIDACY_TRANSITION_INPUTS: dict[str, type[serializers.Serializer]] = {
    "invite": CandidacyInviteInput,
    "accept": CandidacyAcceptInput,
    "decline": CandidacyReasonInput,
    "start_prototyping": CandidacyStartPrototypingInput,
    "present": CandidacyPresentInput,
    "fund": CandidacyFundInput,
    "not_fund": CandidacyReasonInput,
    "abandon": CandidacyReasonInput,
}
CANDIDACY_TRANSITION_NAMES = list(candidacy_transition_specs())
assert set(CANDIDACY_TRANSITION_NAMES) == set(CANDIDACY_TRANSITION_INPUTS)


# --------------------------------------------------------------------------- prototyping


class CoachingEntrySerializer(StrictModelSerializer):
    """A coaching session, note or support (engineering, networking, communication) and its cost."""

    kind = NamedChoiceField(
        choices=CoachingEntry.Kind.choices,
        enum_name="CoachingKindEnum",
        error_messages={
            **REQUIRED,
            "invalid_choice": _("« {input} » n'est pas un type connu : session, note ou support."),
        },
    )
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    support = NamedChoiceField(
        choices=CoachingEntry.Support.choices,
        enum_name="CoachingSupportEnum",
        required=False,
        allow_blank=True,
        default="",
        error_messages={
            "invalid_choice": _(
                "« {input} » n'est pas un appui connu : engineering, networking ou communication."
            )
        },
    )
    support_label = serializers.CharField(source="get_support_display", read_only=True)
    date = serializers.DateField(error_messages=DATE_ERRORS)
    notes = serializers.CharField(max_length=LONG_TEXT, allow_blank=True, error_messages=REQUIRED)
    cost = money(required=False, default=Decimal("0.00"))
    author = UserSummarySerializer(read_only=True, allow_null=True)

    class Meta:
        model = CoachingEntry
        fields = [
            "id",
            "date",
            "kind",
            "kind_label",
            "support",
            "support_label",
            "notes",
            "cost",
            "author",
            "created_at",
        ]
        read_only_fields = ["id", "kind_label", "support_label", "author", "created_at"]


class DeliverableSerializer(StrictModelSerializer):
    """A deliverable of the prototype. `file_url` is the download page (staff and the structure's
    members only); send the file as multipart `file`."""

    title = serializers.CharField(max_length=255, allow_blank=True, error_messages=REQUIRED)
    description = serializers.CharField(
        max_length=LONG_TEXT, required=False, allow_blank=True, default=""
    )
    file = serializers.FileField(
        write_only=True,
        required=False,
        allow_null=True,
        default=None,
        error_messages={
            "invalid": _("Le fichier envoyé est invalide."),
            "empty": _("Le fichier envoyé est vide."),
        },
    )
    file_url = serializers.SerializerMethodField()
    created_by = UserSummarySerializer(read_only=True, allow_null=True)

    class Meta:
        model = PrototypeDeliverable
        fields = ["id", "title", "description", "file", "file_url", "created_by", "created_at"]
        read_only_fields = ["id", "file_url", "created_by", "created_at"]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_file_url(self, obj: PrototypeDeliverable) -> str | None:
        if not obj.file:
            return None
        return reverse("anticall:deliverable_download", args=[obj.candidacy_id, obj.pk])
