# ruff: noqa: F811 (the contract fixtures are imported, then requested by name)
"""The city contract in the browser: a steering meeting reorients an envelope, a conseil citoyen
member gives an opinion, the annual report is downloaded and its first page rendered to PNG."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import pytest

from calls.models import Programme
from contracts import services as cs
from contracts.models import Opinion

from .. import factories as f
from ..contracts.conftest import (  # noqa: F401 (fixtures)
    citizen,
    commitments,
    contract,
    parts,
    qpvs,
    signatories,
    signed,
    state_funder,
)
from .conftest import login
from .helpers import screenshot, squash

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_steering_meeting_reorients_an_envelope(page, manager, signed, parts):
    a = f.ProgrammeFactory(name="Cohésion sociale", fiscal_year=2026, envelope=Decimal("200000"))
    b = f.ProgrammeFactory(name="Emploi des jeunes", fiscal_year=2026, envelope=Decimal("10000"))
    cs.part_attach_programme(actor=manager, part=parts[0], programme=a)
    cs.part_attach_programme(actor=manager, part=parts[1], programme=b)
    login(page, manager.email)
    page.goto(f"/contrats/{signed.pk}/")
    page.get_by_role("link", name="Préparer une instance de pilotage").click()
    assert "Cohésion sociale" in page.locator("#agenda").inner_text()
    page.get_by_label("Instance").select_option("steering")
    page.get_by_label("Date").fill("2026-06-15")
    page.get_by_role("button", name="Programmer").click()
    form = page.locator("#reorient-form")
    form.get_by_label("Programme qui cède").select_option(label=str(a))
    form.get_by_label("Programme qui reçoit").select_option(label=str(b))
    form.get_by_label("Montant (€)").fill("15000")
    form.get_by_label("Motif").fill("Priorité à l'emploi des jeunes")
    form.get_by_role("button", name="Réorienter").click()
    assert "Réorientation enregistrée" in page.locator(".messages").inner_text()
    envelopes = squash(page.locator("#envelopes").inner_text())
    assert "185000,00" in envelopes.replace(" ", "") or "185000.00" in envelopes
    screenshot(page, "contract-reorientation")
    assert Programme.objects.get(pk=a.pk).envelope == Decimal("185000.00")
    assert Programme.objects.get(pk=b.pk).envelope == Decimal("25000.00")


def test_citizen_gives_an_opinion(page, citizen, signed, parts):
    login(page, citizen.email)
    page.goto("/contrats/")
    page.get_by_role("link", name=signed.name).click()
    page.get_by_role("link", name="Donner l'avis du conseil citoyen").click()
    page.get_by_label("Volet").select_option(label="Cohésion sociale")
    page.get_by_label("Année").select_option("2026")
    page.get_by_label("Favorable avec réserves").check()
    page.get_by_label("Avis du conseil citoyen").fill("Les actions manquent le samedi.")
    page.get_by_role("button", name="Donner l'avis").click()
    assert "Les actions manquent le samedi." in page.locator("#opinions").inner_text()
    assert Opinion.objects.get().assessment == "reserved"


def test_annual_report_is_generated_and_its_first_page_renders(
    page, manager, citizen, signed, parts, qpvs, commitments
):
    import pypdfium2
    from pypdf import PdfReader

    cs.opinion_give(
        actor=citizen,
        contract=signed,
        qpv=qpvs[0],
        part=parts[0],
        year=2026,
        assessment="favourable",
        text="Avis annexé au rapport.",
    )
    login(page, manager.email)
    page.goto(f"/contrats/{signed.pk}/")
    with page.expect_download() as info:
        page.locator("#report-2026-pdf").click()
    content = Path(info.value.path()).read_bytes()
    pdf = pypdfium2.PdfDocument(content)
    image = pdf[0].render(scale=1).to_pil()
    png = io.BytesIO()
    image.save(png, format="PNG")
    assert png.getvalue().startswith(b"\x89PNG")
    assert image.size[0] > 500
    low, high = image.convert("L").getextrema()
    assert low < 100 < high  # text on a white page, not a blank one
    first = squash(PdfReader(io.BytesIO(content)).pages[0].extract_text())
    assert "Rapport annuel politique de la ville 2026" in first
    assert signed.name in first
    whole = squash(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(content)).pages))
    assert "Avis annexé au rapport." in whole
