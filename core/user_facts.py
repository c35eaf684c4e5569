"""Facts about a user that every page's navigation shows, cached under a data version (issue 17).

The menu asks whether the user's organisations have an agreement and whether the user sits on a
city contract; « Mes dossiers » counts the anti-call invitations of their structures. Computed on
every page they cost four queries, one of them the candidacies' visibility filter (about a fifth
of `/dossiers/`). They change rarely: their tables are tracked in the data version group "nav"
(core.data_version; each app declares its tables and its fact in its `ready()`), and the facts of
one user are one cache entry under that counter.

The key names what the facts depend on besides those tables: the user, their e-mail address and
their organisations (read live on every page by core.permissions). Whatever depends on roles
(staff see every agreement and contract) stays live in the callers. As with every data-versioned
part, nothing is cached inside a transaction (tests see the facts computed).

These tables are seldom written: their counter's row, which the first write creates, may not
exist for long after an install. The first reader outside a transaction creates it then, with a
random value as a write would (`_version`); the triggers bump it from there on."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from django.db import connection

from .data_version import cached_at, current_version
from .models import User
from .models_versions import DataVersion
from .permissions import organisation_ids_of

GROUP = "nav"
FACTS: dict[str, Callable[[User], Any]] = {}


def register_fact(name: str, compute: Callable[[User], Any]) -> None:
    """Declare a fact (in an app's `ready()`, with `track(GROUP, …)` of the tables it reads):
    `compute(user)` may read the user, their e-mail and organisations, and the tracked tables."""
    FACTS[name] = compute


def _version() -> int | None:
    version = current_version(GROUP)
    if version is None and not connection.in_atomic_block:
        DataVersion.objects.get_or_create(name=GROUP, defaults={"n": secrets.randbits(50)})
        version = current_version(GROUP)
    return version


def user_fact(user: User, name: str) -> Any:
    """One fact about the user: every registered fact is computed together on a miss, then read
    from one cache entry, kept on the user object for the rest of the request."""
    facts = getattr(user, "_pluriel_facts", None)
    if facts is None:
        parts = (
            "core.user_facts",
            user.pk,
            (user.email or "").lower(),
            tuple(sorted(organisation_ids_of(user))),
            tuple(sorted(FACTS)),
        )
        facts = cached_at(
            GROUP,
            _version(),
            parts,
            lambda: {fact: compute(user) for fact, compute in FACTS.items()},
        )
        user._pluriel_facts = facts  # type: ignore[attr-defined]
    return facts[name]
