"""The electronic signature through the real pages: the instructor sends the agreement for
signature, the association's representative asks for the code, reads it in the mail outbox and
signs, the city's signatory signs for the city, and the signed PDF downloads (validated again)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.core import mail

from core.models import Role
from cpo import services
from cpo.models import Agreement, AgreementState, FunderCertificate
from cpo.signatures.pki import make_test_pki

from .. import factories as f
from ..cpo.signing import approved_application, use_test_pki
from .conftest import login

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_representative_then_funder_sign_in_the_browser(
    page, new_person_page, settings, tmp_path, instructor, organisation
):
    pki = make_test_pki(tmp_path / "pki")
    use_test_pki(settings, pki, "VILLE")
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    city = f.FunderFactory(name="Ville de Marseille")
    FunderCertificate.objects.create(
        funder=city, pkcs12_path=str(pki.funder), passphrase_key="VILLE"
    )
    representative = f.UserFactory(email="presidente@asso.example.org")
    membership = f.add_member(representative, organisation)
    membership.can_sign = True
    membership.save(update_fields=["can_sign"])
    signatory = f.UserFactory(email="adjointe@ville.example.org")
    assignment = f.give_role(signatory, Role.PROGRAMME_MANAGER, funder=city)
    assignment.can_sign = True
    assignment.save(update_fields=["can_sign"])
    agreement = services.agreement_create_from_application(
        actor=instructor,
        application=approved_application(organisation),
        profile="flat",
        duration_years=2,
        first_year=2026,
        funders=[{"funder": city, "share": Decimal("1")}],
    )
    path = f"/conventions/{agreement.pk}/"
    # Signing renders and signs PDFs server-side: slower pages than most.
    page.set_default_timeout(60_000)

    login(page, instructor.email)
    page.goto(path)
    page.locator("#signature-send").click()
    expect(page.locator("#signatures")).to_contain_text("En attente des signatures")

    association = new_person_page()
    association.set_default_timeout(60_000)
    login(association, representative.email)
    association.goto(path)
    association.get_by_role("button", name="Recevoir mon code par e-mail").click()
    expect(association.get_by_text("Un code vous a été envoyé")).to_be_visible()
    code = re.search(r": (\d{6})\b", mail.outbox[-1].body).group(1)
    association.get_by_label("Code reçu par e-mail").fill(code)
    association.get_by_role("button", name="Signer", exact=True).click()
    expect(association.get_by_text("Signature enregistrée.")).to_be_visible()

    city_page = new_person_page()
    city_page.set_default_timeout(60_000)
    login(city_page, signatory.email)
    city_page.goto(path)
    city_page.get_by_role("button", name="Signer pour Ville de Marseille").click()
    expect(city_page.get_by_text("Signature enregistrée.")).to_be_visible()
    assert Agreement.objects.get(pk=agreement.pk).state == AgreementState.SIGNED

    with association.expect_download() as download:
        association.goto(path)
        association.locator("#signed-copy").click()
    assert download.value.suggested_filename.endswith("-signee.pdf")
