"""The classic call for projects (AAP) driven through the real pages, as each person would:
the association applies, the instructor asks for completion and instructs, the committee decides,
the association sees the grant. Labels and button names, not CSS internals.

Screenshots of every main page land in browser-shots/ (git-ignored; see helpers.screenshot)."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

import pytest

from core.clock import today
from grants import services
from grants.models import Application, ApplicationState

from .. import factories as f
from .conftest import login
from .helpers import screenshot, squash, tab_until

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

S = ApplicationState


@pytest.fixture
def project_call(db):
    """An open call for projects with a neighbourhood and a pillar to choose."""
    call = f.CallFactory(title="Appel à projets 2027 — Cohésion des quartiers")
    f.QPVFactory(code="QN01307M", name="Malpassé")
    f.PillarFactory(code="cohesion", label="Cohésion sociale")
    return call


def fresh(application: Application) -> Application:
    """The file as stored now (the protected state field forbids refresh_from_db)."""
    return Application.objects.get(pk=application.pk)


def nav(page):
    return page.get_by_role("navigation", name="Navigation principale")


def main_heading(page):
    return page.get_by_role("heading", level=1)


def action_form(page, label: str):
    """The small form of one transition on a file's page, named by its heading."""
    return page.get_by_role("form", name=label)


def run_action(page, label: str, **fields: str) -> None:
    form = action_form(page, label)
    for field_label, value in fields.items():
        form.get_by_label(field_label).fill(value)
    form.get_by_role("button", name=label).click()
    page.wait_for_load_state()


def fill_budget_row(
    table, n: int, *, account: str, label: str, amount: str, funder: str = ""
) -> None:
    table.get_by_label(f"Compte, ligne {n}", exact=True).select_option(label=account)
    if funder:
        table.get_by_label(f"Financeur de la subvention, ligne {n}", exact=True).select_option(
            label=funder
        )
    table.get_by_label(f"Libellé, ligne {n}", exact=True).fill(label)
    table.get_by_label(f"Montant en euros, ligne {n}", exact=True).fill(amount)


def budget_section(page):
    return page.get_by_role("region", name="Budget prévisionnel du projet (CERFA n° 12156*06)")


# --------------------------------------------------------------------------- 1. apply and submit


