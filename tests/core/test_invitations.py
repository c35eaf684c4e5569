"""Invitations: organisation members (by the organisation's admin) and staff (by managers)."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from core import services
from core.errors import DomainError, PermissionDenied
from core.models import AuditLog, Invitation, Membership, Role, RoleAssignment, User
from tests import factories as f


def _token_from_last_email() -> str:
    return re.search(r"/invitations/([^/\s]+)/", mail.outbox[-1].body).group(1)


# --------------------------------------------------------------------------- membership


@pytest.mark.django_db(transaction=True)
def test_org_admin_invites_member_email_sent_after_commit(organisation, applicant):
    invitation = services.membership_invite(
        actor=applicant, organisation=organisation, email="Nouveau@Asso.example.org", is_admin=False
    )
    assert invitation.email == "nouveau@asso.example.org"
    assert invitation.expires_at - timezone.now() > timedelta(days=13, hours=23)
    assert len(mail.outbox) == 1 and organisation.name in mail.outbox[0].subject
    assert _token_from_last_email() == invitation.token
    assert AuditLog.objects.filter(action="core.invitation.sent").exists()


def test_plain_member_or_staff_cannot_invite(organisation, instructor):
    member = f.UserFactory(email="simple@asso.example.org")
    f.add_member(member, organisation, is_admin=False)
    for actor in (member, instructor):
        with pytest.raises(PermissionDenied):
            services.membership_invite(
                actor=actor, organisation=organisation, email="x@example.org"
            )


def test_inviting_an_existing_member_is_refused(organisation, applicant):
    with pytest.raises(DomainError) as exc:
        services.membership_invite(
            actor=applicant, organisation=organisation, email=applicant.email.upper()
        )
    assert exc.value.field == "email"


def test_new_person_accepts_and_becomes_member(organisation, applicant):
    invitation = services.membership_invite(
        actor=applicant, organisation=organisation, email="nina@example.org", is_admin=True
    )
    user = services.invitation_accept(
        token=invitation.token,
        user_or_new_user_data={
            "first_name": "Nina",
            "last_name": "Diallo",
            "password": "Jardins-partages-2026",
        },
    )
    assert (
        user.email == "nina@example.org" and user.is_active and user.email_verified_at is not None
    )
    assert Membership.objects.get(user=user, organisation=organisation).is_admin
    invitation.refresh_from_db()
    assert invitation.accepted_at is not None
    assert AuditLog.objects.filter(
        action="core.invitation.accepted", object_id=str(invitation.pk)
    ).exists()
    with pytest.raises(DomainError):  # single use
        services.invitation_accept(token=invitation.token, user_or_new_user_data=user)


def test_existing_user_accepts_only_with_the_invited_address(
    organisation, applicant, other_applicant
):
    invitation = services.membership_invite(
        actor=applicant, organisation=organisation, email=other_applicant.email
    )
    intruder = f.UserFactory(email="intrus@example.org")
    with pytest.raises(DomainError):
        services.invitation_accept(token=invitation.token, user_or_new_user_data=intruder)
    assert not Membership.objects.filter(user=intruder).exists()
    services.invitation_accept(token=invitation.token, user_or_new_user_data=other_applicant)
    assert not Membership.objects.get(user=other_applicant, organisation=organisation).is_admin


def test_new_account_data_refused_when_the_address_has_an_account(
    organisation, applicant, other_applicant
):
    invitation = services.membership_invite(
        actor=applicant, organisation=organisation, email=other_applicant.email
    )
    with pytest.raises(DomainError) as exc:
        services.invitation_accept(
            token=invitation.token,
            user_or_new_user_data={
                "first_name": "X",
                "last_name": "Y",
                "password": "Jardins-partages-2026",
            },
        )
    assert exc.value.code == "account_exists"
    other_applicant.refresh_from_db()
    assert other_applicant.check_password("secret-pass-123")


def test_expired_invitation_refused(organisation, applicant, time_machine):
    invitation = services.membership_invite(
        actor=applicant, organisation=organisation, email="tard@example.org"
    )
    time_machine.move_to(timezone.now() + timedelta(days=15))
    with pytest.raises(DomainError) as exc:
        services.invitation_accept(
            token=invitation.token,
            user_or_new_user_data={
                "first_name": "A",
                "last_name": "B",
                "password": "Jardins-partages-2026",
            },
        )
    assert exc.value.code == "expired"
    assert not User.objects.filter(email="tard@example.org").exists()


def test_weak_password_reported_on_field(organisation, applicant):
    invitation = services.membership_invite(
        actor=applicant, organisation=organisation, email="n@example.org"
    )
    with pytest.raises(DomainError) as exc:
        services.invitation_accept(
            token=invitation.token,
            user_or_new_user_data={"first_name": "A", "last_name": "B", "password": "123"},
        )
    assert "password" in exc.value.errors
    assert not Invitation.objects.filter(accepted_at__isnull=False).exists()


# --------------------------------------------------------------------------- staff


def test_manager_invites_instructor_who_accepts(manager):
    invitation = services.staff_invite(
        actor=manager, email="agent@ville.example.org", role=Role.INSTRUCTOR
    )
    user = services.invitation_accept(
        token=invitation.token,
        user_or_new_user_data={
            "first_name": "Karim",
            "last_name": "Haddad",
            "password": "Instruction-2026!",
        },
    )
    assert RoleAssignment.objects.filter(user=user, role=Role.INSTRUCTOR).exists()
    assert AuditLog.objects.filter(action="core.user.role_granted", object_id=str(user.pk)).exists()


def test_staff_invite_rules(manager, applicant, instructor):
    with pytest.raises(PermissionDenied):
        services.staff_invite(actor=applicant, email="x@example.org", role=Role.INSTRUCTOR)
    with pytest.raises(PermissionDenied):
        services.staff_invite(actor=instructor, email="x@example.org", role=Role.AUDITOR)
    with pytest.raises(DomainError) as exc:
        services.staff_invite(actor=manager, email="x@example.org", role=Role.ADMIN)
    assert "role" in exc.value.errors
    with pytest.raises(DomainError):
        services.staff_invite(actor=manager, email="x@example.org", role=Role.APPLICANT)
    with pytest.raises(DomainError) as exc:
        services.staff_invite(actor=manager, email=instructor.email, role=Role.INSTRUCTOR)
    assert "email" in exc.value.errors


# --------------------------------------------------------------------------- pages


@pytest.mark.django_db(transaction=True)
def test_members_page_invite_then_accept_as_newcomer(client, organisation, applicant):
    client.force_login(applicant)
    url = reverse("core:members", args=[organisation.pk])
    response = client.post(url, {"email": "lea@example.org", "is_admin": ""})
    assert response.status_code == 302
    assert "lea@example.org" in client.get(url).content.decode()  # pending invitation listed

    client.logout()
    accept = reverse("core:invitation_accept", args=[_token_from_last_email()])
    page = client.get(accept).content.decode()
    assert organisation.name in page and 'for="id_password"' in page
    response = client.post(
        accept,
        {
            "first_name": "Léa",
            "last_name": "Martin",
            "password": "Quartiers-2026!",
            "password_confirm": "Quartiers-2026!",
        },
    )
    assert response.status_code == 302
    lea = User.objects.get(email="lea@example.org")
    assert int(client.session["_auth_user_id"]) == lea.pk
    assert (
        client.get(reverse("core:organisation_detail", args=[organisation.pk])).status_code == 200
    )


def test_invitation_page_unknown_token_is_404(client, db):
    response = client.get(reverse("core:invitation_accept", args=["inconnu"]))
    assert response.status_code == 404
    assert "introuvable" in response.content.decode()


def test_invitation_page_wrong_signed_in_account(client, organisation, applicant, other_applicant):
    invitation = services.membership_invite(
        actor=applicant, organisation=organisation, email="bon@example.org"
    )
    client.force_login(other_applicant)
    url = reverse("core:invitation_accept", args=[invitation.token])
    assert "un autre compte" in client.get(url).content.decode()
    client.post(url)
    assert not Membership.objects.filter(user=other_applicant, organisation=organisation).exists()


def test_staff_invite_page_only_for_managers(client, manager, instructor):
    client.force_login(instructor)
    assert client.get(reverse("core:staff_invite")).status_code == 404
    client.force_login(manager)
    response = client.post(
        reverse("core:staff_invite"), {"email": "audit2@ville.example.org", "role": "auditor"}
    )
    assert response.status_code == 302
    assert Invitation.objects.filter(email="audit2@ville.example.org", role="auditor").exists()
