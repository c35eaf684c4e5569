"""Inviting a partner by e-mail to an address without an account (docs/domain.md §9, issue 18): an
e-mail with an absolute sign-up link; once the account and its organisation exist, the invitation
is found and accepted; it expires; the lead may revoke it; every step is audited."""

from __future__ import annotations

import datetime
import re

import pytest
import time_machine
from django.core import mail

from core import services as core_services
from core.clock import now
from core.errors import TransitionNotAllowed
from core.models import AuditLog, Organisation, User
from grants import services
from grants.models import PARTNER_INVITATION_DAYS, ApplicationPartner, PartnerState
from grants.selectors import invitations_for

from .. import factories as f

pytestmark = pytest.mark.django_db
EMAIL = "Parents.Jas@example.org"
PASSWORD = "Quartier-Nord-2026!"
LA_POSTE_SIRET = "35600000000048"


def invite(draft, applicant, capture, email=EMAIL):
    with capture(execute=True):
        return services.application_invite_partner(
            actor=applicant, application=draft, email=email, role="Accueil des familles"
        )


def sign_up(capture) -> User:
    """The invitee creates their account and organisation, then confirms the address."""
    with capture(execute=True):
        user = core_services.user_signup(
            email=EMAIL,
            password=PASSWORD,
            first_name="Nadia",
            last_name="Haddad",
            organisation_data={"name": "Parents du Jas", "siret": LA_POSTE_SIRET},
        )
    link = next(m for m in mail.outbox if "/inscription/confirmer/" in m.body)
    token = re.search(r"/inscription/confirmer/([^/\s]+)/", link.body).group(1)
    core_services.user_verify_email(token=token)
    return User.objects.get(pk=user.pk)


def test_an_address_without_account_gets_a_sign_up_link(
    draft, applicant, settings, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "https://pluriel.example.org"
    partner = invite(draft, applicant, django_capture_on_commit_callbacks)
    (message,) = mail.outbox
    assert message.to == ["parents.jas@example.org"]
    assert draft.organisation.name in message.subject
    assert (
        "https://pluriel.example.org/inscription/?email=parents.jas%40example.org" in message.body
    )
    assert partner.expires_at is not None
    assert (
        partner.expires_at.date()
        == (now() + datetime.timedelta(days=PARTNER_INVITATION_DAYS)).date()
    )
    assert partner.expires_at.strftime("%d/%m/%Y") in message.body
    row = AuditLog.objects.get(action="grants.partner.invited")
    assert row.payload["sign_up_invited"] is True


def test_an_address_with_an_account_is_notified_not_asked_to_sign_up(
    draft, applicant, django_capture_on_commit_callbacks
):
    user = f.UserFactory(email="parents.jas@example.org")
    invite(draft, applicant, django_capture_on_commit_callbacks)
    assert all("/inscription/?email=" not in m.body for m in mail.outbox)
    assert user.notifications.exists()
    assert AuditLog.objects.get(action="grants.partner.invited").payload["sign_up_invited"] is False


def test_after_sign_up_the_invitation_is_found_and_accepted(
    client, draft, applicant, django_capture_on_commit_callbacks
):
    partner = invite(draft, applicant, django_capture_on_commit_callbacks)
    user = sign_up(django_capture_on_commit_callbacks)
    organisation = Organisation.objects.get(siret=LA_POSTE_SIRET)
    assert list(invitations_for(user)) == [partner]
    client.force_login(user)
    assert "partner-invitations" in client.get("/dossiers/").text
    response = client.post(
        f"/dossiers/invitations/{partner.pk}/",
        {"action": "accept", "organisation": organisation.pk},
    )
    assert response.status_code == 302
    partner = ApplicationPartner.objects.get(pk=partner.pk)
    assert partner.state == PartnerState.ACCEPTED and partner.organisation == organisation
    assert AuditLog.objects.filter(action="grants.partner.accepted").exists()


def test_the_sign_up_page_is_prefilled_with_the_invited_address(client):
    page = client.get("/inscription/?email=parents.jas%40example.org")
    assert 'value="parents.jas@example.org"' in page.text


def test_an_expired_invitation_cannot_be_accepted_and_a_new_one_closes_it(
    client, draft, applicant, django_capture_on_commit_callbacks
):
    partner = invite(draft, applicant, django_capture_on_commit_callbacks)
    user = sign_up(django_capture_on_commit_callbacks)
    later = now() + datetime.timedelta(days=PARTNER_INVITATION_DAYS + 1)
    with time_machine.travel(later, tick=False):
        assert ApplicationPartner.objects.get(pk=partner.pk).is_expired
        assert list(invitations_for(user)) == []
        with pytest.raises(TransitionNotAllowed) as exc:
            services.partner_accept(actor=user, partner=partner)
        assert "expiré" in str(exc.value.message)
        client.force_login(user)
        assert client.get(f"/dossiers/invitations/{partner.pk}/").status_code == 404
        client.force_login(applicant)
        page = client.get(f"/dossiers/{draft.pk}/partenariat/")
        assert "Invitation expirée le" in page.text
        # The lead invites the same address again: the expired invitation is closed, audited.
        again = invite(draft, applicant, django_capture_on_commit_callbacks)
        assert ApplicationPartner.objects.get(pk=partner.pk).state == PartnerState.EXPIRED
        assert AuditLog.objects.filter(action="grants.partner.invitation_expired").count() == 1
        assert list(invitations_for(user)) == [again]
        services.partner_accept(actor=user, partner=again)
    assert ApplicationPartner.objects.get(pk=again.pk).state == PartnerState.ACCEPTED


def test_the_lead_revokes_an_email_invitation(draft, applicant, django_capture_on_commit_callbacks):
    partner = invite(draft, applicant, django_capture_on_commit_callbacks)
    services.partner_decline(actor=applicant, partner=partner)
    row = AuditLog.objects.get(action="grants.partner.declined")
    assert row.payload["by_lead"] is True
    user = sign_up(django_capture_on_commit_callbacks)
    assert list(invitations_for(user)) == []
    with pytest.raises(TransitionNotAllowed):
        services.partner_accept(actor=user, partner=partner)
