"""Co-funded files (docs/domain.md §9, issue 15): one part per funder asked, each instructed and
decided by that funder, and the budget revision the applicant answers when a part is refused or
cut."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import RETURN_VALUE, FSMField, transition

from calls.models import Programme
from core.clock import now
from core.limits import LONG_TEXT, SHORT_TEXT
from core.models import Funder

from .applications import Application, CommitteeSession


class FunderPartState(models.TextChoices):
    ASKED = "asked", _("Sollicitée")
    UNDER_REVIEW = "under_review", _("En instruction")
    PROPOSED = "proposed", _("Proposée")
    APPROVED = "approved", _("Accordée")
    CUT = "cut", _("Accordée en partie")
    REFUSED = "refused", _("Refusée")


FP = FunderPartState
#: A part whose funder has decided.
DECIDED_PART_STATES = [FP.APPROVED, FP.CUT, FP.REFUSED]
#: A part that brings money (in full or in part).
GRANTED_PART_STATES = [FP.APPROVED, FP.CUT]
#: What counts against the funder's programme envelope: what is proposed or granted.
ENVELOPE_PART_STATES = [FP.PROPOSED, FP.APPROVED, FP.CUT]


class FunderPart(models.Model):
    """The part of a file asked of one funder.

    The amount asked comes from the CERFA budget's account-74 lines naming the funder
    (grants.services.cofunding.funder_parts_sync), never typed twice. The funder instructs it,
    proposes an amount, then decides: granted in full, cut (granted for less) or refused, with its
    committee or deliberation reference, against the envelope of its own programme.

    asked → under_review → proposed → approved | cut | refused; a reopened file sends its decided
    parts back to under_review."""

    State = FunderPartState

    application = models.ForeignKey(
        Application,
        on_delete=models.CASCADE,
        related_name="funder_parts",
        verbose_name=_("dossier"),
    )
    funder = models.ForeignKey(
        Funder, on_delete=models.PROTECT, related_name="file_parts", verbose_name=_("financeur")
    )
    programme = models.ForeignKey(
        Programme,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="funder_parts",
        verbose_name=_("programme du financeur"),
    )
    state = FSMField(_("état"), default=FP.ASKED, choices=FP.choices, protected=True)
    requested_amount = models.DecimalField(
        _("montant sollicité (€)"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    proposed_amount = models.DecimalField(
        _("montant proposé (€)"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    proposal_note = models.TextField(_("avis de l'instruction"), blank=True, max_length=SHORT_TEXT)
    decided_amount = models.DecimalField(
        _("montant accordé (€)"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    conditions = models.TextField(_("conditions"), blank=True, max_length=SHORT_TEXT)
    refusal_reason = models.TextField(_("motif du refus"), blank=True, max_length=SHORT_TEXT)
    reference = models.CharField(
        _("référence du comité ou de la délibération"), max_length=200, blank=True
    )
    committee_session = models.ForeignKey(
        CommitteeSession,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="funder_parts",
        verbose_name=_("séance de comité"),
    )
    private_note = models.TextField(
        _("note interne du financeur"), blank=True, max_length=LONG_TEXT
    )
    separate_agreement = models.BooleanField(
        _("convention propre à ce financeur"),
        default=False,
        help_text=_("Le financeur exige sa propre convention plutôt qu'une convention commune."),
    )
    envelope_override_reason = models.TextField(
        _("motif de dépassement d'enveloppe"), blank=True, max_length=SHORT_TEXT
    )
    decided_at = models.DateTimeField(_("décidée le"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("décidée par"),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("part d'un financeur")
        verbose_name_plural = _("parts des financeurs")
        ordering = ["application", "funder__name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["application", "funder"], name="one_part_per_funder"),
            models.CheckConstraint(
                condition=models.Q(requested_amount__gte=0), name="part_requested_non_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(decided_amount__isnull=True)
                | models.Q(decided_amount__lte=models.F("requested_amount")),
                name="part_decided_le_requested",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.application_id} — {self.funder_id}"

    @property
    def is_decided(self) -> bool:
        return self.state in DECIDED_PART_STATES

    @property
    def granted_amount(self) -> Decimal:
        """What the funder pays: the decided amount of a granted part, else 0."""
        if self.state in GRANTED_PART_STATES and self.decided_amount is not None:
            return self.decided_amount
        return Decimal("0")

    # --- Transitions. Bodies set derived fields only; grants.services.cofunding checks and audits.
    @transition(field=state, source=FP.ASKED, target=FP.UNDER_REVIEW)
    def start_review(self) -> None:
        """The funder starts instructing its part."""

    @transition(field=state, source=[FP.ASKED, FP.UNDER_REVIEW, FP.PROPOSED], target=FP.PROPOSED)
    def propose(self) -> None:
        """The funder's instruction proposes an amount (may be revised until decided)."""

    @transition(field=state, source=FP.PROPOSED, target=RETURN_VALUE(FP.APPROVED, FP.CUT))
    def grant(self) -> str:
        """Granted: in full (the amount asked), or cut (less than asked)."""
        self.decided_at = now()
        if self.decided_amount is not None and self.decided_amount < self.requested_amount:
            return FP.CUT
        return FP.APPROVED

    @transition(field=state, source=FP.PROPOSED, target=FP.REFUSED)
    def refuse(self) -> None:
        """Refused, with a reason."""
        self.decided_amount = None
        self.decided_at = now()

    @transition(field=state, source="*", target=RETURN_VALUE(FP.APPROVED, FP.CUT))
    def follow_file_approval(self) -> str:
        """The only part of a file follows the file's own decision (the single decision path)."""
        self.decided_at = now()
        if self.decided_amount is not None and self.decided_amount < self.requested_amount:
            return FP.CUT
        return FP.APPROVED

    @transition(field=state, source="*", target=FP.REFUSED)
    def follow_file_refusal(self) -> None:
        """The only part of a file follows the file's refusal."""
        self.decided_amount = None
        self.decided_at = now()

    @transition(field=state, source=DECIDED_PART_STATES, target=FP.UNDER_REVIEW)
    def reopen(self) -> None:
        """The file was reopened: the part's decision is undone."""
        self.decided_amount = None
        self.decided_at = None
        self.decided_by = None


