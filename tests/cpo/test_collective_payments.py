"""The money of a collective file (docs/domain.md §9, issue 18): paid to each partner for its part
(instalments per partner, each paid on its own bank details), or paid to the lead with a
partnership annex."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from core.clock import today
from core.errors import DomainError
from core.models import Organisation, Role
from cpo import documents
from cpo import services as cpo_services
from cpo.models import InstalmentState
from cpo.services_changes import amendment_preview
from finance import services as finance_services
from grants import services
from grants.models import Application, ApplicationPartner, PaymentFlow
from grants.models import ApplicationState as S

from .. import factories as f

pytestmark = pytest.mark.django_db

PARTNER_BUDGET = [
    {"account": "60", "label": "Matériel sportif", "amount": "3000.00"},
    {"account": "74", "subsidy_source": "municipality", "label": "Ville", "amount": "2000.00"},
    {"account": "75", "label": "Cotisations", "amount": "1000.00"},
]


@pytest.fixture
def club(db):
    return f.OrganisationFactory(name="Club de sport", iban="FR7612345000019876543210913")


def collective_approved(draft, applicant, club, manager, flow: str) -> Application:
    """The conftest draft (10 000 € asked) with the club asking 2 000 €, approved for 8 000 €."""
    member = f.UserFactory(email="club@example.org")
    f.add_member(member, club)
    partner = services.application_invite_partner(
        actor=applicant, application=draft, siret=club.siret, role="Animations sportives"
    )
    services.partner_accept(actor=member, partner=partner)
    services.partner_update_part(
        actor=member,
        partner=partner,
        data={"actions": "Tournois", "requested_amount": "2000.00", "budget": PARTNER_BUDGET},
    )
    app = Application.objects.get(pk=draft.pk)
    Application.objects.filter(pk=app.pk).update(state=S.IN_COMMITTEE)
    app = Application.objects.get(pk=app.pk)
    f.open_session_for(app, chair=manager)  # decided during an open session (issue #16)
    return services.application_approve(
        actor=manager,
        application=app,
        amount=Decimal("8000.00"),
        payment_flow=flow,
    )


@pytest.fixture
def signed_agreement(instructor):
    def build(app: Application):
        agreement = cpo_services.agreement_create_from_application(
            actor=instructor,
            application=app,
            profile="flat",
            duration_years=1,
            first_year=today().year,
            instalment_template="at_signature",
        )
        cpo_services.agreement_sign(
            actor=instructor, agreement=agreement, signed_on=today() - datetime.timedelta(days=1)
        )
        cpo_services.instalments_refresh(day=today(), agreement_ids=[agreement.pk])
        return type(agreement).objects.get(pk=agreement.pk)

    return build


@pytest.fixture
def officers(db):
    first = f.UserFactory(email="f1@ville.example.org")
    second = f.UserFactory(email="f2@ville.example.org")
    f.give_role(first, Role.FINANCE_OFFICER)
    f.give_role(second, Role.FINANCE_OFFICER)
    return first, second


def by_payee(agreement) -> dict[int | None, Decimal]:
    totals: dict[int | None, Decimal] = {}
    for i in agreement.instalments.all():
        totals[i.beneficiary_id] = totals.get(i.beneficiary_id, Decimal("0")) + i.amount
    return totals


class TestPaidToEachPartner:
    def test_instalments_per_partner_sum_to_each_part(
        self, draft, applicant, club, manager, signed_agreement
    ):
        app = collective_approved(draft, applicant, club, manager, PaymentFlow.PARTNERS)
        agreement = signed_agreement(app)
        # 10 000 asked (8 000 lead, 2 000 club), 8 000 granted: 6 400 and 1 600.
        assert by_payee(agreement) == {None: Decimal("6400.00"), club.pk: Decimal("1600.00")}
        assert ApplicationPartner.objects.get().approved_amount == Decimal("1600.00")
        assert sum(i.amount for i in agreement.instalments.all()) == agreement.total_amount
        partner_instalment = agreement.instalments.get(beneficiary=club)
        assert partner_instalment.payee == club

    def test_payment_run_pays_each_partner_on_its_own_bank_details(
        self, draft, applicant, club, manager, signed_agreement, officers
    ):
        app = collective_approved(draft, applicant, club, manager, PaymentFlow.PARTNERS)
        agreement = signed_agreement(app)
        assert set(agreement.instalments.values_list("state", flat=True)) == {InstalmentState.DUE}
        run = finance_services.payment_run_create(
            actor=officers[0], instalment_ids=agreement.instalments.values_list("pk", flat=True)
        )
        items = {item.organisation_id: item for item in run.items.all()}
        assert items[club.pk].iban == club.iban and items[club.pk].amount == Decimal("1600.00")
        assert items[club.pk].siret == club.siret
        lead = agreement.organisation
        assert items[lead.pk].iban == lead.iban and items[lead.pk].amount == Decimal("6400.00")

    def test_partner_without_bank_details_is_never_paid_on_the_leads(
        self, draft, applicant, club, manager, signed_agreement, officers
    ):
        app = collective_approved(draft, applicant, club, manager, PaymentFlow.PARTNERS)
        Organisation.objects.filter(pk=club.pk).update(iban="", bic="")
        agreement = signed_agreement(app)
        held = agreement.instalments.get(beneficiary=club)
        assert held.state == InstalmentState.ON_HOLD
        assert held.hold_reason == "Coordonnées bancaires manquantes"
        ids = list(agreement.instalments.values_list("pk", flat=True))
        run = finance_services.payment_run_create(actor=officers[0], instalment_ids=ids)
        assert list(run.items.values_list("organisation_id", flat=True)) == [
            agreement.organisation_id
        ]

    def test_amounts_amendment_is_refused_for_now(
        self, draft, applicant, club, manager, signed_agreement
    ):
        agreement = signed_agreement(
            collective_approved(draft, applicant, club, manager, PaymentFlow.PARTNERS)
        )
        with pytest.raises(DomainError) as exc:
            amendment_preview(agreement=agreement, years={today().year: Decimal("7000.00")})
        assert exc.value.code == "partners_replan"

    def test_no_annex_when_each_partner_is_paid(
        self, draft, applicant, club, manager, signed_agreement
    ):
        agreement = signed_agreement(
            collective_approved(draft, applicant, club, manager, PaymentFlow.PARTNERS)
        )
        assert not documents.has_partnership_annex(agreement)


class TestPaidToTheLead:
    def test_everything_to_the_lead_with_a_partnership_annex(
        self, draft, applicant, club, manager, signed_agreement, client
    ):
        app = collective_approved(draft, applicant, club, manager, PaymentFlow.LEAD)
        agreement = signed_agreement(app)
        assert by_payee(agreement) == {None: Decimal("8000.00")}
        assert documents.has_partnership_annex(agreement)
        annex = documents.render_partnership_annex(agreement)
        text = "\n".join(annex.lines)
        assert "Club de sport" in text and "Animations sportives" in text
        assert documents.pdf_safe(documents.euros(Decimal("1600.00"))) in text
        assert documents.pdf_safe(documents.euros(Decimal("6400.00"))) in text
        assert annex.content.startswith(b"%PDF")
        client.force_login(applicant)
        response = client.get(f"/conventions/{agreement.pk}/partenariat.pdf")
        assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
        outsider = f.UserFactory(email="x@example.org")
        f.add_member(outsider, f.OrganisationFactory())
        client.force_login(outsider)
        assert client.get(f"/conventions/{agreement.pk}/partenariat.pdf").status_code == 404
