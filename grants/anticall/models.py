"""Anti-call (anti-appel à projets): structures sourced for a need, invited, coached through a short
prototyping phase, then funded directly (docs/domain.md §2.2)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, transition

from calls.models import Need
from core.limits import LONG_TEXT, SHORT_TEXT
from core.models import Funder, Invitation, Organisation
from core.uploads import private_upload_path

from ..models.applications import MONEY, Application

DEFAULT_PROTOTYPING_DAYS = 15


class CandidacyState(models.TextChoices):
    SOURCED = "sourced", _("Repérée")
    INVITED = "invited", _("Invitée")
    ACCEPTED = "accepted", _("A accepté")
    DECLINED = "declined", _("A décliné")
    PROTOTYPING = "prototyping", _("En prototypage")
    PRESENTED = "presented", _("Prototype présenté")
    FUNDED = "funded", _("Financée")
    NOT_FUNDED = "not_funded", _("Non retenue")
    ABANDONED = "abandoned", _("Abandonnée")


C = CandidacyState
CANDIDACY_OPEN_STATES = [C.SOURCED, C.INVITED, C.ACCEPTED, C.PROTOTYPING, C.PRESENTED]


class Candidacy(models.Model):
    """A structure sourced to answer a need: an existing organisation, or one known only by name,
    SIRET or email until it joins."""

    need = models.ForeignKey(
        Need, on_delete=models.PROTECT, related_name="candidacies", verbose_name=_("besoin")
    )
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="candidacies",
        verbose_name=_("structure"),
    )
    prospect_name = models.CharField(_("nom de la structure"), max_length=255, blank=True)
    prospect_siret = models.CharField(_("SIRET"), max_length=14, blank=True)
    prospect_email = models.EmailField(_("e-mail de contact"), blank=True)
    why = models.TextField(_("pourquoi cette structure"), blank=True, max_length=LONG_TEXT)
    state = FSMField(_("état"), default=C.SOURCED, choices=C.choices, protected=True, db_index=True)
    sourced_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("repérée par"),
    )
    invitation = models.ForeignKey(
        Invitation, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    prototyping_days = models.PositiveSmallIntegerField(
        _("durée du prototypage (jours)"), default=DEFAULT_PROTOTYPING_DAYS
    )
    prototype_start = models.DateField(_("début du prototypage"), null=True, blank=True)
    prototype_deadline = models.DateField(_("fin du prototypage"), null=True, blank=True)
    reminder_sent_at = models.DateTimeField(_("relance envoyée le"), null=True, blank=True)
    is_overdue = models.BooleanField(_("en retard"), default=False)
    presentation_summary = models.TextField(
        _("synthèse de la présentation"), blank=True, max_length=LONG_TEXT
    )
    outcome_reason = models.TextField(_("motif"), blank=True, max_length=SHORT_TEXT)
    funded_amount = models.DecimalField(_("montant financé (€)"), **MONEY, null=True, blank=True)
    cofunder = models.ForeignKey(
        Funder,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("cofinanceur"),
    )
    application = models.OneToOneField(
        Application,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="candidacy",
        verbose_name=_("dossier de financement"),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("structure repérée")
        verbose_name_plural = _("structures repérées")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(
                    organisation__isnull=True,
                    prospect_name="",
                    prospect_siret="",
                    prospect_email="",
                ),
                name="candidacy_identifies_structure",
            ),
            models.CheckConstraint(
                condition=models.Q(prototyping_days__gte=1), name="candidacy_prototyping_days"
            ),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        if self.organisation_id:
            return self.organisation.name
        return self.prospect_name or self.prospect_email or self.prospect_siret

    @transition(field=state, source=C.SOURCED, target=C.INVITED)
    def invite(self) -> None:
        """The structure is invited to prototype an answer to the need."""

    @transition(field=state, source=C.INVITED, target=C.ACCEPTED)
    def accept(self) -> None:
        """The structure accepts (it has an organisation on Pluriel by then)."""

    @transition(field=state, source=C.INVITED, target=C.DECLINED)
    def decline(self) -> None:
        """The structure declines."""

    @transition(field=state, source=C.ACCEPTED, target=C.PROTOTYPING)
    def start_prototyping(self) -> None:
        """The prototyping window opens (15 days by default)."""

    @transition(field=state, source=C.PROTOTYPING, target=C.PRESENTED)
    def present(self) -> None:
        """The prototype is presented to the funder."""

    @transition(field=state, source=C.PRESENTED, target=C.FUNDED)
    def fund(self) -> None:
        """Funded: an approved application is created on the structure's behalf."""

    @transition(field=state, source=C.PRESENTED, target=C.NOT_FUNDED)
    def not_fund(self) -> None:
        """Not funded, with a reason."""

    @transition(field=state, source=CANDIDACY_OPEN_STATES, target=C.ABANDONED)
    def abandon(self) -> None:
        """Abandoned from any open state, with a reason."""


class CoachingEntry(models.Model):
    """The coaching log of a prototyping phase: sessions, notes and support given."""

    class Kind(models.TextChoices):
        SESSION = "session", _("Séance d'accompagnement")
        NOTE = "note", _("Note")
        SUPPORT = "support", _("Appui")

    class Support(models.TextChoices):
        ENGINEERING = "engineering", _("Ingénierie")
        NETWORKING = "networking", _("Mise en réseau")
        COMMUNICATION = "communication", _("Communication")

    candidacy = models.ForeignKey(Candidacy, on_delete=models.CASCADE, related_name="coaching")
    date = models.DateField(_("date"))
    kind = models.CharField(_("type"), max_length=10, choices=Kind.choices)
    support = models.CharField(
        _("appui apporté"), max_length=15, choices=Support.choices, blank=True
    )
    notes = models.TextField(_("compte rendu"), max_length=LONG_TEXT)
    cost = models.DecimalField(_("coût pris en charge (€)"), **MONEY, default=Decimal("0"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("entrée d'accompagnement")
        verbose_name_plural = _("journal d'accompagnement")
        ordering = ["date", "id"]

    def __str__(self) -> str:
        return f"{self.date:%d/%m/%Y} {self.get_kind_display()}"


def deliverable_upload_to(instance: PrototypeDeliverable, filename: str) -> str:
    return private_upload_path("prototypes", instance.candidacy_id, filename)


class PrototypeDeliverable(models.Model):
    """What the prototyping produced: reused as is when the structure is funded."""

    candidacy = models.ForeignKey(Candidacy, on_delete=models.CASCADE, related_name="deliverables")
    title = models.CharField(_("livrable"), max_length=255)
    description = models.TextField(_("description"), blank=True, max_length=LONG_TEXT)
    file = models.FileField(_("fichier"), upload_to=deliverable_upload_to, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("livrable du prototype")
        verbose_name_plural = _("livrables du prototype")
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.title
