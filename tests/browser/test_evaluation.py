"""The annual evaluation driven through the real pages: the association files its year-1
evaluation (the gap shows as it types), the instructor accepts it on the same page, and the year-2
balance that waited for it is now « Exigible ». Dates follow core.clock.today() (no time travel)."""

from __future__ import annotations

import re

import pytest

from cpo.models import Evaluation, EvaluationState, Instalment, InstalmentState

from .. import factories as f
from .conftest import login
from .helpers import screenshot, squash

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def held_balance(agreement) -> Instalment:
    return Instalment.objects.get(
        agreement=agreement, year__fiscal_year=agreement.first_year + 1, kind="balance"
    )


def test_association_files_instructor_accepts_balance_falls_due(
    page, new_person_page, applicant, organisation, instructor, tmp_path
):
    agreement = f.cpo_awaiting_evaluation(instructor=instructor, organisation=organisation)
    year = agreement.first_year
    assert held_balance(agreement).state == InstalmentState.ON_HOLD
    path = f"/conventions/{agreement.pk}/evaluations/{year}/"

    # The association finds the evaluation in its list and files it.
    login(page, applicant.email)
    page.goto("/conventions/evaluations/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Évaluations annuelles")
    page.get_by_role("link", name=re.compile(f"évaluation {year}")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Évaluation annuelle {year}")
    instalments = page.locator("#instalments")
    expect(instalments).to_contain_text(f"En attente de l'évaluation {year} acceptée")

    page.get_by_role("textbox", name="Rapport d'activité :").fill(
        "Quarante ateliers ; 38 jeunes accompagnés."
    )
    page.get_by_label("Réalisé (€), 60 — Achats").fill("18 000")
    row = page.locator("#evaluation-budget tr[data-row='60']")
    expect(row.locator("[data-gap='amount']")).to_have_text(re.compile(r"-2\s000,00"))
    expect(row.locator("[data-gap='percent']")).to_have_text(re.compile(r"-10\s%"))
    page.get_by_label("Réalisé (€), 64 — Charges de personnel").fill("72 600")
    page.get_by_label("Réalisé (€), 74 — Subventions d'exploitation").fill("90 000")
    page.get_by_label("Valeur atteinte : Jeunes accompagnés").fill("38")
    accounts = tmp_path / "comptes-approuves.pdf"
    accounts.write_bytes(PDF)
    page.get_by_label("Nouveau fichier des comptes approuvés").set_input_files(str(accounts))
    screenshot(page, "evaluation-filing")
    page.get_by_role("button", name="Déposer l'évaluation").click()
    page.wait_for_load_state()
    expect(page.get_by_role("status")).to_contain_text(f"Évaluation {year} déposée")
    expect(page.locator("#evaluation-state")).to_have_text("Déposée")
    expect(page.locator("#report-charges")).to_contain_text("-10,0 %")

    # The instructor reviews it on the same page and accepts it.
    staff = new_person_page()
    login(staff, instructor.email)
    staff.goto("/conventions/evaluations/")
    expect(staff.locator("#to-review")).to_contain_text(agreement.reference)
    staff.goto(path)
    expect(staff.locator("#financial-report")).to_contain_text("-2")
    review = staff.get_by_role("form", name="Examiner l'évaluation")
    review.get_by_label("Accepter", exact=True).check()
    screenshot(staff, "evaluation-review")
    review.get_by_role("button", name="Enregistrer la décision").click()
    staff.wait_for_load_state()
    expect(staff.locator("#evaluation-state")).to_have_text("Acceptée")

    # The balance that waited for it is now due.
    expect(staff.locator("#instalments")).to_contain_text("Exigible")
    assert (
        Evaluation.objects.get(
            pk=Evaluation.objects.get(agreement=agreement, fiscal_year=year).pk
        ).state
        == EvaluationState.ACCEPTED
    )
    assert held_balance(agreement).state == InstalmentState.DUE
    # …and on the agreement's own page.
    staff.goto(f"/conventions/{agreement.pk}/")
    assert "Exigible" in squash(staff.locator("main").inner_text())
