"""The annual report's approval cycle: submitted for opinions (one month at least), approved with
the deliberation, frozen; each step audited; the wrong order refused."""

from __future__ import annotations

import datetime
import io

import pytest
from django.urls import reverse
from pypdf import PdfReader

from contracts import services as cs
from contracts import services_report as sr
from contracts.models import AnnualReport, AnnualReportState
from core.errors import DomainError, PermissionDenied, TransitionNotAllowed
from core.models import AuditLog

pytestmark = pytest.mark.django_db

D = datetime.date


def _pdf_text(response) -> str:
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages)
    return " ".join(text.replace("\u202f", " ").replace("\xa0", " ").split())


def test_submit_sets_the_month_for_opinions(manager, signed):
    report = sr.annual_report_submit(
        actor=manager, contract=signed, year=2026, submitted_on=D(2027, 3, 31)
    )
    assert report.state == AnnualReportState.SUBMITTED
    assert report.opinions_due_on == D(2027, 4, 30)
    row = AuditLog.objects.get(action="contracts.annual_report.submitted")
    assert (row.source_state, row.target_state) == ("draft", "submitted")
    with pytest.raises(TransitionNotAllowed):
        sr.annual_report_submit(
            actor=manager, contract=signed, year=2026, submitted_on=D(2027, 4, 1)
        )
    with pytest.raises(DomainError):
        sr.annual_report_submit(
            actor=manager, contract=signed, year=2031, submitted_on=D(2031, 1, 1)
        )


def test_only_programme_managers_run_the_cycle(signed, steering_member, manager):
    with pytest.raises(PermissionDenied):
        sr.annual_report_submit(
            actor=steering_member, contract=signed, year=2026, submitted_on=D(2027, 3, 1)
        )
    report = sr.annual_report_submit(
        actor=manager, contract=signed, year=2026, submitted_on=D(2027, 3, 1)
    )
    with pytest.raises(PermissionDenied):
        sr.annual_report_approve(
            actor=steering_member, report=report, approved_on=D(2027, 5, 1), deliberation_ref="D1"
        )


def test_approval_waits_for_the_month_unless_every_council_answered(
    manager, citizen, signed, parts, qpvs
):
    report = sr.annual_report_submit(
        actor=manager, contract=signed, year=2026, submitted_on=D(2027, 3, 1)
    )
    with pytest.raises(DomainError) as exc:
        sr.annual_report_approve(
            actor=manager, report=report, approved_on=D(2027, 3, 15), deliberation_ref="2027-42"
        )
    assert "Encagnane" in str(exc.value.message) and "Jas de Bouffan" in str(exc.value.message)
    with pytest.raises(DomainError):
        sr.annual_report_approve(
            actor=manager, report=report, approved_on=D(2027, 4, 15), deliberation_ref=" "
        )
    with pytest.raises(DomainError):
        sr.annual_report_approve(
            actor=manager, report=report, approved_on=D(2027, 2, 1), deliberation_ref="2027-42"
        )
    assert AnnualReport.objects.get(pk=report.pk).state == AnnualReportState.SUBMITTED
    # After the month, silence counts as a favourable opinion.
    approved = sr.annual_report_approve(
        actor=manager, report=report, approved_on=D(2027, 4, 2), deliberation_ref="2027-42"
    )
    assert approved.state == AnnualReportState.APPROVED
    assert approved.frozen["blocks"][0][1] == "Approuvé le 02/04/2027 — délibération 2027-42."
    assert AuditLog.objects.filter(action="contracts.annual_report.approved").count() == 1


def test_approve_from_draft_is_refused(manager, signed):
    report = AnnualReport.objects.create(contract=signed, year=2026)
    with pytest.raises(TransitionNotAllowed):
        sr.annual_report_approve(
            actor=manager, report=report, approved_on=D(2027, 5, 1), deliberation_ref="D1"
        )


def test_the_approved_report_is_frozen(client, manager, citizen, signed, parts, qpvs, commitments):
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
    url = reverse("contracts:report_submit", args=[signed.pk, 2026])
    client.post(url, {"submitted_on": "2027-03-01"})
    client.post(
        reverse("contracts:report_approve", args=[signed.pk, 2026]),
        {"approved_on": "2027-04-10", "deliberation_ref": "CC-2027-042"},
    )
    assert AnnualReport.objects.get().state == AnnualReportState.APPROVED
    pdf_url = reverse("contracts:annual_report", args=[signed.pk, 2026, "pdf"])
    before = _pdf_text(client.get(pdf_url))
    assert "délibération CC-2027-042" in before
    assert "Le conseil salue les permanences." in before
    # The data moves on; the approved report does not.
    cs.opinion_give(
        actor=citizen,
        contract=signed,
        qpv=qpvs[0],
        part=parts[0],
        year=2026,
        assessment="unfavourable",
        text="Avis révisé après coup.",
    )
    after = _pdf_text(client.get(pdf_url))
    assert after == before and "Avis révisé" not in after
    docx = client.get(reverse("contracts:annual_report", args=[signed.pk, 2026, "docx"]))
    assert b"CC-2027-042" in __import__("zipfile").ZipFile(io.BytesIO(docx.content)).read(
        "word/document.xml"
    )
    page = client.get(reverse("contracts:detail", args=[signed.pk])).content.decode()
    assert "délibération CC-2027-042" in page