def test_association_applies_fills_the_draft_and_submits(
    page, applicant, organisation, project_call
):
    login(page, applicant.email)
    nav(page).get_by_role("link", name="Appels", exact=True).click()
    screenshot(page, "01-call-list")
    page.get_by_role("link", name=project_call.title, exact=True).click()
    expect(main_heading(page)).to_contain_text(project_call.title)
    screenshot(page, "02-call-detail")

    page.get_by_role("link", name="Déposer un dossier").click()
    expect(main_heading(page)).to_have_text("Nouveau dossier")
    expect(page.get_by_label("Appel :", exact=True)).to_have_value(str(project_call.pk))
    page.get_by_label("Titre du projet").fill("Soutien scolaire au pied des immeubles")
    screenshot(page, "03-application-create")
    page.get_by_role("button", name="Créer le brouillon").click()
    expect(page.get_by_role("status")).to_contain_text("est créé. Complétez-le puis déposez-le.")
    expect(main_heading(page)).to_contain_text("Brouillon")

    page.get_by_label("Résumé du projet").fill(
        "Ateliers du soir pour les collégiens, avec les parents."
    )
    page.get_by_label("Début du projet").fill("2027-01-04")
    page.get_by_label("Fin du projet").fill("2027-06-30")
    page.get_by_role("group", name="Quartiers prioritaires ciblés").get_by_label(
        "Malpassé (QN01307M)"
    ).check()
    page.get_by_label("Pilier du contrat de ville").select_option(label="Cohésion sociale")
    page.get_by_label("Montant demandé (€)").fill("10 000,00")
    page.get_by_label("Objectifs :", exact=True).fill("Réduire le décrochage scolaire")
    page.get_by_label("Indicateur 1", exact=True).fill("Collégiens accompagnés")
    page.get_by_label("Unité de l'indicateur 1", exact=True).fill("jeunes")
    page.get_by_label("Cible de l'indicateur 1", exact=True).fill("40")
    charges = page.get_by_role("table", name="Charges")
    products = page.get_by_role("table", name="Produits")
    fill_budget_row(charges, 1, account="60 — Achats", label="Fournitures", amount="5 000")
    fill_budget_row(
        charges, 2, account="64 — Charges de personnel", label="Animateur", amount="15 000,00"
    )
    fill_budget_row(
        products,
        1,
        account="74 — Subventions d'exploitation",
        label="Ville de Marseille",
        amount="10 000",
        funder="Commune ou intercommunalité",
    )
    fill_budget_row(
        products,
        2,
        account="75 — Autres produits de gestion courante (cotisations, dons)",
        label="Cotisations et dons",
        amount="10000",
    )
    # The totals follow the typing (static/js/budget.js).
    expect(page.get_by_text("Le budget est équilibré.")).to_be_visible()
    assert (
        squash(
            page.get_by_text("Total des charges")
            .locator("xpath=following-sibling::dd[1]")
            .inner_text()
        )
        == "20 000,00 €"
    )

    page.get_by_role("button", name="Enregistrer le brouillon").click()
    expect(page.get_by_role("status")).to_contain_text("Le brouillon est enregistré.")
    expect(
        page.get_by_text(
            "Le dossier enregistré respecte les règles de l'appel : vous pouvez le déposer."
        )
    ).to_be_visible()
    expect(page.get_by_label("Libellé, ligne 1", exact=True).first).to_have_value("Fournitures")
    screenshot(page, "04-application-edit")

    page.get_by_role("button", name="Déposer le dossier").click()
    application = Application.objects.get(organisation=organisation)
    expect(page.get_by_role("status")).to_contain_text(
        f"Votre dossier {application.reference} est déposé."
    )
    expect(main_heading(page)).to_contain_text("Déposé")
    history = page.get_by_role("region", name="Historique")
    expect(history).to_contain_text("Dossier déposé")
    expect(history).to_contain_text("Brouillon → Déposé")
    screenshot(page, "05-application-detail-submitted")

    application = fresh(application)
    assert application.state == S.SUBMITTED
    assert application.requested_amount == Decimal("10000.00")
    assert application.start_date == datetime.date(2027, 1, 4)
    assert [o.text for o in application.objectives.all()] == ["Réduire le décrochage scolaire"]
    assert [(i.label, i.target) for i in application.indicators.all()] == [
        ("Collégiens accompagnés", Decimal("40"))
    ]
    assert sorted((b.account, b.amount) for b in application.budget_items.all()) == [
        ("60", Decimal("5000.00")),
        ("64", Decimal("15000.00")),
        ("74", Decimal("10000.00")),
        ("75", Decimal("10000.00")),
    ]


# --------------------------------------------------------------------------- 2. instruction to decision


