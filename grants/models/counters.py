"""Counters kept by database triggers, read by the instruction queue instead of counting rows."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ApplicationScopeCount(models.Model):
    """How many applications each staff member sees through their own scope, per (programme, call,
    state): the queue's tab counts for a territorially scoped instructor or committee member
    without counting their files on every page view.

    A user "sees through their scope" a file assigned to them, a file of a call they are staffed
    on, or a file targeting a QPV of their instructor or committee-member role — the restricted
    branch of `grants.selectors.staff_visibility`. Each file counts once per user, whichever way
    they see it. Maintained by database triggers (migration `grants/0012`, see
    docs/decisions/2026-12-07-scoped-queue-counters.md); never written from Python. `user_id` is
    not a foreign key: rows of a deleted user are never read."""

    user_id = models.BigIntegerField()
    programme_id = models.BigIntegerField()
    call_key = models.BigIntegerField()
    state = models.CharField(max_length=20)
    n = models.IntegerField(default=0)

    class Meta:
        verbose_name = _("compteur de dossiers par périmètre")
        verbose_name_plural = _("compteurs de dossiers par périmètre")
        constraints = [
            models.UniqueConstraint(
                fields=["user_id", "programme_id", "call_key", "state"],
                name="uniq_application_scope_count",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.programme_id}/{self.call_key}/{self.state}: {self.n}"
