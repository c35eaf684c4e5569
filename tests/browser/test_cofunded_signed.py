"""Issue 15 end to end in the browser: a file asks the State and the commune for a part each; each
funder's agent decides its own part on the file's page (the State grants, the commune cuts), the
association revises its budget to the amounts granted on the revision page, the agreement built
from the parts is signed by the association's representative (with the e-mailed code) then by
each funder's signatory, and the finance workspace lists each funder's instalments."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.core import mail

from core.models import Funder, Role
from cpo import services as cpo_services
from cpo.models import Agreement, AgreementState, FunderCertificate, Instalment
from cpo.signatures.pki import make_test_pki
from grants import services
from grants.models import Application, ApplicationState, BudgetRevision, FunderPart

from .. import factories as f
from ..cpo.signing import use_test_pki
from .conftest import login

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Pages that render or sign PDFs on a loaded machine: generous timeouts.
TIMEOUT = 60_000


def signatory(email: str, funder: Funder):
    user = f.UserFactory(email=email)
    assignment = f.give_role(user, Role.PROGRAMME_MANAGER, funder=funder)
    assignment.can_sign = True
    assignment.save(update_fields=["can_sign"])
    return user


def person(new_person_page, email: str):
    page = new_person_page()
    page.set_default_timeout(TIMEOUT)
    login(page, email)
    return page


def test_cofunded_file_decided_revised_signed_and_paid_per_funder(
    page, new_person_page, settings, tmp_path, instructor, manager, finance_officer, organisation
):
    pki = make_test_pki(tmp_path / "pki")
    use_test_pki(settings, pki, "FUNDER")
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

    state = f.FunderFactory(name="État — ANCT", kind=Funder.Kind.STATE)
    commune = f.FunderFactory(name="Ville d'Aix", kind=Funder.Kind.MUNICIPALITY)
    for funder in (state, commune):
        FunderCertificate.objects.create(
            funder=funder, pkcs12_path=str(pki.funder), passphrase_key="FUNDER"
        )
    programme = f.ProgrammeFactory(funders=[state], envelope=Decimal("500000"))
    f.ProgrammeFactory(
        name="Politique de la ville — Aix", funders=[commune], envelope=Decimal("50000")
    )
    state_agent = f.UserFactory(email="agent@prefecture.example.org")
    f.give_role(state_agent, Role.COMMITTEE_MEMBER, funder=state)
    commune_agent = f.UserFactory(email="agent@aix.example.org")
    f.give_role(commune_agent, Role.COMMITTEE_MEMBER, funder=commune)
    representative = f.UserFactory(email="presidente@asso.example.org")
    membership = f.add_member(representative, organisation)
    membership.can_sign = True
    membership.save(update_fields=["can_sign"])
    state_signatory = signatory("prefet@prefecture.example.org", state)
    commune_signatory = signatory("adjointe@aix.example.org", commune)

    # A file in committee asking 30 000 € of the State and 20 000 € of the commune, both proposed
    # in full by the instruction (the steps before the decisions are not this test's subject).
    application = f.ApplicationFactory(
        call=f.CallFactory(programme=programme),
        organisation=organisation,
        state=ApplicationState.IN_COMMITTEE,
        requested_amount=Decimal("50000"),
        complete=False,
    )
    services.application_set_budget_rows(
        application,
        [
            {"account": "60", "label": "Fournitures", "amount": "20000"},
            {"account": "64", "label": "Salaires", "amount": "60000"},
            {"account": "74", "subsidy_source": "state", "funder": state.pk, "amount": "30000"},
            {
                "account": "74",
                "subsidy_source": "municipality",
                "funder": commune.pk,
                "amount": "20000",
            },
            {"account": "75", "label": "Cotisations", "amount": "30000"},
        ],
    )
    state_part = FunderPart.objects.get(application=application, funder=state)
    commune_part = FunderPart.objects.get(application=application, funder=commune)
    services.funder_part_propose(actor=manager, part=state_part, amount="30000")
    services.funder_part_propose(actor=manager, part=commune_part, amount="20000")
    file_path = f"/dossiers/{application.pk}/"

    # The State's agent grants its part in full from the file's page.
    page.set_default_timeout(TIMEOUT)
    login(page, state_agent.email)
    page.goto(file_path)
    decide = page.locator("form.part-decide")
    expect(decide).to_have_count(1)  # only its own funder's part
    decide.locator("select[name=decision]").select_option("approve")
    decide.get_by_label("Montant accordé (€)").fill("30000")
    decide.get_by_label("Référence du comité ou de la délibération").fill("Arrêté 2026-12")
    decide.get_by_role("button", name="Enregistrer la décision de ce financeur").click()
    expect(page.get_by_text("Part de État — ANCT enregistrée.")).to_be_visible()
    expect(page.locator(f"#part-{state_part.pk} .part-decision")).to_contain_text("30")

    # The commune's agent cuts its part to 10 000 €.
    commune_page = person(new_person_page, commune_agent.email)
    commune_page.goto(file_path)
    decide = commune_page.locator("form.part-decide")
    expect(decide).to_have_count(1)
    decide.get_by_label("Montant accordé (€)").fill("10000")
    decide.get_by_label("Référence du comité ou de la délibération").fill("Délibération 41")
    decide.get_by_label("Conditions").fill("Un atelier de moins")
    decide.get_by_role("button", name="Enregistrer la décision de ce financeur").click()
    expect(commune_page.get_by_text("Part de Ville d'Aix enregistrée.")).to_be_visible()
    application = Application.objects.get(pk=application.pk)
    assert (application.state, application.approved_amount) == (
        ApplicationState.APPROVED,
        Decimal("40000.00"),
    )

    # The association revises its budget on the page: the commune's line to what it granted,
    # the charges down by as much.
    association = person(new_person_page, representative.email)
    association.goto(file_path)
    expect(association.locator("#budget-revision")).to_contain_text("40")
    association.locator("#revise-budget").click()
    expect(association.locator("#granted-table")).to_contain_text("Ville d'Aix")
    products = association.locator("#budget-products")
    expect(products.get_by_label("Financeur sollicité, ligne 2")).to_have_value(str(commune.pk))
    products.get_by_label("Montant en euros, ligne 2").fill("10000")
    association.locator("#budget-charges").get_by_label("Montant en euros, ligne 2").fill("50000")
    expect(association.locator("#budget-status")).to_contain_text("Le budget est équilibré.")
    association.get_by_label("Commentaire (ce qui change dans l'action)").fill(
        "Un atelier de moins"
    )
    association.locator("#save-revision").click()
    expect(association.get_by_text("Votre budget révisé est enregistré.")).to_be_visible()
    assert BudgetRevision.objects.get(application=application).state == "revised"
    assert application.budget_items.get(account="74", funder=commune).amount == Decimal("10000")

    # The agreement is built from the parts (each funder's share of the 40 000 € granted).
    agreement = cpo_services.agreement_create_from_application(
        actor=instructor,
        application=Application.objects.get(pk=application.pk),
        profile="flat",
        duration_years=1,
        first_year=2026,
    )
    shares = dict(agreement.funders.values_list("funder__name", "share"))
    assert shares == {"État — ANCT": Decimal("0.75"), "Ville d'Aix": Decimal("0.25")}
    path = f"/conventions/{agreement.pk}/"

    instruction = person(new_person_page, instructor.email)
    instruction.goto(path)
    instruction.locator("#signature-send").click()
    expect(instruction.locator("#signatures")).to_contain_text("En attente des signatures")

    # The representative signs with the code e-mailed to them.
    association.goto(path)
    association.get_by_role("button", name="Recevoir mon code par e-mail").click()
    expect(association.get_by_text("Un code vous a été envoyé")).to_be_visible()
    code = re.search(r": (\d{6})\b", mail.outbox[-1].body).group(1)
    association.get_by_label("Code reçu par e-mail").fill(code)
    association.get_by_role("button", name="Signer", exact=True).click()
    expect(association.get_by_text("Signature enregistrée.")).to_be_visible()

    # Then each funder's signatory, in the agreement's order.
    for user, funder in ((state_signatory, state), (commune_signatory, commune)):
        funder_page = person(new_person_page, user.email)
        funder_page.goto(path)
        funder_page.get_by_role("button", name=f"Signer pour {funder.name}").click()
        expect(funder_page.get_by_text("Signature enregistrée.")).to_be_visible()
    assert Agreement.objects.get(pk=agreement.pk).state == AgreementState.SIGNED

    # The finance side sees each funder's instalments, of each funder's amount. (Shares of 3/4 and
    # 1/4 are exact: with shares such as 2/3, rounded to six places, a funder's instalments drift
    # from its decision by a cent or two — tests/cpo/test_cofunded_agreement_amounts.py.)
    expected = {
        name: sum(amounts, Decimal("0")) for name, amounts in _amounts_by_funder(agreement).items()
    }
    assert expected == {"État — ANCT": Decimal("30000.00"), "Ville d'Aix": Decimal("10000.00")}
    finance = person(new_person_page, finance_officer.email)
    finance.goto("/finances/echeances/?state=all")
    rows = finance.locator("#instalments tbody tr")
    expect(rows).to_have_count(Instalment.objects.filter(agreement=agreement).count())
    for name in expected:
        expect(rows.filter(has_text=name).first).to_be_visible()
    listed = {
        name: sum(
            (
                Decimal(re.sub(r"[^\d,]", "", text).replace(",", "."))
                for text in rows.filter(has_text=name).locator("td.money").all_inner_texts()
            ),
            Decimal("0"),
        )
        for name in expected
    }
    assert listed == expected


def _amounts_by_funder(agreement: Agreement) -> dict[str, list[Decimal]]:
    amounts: dict[str, list[Decimal]] = {}
    for name, amount in Instalment.objects.filter(agreement=agreement).values_list(
        "funder__funder__name", "amount"
    ):
        amounts.setdefault(name, []).append(amount)
    return amounts
