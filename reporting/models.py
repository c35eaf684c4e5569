"""Reporting data: the record of every file import, and the communes reference list."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, transition

from core import identifiers
from core.models import BackgroundJob
from core.uploads import private_upload_path


class Commune(models.Model):
    """A French commune from the INSEE geographic code (COG): 5-character code, 2A/2B in Corsica."""

    code = models.CharField(
        _("code commune INSEE"),
        max_length=5,
        unique=True,
        validators=[identifiers.validate_insee_code],
    )
    name = models.CharField(_("nom"), max_length=200)
    departement = models.CharField(_("département"), max_length=3, db_index=True)

    class Meta:
        verbose_name = _("commune")
        verbose_name_plural = _("communes")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class ImportKind(models.TextChoices):
    ORGANISATIONS = "organisations", _("Organisations")
    QPV = "qpv", _("Quartiers prioritaires (QPV)")
    COMMUNES = "communes", _("Communes")
    GRANTS = "grants", _("Subventions historiques (SCDL)")


class ImportState(models.TextChoices):
    CHECKED = "checked", _("Vérifié, prêt à importer")
    INVALID = "invalid", _("Refusé")
    APPLIED = "applied", _("Importé")


def import_upload_to(instance: ImportBatch, filename: str) -> str:
    return private_upload_path("imports", instance.created_by_id or "anonymous", filename)


class ImportBatch(models.Model):
    """One uploaded file: its dry-run report, and whether it was applied.

    A file is applied at most once per kind (same SHA-256): re-sending it is refused, and applying
    a batch twice does nothing the second time."""

    kind = models.CharField(_("nature"), max_length=20, choices=ImportKind.choices)
    state = FSMField(
        _("état"), choices=ImportState.choices, default=ImportState.CHECKED, protected=True
    )
    file = models.FileField(_("fichier"), upload_to=import_upload_to, max_length=255)
    original_name = models.CharField(_("nom du fichier"), max_length=255)
    size = models.PositiveBigIntegerField(_("taille (octets)"), default=0)
    sha256 = models.CharField(_("empreinte SHA-256"), max_length=64, db_index=True)
    options = models.JSONField(_("options"), default=dict, blank=True)
    row_count = models.PositiveIntegerField(_("lignes"), default=0)
    report = models.JSONField(_("rapport de vérification"), default=dict, blank=True)
    result = models.JSONField(_("résultat"), default=dict, blank=True)
    job = models.ForeignKey(
        BackgroundJob,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("tâche"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="import_batches",
        verbose_name=_("déposé par"),
    )
    created_at = models.DateTimeField(_("déposé le"), auto_now_add=True)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("importé par"),
    )
    applied_at = models.DateTimeField(_("importé le"), null=True, blank=True)

    class Meta:
        verbose_name = _("import de fichier")
        verbose_name_plural = _("imports de fichiers")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "sha256"],
                condition=models.Q(state="applied"),
                name="import_file_applied_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} — {self.original_name}"

    @property
    def error_count(self) -> int:
        return int(self.report.get("error_count", 0))

    @transition(field=state, source=ImportState.CHECKED, target=ImportState.APPLIED)
    def apply(self) -> None:
        """Written to the database, all rows in one transaction."""

    @transition(field=state, source=ImportState.CHECKED, target=ImportState.INVALID)
    def invalidate(self) -> None:
        """Found invalid when applied (the data changed since the dry run)."""


class ImportProfile(models.Model):
    """A column mapping saved under a name, to read the next file from the same source the same
    way: normalised file header → expected column ("" ignores the column)."""

    kind = models.CharField(_("nature"), max_length=20, choices=ImportKind.choices)
    name = models.CharField(_("nom du profil"), max_length=100)
    mapping = models.JSONField(_("correspondance des colonnes"), default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("créé par"),
    )
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)
    updated_at = models.DateTimeField(_("modifié le"), auto_now=True)

    class Meta:
        verbose_name = _("profil d'import")
        verbose_name_plural = _("profils d'import")
        ordering = ["kind", "name"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "name"], name="import_profile_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} — {self.name}"
