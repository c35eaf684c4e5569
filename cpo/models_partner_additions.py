"""A partner added to a collective agreement after the decision, by amendment (docs/domain.md §9,
issue 18): proposed by the lead or the instruction, accepted by the organisation from its own
account (a partner who has not accepted is never funded), then signed by the instruction, which
writes the amendment (cpo.services_changes.partner_addition)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, transition

from core.limits import LONG_TEXT, SHORT_TEXT
from core.models import Organisation

from .models import Agreement, Amendment


class PartnerAdditionState(models.TextChoices):
    PROPOSED = "proposed", _("Proposé, en attente du partenaire")
    ACCEPTED = "accepted", _("Accepté par le partenaire, à signer")
    APPLIED = "applied", _("Avenant signé")
    DECLINED = "declined", _("Refusé par le partenaire")
    WITHDRAWN = "withdrawn", _("Retiré")


S = PartnerAdditionState
OPEN_ADDITION_STATES = [S.PROPOSED, S.ACCEPTED]


class PartnerAddition(models.Model):
    """The proposal to add one organisation as a partner of an agreement paid to each partner,
    with its role, its actions and its amount per fiscal year (taken from the lead's part, or
    added to the agreement)."""

    agreement = models.ForeignKey(
        Agreement,
        on_delete=models.CASCADE,
        related_name="partner_additions",
        verbose_name=_("convention"),
    )
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("organisation partenaire"),
    )
    role = models.CharField(_("rôle dans le projet"), max_length=200, blank=True)
    actions = models.TextField(_("actions portées"), blank=True, max_length=LONG_TEXT)
    # {"2027": "5000.00", …}: the partner's amount per fiscal year, as exact decimal strings.
    parts = models.JSONField(_("part par exercice"), default=dict)
    from_lead = models.BooleanField(
        _("prise sur la part du chef de file"),
        default=False,
        help_text=_("Sinon, la part s'ajoute au montant de la convention."),
    )
    reason = models.TextField(_("motif"), max_length=SHORT_TEXT)
    effective_on = models.DateField(_("prend effet le"))
    state = FSMField(_("état"), default=S.PROPOSED, choices=S.choices, protected=True)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    proposed_at = models.DateTimeField(_("proposé le"), auto_now_add=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    answered_at = models.DateTimeField(_("répondu le"), null=True, blank=True)
    amendment = models.ForeignKey(
        Amendment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("avenant"),
    )

    class Meta:
        verbose_name = _("ajout d'un partenaire par avenant")
        verbose_name_plural = _("ajouts de partenaires par avenant")
        ordering = ["agreement", "-proposed_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["agreement", "organisation"],
                condition=models.Q(state__in=["proposed", "accepted"]),
                name="one_open_partner_addition",
            )
        ]

    def __str__(self) -> str:
        return f"{self.agreement.reference} + {self.organisation}"

    @property
    def total(self) -> Decimal:
        return sum((Decimal(v) for v in self.parts.values()), Decimal("0.00"))

    # --- Transitions: bodies set derived fields only; the services check and audit.
    @transition(field=state, source=S.PROPOSED, target=S.ACCEPTED)
    def accept(self) -> None:
        """The organisation agrees, from its own account, to join the agreement."""

    @transition(field=state, source=S.PROPOSED, target=S.DECLINED)
    def decline(self) -> None:
        """The organisation turns the proposal down."""

    @transition(field=state, source=S.ACCEPTED, target=S.APPLIED)
    def apply(self) -> None:
        """The instruction signs the amendment: the partner joins with its parts."""

    @transition(field=state, source=[S.PROPOSED, S.ACCEPTED], target=S.WITHDRAWN)
    def withdraw(self) -> None:
        """The lead or the instruction gives the proposal up before it is signed."""
