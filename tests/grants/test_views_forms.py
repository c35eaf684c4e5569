"""The application form (issue 16): budget lines added and removed, neighbourhoods as checkboxes,
each error once in a summary at the top linking to its field, the missing-document link."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from core.models import DocumentKind
from grants import services
from grants.direct.forms import DirectAwardForm
from grants.models import ApplicationState as S
from tests import factories as f
from tests.grants.test_views import (
    BALANCED_CHARGES,
    BALANCED_PRODUCTS,
    edit_payload,
    fresh,
    login,
)

pytestmark = pytest.mark.django_db


def edit_url(app):
    return reverse("grants:application_edit", args=[app.pk])


def summary_of(html: str) -> str:
    match = re.search(r'<div class="error-summary".*?</div>', html, re.S)
    assert match, "no error summary on the page"
    return match.group(0)


class TestBudgetLines:
    def test_a_new_budget_starts_with_sensible_lines(self, client, applicant, call, organisation):
        empty = services.application_create(
            actor=applicant, organisation=organisation, call=call, data={"title": "Neuf"}
        )
        html = login(client, applicant).get(edit_url(empty)).content.decode()
        assert 'name="charges-TOTAL_FORMS" value="3"' in html
        assert 'name="products-TOTAL_FORMS" value="3"' in html
        assert '<option value="64" selected>' in html  # staff costs offered on a new budget

    def test_a_saved_budget_gets_one_blank_line(self, client, applicant, draft):
        saved = draft.budget_items.count()
        login(client, applicant)
        html = client.get(edit_url(draft)).content.decode()
        charges = sum(1 for b in draft.budget_items.all() if b.account.startswith("6"))
        assert f'name="charges-TOTAL_FORMS" value="{charges + 1}"' in html
        assert saved > 0
        # The JavaScript clones this template; without JavaScript the button posts the form.
        assert '<template id="budget-charges-empty">' in html
        assert "charges-__prefix__-amount" in html
        assert 'name="action" value="add-charges"' in html

    def test_the_budget_tables_are_in_the_page_not_in_a_template(self, client, applicant, draft):
        """A multi-line {# #} comment is printed by Django; one mentioning « <template> » in
        _budget_rows.html opened a real <template> element that hid both budget tables from the
        browser (the classic-call browser test found no « Charges » table)."""
        html = login(client, applicant).get(edit_url(draft)).content.decode()
        assert "{#" not in html and "#}" not in html
        assert html.count("<template") == 2  # the empty line of each side, nothing else
        for side in ("charges", "products"):
            table = html.index(f'<table class="budget-table stack-on-small" id="budget-{side}"')
            empty_line = html.index(f'<template id="budget-{side}-empty">')
            before = html[:table]
            assert before.count("<template") == before.count("</template>")  # not inside one
            assert table < empty_line

    def test_starter_lines_left_empty_are_not_saved(self, client, applicant, call, organisation):
        app = services.application_create(
            actor=applicant, organisation=organisation, call=call, data={"title": "Neuf"}
        )
        payload = edit_payload(
            qpv=f.QPVFactory(),
            pillar=f.PillarFactory(),
            charges=[("60", "", ""), ("64", "Animateurs", "1000")],
            products=[("74", "state", "", ""), ("75", "", "Cotisations", "1000")],
        )
        response = login(client, applicant).post(edit_url(app), payload)
        assert response.status_code == 302
        assert sorted(b.account for b in fresh(app).budget_items.all()) == ["64", "75"]

    def test_add_a_line_without_javascript_keeps_the_input_and_shows_one_more(
        self, client, applicant, draft
    ):
        payload = edit_payload(
            qpv=f.QPVFactory(),
            pillar=f.PillarFactory(),
            title="Titre gardé",
            charges=BALANCED_CHARGES,
            products=BALANCED_PRODUCTS,
            action="add-charges",
        )
        response = login(client, applicant).post(edit_url(draft), payload)
        html = response.content.decode()
        assert response.status_code == 200
        assert 'name="charges-TOTAL_FORMS" value="3"' in html
        assert 'name="charges-2-amount"' in html
        # The keyboard starts again on the new line.
        assert re.search(r'<select name="charges-2-account"[^>]*autofocus', html)
        assert fresh(draft).title == "Titre gardé"  # what was typed is saved meanwhile

    def test_a_ticked_line_is_removed_on_save(self, client, applicant, draft):
        charges = [*BALANCED_CHARGES, ("62", "Location de salle", "500")]
        payload = edit_payload(
            qpv=f.QPVFactory(),
            pillar=f.PillarFactory(),
            charges=charges,
            products=BALANCED_PRODUCTS,
            **{"charges-2-DELETE": "on"},
        )
        response = login(client, applicant).post(edit_url(draft), payload)
        assert response.status_code == 302
        amounts = sorted((b.account, b.amount) for b in fresh(draft).budget_items.all())
        assert ("62", Decimal("500.00")) not in amounts
        assert ("64", Decimal("10000.00")) in amounts

    def test_a_removed_line_in_error_does_not_block_the_save(self, client, applicant, draft):
        charges = [*BALANCED_CHARGES, ("60", "Erreur de frappe", "deux cents")]
        payload = edit_payload(
            qpv=f.QPVFactory(),
            pillar=f.PillarFactory(),
            charges=charges,
            products=BALANCED_PRODUCTS,
            **{"charges-2-DELETE": "on"},
        )
        response = login(client, applicant).post(edit_url(draft), payload)
        assert response.status_code == 302


class TestNeighbourhoods:
    def test_chosen_with_checkboxes_not_a_multi_select(self, client, applicant, draft):
        qpvs = [f.QPVFactory(name=f"Quartier {n}") for n in range(3)]
        html = login(client, applicant).get(edit_url(draft)).content.decode()
        assert "<select multiple" not in html and 'multiple id="id_qpvs"' not in html
        assert "Ctrl" not in html
        assert re.search(r"<fieldset[^>]*>\s*<legend[^>]*>Quartiers prioritaires ciblés", html)
        for qpv in qpvs:
            assert f'type="checkbox" name="qpvs" value="{qpv.pk}"' in html

    def test_checked_neighbourhoods_are_saved(self, client, applicant, draft):
        first, second = f.QPVFactory(), f.QPVFactory()
        payload = edit_payload(
            qpv=first,
            pillar=f.PillarFactory(),
            charges=BALANCED_CHARGES,
            products=BALANCED_PRODUCTS,
        )
        payload["qpvs"] = [str(first.pk), str(second.pk)]
        assert login(client, applicant).post(edit_url(draft), payload).status_code == 302
        assert set(fresh(draft).qpvs.all()) == {first, second}

    def test_direct_award_form_uses_checkboxes_too(self):
        f.QPVFactory()
        html = str(DirectAwardForm()["qpvs"])
        assert 'type="checkbox"' in html and "<select" not in html


class TestErrorsOnce:
    def test_a_field_error_is_in_the_summary_with_a_link_and_next_to_the_field(
        self, client, applicant, draft
    ):
        payload = edit_payload(
            qpv=f.QPVFactory(),
            pillar=f.PillarFactory(),
            charges=BALANCED_CHARGES,
            products=BALANCED_PRODUCTS,
            start_date="pas une date",
        )
        response = login(client, applicant).post(edit_url(draft), payload)
        html = response.content.decode()
        assert response.status_code == 400
        message = "Saisissez une date valide."
        assert html.count(message) == 2  # once in the summary, once next to the field
        assert f'<a href="#id_start_date">{message}</a>' in summary_of(html)
        assert 'id="id_start_date_error"' in html
        assert "Certaines informations sont à corriger" in summary_of(html)
        assert 'role="alert"' in summary_of(html)

    def test_a_refused_submission_lists_each_rule_once(self, client, applicant, draft):
        payload = edit_payload(
            qpv=f.QPVFactory(),
            pillar=f.PillarFactory(),
            charges=[("60", "Fournitures", "3000"), ("64", "Animateurs", "10000")],
            products=BALANCED_PRODUCTS,
            summary="",
            action="submit",
        )
        response = login(client, applicant).post(edit_url(draft), payload)
        html = response.content.decode()
        assert response.status_code == 400
        assert fresh(draft).state == S.DRAFT
        summary = summary_of(html)
        assert "Le dossier ne respecte pas les règles de l" in summary
        assert html.count("Le résumé du projet est obligatoire.") == 2
        assert '<a href="#id_summary">Le résumé du projet est obligatoire.</a>' in summary
        assert html.count("Le budget n&#x27;est pas équilibré") == 2  # summary + budget section
        assert 'href="#budget"' in summary
        assert "Vérification avant dépôt" not in html  # not a third time
        assert html.count("Le dossier ne respecte pas les règles") == 1

    def test_the_missing_document_message_links_to_the_documents_page(
        self, client, applicant, organisation
    ):
        call = f.CallFactory(required_documents=[DocumentKind.STATUTES])
        app = f.ApplicationFactory(call=call, organisation=organisation)
        payload = edit_payload(
            qpv=f.QPVFactory(),
            pillar=f.PillarFactory(),
            charges=BALANCED_CHARGES,
            products=BALANCED_PRODUCTS,
            action="submit",
        )
        response = login(client, applicant).post(edit_url(app), payload)
        html = response.content.decode()
        assert response.status_code == 400
        summary = summary_of(html)
        assert "Pièces manquantes ou périmées : Statuts." in summary
        documents = reverse("core:documents", args=[organisation.pk])
        assert f'<a href="{documents}">' in summary
        assert html.count("Pièces manquantes ou périmées") == 1
        # The pre-submission check on the page itself links there too.
        page = client.get(edit_url(app)).content.decode()
        assert f'<a href="{documents}">' in page

    def test_no_summary_without_errors(self, client, applicant, draft):
        html = login(client, applicant).get(edit_url(draft)).content.decode()
        assert "error-summary" not in html


def test_english_summary(client, applicant, draft):
    applicant.language = "en"
    applicant.save()
    client.cookies["django_language"] = "en"
    payload = edit_payload(
        qpv=f.QPVFactory(),
        pillar=f.PillarFactory(),
        charges=BALANCED_CHARGES,
        products=BALANCED_PRODUCTS,
        title="",
    )
    html = login(client, applicant).post(edit_url(draft), payload).content.decode()
    assert "1 information to correct" in summary_of(html)
