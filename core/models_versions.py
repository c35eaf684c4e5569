"""Data versions: counters the database bumps whenever data shown by a cached page changes."""

from __future__ import annotations

from django.db import models


class DataVersion(models.Model):
    """One counter per group of tables (core.data_version): a write to any table of the group
    bumps it, by a database trigger, so a page cached under the counter's value is never served
    after that write commits. Never written from Python."""

    name = models.CharField(max_length=40, primary_key=True)
    n = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name} = {self.n}"
