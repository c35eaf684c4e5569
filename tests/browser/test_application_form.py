"""The application form with JavaScript (issue 16): budget lines added and removed in place, the
totals following, neighbourhoods as checkboxes. Without JavaScript the same is done by the
« Ajouter une ligne » button and the « Supprimer » boxes (tests/grants/test_views_forms.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from grants.models import Application

from .. import factories as f
from .conftest import assert_accessible, login
from .helpers import screenshot

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_budget_lines_are_added_and_removed_in_place(page, applicant, organisation):
    call = f.CallFactory(title="Appel à projets 2027")
    names = [
        "Malpassé",
        "Frais Vallon",
        "Saint-Mauront",
        "La Castellane",
        "Busserine",
        "Kallisté",
        "Félix Pyat",
        "Saint-Barthélemy",
        "Les Rosiers",
    ]
    call.eligible_qpvs.set(
        [f.QPVFactory(code=f"QN0130{n}M", name=name) for n, name in enumerate(names)]
    )
    application = f.ApplicationFactory(call=call, organisation=organisation, title="Projet")
    before = application.budget_items.filter(account__startswith="6").count()
    login(page, applicant.email)
    page.goto(f"/dossiers/{application.pk}/modifier/")
    assert_accessible(page)

    # Neighbourhoods are checkboxes (the search field above long lists: static/js/forms.js).
    page.get_by_label("Félix Pyat (QN01306M)").check()

    charges = page.get_by_role("table", name="Charges")
    rows = charges.locator("tbody tr:visible")
    expect(rows).to_have_count(before + 1)  # the saved lines and one blank one
    page.get_by_role("button", name="Ajouter une ligne de charges").click()
    expect(rows).to_have_count(before + 2)
    new = before + 2
    # The new line takes the focus and is labelled with its number.
    expect(charges.get_by_label(f"Compte, ligne {new}", exact=True)).to_be_focused()
    charges.get_by_label(f"Compte, ligne {new}", exact=True).select_option(value="61")
    charges.get_by_label(f"Libellé, ligne {new}", exact=True).fill("Location de salle")
    charges.get_by_label(f"Montant en euros, ligne {new}", exact=True).fill("1 234,50")
    expect(page.locator("#budget-total-charges")).not_to_have_text("0,00")
    total_with = page.locator("#budget-total-charges").inner_text()

    # Removing the first line hides it and takes it out of the totals at once.
    first_label = charges.get_by_label("Libellé, ligne 1", exact=True).input_value()
    charges.get_by_role("button", name="Supprimer la ligne 1").click()
    expect(rows).to_have_count(before + 1)
    expect(page.locator("#budget-total-charges")).not_to_have_text(total_with)
    expect(page.get_by_role("button", name="Ajouter une ligne de charges")).to_be_focused()
    screenshot(page, "form-budget-lines")

    page.get_by_role("button", name="Enregistrer le brouillon").click()
    expect(page.get_by_role("status")).to_contain_text("Le brouillon est enregistré.")
    assert_accessible(page)
    saved = Application.objects.get(pk=application.pk)
    labels = set(saved.budget_items.values_list("label", flat=True))
    assert "Location de salle" in labels and first_label not in labels
    assert saved.budget_items.get(label="Location de salle").amount == Decimal("1234.50")
    assert [q.name for q in saved.qpvs.all()] == ["Félix Pyat"]


def test_a_refused_save_shows_one_summary_that_leads_to_the_field(page, applicant, organisation):
    application = f.ApplicationFactory(
        call=f.CallFactory(), organisation=organisation, title="Projet"
    )
    login(page, applicant.email)
    page.goto(f"/dossiers/{application.pk}/modifier/")
    page.get_by_label("Titre du projet").fill("")
    page.get_by_role("button", name="Enregistrer le brouillon").click()
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()  # read first by a screen reader
    assert_accessible(page)
    summary.get_by_role("link", name="Ce champ est obligatoire.").click()
    expect(page.get_by_label("Titre du projet")).to_be_focused()
    screenshot(page, "form-error-summary")
