"""Role checks. Roles come from RoleAssignment (staff, residents) and Membership (applicants).

The results are cached on the user object for the request: a page asks many times.
"""

from __future__ import annotations

from dataclasses import dataclass

from .compiled_reads import CompiledRead
from .models import Membership, Organisation, Role, RoleAssignment, User


@dataclass(frozen=True)
class Scope:
    """Where an instructor (or committee member) may look."""

    everything: bool
    calls_only: bool
    territory_ids: frozenset[int]


@dataclass(frozen=True)
class _Assignment:
    """What the checks below read of a RoleAssignment (unique per user and role)."""

    role: str
    calls_only: bool
    funder_id: int | None
    territory_ids: frozenset[int]


# Read on every signed-in page (the navigation and the 2FA check ask): compiled once per process
# (core.compiled_reads; building and compiling each queryset cost more than running it, issue 17).
ASSIGNMENT_ROWS = CompiledRead(
    lambda user_id: RoleAssignment.objects.filter(user_id=user_id).values(
        "pk", "role", "calls_only", "funder_id", "territories"
    )
)
MEMBERSHIP_ROWS = CompiledRead(
    lambda user_id: Membership.objects.filter(user_id=user_id).values("organisation_id")
)


def _assignments(user: User) -> list[_Assignment]:
    """The user's roles with their territories, in one query (read on every page: the navigation
    asks; issue 17), kept on the user object for the request."""
    cached = getattr(user, "_pluriel_roles", None)
    if cached is None:
        rows: dict[int, tuple[str, bool, int | None, set[int]]] = {}
        if user.is_authenticated:
            for row in ASSIGNMENT_ROWS(user.pk):
                entry = rows.setdefault(
                    row["pk"], (row["role"], row["calls_only"], row["funder_id"], set())
                )
                if row["territories"] is not None:
                    entry[3].add(row["territories"])
        cached = [
            _Assignment(role, calls_only, funder_id, frozenset(territories))
            for role, calls_only, funder_id, territories in rows.values()
        ]
        user._pluriel_roles = cached  # type: ignore[attr-defined]
    return cached


def roles_of(user: User) -> set[str]:
    roles = {a.role for a in _assignments(user)}
    if user.is_authenticated and user.is_superuser:
        roles.add(Role.ADMIN)
    if organisation_ids_of(user):
        roles.add(Role.APPLICANT)
    return roles


def has_role(user: User, *roles: str) -> bool:
    """True if the user holds one of the roles. Admins hold every staff role."""
    if not user.is_authenticated:
        return False
    mine = roles_of(user)
    if Role.ADMIN in mine:
        return True
    return any(r in mine for r in roles)


def is_staff_member(user: User) -> bool:
    return has_role(
        user,
        Role.INSTRUCTOR,
        Role.COMMITTEE_MEMBER,
        Role.FINANCE_OFFICER,
        Role.PROGRAMME_MANAGER,
        Role.AUDITOR,
    )


def organisation_ids_of(user: User) -> set[int]:
    cached = getattr(user, "_pluriel_orgs", None)
    if cached is None:
        cached = (
            {row["organisation_id"] for row in MEMBERSHIP_ROWS(user.pk)}
            if user.is_authenticated
            else set()
        )
        user._pluriel_orgs = cached  # type: ignore[attr-defined]
    return cached


def is_member(user: User, organisation: Organisation) -> bool:
    return organisation.pk in organisation_ids_of(user)


def is_organisation_admin(user: User, organisation: Organisation) -> bool:
    return (
        user.is_authenticated
        and Membership.objects.filter(user=user, organisation=organisation, is_admin=True).exists()
    )


def can_see_bank_details(user: User, organisation: Organisation) -> bool:
    """Bank details: finance officers and the organisation's own members only (docs/domain.md §1)."""
    return is_member(user, organisation) or has_role(user, Role.FINANCE_OFFICER)


def scope_of(user: User, role: str) -> Scope | None:
    """The scope of one role, or None if the user does not hold it. Admins see everything."""
    if user.is_authenticated and user.is_superuser:
        return Scope(everything=True, calls_only=False, territory_ids=frozenset())
    for a in _assignments(user):
        if a.role == Role.ADMIN:
            return Scope(everything=True, calls_only=False, territory_ids=frozenset())
    for a in _assignments(user):
        if a.role == role:
            return Scope(
                everything=not a.territory_ids and not a.calls_only,
                calls_only=a.calls_only,
                territory_ids=a.territory_ids,
            )
    return None


def forget_cached_roles(user: User) -> None:
    for attr in ("_pluriel_roles", "_pluriel_orgs"):
        if hasattr(user, attr):
            delattr(user, attr)


def funder_id_of(user: User, role: str) -> int | None:
    """The funder the user speaks for in `role` (RoleAssignment.funder), or None: not restricted
    to one funder (an admin, or an assignment naming none). A co-funded file's part is decided
    only by its own funder's agents (grants.services.cofunding)."""
    if not user.is_authenticated or user.is_superuser:
        return None
    for a in _assignments(user):
        if a.role == Role.ADMIN:
            return None
    for a in _assignments(user):
        if a.role == role:
            return a.funder_id
    return None
