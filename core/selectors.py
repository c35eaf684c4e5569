"""Reads for accounts and organisations: who may see which organisation, document, notification."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import Invitation, Membership, Notification, Organisation, OrganisationDocument, User
from .permissions import is_staff_member, organisation_ids_of


def organisations_visible_to(user: User) -> QuerySet[Organisation]:
    """Members see their organisations; staff (instructors, finance, auditors…) see every one."""
    if not user.is_authenticated:
        return Organisation.objects.none()
    if is_staff_member(user):
        return Organisation.objects.all()
    return Organisation.objects.filter(pk__in=organisation_ids_of(user))


def documents_visible_to(user: User) -> QuerySet[OrganisationDocument]:
    """The organisation's members and staff who review applications; nobody else (not even other
    applicants or resident panel members)."""
    if not user.is_authenticated:
        return OrganisationDocument.objects.none()
    qs = OrganisationDocument.objects.select_related("organisation")
    if is_staff_member(user):
        return qs
    return qs.filter(organisation_id__in=organisation_ids_of(user))


def memberships_of(user: User) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(user=user)
        .select_related("organisation")
        .order_by("organisation__name")
    )


def members_of(organisation: Organisation) -> QuerySet[Membership]:
    return organisation.memberships.select_related("user").order_by(
        "-is_admin", "user__last_name", "user__email"
    )


def pending_invitations(organisation: Organisation) -> QuerySet[Invitation]:
    from .clock import now

    return organisation.invitations.filter(
        accepted_at__isnull=True, expires_at__gte=now()
    ).order_by("-created_at")


def notifications_of(user: User) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user).order_by("-created_at", "-id")
