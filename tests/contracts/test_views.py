"""Contract pages: scope (404 outside), follow-up fed by real agreements, representatives'
reports, steering with a reorientation, minutes, opinions, observatory import, annual report."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.urls import reverse
from pypdf import PdfReader

from contracts import services as cs
from contracts.models import Decision, IndicatorValue, Meeting, Opinion
from contracts.services_observatory import indicator_define
from core.models import AuditLog
from cpo.models import Instalment

from .. import factories as f


@pytest.fixture
def agreement(instructor, signed, parts, manager, signatories, qpvs):
    """A 3-year agreement (30 000 € a year) on a programme attached to the first part, funded by
    the State signatory's funder, in the first QPV; its first instalment paid."""
    agreement = f.cpo_awaiting_evaluation(instructor=instructor)
    programme = agreement.programme
    cs.part_attach_programme(actor=manager, part=parts[0], programme=programme)
    funder = agreement.funders.get().funder
    signatories[0].funder = funder
    signatories[0].save()
    agreement.application.qpvs.set([qpvs[0]])
    first = agreement.instalments.order_by("year__fiscal_year", "number").first()
    Instalment.objects.filter(pk=first.pk).update(state="paid")
    return agreement


def test_outsider_gets_404(client, signed):
    outsider = f.UserFactory(email="nobody@example.org")
    client.force_login(outsider)
    assert client.get(reverse("contracts:detail", args=[signed.pk])).status_code == 404
    assert client.get(reverse("contracts:observatory", args=[signed.pk])).status_code == 404
    response = client.get(reverse("contracts:annual_report", args=[signed.pk, 2026, "pdf"]))
    assert response.status_code == 404


def test_follow_up_shows_promised_committed_and_paid(
    client, manager, agreement, signed, commitments
):
    client.force_login(manager)
    response = client.get(reverse("contracts:detail", args=[signed.pk]))
    assert response.status_code == 200
    follow = response.context["follow"]
    state = follow.by_signatory["État"]
    first_year = agreement.first_year
    paid = agreement.instalments.order_by("year__fiscal_year", "number").first().amount
    assert state.committed == Decimal("90000.00")
    assert state.paid == paid
    assert state.promised_specific == Decimal("100000.00")
    assert follow.by_signatory["Métropole"].promised_common == Decimal("40000.00")
    assert follow.by_qpv[("Jas de Bouffan", first_year)].committed == Decimal("30000.00")
    by_year = client.get(reverse("contracts:detail", args=[signed.pk]), {"annee": first_year})
    assert by_year.context["follow"].total.committed == Decimal("30000.00")


def test_representative_declares_what_was_done(client, representative, signed, commitments):
    client.force_login(representative)
    page = client.get(reverse("contracts:detail", args=[signed.pk]))
    assert page.status_code == 200
    url = reverse("contracts:commitment_report", args=[signed.pk, commitments[2].pk])
    bad = client.post(url, {"note": ""})
    assert bad.status_code == 400
    ok = client.post(url, {"note": "45 permanences", "realised_value": "45"})
    assert ok.status_code == 302
    commitments[2].refresh_from_db()
    assert commitments[2].realised_value == Decimal("45")
    other = reverse("contracts:commitment_report", args=[signed.pk, commitments[0].pk])
    refused = client.post(other, {"note": "x"})
    assert refused.status_code == 400
    assert "représentant" in refused.content.decode()


