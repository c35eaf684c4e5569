"""What the loaders share while building the demo: the seeded random generator and the rows made so far."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from calls.models import Call, Programme
from core.models import (
    QPV,
    Funder,
    Organisation,
    Pillar,
    TransitionTheme,
    User,
)
from grants.models import (
    CommitteeSession,
)


@dataclass
class Context:
    rng: random.Random
    funders: dict[str, Funder] = field(default_factory=dict)
    qpvs: dict[str, QPV] = field(default_factory=dict)
    pillars: dict[str, Pillar] = field(default_factory=dict)
    themes: dict[str, TransitionTheme] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    organisations: list[Organisation] = field(default_factory=list)
    members: dict[int, User] = field(default_factory=dict)
    programme: Programme | None = None
    call: Call | None = None
    sessions: dict[str, CommitteeSession] = field(default_factory=dict)
