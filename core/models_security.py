"""Personal API tokens (two-factor roles): named, expiring, revocable; only a digest is stored."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

TOKEN_PREFIX = "plr_"


def token_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class PersonalApiToken(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="personal_api_tokens",
        verbose_name=_("utilisateur·rice"),
    )
    name = models.CharField(_("nom"), max_length=100)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    # The first characters, shown in lists so the owner recognises a token.
    hint = models.CharField(_("début du jeton"), max_length=12, editable=False)
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expire le"))
    revoked_at = models.DateTimeField(_("révoqué le"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("dernière utilisation"), null=True, blank=True)

    class Meta:
        verbose_name = _("jeton d'API personnel")
        verbose_name_plural = _("jetons d'API personnels")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.hint}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()
