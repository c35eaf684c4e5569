"""Call for solutions (appel à solutions): the resident panel's ballots, the allocation of the
envelope from the votes, and the panel's assessments at evaluation time (docs/domain.md §2.3)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from calls.models import Call, PanelMember
from core.limits import SHORT_TEXT

from ..models.applications import Application


class Ballot(models.Model):
    """The voters' register: one row per panel member who voted in a call. The database refuses a
    second one, whatever the concurrency. The choices are on the ballot paper (BallotChoice rows
    sharing a `paper` id), linked back to the voter only when the ballot is not secret."""

    call = models.ForeignKey(Call, on_delete=models.PROTECT, related_name="ballots")
    member = models.ForeignKey(PanelMember, on_delete=models.PROTECT, related_name="ballots")
    cast_at = models.DateTimeField(_("voté le"), auto_now_add=True)

    class Meta:
        verbose_name = _("bulletin")
        verbose_name_plural = _("bulletins")
        constraints = [
            models.UniqueConstraint(fields=["call", "member"], name="one_ballot_per_member")
        ]

    def __str__(self) -> str:
        return f"{self.call} — {self.member_id}"


class BallotChoice(models.Model):
    """An approved project on a ballot paper (approval), or its score on one criterion (score)."""

    call = models.ForeignKey(Call, on_delete=models.PROTECT, related_name="ballot_choices")
    paper = models.UUIDField(_("bulletin"), db_index=True)
    ballot = models.ForeignKey(
        Ballot,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="choices",
        help_text=_("Vide quand le vote est secret."),
    )
    application = models.ForeignKey(
        Application, on_delete=models.PROTECT, related_name="ballot_choices"
    )
    criterion = models.CharField(_("critère"), max_length=100, blank=True)
    score = models.PositiveSmallIntegerField(_("note"), default=1)

    class Meta:
        verbose_name = _("choix")
        verbose_name_plural = _("choix")
        constraints = [
            models.UniqueConstraint(
                fields=["paper", "application", "criterion"], name="one_choice_per_project"
            )
        ]

    def __str__(self) -> str:
        return f"{self.application_id} ({self.score})"


class AllocationRun(models.Model):
    """The envelope allocated from the votes: both rules computed side by side, the one chosen (or
    an override) with its reason, and the full tally as published."""

    class Rule(models.TextChoices):
        GREEDY = "greedy", _("Par nombre de voix dans l'enveloppe (règle de CONSUL)")
        EQUAL_SHARES = "equal_shares", _("Méthode des parts égales")
        OVERRIDE = "override", _("Choix motivé du responsable de programme")

    call = models.ForeignKey(Call, on_delete=models.PROTECT, related_name="allocation_runs")
    budget = models.DecimalField(_("enveloppe (€)"), max_digits=14, decimal_places=2)
    tally = models.JSONField(_("dépouillement"), default=dict)
    greedy_selection = models.JSONField(default=list)
    equal_shares_selection = models.JSONField(default=list)
    equal_shares_variant = models.CharField(max_length=20, blank=True)
    chosen_rule = models.CharField(
        _("règle retenue"), max_length=15, choices=Rule.choices, blank=True
    )
    chosen_selection = models.JSONField(default=list)
    reason = models.TextField(_("motif"), blank=True, max_length=SHORT_TEXT)
    computed_at = models.DateTimeField(auto_now_add=True)
    computed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    published_at = models.DateTimeField(_("publié le"), null=True, blank=True)

    class Meta:
        verbose_name = _("répartition de l'enveloppe")
        verbose_name_plural = _("répartitions de l'enveloppe")
        ordering = ["-computed_at"]

    def __str__(self) -> str:
        return f"{self.call} — {self.computed_at:%d/%m/%Y %H:%M}"


class PanelAssessment(models.Model):
    """A panel member's assessment of a project they chose, for one year's evaluation."""

    class Rating(models.TextChoices):
        EXCEEDS = "exceeds", _("Au-delà des attentes")
        MEETS = "meets", _("Conforme aux attentes")
        PARTIAL = "partial", _("Partiellement")
        FAILS = "fails", _("En deçà des attentes")

    application = models.ForeignKey(
        Application, on_delete=models.PROTECT, related_name="panel_assessments"
    )
    member = models.ForeignKey(PanelMember, on_delete=models.PROTECT, related_name="assessments")
    fiscal_year = models.PositiveIntegerField(_("exercice évalué"))
    rating = models.CharField(_("appréciation"), max_length=10, choices=Rating.choices)
    comment = models.TextField(_("commentaire"), blank=True, max_length=SHORT_TEXT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("appréciation du panel")
        verbose_name_plural = _("appréciations du panel")
        constraints = [
            models.UniqueConstraint(
                fields=["application", "member", "fiscal_year"], name="one_assessment_per_year"
            )
        ]

    def __str__(self) -> str:
        return f"{self.fiscal_year} {self.get_rating_display()}"