def test_completion_review_committee_and_grant_seen_by_the_association(
    page, new_person_page, applicant, organisation, instructor, committee_member, project_call
):
    application = f.ApplicationFactory(
        call=project_call, organisation=organisation, title="Jardins partagés du Merlan"
    )
    services.application_submit(actor=applicant, application=application)
    for _ in range(3):  # other files in the queue, so that the search has something to filter out
        services.application_submit(
            actor=applicant,
            application=f.ApplicationFactory(call=project_call, organisation=organisation),
        )
    session = services.committee_session_create(
        actor=instructor,
        programme=project_call.programme,
        call=project_call,
        title="Comité de programmation",
        date=today(),
        chair=committee_member,
    )
    ref = application.reference

    # The instructor finds the file by its reference and asks for completion.
    staff = new_person_page()
    login(staff, instructor.email)
    nav(staff).get_by_role("link", name="Instruction").click()
    expect(staff.get_by_role("table", name="Dossiers déposés").get_by_role("row")).to_have_count(
        1 + 4
    )
    staff.get_by_role("searchbox", name="Rechercher").fill(ref)
    staff.get_by_role("button", name="Filtrer").click()
    rows = staff.get_by_role("table", name="Dossiers déposés").get_by_role("row")
    expect(rows).to_have_count(1 + 1)
    expect(rows.nth(1)).to_contain_text("Déposé")
    screenshot(staff, "06-instruction-queue")
    staff.get_by_role("link", name=ref, exact=True).click()
    expect(main_heading(staff)).to_contain_text(ref)
    deadline = today() + datetime.timedelta(days=15)
    run_action(
        staff,
        "Demander des compléments",
        **{
            "Ce qui doit être complété": "Merci de joindre le devis du paysagiste.",
            "Date limite de réponse": deadline.isoformat(),
        },
    )
    expect(staff.get_by_role("status")).to_contain_text(
        "Le dossier est maintenant « À compléter »."
    )

    # The association sees the request and answers it.
    login(page, applicant.email)
    nav(page).get_by_role("link", name="Mes dossiers").click()
    expect(page.get_by_role("row", name=ref)).to_contain_text("À compléter")
    screenshot(page, "07-my-applications")
    page.get_by_role("link", name=ref, exact=True).click()
    request_box = page.get_by_role("heading", name="Des compléments vous sont demandés").locator(
        "xpath=.."
    )
    expect(request_box).to_contain_text("Merci de joindre le devis du paysagiste.")
    expect(request_box).to_contain_text(f"À fournir avant le {deadline:%d/%m/%Y}.")
    screenshot(page, "08-application-detail-returned")
    run_action(
        page, "Renvoyer le dossier complété", **{"Votre réponse": "Le devis est dans les pièces."}
    )
    expect(main_heading(page)).to_contain_text("Déposé")

    # The instructor declares it eligible, reviews it and puts it on the committee's agenda.
    staff.reload()
    expect(main_heading(staff)).to_contain_text("Déposé")
    expect(staff.get_by_role("region", name="Demandes de compléments")).to_contain_text(
        "Le devis est dans les pièces."
    )
    run_action(staff, "Déclarer recevable")
    expect(main_heading(staff)).to_contain_text("Recevable")
    run_action(staff, "Commencer l'instruction")
    expect(main_heading(staff)).to_contain_text("En instruction")
    to_committee = action_form(staff, "Inscrire en comité")
    to_committee.get_by_label("Montant proposé (€)").fill("8 000")
    to_committee.get_by_label("Séance de comité").select_option(label=str(session))
    to_committee.get_by_label("Avis de l'instruction").fill("Projet solide, budget un peu large.")
    screenshot(staff, "09-application-detail-staff")
    to_committee.get_by_role("button", name="Inscrire en comité").click()
    expect(main_heading(staff)).to_contain_text("En comité")
    expect(
        staff.get_by_role("region", name="Instruction (non visible par le porteur)")
    ).to_contain_text("Comité de programmation")

    # The chair opens the session with the members present, records the approval on the
    # session's page, then closes the session with its minutes.
    member = new_person_page()
    login(member, committee_member.email)
    nav(member).get_by_role("link", name="Comités").click()
    member.get_by_role("link", name="Comité de programmation").click()
    expect(main_heading(member)).to_contain_text("Comité de programmation")
    expect(member.get_by_role("button", name="Enregistrer les décisions")).to_have_count(0)
    opening = member.locator("#session-open-form")
    expect(opening.get_by_label("Président·e de séance")).to_have_value(str(committee_member.pk))
    opening.get_by_label(committee_member.get_full_name()).check()
    opening.get_by_role("button", name="Ouvrir la séance").click()
    expect(member.get_by_role("status")).to_contain_text("La séance est ouverte")
    decision = member.get_by_role("row", name=ref)
    expect(decision).to_contain_text("Projet solide, budget un peu large.")
    decision.get_by_role("group", name=f"Décision sur {ref}").get_by_label("Accorder").check()
    expect(decision.get_by_label("Montant accordé (€)")).to_have_value(re.compile(r"^8\s?000,00$"))
    decision.get_by_label("Conditions").fill("Bilan d'étape en juin.")
    screenshot(member, "10-committee-session")
    member.get_by_role("button", name="Enregistrer les décisions").click()
    expect(member.get_by_role("status")).to_contain_text("1 décision enregistrée.")
    expect(member.get_by_text("Aucun dossier en attente de décision.")).to_be_visible()
    closing = member.locator("#session-close-form")
    closing.get_by_label("Procès-verbal").fill("Quorum atteint : un dossier accordé.")
    closing.get_by_role("button", name="Clore la séance").click()
    expect(member.get_by_role("status")).to_contain_text("La séance est close.")
    expect(member.locator("#session-closed")).to_be_visible()

    # The association sees the grant, its amount, and a notification.
    page.reload()
    expect(main_heading(page)).to_contain_text("Accordé")
    decision_box = page.get_by_role("region", name="Décision")
    assert "Montant accordé 8 000,00 €" in squash(decision_box.inner_text())
    expect(decision_box).to_contain_text("Bilan d'étape en juin.")
    expect(page.get_by_role("region", name="Historique")).to_contain_text("Subvention accordée")
    screenshot(page, "11-application-detail-approved")
    notifications_link = nav(page).get_by_role("link", name="Notifications")
    expect(notifications_link).to_have_accessible_name(re.compile(r"^Notifications \d+ non lues?$"))
    notifications_link.click()
    expect(page.get_by_role("link", name=f"Subvention accordée : dossier {ref}")).to_be_visible()
    screenshot(page, "12-notifications")

    application = fresh(application)
    assert (application.state, application.approved_amount) == (S.APPROVED, Decimal("8000.00"))
    assert application.committee_session == session


