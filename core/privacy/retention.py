"""The one registry of retention rules (RGPD art. 5-1-e): each kind of personal data, how long it
is kept, on which legal basis, what is done at the end (anonymised or deleted) and what is kept.

Core declares the rules of its own data (core/privacy/rules.py); the apps above core declare theirs
in their AppConfig.ready() with `register_rule` (core never imports them). A rule may also take
part in a person's erasure (`erase`) or refuse it while a legal duty to keep the data applies
(`hold`)."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from django.utils.functional import Promise

if TYPE_CHECKING:
    from core.models import User

Action = Literal["anonymise", "delete"]


@dataclass(frozen=True)
class RetentionRule:
    code: str
    data: Promise | str  # the kind of personal data
    duration: Promise | str  # human wording of the term
    days: int  # the term, from the event named in `duration`
    legal_basis: Promise | str
    action: Action
    kept: Promise | str  # what is kept after the term (or "nothing")
    app: str
    # Applies the rule to everything whose term ended before `cutoff`; returns how many records.
    apply: Callable[[datetime.datetime], int]
    # A person's erasure: anonymises or deletes their data of this kind; returns how many.
    erase: Callable[[User], int] | None = None
    # Why this person's data must still be kept (erasure refused), or None.
    hold: Callable[[User], str | None] | None = None

    @property
    def action_label(self) -> str:
        from django.utils.translation import gettext as _

        return _("Anonymisation") if self.action == "anonymise" else _("Suppression")


_RULES: dict[str, RetentionRule] = {}


def register_rule(rule: RetentionRule) -> RetentionRule:
    if rule.code in _RULES and _RULES[rule.code] != rule:
        raise ValueError(f"retention rule {rule.code!r} registered twice")
    _RULES[rule.code] = rule
    return rule


def rules() -> list[RetentionRule]:
    return sorted(_RULES.values(), key=lambda r: (r.app, r.code))


def rule(code: str) -> RetentionRule:
    return _RULES[code]
