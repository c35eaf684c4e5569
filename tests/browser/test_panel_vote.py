"""A call for solutions in the browser: a panel member votes, the manager computes, decides and
publishes, and the results page shows the allocation."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from calls.models import Panel
from calls.services import challenge_record, panel_add_member, panel_configure
from core.models import Role
from grants.models import Application, ApplicationState

from .. import factories as f
from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_panel_member_votes_manager_computes_and_publishes(page):
    manager = f.UserFactory(email="responsable@ville.example.org")
    f.give_role(manager, Role.PROGRAMME_MANAGER)
    resident = f.UserFactory(email="habitante@quartier.example.org")
    call = f.solutions_call(envelope=Decimal("10000.00"))
    challenge = challenge_record(
        actor=manager,
        call=call,
        qpv=f.QPVFactory(),
        title="Plus de cafards",
        description="Traitement des immeubles",
    )
    moment = timezone.now()
    panel = panel_configure(
        actor=manager,
        call=call,
        quorum=1,
        voting_opens_at=moment - datetime.timedelta(days=1),
        voting_closes_at=moment + datetime.timedelta(days=1),
    )
    panel_add_member(actor=manager, panel=panel, user=resident, college="residents")
    for title, cost in (
        ("Désinsectisation des caves", "6000.00"),
        ("Brigade propreté", "4000.00"),
        ("Ateliers d'entretien", "5000.00"),
    ):
        app = f.ApplicationFactory(call=call, title=title, requested_amount=Decimal(cost))
        Application.objects.filter(pk=app.pk).update(
            state=ApplicationState.IN_COMMITTEE, challenge=challenge
        )

    login(page, "habitante@quartier.example.org")
    page.goto(f"/appels-a-solutions/{call.pk}/vote/")
    page.get_by_label("Désinsectisation des caves").check()
    page.get_by_label("Brigade propreté").check()
    page.get_by_role("button", name="Vérifier mon vote").click()
    assert page.locator("#confirm-list li").count() == 2
    page.get_by_role("button", name="Confirmer mon vote").click()
    assert page.get_by_text("Vous avez voté le").is_visible()
    assert page.locator("#ballot-form").count() == 0
    page.get_by_role("button", name="Se déconnecter").click()

    # The vote closes.
    Panel.objects.filter(pk=panel.pk).update(
        voting_opens_at=moment - datetime.timedelta(days=2),
        voting_closes_at=timezone.now() - datetime.timedelta(minutes=1),
    )
    login(page, "responsable@ville.example.org")
    page.goto(f"/appels/{call.pk}/resultats/")
    page.get_by_role("button", name="Calculer la répartition").click()
    assert (
        page.locator("#rule-greedy").is_visible()
        and page.locator("#rule-equal-shares").is_visible()
    )
    page.get_by_label("Retenir la méthode des parts égales").check()
    page.get_by_label("Motif du choix").fill("Règle choisie par le panel")
    page.get_by_role("button", name="Enregistrer le choix").click()
    page.get_by_role("button", name="Publier les résultats").click()
    assert page.get_by_text("Les résultats sont publiés").is_visible()
    assert page.locator("#rule-used").inner_text() == "Méthode des parts égales"
    outcome = page.locator("#tally").inner_text()
    assert "Désinsectisation des caves" in outcome and "Brigade propreté" in outcome
    assert (
        page.locator("#chosen-total").inner_text().replace("\u202f", " ").replace("\xa0", " ")
        == "10 000,00 €"
    )
    states = dict(Application.objects.filter(call=call).values_list("title", "state"))
    assert states["Désinsectisation des caves"] == ApplicationState.APPROVED
    assert states["Ateliers d'entretien"] == ApplicationState.REJECTED
