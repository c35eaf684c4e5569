"""Reads of the contracts app, and who may see or do what on a contract.

Staff (core roles) see every contract; the other readers hold a ContractMember role on it:
a signatory's representative, a steering member, a conseil citoyen member. The public sees
nothing here (the public directory lives in reporting)."""

from __future__ import annotations

from django.db.models import QuerySet

from core.models import QPV, Role, User
from core.permissions import has_role, is_staff_member

from .models import Commitment, Contract, ContractMember, MemberRole, Signatory


def can_manage_contracts(user: User) -> bool:
    """Programme managers (and admins) write contracts, parts, commitments and decisions."""
    return has_role(user, Role.PROGRAMME_MANAGER)


def contracts_readable_by(user: User) -> QuerySet[Contract]:
    if not user.is_authenticated:
        return Contract.objects.none()
    if is_staff_member(user):
        return Contract.objects.all()
    return Contract.objects.filter(members__user=user).distinct()


def member_roles(user: User, contract: Contract) -> list[ContractMember]:
    if not user.is_authenticated:
        return []
    return list(
        ContractMember.objects.filter(user=user, contract=contract).select_related(
            "signatory", "qpv"
        )
    )


def has_contract_role(user: User, contract: Contract, role: str) -> bool:
    return any(m.role == role for m in member_roles(user, contract))


def represented_signatories(user: User, contract: Contract) -> list[Signatory]:
    return [
        m.signatory
        for m in member_roles(user, contract)
        if m.role == MemberRole.SIGNATORY_REP and m.signatory is not None
    ]


def citizen_qpvs(user: User, contract: Contract) -> list[QPV]:
    """The QPVs whose conseil citoyen the user sits on, within this contract."""
    return [
        m.qpv
        for m in member_roles(user, contract)
        if m.role == MemberRole.CITIZEN and m.qpv is not None
    ]


def can_steer(user: User, contract: Contract) -> bool:
    """Record decisions: programme managers, and steering members of this contract."""
    return can_manage_contracts(user) or has_contract_role(user, contract, MemberRole.STEERING)


def commitments_of(contract: Contract) -> QuerySet[Commitment]:
    return contract.commitments.select_related("signatory", "part")
