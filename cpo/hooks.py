"""Hooks the agreement side owns so the layers above it (the payment side, `finance`) can react to
what happens to an agreement without `cpo` importing them (docs/decisions/2026-12-06-finance-app.md).

Same pattern as core.services.register_bank_details_hook: an app registers its callback in its
AppConfig.ready(); the cpo service calls every registered hook inside its own transaction, so a
hook's writes and the agreement's change commit or roll back together."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from django.db.models import QuerySet

from core.models import User

from .models import Instalment


class AgreementStoppedHook(Protocol):
    def __call__(
        self, instalments: QuerySet[Instalment], *, actor: User, reason: str
    ) -> object: ...


_AGREEMENT_STOPPED_HOOKS: list[Callable[..., object]] = []


def register_agreement_stopped_hook(hook: AgreementStoppedHook) -> None:
    """Run `hook(instalments, actor=..., reason=...)` when an agreement is suspended or terminated,
    before its instalments are put on hold or cancelled (payments in runs not yet exported must
    come out of them first)."""
    if hook not in _AGREEMENT_STOPPED_HOOKS:
        _AGREEMENT_STOPPED_HOOKS.append(hook)


def agreement_stopped(instalments: QuerySet[Instalment], *, actor: User, reason: str) -> None:
    """Called by cpo.services when an agreement is suspended or terminated."""
    for hook in _AGREEMENT_STOPPED_HOOKS:
        hook(instalments, actor=actor, reason=reason)