class BudgetRevisionState(models.TextChoices):
    REQUESTED = "requested", _("À confirmer ou réviser")
    CONFIRMED = "confirmed", _("Budget confirmé")
    REVISED = "revised", _("Budget révisé")


BR = BudgetRevisionState


class BudgetRevision(models.Model):
    """After a co-funded file is decided with a part refused or cut, the applicant confirms its
    plan as is or revises its budget so it balances with the amounts granted (docs/domain.md §9:
    the file shows the funding plan as decided, not as asked)."""

    State = BudgetRevisionState

    application = models.ForeignKey(
        Application,
        on_delete=models.CASCADE,
        related_name="budget_revisions",
        verbose_name=_("dossier"),
    )
    state = FSMField(_("état"), default=BR.REQUESTED, choices=BR.choices, protected=True)
    granted_total = models.DecimalField(_("total accordé (€)"), max_digits=12, decimal_places=2)
    asked_total = models.DecimalField(_("total sollicité (€)"), max_digits=12, decimal_places=2)
    comment = models.TextField(_("commentaire"), blank=True, max_length=SHORT_TEXT)
    requested_at = models.DateTimeField(_("demandée le"), auto_now_add=True)
    answered_at = models.DateTimeField(_("répondue le"), null=True, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("révision du budget")
        verbose_name_plural = _("révisions du budget")
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["application"],
                condition=models.Q(state="requested"),
                name="one_pending_budget_revision",
            )
        ]

    def __str__(self) -> str:
        return f"{self.application_id}: {self.state}"

    @transition(field=state, source=BR.REQUESTED, target=BR.CONFIRMED)
    def confirm(self) -> None:
        """The applicant keeps its plan as is (it finds the missing money elsewhere)."""
        self.answered_at = now()

    @transition(field=state, source=BR.REQUESTED, target=BR.REVISED)
    def revise(self) -> None:
        """The applicant's budget now balances with the amounts granted."""
        self.answered_at = now()
