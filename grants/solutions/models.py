"""Call for solutions (appel à solutions): the resident panel's ballots, the allocation of the
envelope from the votes, and the panel's assessments at evaluation time (docs/domain.md §2.3)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from calls.models import Call, PanelMember
from core.uploads import private_upload_path

from ..models.applications import Application


def vote_import_upload_to(instance: VoteImport, filename: str) -> str:
    return private_upload_path("votes", instance.imported_by_id or "anonymous", filename)


class VoteImport(models.Model):
    """A vote held outside Pluriel (on paper, on another platform, or a past vote) loaded into a
    call for solutions from a pabulib `.pb` file: checked first (nothing written), then applied
    once. Its voters are recorded as ballots with the file's pseudonymous voter ids, never as
    panel members (docs/domain.md §2.3)."""

    class State(models.TextChoices):
        CHECKED = "checked", _("Vérifié, prêt à charger")
        APPLIED = "applied", _("Chargé")

    call = models.ForeignKey(Call, on_delete=models.PROTECT, related_name="vote_imports")
    state = models.CharField(_("état"), max_length=10, choices=State.choices, default=State.CHECKED)
    file = models.FileField(_("fichier"), upload_to=vote_import_upload_to, max_length=255)
    original_name = models.CharField(_("nom du fichier"), max_length=255)
    sha256 = models.CharField(_("empreinte SHA-256"), max_length=64)
    meta = models.JSONField(_("métadonnées du fichier"), default=dict, blank=True)
    voters = models.PositiveIntegerField(_("votant·es"), default=0)
    projects = models.PositiveIntegerField(_("projets"), default=0)
    result = models.JSONField(_("résultat"), default=dict, blank=True)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    applied_at = models.DateTimeField(_("chargé le"), null=True, blank=True)

    class Meta:
        verbose_name = _("vote chargé")
        verbose_name_plural = _("votes chargés")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["call"],
                condition=models.Q(state="applied"),
                name="one_applied_vote_import_per_call",
            )
        ]

    def __str__(self) -> str:
        return f"{self.call} — {self.original_name}"


class Ballot(models.Model):
    """The voters' register: one row per voter in a call — a panel member who voted in Pluriel, or
    a voter of a vote loaded from a file (`voter_ref`, the file's pseudonymous id). The database
    refuses a second one, whatever the concurrency. The choices are on the ballot paper
    (BallotChoice rows sharing a `paper` id), linked back to the voter only when the ballot is not
    secret."""

    call = models.ForeignKey(Call, on_delete=models.PROTECT, related_name="ballots")
    member = models.ForeignKey(
        PanelMember, on_delete=models.PROTECT, related_name="ballots", null=True, blank=True
    )
    vote_import = models.ForeignKey(
        VoteImport, on_delete=models.PROTECT, related_name="ballots", null=True, blank=True
    )
    voter_ref = models.CharField(_("votant·e (fichier)"), max_length=64, blank=True)
    cast_at = models.DateTimeField(_("voté le"), auto_now_add=True)

    class Meta:
        verbose_name = _("bulletin")
        verbose_name_plural = _("bulletins")
        constraints = [
            models.UniqueConstraint(fields=["call", "member"], name="one_ballot_per_member"),
            models.UniqueConstraint(
                fields=["call", "voter_ref"],
                condition=~models.Q(voter_ref=""),
                name="one_ballot_per_file_voter",
            ),
            # A panel member in Pluriel, or a voter of a loaded file: exactly one of the two.
            models.CheckConstraint(
                condition=(
                    models.Q(member__isnull=False, vote_import__isnull=True, voter_ref="")
                    | (
                        models.Q(member__isnull=True, vote_import__isnull=False)
                        & ~models.Q(voter_ref="")
                    )
                ),
                name="ballot_member_or_file_voter",
            ),
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
    reason = models.TextField(_("motif"), blank=True)
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
    comment = models.TextField(_("commentaire"), blank=True)
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
