"""The public directory of actors and the experience sheets (docs/domain.md §8, issue 14 item 7).

An organisation appears in the directory only when its administrator opts in (`ActorProfile`);
its themes and neighbourhoods are not typed but derived from the actions Pluriel funded. An
experience sheet is drafted from an evaluated action (an agreement's accepted annual evaluation),
edited by the organisation or staff, and published by staff. The app sits above `cpo` (it reads
agreements and evaluations) and below `reporting` (which exports the sheets):
docs/decisions/2026-12-07-directory-and-experience-sheets.md.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, transition

from core.limits import LONG_TEXT, SHORT_TEXT
from core.models import QPV, Organisation, Pillar, TransitionTheme
from cpo.models import Agreement, Evaluation
from grants.models import ApplicationKind

MONEY: dict[str, Any] = {"max_digits": 14, "decimal_places": 2}


class ActorProfile(models.Model):
    """What an organisation agrees to show the public. Nothing is public until `is_listed`;
    contact details only with `contact_consent` (RGPD art. 6-1-a: explicit consent)."""

    organisation = models.OneToOneField(
        Organisation, on_delete=models.CASCADE, related_name="public_profile"
    )
    is_listed = models.BooleanField(_("figurer dans l'annuaire public"), default=False)
    presentation = models.TextField(_("présentation publique"), blank=True, max_length=SHORT_TEXT)
    website = models.URLField(_("site internet"), blank=True)
    contact_consent = models.BooleanField(
        _("j'accepte que ces coordonnées soient publiées"), default=False
    )
    public_email = models.EmailField(_("e-mail public"), blank=True)
    public_phone = models.CharField(_("téléphone public"), max_length=30, blank=True)
    listed_at = models.DateTimeField(_("inscrite le"), null=True, blank=True)
    updated_at = models.DateTimeField(_("modifiée le"), auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        verbose_name = _("fiche publique d'organisation")
        verbose_name_plural = _("fiches publiques d'organisations")

    def __str__(self) -> str:
        return str(self.organisation)


class SheetState(models.TextChoices):
    DRAFT = "draft", _("Brouillon")
    SUBMITTED = "submitted", _("Soumise")
    PUBLISHED = "published", _("Publiée")
    RETURNED = "returned", _("Renvoyée pour correction")


S = SheetState


class ExperienceSheet(models.Model):
    """An « inspiring experience »: what was done, where, for whom, with what results against the
    indicators, at what cost — drafted from an evaluated action, published by staff."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="experience_sheets"
    )
    agreement = models.ForeignKey(
        Agreement, on_delete=models.PROTECT, related_name="experience_sheets"
    )
    evaluation = models.OneToOneField(
        Evaluation,
        on_delete=models.PROTECT,
        related_name="experience_sheet",
        verbose_name=_("évaluation de référence"),
    )
    state = FSMField(_("état"), default=S.DRAFT, choices=S.choices, protected=True, db_index=True)
    title = models.CharField(_("titre"), max_length=255)
    what = models.TextField(_("ce qui a été fait"), max_length=LONG_TEXT)
    place = models.CharField(_("où"), max_length=255, blank=True)
    qpvs = models.ManyToManyField(
        QPV, blank=True, related_name="experience_sheets", verbose_name=_("quartiers")
    )
    audience = models.TextField(_("pour qui"), blank=True, max_length=SHORT_TEXT)
    beneficiaries_count = models.PositiveIntegerField(
        _("nombre de bénéficiaires"), null=True, blank=True
    )
    results = models.TextField(_("résultats"), blank=True, max_length=LONG_TEXT)
    indicators = models.JSONField(_("indicateurs (cible / réalisé)"), default=list, blank=True)
    lessons = models.TextField(
        _("enseignements, conseils pour essaimer"), blank=True, max_length=LONG_TEXT
    )
    cost = models.DecimalField(_("coût de l'action (€)"), **MONEY, null=True, blank=True)
    funding_amount = models.DecimalField(_("subvention (€)"), **MONEY, null=True, blank=True)
    funding_kind = models.CharField(
        _("mode de financement"), max_length=30, choices=ApplicationKind.choices
    )
    pillar = models.ForeignKey(
        Pillar, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("pilier")
    )
    themes = models.ManyToManyField(
        TransitionTheme, blank=True, related_name="+", verbose_name=_("thèmes de transition")
    )
    year = models.PositiveIntegerField(_("année de l'action"))
    contact_consent = models.BooleanField(
        _("la personne contact accepte que son nom et son e-mail soient publiés"), default=False
    )
    contact_name = models.CharField(_("personne contact"), max_length=200, blank=True)
    contact_email = models.EmailField(_("e-mail de contact"), blank=True)
    return_reason = models.TextField(_("motif du renvoi"), blank=True, max_length=SHORT_TEXT)
    published_at = models.DateTimeField(_("publiée le"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("fiche expérience")
        verbose_name_plural = _("fiches expérience")
        ordering = ["-published_at", "-pk"]

    def __str__(self) -> str:
        return self.title

    @property
    def is_published(self) -> bool:
        return self.state == S.PUBLISHED

    @transition(field=state, source=[S.DRAFT, S.RETURNED], target=S.SUBMITTED)
    def submit(self) -> None:
        """The organisation (or staff) asks for publication."""

    @transition(field=state, source=S.SUBMITTED, target=S.PUBLISHED)
    def publish(self) -> None:
        """Staff reviewed it: public from now on."""

    @transition(field=state, source=S.SUBMITTED, target=S.RETURNED)
    def return_for_changes(self) -> None:
        """Staff send it back with a reason."""

    @transition(field=state, source=S.PUBLISHED, target=S.RETURNED)
    def withdraw(self) -> None:
        """Taken off the public pages (an error, a withdrawn consent), back to the organisation."""
