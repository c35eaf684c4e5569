"""Collective files (docs/domain.md §9, issue 18): invitation, acceptance, each partner's part,
leaving with its budget lines, who sees and who does what, and the split of the approved amount."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.errors import DomainError, PermissionDenied, TransitionNotAllowed
from core.models import AuditLog, Notification
from grants import services
from grants.eligibility import eligibility_errors
from grants.models import Application, ApplicationPartner, BudgetItem, PartnerState, PaymentFlow
from grants.models import ApplicationState as S
from grants.selectors import applications_visible_to, budget_totals, invitations_for, part_totals

from .. import factories as f
from .test_transitions import put

pytestmark = pytest.mark.django_db

PARTNER_BUDGET = [
    {"account": "60", "label": "Matériel sportif", "amount": "3000.00"},
    {"account": "74", "subsidy_source": "municipality", "label": "Ville", "amount": "2000.00"},
    {"account": "75", "label": "Cotisations", "amount": "1000.00"},
]


@pytest.fixture
def club(db):
    return f.OrganisationFactory(name="Club de sport du quartier")


@pytest.fixture
def club_member(club):
    user = f.UserFactory(email="president@club.example.org")
    f.add_member(user, club)
    return user


def invite(draft, applicant, club, **kwargs):
    return services.application_invite_partner(
        actor=applicant, application=draft, siret=club.siret, role="Animations sportives", **kwargs
    )


@pytest.fixture
def partner(draft, applicant, club, club_member):
    """An accepted partner with a balanced part: 2 000 € asked of the 10 000 € of the file."""
    p = invite(draft, applicant, club)
    services.partner_accept(actor=club_member, partner=p)
    services.partner_update_part(
        actor=club_member,
        partner=p,
        data={
            "actions": "Tournois de foot le samedi",
            "requested_amount": "2000.00",
            "budget": PARTNER_BUDGET,
        },
    )
    return ApplicationPartner.objects.get(pk=p.pk)


class TestInvitation:
    def test_invite_by_siret_notifies_the_partner_and_is_audited(
        self, draft, applicant, club, club_member
    ):
        p = invite(draft, applicant, club)
        assert p.state == PartnerState.INVITED and p.organisation == club
        assert Notification.objects.filter(user=club_member).exists()
        assert AuditLog.objects.filter(
            action="grants.partner.invited", object_id=str(draft.pk)
        ).exists()
        assert list(invitations_for(club_member)) == [p]

    def test_unknown_siret_is_a_clear_error(self, draft, applicant):
        with pytest.raises(DomainError) as exc:
            services.application_invite_partner(
                actor=applicant, application=draft, siret=f.siret_for(9999)
            )
        assert exc.value.field == "siret"
        assert not ApplicationPartner.objects.exists()

    def test_invalid_siret_and_self_and_duplicate_are_refused(self, draft, applicant, club):
        with pytest.raises(DomainError):
            services.application_invite_partner(
                actor=applicant, application=draft, siret="12345678901234"
            )
        with pytest.raises(DomainError):
            services.application_invite_partner(
                actor=applicant, application=draft, siret=draft.organisation.siret
            )
        invite(draft, applicant, club)
        with pytest.raises(DomainError):
            invite(draft, applicant, club)
        assert ApplicationPartner.objects.count() == 1

    def test_only_the_lead_invites(self, draft, club, other_applicant, partner, club_member):
        with pytest.raises(PermissionDenied):
            services.application_invite_partner(
                actor=other_applicant, application=draft, siret=club.siret
            )
        third = f.OrganisationFactory()
        with pytest.raises(PermissionDenied):  # a partner does not invite others
            services.application_invite_partner(
                actor=club_member, application=draft, siret=third.siret
            )

    def test_invite_by_email_accepted_for_the_holders_organisation(self, draft, applicant):
        parents = f.OrganisationFactory(name="Association des parents")
        user = f.UserFactory(email="parents@example.org")
        f.add_member(user, parents)
        p = services.application_invite_partner(
            actor=applicant, application=draft, email="Parents@Example.org"
        )
        assert p.organisation is None and list(invitations_for(user)) == [p]
        stranger = f.UserFactory(email="autre@example.org")
        f.add_member(stranger, f.OrganisationFactory())
        with pytest.raises(PermissionDenied):
            services.partner_accept(actor=stranger, partner=p)
        p = services.partner_accept(actor=user, partner=p)
        assert p.state == PartnerState.ACCEPTED and p.organisation == parents

    def test_decline_by_the_partner(self, draft, applicant, club, club_member):
        p = services.partner_decline(actor=club_member, partner=invite(draft, applicant, club))
        assert p.state == PartnerState.DECLINED
        assert draft not in applications_visible_to(club_member)
        with pytest.raises(TransitionNotAllowed):
            services.partner_accept(actor=club_member, partner=p)

    def test_partnership_is_frozen_once_submitted(self, draft, applicant, club):
        submitted = put(draft, S.SUBMITTED)
        with pytest.raises(TransitionNotAllowed):
            invite(submitted, applicant, club)

    def test_partnership_changes_while_returned_for_completion(self, draft, applicant, club):
        returned = put(draft, S.RETURNED)
        assert invite(returned, applicant, club).state == PartnerState.INVITED


class TestParts:
    def test_partner_edits_only_its_own_lines(self, draft, applicant, partner):
        lead_lines = set(
            BudgetItem.objects.filter(application=draft, partner=None).values_list("pk", flat=True)
        )
        assert len(lead_lines) == 4
        assert part_totals(draft, partner)["charges"] == Decimal("3000.00")
        # The file's budget is the sum of the parts.
        assert budget_totals(draft)["charges"] == Decimal("23000.00")
        # The lead's own edit keeps the partner's lines.
        services.application_update(
            actor=applicant,
            application=draft,
            data={
                "budget": [
                    {"account": "64", "amount": "18000"},
                    {
                        "account": "74",
                        "subsidy_source": "municipality",
                        "amount": "10000",
                    },
                    {"account": "75", "amount": "8000"},
                ]
            },
        )
        assert part_totals(draft, partner)["charges"] == Decimal("3000.00")
        assert budget_totals(draft)["charges"] == Decimal("21000.00")

    def test_lead_cannot_edit_a_partners_part(self, applicant, partner):
        with pytest.raises(PermissionDenied):
            services.partner_update_part(actor=applicant, partner=partner, data={"actions": "x"})

    def test_invalid_partner_line_writes_nothing(self, club_member, partner):
        with pytest.raises(DomainError):
            services.partner_update_part(
                actor=club_member,
                partner=partner,
                data={"actions": "Autre", "budget": [{"account": "99", "amount": "1"}]},
            )
        partner = ApplicationPartner.objects.get(pk=partner.pk)
        assert partner.actions == "Tournois de foot le samedi"
        assert partner.budget_items.count() == 3

    def test_complete_collective_file_is_eligible(self, draft, partner):
        assert eligibility_errors(Application.objects.get(pk=draft.pk)) == {}

    def test_unbalanced_part_blocks_submission(self, draft, applicant, club_member, partner):
        services.partner_update_part(
            actor=club_member,
            partner=partner,
            data={"budget": [*PARTNER_BUDGET, {"account": "61", "amount": "500"}]},
        )
        with pytest.raises(DomainError) as exc:
            services.application_submit(actor=applicant, application=draft)
        assert any("Club de sport" in str(m) for m in exc.value.errors["budget"])
        assert Application.objects.get(pk=draft.pk).state == S.DRAFT

    def test_pending_invitation_blocks_submission(self, draft, applicant, club):
        invite(draft, applicant, club)
        errors = eligibility_errors(Application.objects.get(pk=draft.pk))
        assert any("n'a pas encore répondu" in m for m in errors["partners"])

    def test_partner_part_must_fit_its_subsidies(self, draft, club_member, partner):
        services.partner_update_part(
            actor=club_member, partner=partner, data={"requested_amount": "2500"}
        )
        errors = eligibility_errors(Application.objects.get(pk=draft.pk))
        assert any("compte 74" in m for m in errors["partners"])


class TestLeaving:
    def test_leaving_with_lines_needs_confirmation_then_takes_them(
        self, draft, club_member, partner
    ):
        with pytest.raises(DomainError) as exc:
            services.partner_leave(actor=club_member, partner=partner)
        assert exc.value.code == "confirm"
        assert partner.budget_items.count() == 3
        partner = services.partner_leave(actor=club_member, partner=partner, confirm=True)
        assert partner.state == PartnerState.LEFT
        assert not BudgetItem.objects.filter(partner=partner).exists()
        assert budget_totals(draft)["charges"] == Decimal("20000.00")
        row = AuditLog.objects.get(action="grants.partner.left")
        assert len(row.payload["budget_lines_removed"]) == 3
        assert draft not in applications_visible_to(club_member)

    def test_lead_removes_a_partner(self, draft, applicant, partner):
        services.partner_leave(actor=applicant, partner=partner, confirm=True)
        assert ApplicationPartner.objects.get(pk=partner.pk).state == PartnerState.LEFT

    def test_no_leaving_a_submitted_file(self, draft, applicant, club_member, partner):
        services.application_submit(actor=applicant, application=draft)
        with pytest.raises(TransitionNotAllowed):
            services.partner_leave(actor=club_member, partner=partner, confirm=True)
        assert partner.budget_items.count() == 3


class TestPermissions:
    def test_partner_sees_the_file_outsiders_do_not(
        self, draft, partner, club_member, other_applicant
    ):
        assert draft in applications_visible_to(club_member)
        assert draft not in applications_visible_to(other_applicant)

    def test_only_the_lead_submits_and_withdraws(self, draft, applicant, club_member, partner):
        with pytest.raises(PermissionDenied):
            services.application_submit(actor=club_member, application=draft)
        with pytest.raises(PermissionDenied):
            services.application_withdraw(actor=club_member, application=draft, reason="non")
        app = services.application_submit(actor=applicant, application=draft)
        assert app.state == S.SUBMITTED
        # Partners are notified of the file's history.
        assert Notification.objects.filter(user=club_member, title__contains="déposé").exists()

    def test_partner_drafts_the_completion_answer_the_lead_answers(
        self, draft, applicant, instructor, club_member, partner
    ):
        import datetime

        services.application_submit(actor=applicant, application=draft)
        with pytest.raises(TransitionNotAllowed):
            services.partner_draft_completion_answer(
                actor=club_member, partner=partner, text="trop tôt"
            )
        services.application_request_completion(
            actor=f.give_role(instructor, "programme_manager").user,
            application=Application.objects.get(pk=draft.pk),
            message="Précisez le calendrier des tournois.",
            deadline=datetime.date.today() + datetime.timedelta(days=10),
        )
        assert Notification.objects.filter(user=club_member, title__contains="Compléments").exists()
        p = services.partner_draft_completion_answer(
            actor=club_member, partner=partner, text="Un tournoi par mois."
        )
        assert p.completion_draft == "Un tournoi par mois."
        with pytest.raises(PermissionDenied):
            services.application_resubmit(
                actor=club_member, application=Application.objects.get(pk=draft.pk), answer="x"
            )
        app = services.application_resubmit(
            actor=applicant, application=Application.objects.get(pk=draft.pk), answer="Voir"
        )
        assert app.state == S.SUBMITTED


class TestApprovalSplit:
    def _approve(self, draft, manager, **kwargs):
        app = put(draft, S.IN_COMMITTEE)
        f.open_session_for(app, chair=manager)  # decided during an open session (issue #16)
        return services.application_approve(
            actor=manager, application=app, amount=Decimal("8000.00"), **kwargs
        )

    def test_parts_in_proportion_to_the_request(self, draft, manager, partner, club_member):
        app = self._approve(draft, manager, payment_flow=PaymentFlow.PARTNERS)
        partner = ApplicationPartner.objects.get(pk=partner.pk)
        # 10 000 asked: 8 000 by the lead, 2 000 by the club → 80 % of each.
        assert partner.approved_amount == Decimal("1600.00")
        assert app.payment_flow == PaymentFlow.PARTNERS
        row = AuditLog.objects.get(action="grants.application.approved")
        assert row.payload["parts"][draft.organisation.name] == "6400.00"
        assert Notification.objects.filter(user=club_member, title__contains="accordée").exists()

    def test_invited_partner_cannot_be_funded(self, draft, manager, applicant):
        invite(draft, applicant, f.OrganisationFactory())
        with pytest.raises(DomainError) as exc:
            self._approve(draft, manager)
        assert exc.value.code == "partner_not_accepted"
        assert Application.objects.get(pk=draft.pk).state == S.IN_COMMITTEE


class TestPages:
    def test_outsider_gets_404_partner_sees_the_page(
        self, client, draft, partner, club_member, other_applicant
    ):
        client.force_login(other_applicant)
        assert client.get(f"/dossiers/{draft.pk}/partenariat/").status_code == 404
        assert client.get(f"/dossiers/{draft.pk}/").status_code == 404
        client.force_login(club_member)
        page = client.get(f"/dossiers/{draft.pk}/partenariat/")
        assert page.status_code == 200
        assert "partner-part-form" in page.content.decode()
        assert client.get(f"/dossiers/{draft.pk}/").status_code == 200
        # The lead's edit page stays the lead's.
        assert client.get(f"/dossiers/{draft.pk}/modifier/").status_code == 404

    def test_lead_invites_and_partner_accepts_then_saves_its_part(
        self, client, draft, applicant, club, club_member
    ):
        client.force_login(applicant)
        url = f"/dossiers/{draft.pk}/partenariat/"
        response = client.post(
            url, {"action": "invite", "invite-siret": club.siret, "invite-role": "Sport"}
        )
        assert response.status_code == 302
        partner = ApplicationPartner.objects.get()
        client.force_login(club_member)
        assert "Répondre" in client.get("/dossiers/").content.decode()
        client.post(url, {"action": "accept", "partner": partner.pk})
        assert ApplicationPartner.objects.get().state == PartnerState.ACCEPTED
        data = {
            "action": "part",
            "part-role": "Sport",
            "part-actions": "Tournois",
            "part-requested_amount": "2000",
            "charges-TOTAL_FORMS": "1",
            "charges-INITIAL_FORMS": "0",
            "charges-0-account": "60",
            "charges-0-amount": "2000",
            "products-TOTAL_FORMS": "1",
            "products-INITIAL_FORMS": "0",
            "products-0-account": "74",
            "products-0-subsidy_source": "municipality",
            "products-0-amount": "2000",
        }
        assert client.post(url, data).status_code == 302
        assert part_totals(draft, ApplicationPartner.objects.get())["balance"] == 0
        assert ApplicationPartner.objects.get().actions == "Tournois"

    def test_bad_siret_is_a_400_with_the_message(self, client, draft, applicant):
        client.force_login(applicant)
        response = client.post(
            f"/dossiers/{draft.pk}/partenariat/", {"action": "invite", "invite-siret": "123"}
        )
        assert response.status_code == 400
        assert "SIRET n&#x27;est pas valide" in response.content.decode()

    def test_leave_without_confirmation_is_refused_then_confirmed(
        self, client, draft, partner, club_member
    ):
        client.force_login(club_member)
        url = f"/dossiers/{draft.pk}/partenariat/"
        assert client.post(url, {"action": "leave", "partner": partner.pk}).status_code == 400
        assert partner.budget_items.count() == 3
        response = client.post(
            url, {"action": "leave", "partner": partner.pk, "leave-confirm": "on"}
        )
        assert response.status_code == 302 and response.url == "/dossiers/"
        assert not BudgetItem.objects.filter(partner=partner).exists()

    def test_email_invitation_answered_from_the_account(self, client, draft, applicant):
        parents = f.OrganisationFactory(name="Association des parents")
        user = f.UserFactory(email="parents@example.org")
        f.add_member(user, parents)
        p = services.application_invite_partner(
            actor=applicant, application=draft, email="parents@example.org"
        )
        client.force_login(applicant)
        assert client.get(f"/dossiers/invitations/{p.pk}/").status_code == 404
        client.force_login(user)
        response = client.post(
            f"/dossiers/invitations/{p.pk}/", {"action": "accept", "organisation": parents.pk}
        )
        assert response.status_code == 302
        assert ApplicationPartner.objects.get(pk=p.pk).organisation == parents
