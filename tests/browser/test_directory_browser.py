"""Experience sheets in the browser: the association drafts a sheet from its evaluated action,
completes and submits it; the instructor publishes it; anyone finds it in the public search and
reaches the actor's directory page from it."""

from __future__ import annotations

import pytest

from directory import services
from directory.models import ExperienceSheet, SheetState

from ..directory.conftest import accepted_evaluation
from .conftest import login
from .helpers import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_draft_publish_and_find_a_sheet(page, new_person_page, applicant, organisation, instructor):
    evaluation = accepted_evaluation(
        instructor=instructor, applicant=applicant, organisation=organisation
    )
    services.profile_update(
        actor=applicant,
        organisation=organisation,
        is_listed=True,
        presentation="Soutien scolaire et insertion des jeunes.",
    )
    login(page, applicant.email)
    page.goto("/experiences/mes-fiches/")
    page.locator(f"#evaluation-{evaluation.pk}").get_by_role(
        "button", name="Rédiger une fiche"
    ).click()
    assert "préremplie" in page.locator(".messages").inner_text()
    page.locator("#id_title").fill("Des stages pour les jeunes du Jas de Bouffan")
    page.locator("#id_audience").fill("Jeunes de 16 à 25 ans sans emploi")
    page.locator("#id_contact_name").fill("Awa Diallo")
    page.get_by_label("La personne contact accepte").check()
    screenshot(page, "experience-sheet-draft")
    page.get_by_role("button", name="Enregistrer et soumettre à publication").click()
    assert "soumise" in page.locator(".messages").inner_text()
    assert ExperienceSheet.objects.get().state == SheetState.SUBMITTED

    staff = new_person_page()
    login(staff, instructor.email)
    staff.goto("/experiences/mes-fiches/")
    staff.locator("#review-queue").get_by_role("link").first.click()
    staff.get_by_role("button", name="Publier").click()
    assert "publiée" in staff.locator(".messages").inner_text()

    public = new_person_page()
    public.goto("/experiences/")
    public.get_by_label("Quartier prioritaire").select_option("QN01301M")
    public.get_by_label("Thème de transition").select_option(label="Alimentation")
    public.get_by_role("button", name="Chercher").click()
    assert "1 fiche" in public.locator("#sheet-count").inner_text()
    public.get_by_role("link", name="Des stages pour les jeunes du Jas de Bouffan").click()
    body = public.locator("#sheet-body").inner_text()
    assert "Jeunes de 16 à 25 ans sans emploi" in body and "Awa Diallo" in body
    assert "42" in public.locator("#sheet-indicators").inner_text()
    screenshot(public, "experience-sheet-public")
    public.locator("#sheet-actor").click()
    assert "Jas de Bouffan" in public.locator("#actor-qpvs").inner_text()
    assert "Des stages pour les jeunes" in public.locator("#actor-sheets").inner_text()
