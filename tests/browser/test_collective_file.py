"""A collective file in the browser (docs/domain.md §9, issue 18): two associations build and submit
one file — the lead invites the partner, the partner accepts and fills its budget lines, the lead
submits —, the committee approves it with payment per partner, and the finance side sees the
instalments of each partner. The steps between submission and the committee (eligibility,
review, agenda) are the classic call's, covered by test_classic_call.py: run here by services."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from core.clock import today
from cpo import services as cpo_services
from cpo.models import Instalment
from grants import services
from grants.models import Application, ApplicationPartner, PartnerState, PaymentFlow
from grants.models import ApplicationState as S

from .. import factories as f
from .conftest import login
from .helpers import screenshot

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def fresh(application: Application) -> Application:
    return Application.objects.get(pk=application.pk)


def fill_row(table, n: int, *, account: str, label: str, amount: str, funder: str = "") -> None:
    table.get_by_label(f"Compte, ligne {n}", exact=True).select_option(label=account)
    if funder:
        table.get_by_label(f"Financeur de la subvention, ligne {n}", exact=True).select_option(
            label=funder
        )
    table.get_by_label(f"Libellé, ligne {n}", exact=True).fill(label)
    table.get_by_label(f"Montant en euros, ligne {n}", exact=True).fill(amount)


def test_two_associations_build_one_file_paid_to_each(
    page, new_person_page, draft, applicant, organisation, instructor, manager, finance_officer
):
    club = f.OrganisationFactory(name="Club sportif du Merlan", iban="FR7612345000019876543210913")
    club_member = f.UserFactory(email="presidente@club-merlan.example.org")
    f.add_member(club_member, club)
    partnership = f"/dossiers/{draft.pk}/partenariat/"

    # 1. The lead invites the club by its SIRET and asks for payment to each partner.
    login(page, applicant.email)
    page.goto(partnership)
    page.get_by_label("SIRET de l'organisation partenaire").fill(club.siret)
    page.get_by_label("Rôle dans le projet").fill("Animations sportives")
    page.get_by_role("button", name="Inviter", exact=True).click()
    expect(page.locator("#partners-table")).to_contain_text("Club sportif du Merlan")
    page.get_by_label("Versement de la subvention").select_option(
        label=str(PaymentFlow.PARTNERS.label)
    )
    page.get_by_role("button", name="Enregistrer le mode de versement").click()
    expect(page.locator("#payment-flow")).to_have_text(str(PaymentFlow.PARTNERS.label))
    screenshot(page, "collective-01-lead-invites")

    # 2. The club, from its own account, accepts and fills its part and its budget lines.
    partner_page = new_person_page()
    login(partner_page, club_member.email)
    partner_page.goto("/dossiers/")
    invitations = partner_page.locator("#partner-invitations")
    expect(invitations).to_contain_text(draft.title)
    invitations.get_by_role("link", name="Répondre").click()
    partner_page.get_by_role("button", name="Accepter l'invitation").click()
    expect(partner_page.get_by_role("status")).to_contain_text("Vous êtes partenaire du dossier.")
    part = partner_page.locator("#partner-part-form")
    part.get_by_label("Actions portées").fill("Tournois inter-quartiers le samedi")
    part.get_by_label("Part du montant demandé (€)").fill("2 000,00")
    charges = part.get_by_role("table", name="Charges")
    products = part.get_by_role("table", name="Produits")
    fill_row(charges, 1, account="60 — Achats", label="Matériel sportif", amount="3 000")
    fill_row(
        products,
        1,
        account="74 — Subventions d'exploitation",
        label="Ville",
        amount="2 000",
        funder="Commune ou intercommunalité",
    )
    fill_row(
        products,
        2,
        account="75 — Autres produits de gestion courante (cotisations, dons)",
        label="Cotisations",
        amount="1 000",
    )
    screenshot(partner_page, "collective-02-partner-part")
    part.get_by_role("button", name="Enregistrer ma part").click()
    expect(partner_page.get_by_role("status")).to_contain_text("Votre part est enregistrée.")
    partner = ApplicationPartner.objects.get(application=draft)
    assert partner.state == PartnerState.ACCEPTED
    assert partner.requested_amount == Decimal("2000.00")
    assert partner.budget_items.count() == 3

    # 3. The lead submits the whole file.
    page.goto(f"/dossiers/{draft.pk}/modifier/")
    page.get_by_role("button", name="Déposer le dossier").click()
    expect(page.get_by_role("status")).to_contain_text("est déposé")
    assert fresh(draft).state == S.SUBMITTED

    # Eligibility, review and agenda (the classic call's pages, tested there).
    app = fresh(draft)
    services.application_declare_eligible(actor=instructor, application=app)
    services.application_start_review(actor=instructor, application=fresh(app))
    app = fresh(app)
    Application.objects.filter(pk=app.pk).update(state=S.IN_COMMITTEE, proposed_amount=8000)
    f.open_session_for(fresh(app), chair=manager)

    # 4. The committee approves it in its open session; the partner's part follows.
    chair = new_person_page()
    login(chair, manager.email)
    chair.goto(f"/comites/{fresh(app).committee_session_id}/")
    decision = chair.get_by_role("row", name=app.reference)
    decision.get_by_role("group", name=f"Décision sur {app.reference}").get_by_label(
        "Accorder"
    ).check()
    decision.get_by_label("Montant accordé (€)").fill("8 000,00")
    chair.get_by_role("button", name="Enregistrer les décisions").click()
    expect(chair.get_by_role("status")).to_contain_text("1 décision enregistrée.")
    app = fresh(app)
    assert app.state == S.APPROVED and app.payment_flow == PaymentFlow.PARTNERS
    assert ApplicationPartner.objects.get(pk=partner.pk).approved_amount == Decimal("1600.00")

    # The agreement is prepared and signed (the agreement pages are tested in tests/cpo).
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

    # 5. The finance side sees one instalment per partner, each named by whom it pays.
    finance = new_person_page()
    login(finance, finance_officer.email)
    finance.goto("/finances/echeances/")
    table = finance.get_by_role("table", name="Échéances triées par date de paiement au plus tôt")
    club_instalment = Instalment.objects.get(agreement=agreement, beneficiary=club)
    lead_instalment = Instalment.objects.get(agreement=agreement, beneficiary__isnull=True)
    club_row = table.locator(f"#instalment-{club_instalment.pk}")
    expect(club_row).to_contain_text("Club sportif du Merlan")
    expect(club_row).to_contain_text(f"partenaire, chef de file : {organisation.name}")
    expect(club_row).to_contain_text("1 600,00")
    lead_row = table.locator(f"#instalment-{lead_instalment.pk}")
    expect(lead_row).to_contain_text(organisation.name)
    expect(lead_row).to_contain_text("6 400,00")
    screenshot(finance, "collective-03-finance-instalments")
