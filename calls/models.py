"""What funders publish: programmes with their envelopes, and calls with their rules."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, transition

from core.limits import LONG_TEXT, SHORT_TEXT
from core.models import QPV, BudgetLine, DocumentKind, Funder, Invitation, Pillar


class CommitteeDecisionMode(models.TextChoices):
    """How a programme's committee decides a file during an open session."""

    CHAIR = "chair", _("Le ou la président·e de séance décide")
    VOTE = (
        "vote",
        _(
            "Vote des membres présents à la majorité (voix du ou de la président·e en cas d'égalité)"
        ),
    )


class Programme(models.Model):
    """A funding programme for one fiscal year, with its envelope (in euros), and the rules of its
    committee: the quorum (members present for a session to open) and who decides."""

    name = models.CharField(_("nom"), max_length=200)
    fiscal_year = models.PositiveIntegerField(_("exercice budgétaire"))
    funders = models.ManyToManyField(
        Funder, related_name="programmes", verbose_name=_("financeurs")
    )
    envelope = models.DecimalField(
        _("enveloppe (€)"),
        max_digits=14,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0"))],
    )
    budget_line = models.ForeignKey(
        BudgetLine,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="programmes",
        verbose_name=_("ligne budgétaire"),
    )
    managers = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="managed_programmes",
        verbose_name=_("responsables"),
    )
    description = models.TextField(_("description"), blank=True, max_length=LONG_TEXT)
    committee_quorum = models.PositiveSmallIntegerField(
        _("quorum du comité"),
        default=1,
        validators=[MinValueValidator(1)],
        help_text=_("Nombre minimum de membres présents pour ouvrir une séance."),
    )
    committee_decision_mode = models.CharField(
        _("mode de décision du comité"),
        max_length=10,
        choices=CommitteeDecisionMode.choices,
        default=CommitteeDecisionMode.CHAIR,
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("programme")
        verbose_name_plural = _("programmes")
        ordering = ["-fiscal_year", "name"]

    def __str__(self) -> str:
        return f"{self.name} {self.fiscal_year}"


class CallMode(models.TextChoices):
    PROJECT_CALL = "project_call", _("Appel à projets")
    ANTI_CALL = "anti_call", _("Anti-appel à projets")
    SOLUTIONS_CALL = "solutions_call", _("Appel à solutions")
    STRUCTURAL_SUPPORT = "structural_support", _("Soutien aux actions structurelles")


CALL_REFERENCE_PREFIX = {
    CallMode.PROJECT_CALL: "AAP",
    CallMode.ANTI_CALL: "AAAP",
    CallMode.SOLUTIONS_CALL: "AAS",
    CallMode.STRUCTURAL_SUPPORT: "SAS",
}


class CallState(models.TextChoices):
    DRAFT = "draft", _("Brouillon")
    PUBLISHED = "published", _("Publié")
    OPEN = "open", _("Ouvert")
    CLOSED = "closed", _("Clos")
    DELIBERATING = "deliberating", _("En délibération")
    DECIDED = "decided", _("Décidé")
    ARCHIVED = "archived", _("Archivé")


class Call(models.Model):
    """A call (appel): a mode, dates, an envelope, eligibility rules and a scoring grid."""

    programme = models.ForeignKey(
        Programme, on_delete=models.PROTECT, related_name="calls", verbose_name=_("programme")
    )
    mode = models.CharField(
        _("mode"), max_length=30, choices=CallMode.choices, default=CallMode.PROJECT_CALL
    )
    title = models.CharField(_("titre"), max_length=255)
    description = models.TextField(_("description"), blank=True, max_length=LONG_TEXT)
    state = FSMField(_("état"), default=CallState.DRAFT, choices=CallState.choices, protected=True)
    opens_at = models.DateTimeField(_("ouverture des candidatures"))
    closes_at = models.DateTimeField(_("clôture des candidatures"))
    decision_expected_on = models.DateField(_("décision attendue le"), null=True, blank=True)
    envelope = models.DecimalField(
        _("enveloppe de l'appel (€)"),
        max_digits=14,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0"))],
    )
    # Eligibility rules (empty = no restriction).
    eligible_qpvs = models.ManyToManyField(
        QPV, blank=True, related_name="calls", verbose_name=_("quartiers éligibles")
    )
    eligible_pillars = models.ManyToManyField(
        Pillar, blank=True, related_name="calls", verbose_name=_("piliers éligibles")
    )
    max_amount = models.DecimalField(
        _("montant maximum par dossier (€)"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    max_share_percent = models.DecimalField(
        _("part maximale du budget du projet (%)"),
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )
    required_documents = models.JSONField(
        _("pièces obligatoires"),
        default=list,
        blank=True,
        help_text=_("Types de documents exigés."),
    )
    multi_year_allowed = models.BooleanField(_("pluriannuel possible"), default=False)
    instructors = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="instructed_calls",
        verbose_name=_("instructeur·rices"),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("appel")
        verbose_name_plural = _("appels")
        ordering = ["-opens_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(closes_at__gt=models.F("opens_at")),
                name="call_closes_after_opening",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def reference_prefix(self) -> str:
        return CALL_REFERENCE_PREFIX.get(self.mode, "AAP")

    def required_document_labels(self) -> list[str]:
        labels = dict(DocumentKind.choices)
        return [str(labels.get(k, k)) for k in self.required_documents]

    # Transitions: bodies only set state; calls.services does the checks, locking and audit.
    @transition(field=state, source=CallState.DRAFT, target=CallState.PUBLISHED)
    def publish(self) -> None:
        """Visible to the public; applications not yet accepted."""

    @transition(field=state, source=[CallState.DRAFT, CallState.PUBLISHED], target=CallState.OPEN)
    def open(self) -> None:
        """Applications accepted."""

    @transition(field=state, source=CallState.OPEN, target=CallState.CLOSED)
    def close(self) -> None:
        """No more submissions."""

    @transition(field=state, source=CallState.CLOSED, target=CallState.DELIBERATING)
    def deliberate(self) -> None:
        """Committee at work."""

    @transition(field=state, source=CallState.DELIBERATING, target=CallState.DECIDED)
    def decide(self) -> None:
        """All decisions taken."""

    @transition(field=state, source=CallState.DECIDED, target=CallState.ARCHIVED)
    def archive(self) -> None:
        """Kept for the record."""


class ScoringCriterion(models.Model):
    """One line of a call's scoring grid."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="criteria")
    label = models.CharField(_("critère"), max_length=200)
    weight = models.DecimalField(
        _("pondération"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("1"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    max_score = models.PositiveSmallIntegerField(
        _("note maximale"), default=5, validators=[MinValueValidator(1)]
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("critère de notation")
        verbose_name_plural = _("critères de notation")
        ordering = ["call", "position", "id"]

    def __str__(self) -> str:
        return self.label


# --------------------------------------------------------------------------- anti-call: needs


class Need(models.Model):
    """A need seen in a neighbourhood by a partner of the city contract (anti-appel à projets).

    Partners record needs; a programme manager publishes them on the anti-call, then structures
    are sourced to answer them."""

    class State(models.TextChoices):
        RECORDED = "recorded", _("Enregistré")
        PUBLISHED = "published", _("Publié")
        CLOSED = "closed", _("Clos")

    call = models.ForeignKey(
        Call, on_delete=models.PROTECT, related_name="needs", verbose_name=_("anti-appel")
    )
    qpv = models.ForeignKey(
        QPV, on_delete=models.PROTECT, related_name="needs", verbose_name=_("quartier")
    )
    title = models.CharField(_("besoin"), max_length=255)
    description = models.TextField(_("description"), max_length=LONG_TEXT)
    raised_by = models.CharField(
        _("repéré par"),
        max_length=200,
        help_text=_("Partenaire ou acteur qui a fait remonter le besoin."),
    )
    evidence = models.TextField(_("éléments probants"), blank=True, max_length=LONG_TEXT)
    state = models.CharField(
        _("état"), max_length=12, choices=State.choices, default=State.RECORDED
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("saisi par"),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(_("publié le"), null=True, blank=True)

    class Meta:
        verbose_name = _("besoin")
        verbose_name_plural = _("besoins")
        ordering = ["qpv__code", "title"]

    def __str__(self) -> str:
        return self.title


# --------------------------------------------------------------------------- call for solutions


class Challenge(models.Model):
    """An expected solution defined by residents for their neighbourhood (appel à solutions)."""

    class State(models.TextChoices):
        PROPOSED = "proposed", _("Proposé, à modérer")
        APPROVED = "approved", _("Retenu")
        REJECTED = "rejected", _("Écarté")

    class Source(models.TextChoices):
        PANEL = "panel", _("Saisi par le panel")
        PUBLIC = "public", _("Proposé par un·e habitant·e")

    call = models.ForeignKey(
        Call,
        on_delete=models.PROTECT,
        related_name="challenges",
        verbose_name=_("appel à solutions"),
    )
    qpv = models.ForeignKey(
        QPV, on_delete=models.PROTECT, related_name="challenges", verbose_name=_("quartier")
    )
    title = models.CharField(_("solution attendue"), max_length=255)
    description = models.TextField(_("description"), max_length=SHORT_TEXT)
    source = models.CharField(
        _("origine"), max_length=10, choices=Source.choices, default=Source.PANEL
    )
    state = models.CharField(
        _("état"), max_length=10, choices=State.choices, default=State.PROPOSED
    )
    proposer_name = models.CharField(_("proposé par"), max_length=200, blank=True)
    proposer_email = models.EmailField(_("e-mail"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    moderated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    moderation_note = models.TextField(_("motif de modération"), blank=True, max_length=SHORT_TEXT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("solution attendue")
        verbose_name_plural = _("solutions attendues")
        ordering = ["qpv__code", "title"]

    def __str__(self) -> str:
        return self.title


class Panel(models.Model):
    """The resident panel of a call for solutions: who votes, when, how."""

    class BallotKind(models.TextChoices):
        APPROVAL = "approval", _("Vote par approbation")
        SCORE = "score", _("Note par critère")

    call = models.OneToOneField(
        Call, on_delete=models.CASCADE, related_name="panel", verbose_name=_("appel")
    )
    quorum = models.PositiveSmallIntegerField(_("quorum (votant·es minimum)"), default=5)
    voting_opens_at = models.DateTimeField(_("ouverture du vote"))
    voting_closes_at = models.DateTimeField(_("clôture du vote"))
    ballot_kind = models.CharField(
        _("mode de scrutin"), max_length=10, choices=BallotKind.choices, default=BallotKind.APPROVAL
    )
    score_criteria = models.JSONField(_("critères (note)"), default=list, blank=True)
    max_score = models.PositiveSmallIntegerField(_("note maximale"), default=5)
    secret_ballot = models.BooleanField(_("vote secret"), default=True)

    class Meta:
        verbose_name = _("panel d'habitant·es")
        verbose_name_plural = _("panels d'habitant·es")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(voting_closes_at__gt=models.F("voting_opens_at")),
                name="panel_vote_closes_after_opening",
            ),
        ]

    def __str__(self) -> str:
        return f"Panel — {self.call}"


class PanelMember(models.Model):
    class College(models.TextChoices):
        PARENTS = "parents", _("Associations de parents d'élèves")
        CITIZEN_COUNCIL = "citizen_council", _("Conseil citoyen")
        RESIDENTS = "residents", _("Collectif d'habitant·es")

    panel = models.ForeignKey(Panel, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="panel_seats"
    )
    college = models.CharField(_("collège"), max_length=20, choices=College.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("membre du panel")
        verbose_name_plural = _("membres du panel")
        constraints = [models.UniqueConstraint(fields=["panel", "user"], name="one_seat_per_panel")]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_college_display()})"


class PanelInvitation(models.Model):
    """A resident invited to a panel before having an account: seated when the invitation is
    accepted (calls.services.panel_seat_invited, registered as a core invitation hook)."""

    panel = models.ForeignKey(Panel, on_delete=models.CASCADE, related_name="invitations")
    invitation = models.ForeignKey(Invitation, on_delete=models.CASCADE, related_name="+")
    college = models.CharField(_("collège"), max_length=20, choices=PanelMember.College.choices)
    seated_at = models.DateTimeField(_("installé·e le"), null=True, blank=True)

    class Meta:
        verbose_name = _("invitation au panel")
        verbose_name_plural = _("invitations au panel")
        constraints = [
            models.UniqueConstraint(fields=["panel", "invitation"], name="one_panel_invitation")
        ]

    def __str__(self) -> str:
        return f"{self.invitation.email} → {self.panel}"