# --------------------------------------------------------------------------- 3. negative path, keyboard


def test_unbalanced_budget_is_refused_next_to_the_budget_and_typed_values_are_kept(
    page, applicant, organisation, project_call
):
    application = f.ApplicationFactory(
        call=project_call, organisation=organisation, title="Projet initial"
    )
    login(page, applicant.email)
    page.goto(f"/dossiers/{application.pk}/modifier/")
    page.get_by_label("Titre du projet").fill("Jardins partagés du Merlan")
    charges = page.get_by_role("table", name="Charges")
    fill_budget_row(
        charges, 3, account="61 — Services extérieurs", label="Location de salle", amount="5 000"
    )
    expect(
        page.get_by_text("Le budget n’est pas équilibré : écart de")
    ).to_be_visible()  # live warning

    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Déposer le dossier").click()
    assert posted.value.status == 400
    budget = budget_section(page)
    alert = budget.get_by_role("alert")
    expect(alert).to_be_visible()
    assert (
        "Le budget n'est pas équilibré : total des charges 25 000,00 €, total des produits 20 000,00 €."
        in squash(alert.inner_text())
    )
    expect(page.get_by_role("alert").first).to_contain_text(
        "Le dossier ne respecte pas les règles de l'appel."
    )
    # What was typed is still there; the file is still a draft.
    expect(page.get_by_label("Titre du projet")).to_have_value("Jardins partagés du Merlan")
    expect(charges.get_by_label("Compte, ligne 3", exact=True)).to_have_value("61")
    expect(charges.get_by_label("Libellé, ligne 3", exact=True)).to_have_value("Location de salle")
    expect(charges.get_by_label("Montant en euros, ligne 3", exact=True)).to_have_value("5 000")
    expect(main_heading(page)).to_contain_text("Brouillon")
    screenshot(page, "13-application-edit-unbalanced")
    application = fresh(application)
    assert application.state == S.DRAFT

    # Balancing it again (the extra charge moved to the products' side as the association's own funds).
    products = page.get_by_role("table", name="Produits")
    fill_budget_row(
        products,
        3,
        account="75 — Autres produits de gestion courante (cotisations, dons)",
        label="Fonds propres",
        amount="5 000",
    )
    expect(page.get_by_text("Le budget est équilibré.")).to_be_visible()
    page.get_by_role("button", name="Déposer le dossier").click()
    expect(main_heading(page)).to_contain_text("Déposé")
    application = fresh(application)
    assert (application.state, application.title) == (S.SUBMITTED, "Jardins partagés du Merlan")


def test_the_draft_form_is_reached_and_submitted_with_the_keyboard_only(
    page, applicant, organisation, project_call
):
    application = f.ApplicationFactory(
        call=project_call, organisation=organisation, title="Projet initial"
    )
    login(page, applicant.email)
    page.goto(f"/dossiers/{application.pk}/modifier/")

    skip_link = page.get_by_role("link", name="Aller au contenu")
    tab_until(page, skip_link, max_presses=1)  # the very first stop
    page.keyboard.press("Enter")
    title = page.get_by_label("Titre du projet")
    presses = tab_until(page, title, max_presses=5)
    assert presses <= 3, "the first field should follow the skip link closely"
    page.keyboard.press("Control+A")
    page.keyboard.type("Projet tapé au clavier")

    submit = page.get_by_role("button", name="Déposer le dossier")
    tab_until(page, submit)
    assert submit.evaluate("b => getComputedStyle(b).outlineStyle") == "solid", (
        "the focus must be visible"
    )
    page.keyboard.press("Enter")
    expect(main_heading(page)).to_contain_text("Déposé")
    expect(main_heading(page)).to_contain_text("Projet tapé au clavier")
    application = fresh(application)
    assert application.state == S.SUBMITTED
