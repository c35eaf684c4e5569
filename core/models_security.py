"""Personal API tokens (two-factor roles): named, expiring, revocable; only a digest is stored.
Recovery codes of the second factor: single-use, only an HMAC of each is stored."""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _
from django_otp.models import Device, ThrottlingMixin, TimestampMixin

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


# --------------------------------------------------------------------------- recovery codes

RECOVERY_DIGEST_SALT = "pluriel.core.recovery-code"


def recovery_code_digest(user_id: int, code: str, secret: str | bytes | None = None) -> str:
    """HMAC-SHA256 of a recovery code, bound to its owner and keyed by the site's secret (so the
    table alone, in a dump or a backup, reveals nothing usable)."""
    normalised = code.strip().replace(" ", "").replace("-", "").lower()
    return salted_hmac(
        RECOVERY_DIGEST_SALT, f"{user_id}:{normalised}", secret=secret, algorithm="sha256"
    ).hexdigest()


class RecoveryCodeDevice(TimestampMixin, ThrottlingMixin, Device):  # type: ignore[misc]
    """The single-use recovery codes of one account, stored as digests only (django-otp's static
    device keeps them in clear). docs/decisions/2026-12-07-hashed-recovery-codes.md"""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="recovery_code_devices",
        help_text="The user that this device belongs to.",
    )

    class Meta:
        verbose_name = _("codes de secours")
        verbose_name_plural = _("codes de secours")
        constraints = [
            models.UniqueConstraint(fields=["user"], name="recovery_device_one_per_user")
        ]

    def get_throttle_factor(self) -> int:
        return int(getattr(settings, "OTP_STATIC_THROTTLE_FACTOR", 1))

    def matching_code(self, token: str) -> RecoveryCode | None:
        """The unused code equal to `token`, compared in constant time against every code left,
        under every key still accepted (SECRET_KEY, then SECRET_KEY_FALLBACKS)."""
        if not token:
            return None
        keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
        candidates = [recovery_code_digest(self.user_id, token, secret=s) for s in keys]
        found = None
        for code in self.codes.select_for_update().order_by("pk"):
            for candidate in candidates:
                # No early exit: the time taken does not depend on which code (if any) matches.
                if hmac.compare_digest(code.digest, candidate) and found is None:
                    found = code
        return found

    def verify_token(self, token: str) -> bool:
        """Accepts an unused code once: the code is deleted as it is accepted."""
        allowed, _details = self.verify_is_allowed()
        if not allowed:
            return False
        match = self.matching_code(token)
        if match is None:
            self.throttle_increment()
            return False
        match.delete()
        self.throttle_reset(commit=False)
        self.set_last_used_timestamp(commit=False)
        self.save()
        return True


class RecoveryCode(models.Model):
    """One unused recovery code of a RecoveryCodeDevice, as its digest (recovery_code_digest)."""

    device = models.ForeignKey(RecoveryCodeDevice, on_delete=models.CASCADE, related_name="codes")
    digest = models.CharField(max_length=64, editable=False)

    class Meta:
        verbose_name = _("code de secours")
        verbose_name_plural = _("codes de secours")
        constraints = [
            models.UniqueConstraint(fields=["device", "digest"], name="recovery_code_unique")
        ]

    def __str__(self) -> str:
        return f"{self.device_id}/{self.pk}"