def test_steering_meeting_reorients_and_writes_minutes(client, manager, signed, parts):
    a = f.ProgrammeFactory(name="Cohésion", fiscal_year=2026, envelope=Decimal("200000"))
    b = f.ProgrammeFactory(name="Emploi", fiscal_year=2026, envelope=Decimal("10000"))
    cs.part_attach_programme(actor=manager, part=parts[0], programme=a)
    cs.part_attach_programme(actor=manager, part=parts[1], programme=b)
    client.force_login(manager)
    new = client.get(reverse("contracts:meeting_new", args=[signed.pk]))
    assert new.status_code == 200
    assert any("Cohésion" in i.label for i in new.context["agenda"])
    response = client.post(
        reverse("contracts:meeting_new", args=[signed.pk]),
        {"kind": "steering", "held_on": "2026-06-15"},
    )
    meeting = Meeting.objects.get()
    assert response.status_code == 302
    url = reverse("contracts:meeting", args=[signed.pk, meeting.pk])
    too_much = client.post(
        url,
        {
            "action": "reorient",
            "reorient-from_programme": a.pk,
            "reorient-to_programme": b.pk,
            "reorient-amount": "300000",
            "reorient-text": "x",
        },
    )
    assert too_much.status_code == 400
    assert "ne suffit pas" in too_much.content.decode()
    done = client.post(
        url,
        {
            "action": "reorient",
            "reorient-from_programme": a.pk,
            "reorient-to_programme": b.pk,
            "reorient-amount": "15000",
            "reorient-text": "Priorité emploi des jeunes",
        },
    )
    assert done.status_code == 302
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.envelope, b.envelope) == (Decimal("185000.00"), Decimal("25000.00"))
    assert Decision.objects.get().kind == "reorientation"
    pdf = client.get(reverse("contracts:meeting_minutes", args=[signed.pk, meeting.pk]))
    assert pdf["Content-Type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Priorité emploi des jeunes" in text
    assert "200000.00" in text and "185000.00" in text


def test_citizen_gives_opinion_through_the_form(client, citizen, signed, parts, qpvs):
    client.force_login(citizen)
    url = reverse("contracts:opinion", args=[signed.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert list(page.context["form"].fields["qpv"].queryset) == [qpvs[0]]
    wrong_qpv = client.post(
        url,
        {
            "qpv": qpvs[1].pk,
            "part": parts[0].pk,
            "year": 2026,
            "assessment": "favourable",
            "text": "x",
        },
    )
    assert wrong_qpv.status_code == 400
    ok = client.post(
        url,
        {
            "qpv": qpvs[0].pk,
            "part": parts[0].pk,
            "year": 2026,
            "assessment": "reserved",
            "text": "Trop peu d'actions le soir.",
        },
    )
    assert ok.status_code == 302
    assert Opinion.objects.get().text == "Trop peu d'actions le soir."


def test_non_citizen_cannot_open_the_opinion_form(client, representative, signed):
    client.force_login(representative)
    assert client.get(reverse("contracts:opinion", args=[signed.pk])).status_code == 403


@pytest.fixture
def indicator(manager, signed, parts, qpvs):
    return indicator_define(
        actor=manager,
        contract=signed,
        part=parts[1],
        code="chomage-jeunes",
        label="Chômage des 16-25 ans",
        qpv=qpvs[0],
        target=Decimal("20"),
        target_year=2030,
    )


def test_observatory_import_dry_run_then_apply(client, manager, signed, indicator, parts):
    indicator_define(
        actor=manager,
        contract=signed,
        part=parts[1],
        code="chomage-jeunes",
        label="Chômage des 16-25 ans",
    )
    client.force_login(manager)
    url = reverse("contracts:observatory", args=[signed.pk])
    good = (
        "code;quartier;annee;valeur;source\n"
        "chomage-jeunes;QN01301M;2024;31,5;INSEE\n"
        "chomage-jeunes;;2024;18;INSEE\n"
        "chomage-jeunes;QN01301M;2025;29;INSEE\n"
    )
    bad = good + "inconnu;QN01301M;2025;1;x\nchomage-jeunes;QN01301M;20x5;1;x\n"
    response = client.post(url, {"file": _upload(bad)})
    assert response.status_code == 400
    errors = response.context["report"].errors
    assert [(line, col) for line, col, _ in errors] == [(5, "code"), (6, "annee")]
    assert not IndicatorValue.objects.exists()
    dry = client.post(url, {"file": _upload(good)})
    assert dry.status_code == 200 and not IndicatorValue.objects.exists()
    applied = client.post(url, {"file": _upload(good), "apply": "on"})
    assert applied.context["report"].applied
    assert IndicatorValue.objects.count() == 3
    assert AuditLog.objects.filter(action="contracts.indicator.value_set").count() == 3
    page = client.get(url)
    svg = str(page.context["charts"][0].svg)
    assert "<svg" in svg and "Jas de Bouffan" in svg and "Ensemble de l&#x27;EPCI" in svg


def _upload(text: str | bytes, name: str = "valeurs.csv"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = text.encode() if isinstance(text, str) else text
    return SimpleUploadedFile(name, data, content_type="text/csv")


def test_observatory_import_reads_files_as_people_have_them(
    client, manager, signed, indicator, parts
):
    """Through the shared reader: Windows-1252, accented headers in any case, a tab separator,
    a decimal comma with a thousands space, a French date; and ODS."""
    client.force_login(manager)
    url = reverse("contracts:observatory", args=[signed.pk])
    text = (
        "Code\tQuartier\tAnnée\tValeur\tSource\tDate\n"
        "chomage-jeunes\tQN01301M\t2024\t1 031,5\tINSEE (données 2023)\t15/03/2025\n"
    )
    applied = client.post(url, {"file": _upload(text.encode("cp1252")), "apply": "on"})
    assert applied.context["report"].errors == []
    value = IndicatorValue.objects.get()
    assert value.value == Decimal("1031.5") and value.measured_on.isoformat() == "2025-03-15"
    assert value.source == "INSEE (données 2023)"

    import io

    import pandas as pd

    buffer = io.BytesIO()
    pd.DataFrame(
        [["chomage-jeunes", "QN01301M", 2025, 29.5]],
        columns=["code", "quartier", "annee", "valeur"],
    ).to_excel(buffer, engine="odf", index=False)
    applied = client.post(url, {"file": _upload(buffer.getvalue(), "valeurs.ods"), "apply": "on"})
    assert applied.context["report"].errors == []
    assert IndicatorValue.objects.get(year=2025).value == Decimal("29.5")


def test_annual_report_pdf_odt_and_docx(
    client, manager, citizen, agreement, signed, parts, qpvs, commitments, indicator
):
    from contracts.services_observatory import indicator_set_value

    indicator_set_value(actor=manager, indicator=indicator, year=2026, value=Decimal("27.5"))
    cs.opinion_give(
        actor=citizen,
        contract=signed,
        qpv=qpvs[0],
        part=parts[0],
        year=2026,
        assessment="favourable",
        text="Le conseil salue les permanences.",
    )
    client.force_login(manager)
    pdf = client.get(reverse("contracts:annual_report", args=[signed.pk, 2026, "pdf"]))
    assert pdf.status_code == 200
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    text = " ".join(text.replace("\u202f", " ").replace("\xa0", " ").split())
    assert "Rapport annuel politique de la ville 2026" in text
    assert "Le conseil salue les permanences." in text
    assert "Chômage des 16-25 ans" in text
    assert "100 000,00 €" in text
    odt = client.get(reverse("contracts:annual_report", args=[signed.pk, 2026, "odt"]))
    assert odt["Content-Type"] == "application/vnd.oasis.opendocument.text"
    import zipfile

    content = zipfile.ZipFile(io.BytesIO(odt.content)).read("content.xml").decode()
    assert "Le conseil salue les permanences." in content
    docx = client.get(reverse("contracts:annual_report", args=[signed.pk, 2026, "docx"]))
    assert docx["Content-Type"].endswith("wordprocessingml.document")
    from xml.etree import ElementTree

    archive = zipfile.ZipFile(io.BytesIO(docx.content))
    assert {"[Content_Types].xml", "word/document.xml", "word/styles.xml"} <= set(
        archive.namelist()
    )
    w = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
    root = ElementTree.fromstring(archive.read("word/document.xml"))  # well-formed XML
    words = "".join(t.text or "" for t in root.iter(f"{w}t"))
    assert "Rapport annuel politique de la ville 2026" in words
    assert "Le conseil salue les permanences." in words
    assert root.find(f".//{w}tbl") is not None  # the tables are real Word tables
    assert (
        client.get(reverse("contracts:annual_report", args=[signed.pk, 2031, "pdf"])).status_code
        == 404
    )
    assert (
        client.get(reverse("contracts:annual_report", args=[signed.pk, 2026, "doc"])).status_code
        == 404
    )
