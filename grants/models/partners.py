"""Collective files (docs/domain.md §9): one lead organisation — the file's `organisation` — and
partner organisations carrying part of the action, each with its role, its actions, its lines of
the CERFA budget and its part of the amount asked."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, transition

from core.clock import now
from core.limits import LONG_TEXT
from core.models import Organisation

from .applications import Application


class PartnerState(models.TextChoices):
    INVITED = "invited", _("Invité")
    ACCEPTED = "accepted", _("Partenaire")
    DECLINED = "declined", _("Invitation déclinée")
    LEFT = "left", _("A quitté le dossier")
    EXPIRED = "expired", _("Invitation expirée")


P = PartnerState
#: An invitation not answered within this many days expires: the lead invites again if needed.
PARTNER_INVITATION_DAYS = 30
#: Partners who still belong to the file (they see it).
CURRENT_PARTNER_STATES = [P.INVITED, P.ACCEPTED]


class ApplicationPartner(models.Model):
    """A partner organisation of a collective file.

    Invited by the lead by SIRET (an organisation known to Pluriel) or by e-mail (the person who
    holds that address accepts for one of their organisations). A partner accepts or declines from
    its own account — no token travels by e-mail; it may leave a draft, taking its budget lines."""

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="partners", verbose_name=_("dossier")
    )
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="partnerships",
        verbose_name=_("organisation partenaire"),
    )
    invited_email = models.EmailField(_("invitée à l'adresse"), blank=True)
    state = FSMField(_("état"), default=P.INVITED, choices=P.choices, protected=True)
    role = models.CharField(_("rôle dans le projet"), max_length=200, blank=True)
    actions = models.TextField(_("actions portées"), blank=True, max_length=LONG_TEXT)
    requested_amount = models.DecimalField(
        _("part du montant demandé (€)"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    approved_amount = models.DecimalField(
        _("part du montant accordé (€)"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    completion_draft = models.TextField(
        _("projet de réponse à la demande de compléments"),
        blank=True,
        max_length=LONG_TEXT,
        help_text=_("Rédigé par le partenaire pour sa part ; le chef de file répond."),
    )
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    invited_at = models.DateTimeField(_("invité le"), auto_now_add=True)
    # Empty on invitations sent before invitations expired (they never expire).
    expires_at = models.DateTimeField(_("invitation valable jusqu'au"), null=True, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    answered_at = models.DateTimeField(_("répondu le"), null=True, blank=True)

    class Meta:
        verbose_name = _("partenaire du dossier")
        verbose_name_plural = _("partenaires du dossier")
        ordering = ["application", "invited_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["application", "organisation"],
                condition=models.Q(state__in=["invited", "accepted"]),
                name="one_current_partnership_per_organisation",
            ),
            models.CheckConstraint(
                condition=~models.Q(organisation__isnull=True, invited_email=""),
                name="partner_has_organisation_or_email",
            ),
            models.CheckConstraint(
                condition=models.Q(requested_amount__gte=0),
                name="partner_requested_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return str(self.organisation or self.invited_email)

    @property
    def is_current(self) -> bool:
        return self.state in CURRENT_PARTNER_STATES

    @property
    def is_expired(self) -> bool:
        """An invitation left unanswered past its date: it can no longer be accepted."""
        return self.state == P.INVITED and self.expires_at is not None and self.expires_at < now()

    # --- Transitions. Bodies set derived fields only; grants.services.partners checks and audits.
    @transition(field=state, source=P.INVITED, target=P.ACCEPTED)
    def accept(self) -> None:
        """The partner joins the file from its own account."""

    @transition(field=state, source=P.INVITED, target=P.DECLINED)
    def decline(self) -> None:
        """The partner turns the invitation down (or the lead withdraws it)."""

    @transition(field=state, source=P.INVITED, target=P.EXPIRED)
    def expire(self) -> None:
        """Left unanswered past its date; closed when the lead invites the same partner again."""

    @transition(field=state, source=P.ACCEPTED, target=P.LEFT)
    def leave(self) -> None:
        """The partner leaves the file (or the lead removes it), with its budget lines."""
