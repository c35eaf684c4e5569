"""The partners' reports of a collective file's annual evaluation (docs/domain.md §9): each accepted
partner files its own part (activity, figures, spending of its share) from its own account; the
lead files the whole once every partner has filed, or marks a partner's part missing with a
reason. Imported at the end of `cpo.models`, so Django registers it with the app."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, transition

from core.choices import choice_label
from core.limits import LONG_TEXT, SHORT_TEXT
from core.models import Organisation

from .models import MONEY, Evaluation


class PartnerReportState(models.TextChoices):
    EXPECTED = "expected", _("Attendue")
    FILED = "filed", _("Déposée")
    MISSING = "missing", _("Manquante")


R = PartnerReportState


class PartnerReport(models.Model):
    """One partner's part of an annual evaluation: its activity, its figures and what it spent of
    its share of the year. Frozen once the lead files the evaluation; filed again when the
    evaluation is rejected."""

    evaluation = models.ForeignKey(
        Evaluation, on_delete=models.CASCADE, related_name="partner_reports"
    )
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("organisation partenaire"),
    )
    state = FSMField(_("état"), default=R.EXPECTED, choices=R.choices, protected=True)
    activity_report = models.TextField(
        _("activité de la part du partenaire"), blank=True, max_length=LONG_TEXT
    )
    figures = models.TextField(
        _("chiffres clés"),
        blank=True,
        max_length=SHORT_TEXT,
        help_text=_("Publics touchés, séances, bénévoles… ce qui mesure la part réalisée."),
    )
    share_amount = models.DecimalField(_("part de l'exercice (€)"), **MONEY, default=Decimal("0"))
    spent_amount = models.DecimalField(
        _("dépenses réalisées sur la part (€)"),
        **MONEY,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    missing_reason = models.TextField(
        _("motif de la part manquante"), blank=True, max_length=SHORT_TEXT
    )
    filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    filed_at = models.DateTimeField(_("déposée le"), null=True, blank=True)

    class Meta:
        verbose_name = _("part d'un partenaire à l'évaluation")
        verbose_name_plural = _("parts des partenaires à l'évaluation")
        ordering = ["evaluation", "organisation__name", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["evaluation", "organisation"], name="one_partner_report_per_evaluation"
            ),
            models.CheckConstraint(
                condition=models.Q(spent_amount__gte=0), name="partner_report_spent_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.evaluation} — {self.organisation}"

    def get_state_display(self) -> str:  # type: ignore[no-redef]
        return choice_label(PartnerReportState, self.state)

    # --- Transitions. Bodies set derived fields only; cpo.services_partner_reports audits.
    @transition(field=state, source=[R.EXPECTED, R.FILED, R.MISSING], target=R.FILED)
    def file(self) -> None:
        """The partner files (or corrects) its part; a part marked missing may still come."""
        self.missing_reason = ""

    @transition(field=state, source=R.EXPECTED, target=R.MISSING)
    def mark_missing(self) -> None:
        """The lead files without this part, with the reason."""
