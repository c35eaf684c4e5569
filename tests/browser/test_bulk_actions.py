"""An instructor ticks 30 files in the queue and asks their applicants for more, in one action."""

from __future__ import annotations

import datetime

import pytest

from core.models import Notification, Role
from grants.models import Application, ApplicationState, CompletionRequest

from .. import factories as f
from .conftest import login

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_select_30_files_and_request_completions(page):
    manager = f.UserFactory(email="responsable@ville.example.org")
    f.give_role(manager, Role.PROGRAMME_MANAGER)
    applicant = f.UserFactory(email="porteur@asso.example.org")
    organisation = f.OrganisationFactory()
    f.add_member(applicant, organisation)
    call = f.CallFactory()
    apps = [
        f.ApplicationFactory(state=ApplicationState.SUBMITTED, call=call, organisation=organisation)
        for _ in range(30)
    ]
    deadline = datetime.date.today() + datetime.timedelta(days=21)

    login(page, manager.email)
    page.goto("/instruction/")
    for app in apps:
        page.get_by_label(f"Sélectionner le dossier {app.reference}").check()
    page.get_by_role("combobox", name="Action").select_option("request_completion")
    page.get_by_label("Message (compléments ou message aux porteurs)").fill(
        "Merci de joindre le budget prévisionnel signé."
    )
    page.get_by_label("Date limite (compléments)").fill(deadline.isoformat())
    page.get_by_role("button", name="Vérifier la sélection").click()

    expect(page.locator("#bulk-count")).to_contain_text("sera appliqué à 30 dossiers")
    page.get_by_role("button", name="Confirmer pour 30 dossiers").click()

    expect(page.locator("#bulk-summary")).to_contain_text("Fait : 30 · Non traités : 0")
    expect(page.locator("#bulk-items tbody tr")).to_have_count(30)
    ids = [a.pk for a in apps]
    assert Application.objects.filter(pk__in=ids, state=ApplicationState.RETURNED).count() == 30
    assert CompletionRequest.objects.filter(application_id__in=ids).count() == 30
    assert Notification.objects.filter(user=applicant).count() == 30
