"""What every contract page shares: the contract the user may see (else 404)."""

from __future__ import annotations

from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from contracts.models import Contract
from contracts.selectors import contracts_readable_by
from core.models import User


def user_of(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def get_contract(request: HttpRequest, pk: int) -> Contract:
    return get_object_or_404(contracts_readable_by(user_of(request)), pk=pk)
