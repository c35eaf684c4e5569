"""Stored outcome of an API request sent with an `Idempotency-Key` header (core/idempotency.py)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class IdempotencyKey(models.Model):
    """One key per user: the fingerprint of the first request and, once answered, its response.

    The unique constraint on (user, key) is what makes concurrent duplicates safe: only one of
    them can insert the row and run the view. Rows expire after 24 h (core.tasks purge)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="idempotency_keys"
    )
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=2000)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    content_type = models.CharField(max_length=200, blank=True)
    body = models.BinaryField(default=b"")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="core_idempotency_user_key")
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.key}]"
