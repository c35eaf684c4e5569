"""Bulk actions of the instruction: one action applied to many files, with a result per file."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class BulkAction(models.Model):
    """One action (grants.services.bulk.ACTIONS) taken by an instructor on a selection of files.

    `params` holds the action's inputs (instructor id, message, deadline, session id, reason);
    `filters` the queue's filters when the selection was « every file matching these filters »."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bulk_actions"
    )
    action = models.CharField(_("action"), max_length=40)
    params = models.JSONField(_("paramètres"), default=dict, blank=True)
    filters = models.JSONField(_("filtres"), default=dict, blank=True)
    all_matching = models.BooleanField(_("tous les dossiers filtrés"), default=False)
    job = models.ForeignKey(
        "core.BackgroundJob",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("créée le"), auto_now_add=True)
    finished_at = models.DateTimeField(_("terminée le"), null=True, blank=True)

    class Meta:
        verbose_name = _("action groupée")
        verbose_name_plural = _("actions groupées")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} #{self.pk}"


class BulkActionItem(models.Model):
    """The outcome of a bulk action on one file: done, skipped (with the reason), or pending."""

    class Status(models.TextChoices):
        PENDING = "pending", _("En attente")
        DONE = "done", _("Fait")
        SKIPPED = "skipped", _("Non traité")

    bulk = models.ForeignKey(BulkAction, on_delete=models.CASCADE, related_name="items")
    application = models.ForeignKey(
        "grants.Application",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    requested_id = models.PositiveBigIntegerField(_("identifiant demandé"))
    status = models.CharField(
        _("statut"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    reason = models.TextField(_("motif"), blank=True)
    processed_at = models.DateTimeField(_("traité le"), null=True, blank=True)

    class Meta:
        verbose_name = _("dossier d'une action groupée")
        verbose_name_plural = _("dossiers d'une action groupée")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["bulk", "requested_id"], name="bulk_item_unique_file")
        ]
        indexes = [models.Index(fields=["bulk", "status"])]

    def __str__(self) -> str:
        return f"{self.bulk_id}/{self.requested_id}: {self.status}"
