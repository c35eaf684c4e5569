"""Reads for programmes and calls."""

from __future__ import annotations

from django.db.models import QuerySet

from core.models import Role, User
from core.permissions import has_role

from .models import Call, CallState

# Open and published calls are listed for everyone.
PUBLIC_STATES = [CallState.PUBLISHED, CallState.OPEN]


def calls_readable_by(user: User) -> QuerySet[Call]:
    """Programme managers read every call; everyone else every call but drafts (what was called
    and decided is public: transparency, docs/domain.md §7)."""
    if has_role(user, Role.PROGRAMME_MANAGER):
        return Call.objects.all()
    return Call.objects.exclude(state=CallState.DRAFT)
