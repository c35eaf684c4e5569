"""Confirmation files as accounting systems really export them go through Pluriel's shared table
reader (core.tabular): mixed encodings line by line, any separator, ODS and XLSX, and a report
that says how the file was read and what to try when it cannot be."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook

from core.clock import today
from core.errors import DomainError
from finance import confirmations
from finance.models import PaymentConfirmation

from .test_finance import agreement, exported_run, second_officer  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db

HEADER = ["Référence échéance", "Référence lot", "Date paiement", "Statut", "Motif"]


def lines(run, status="payé"):
    date = today().strftime("%d/%m/%Y")
    return [
        [item.instalment_reference, run.reference, date, status, ""]
        for item in run.items.order_by("pk")
    ]


def test_a_file_whose_lines_mix_utf8_and_windows_1252_is_read_line_by_line(
    agreement,  # noqa: F811
    finance_officer,
    second_officer,  # noqa: F811
):
    run = exported_run(agreement, finance_officer, second_officer)
    rows = lines(run)
    text = [";".join(HEADER).encode("utf-8")]
    text += [";".join(r).encode("utf-8") for r in rows[:-1]]
    text.append(";".join(rows[-1][:3] + ["payé", "reçu"]).encode("cp1252"))
    check = confirmations.confirmation_check(
        actor=finance_officer, data=b"\n".join(text) + b"\n", name="retour.csv"
    )
    assert check.state == PaymentConfirmation.State.CHECKED, check.report["errors"]
    assert check.report["counts"]["paid"] == len(rows)
    assert check.report["file"]["format"] == "CSV"
    assert check.report["file"]["delimiter"] == ";"


def test_an_ods_or_xlsx_confirmation_is_read_like_a_csv(
    agreement,  # noqa: F811
    finance_officer,
    second_officer,  # noqa: F811
    tmp_path,
):
    run = exported_run(agreement, finance_officer, second_officer)
    book = Workbook()
    sheet = book.active
    sheet.append(["Retour du comptable public — décembre"])  # a title row above the table
    sheet.append(HEADER)
    for row in lines(run):
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    check = confirmations.confirmation_check(
        actor=finance_officer, data=buffer.getvalue(), name="retour.xlsx"
    )
    assert check.state == PaymentConfirmation.State.CHECKED, check.report["errors"]
    assert check.report["counts"]["paid"] == run.items.count()
    assert check.report["file"]["format"] == "XLSX"
    # An ODS written by pandas' odf engine (as LibreOffice would save it).
    import pandas as pd

    path = tmp_path / "retour.ods"
    pd.DataFrame(lines(run), columns=HEADER).to_excel(path, engine="odf", index=False)
    check = confirmations.confirmation_check(
        actor=finance_officer, data=path.read_bytes(), name="retour.ods"
    )
    assert check.report["file"]["format"] == "ODS"
    # Already paid by nothing: the same lines are still to confirm.
    assert check.report["counts"]["paid"] == run.items.count(), check.report["errors"]


def test_a_file_that_cannot_be_read_is_refused_with_what_to_try(finance_officer):
    one_cell = "reference_echeance/date_paiement/statut\nE-1/01/12/2026/payé\n".encode()
    with pytest.raises(DomainError) as exc:
        confirmations.confirmation_check(actor=finance_officer, data=one_cell, name="r.csv")
    assert "séparateur de colonnes n'a pas été reconnu" in str(exc.value.message)
    for data, name in (
        (b"%PDF-1.7\n", "scan.csv"),
        (b"", "vide.csv"),
        (b"\xd0\xcf\x11\xe0", "x.xls"),
    ):
        with pytest.raises(DomainError):
            confirmations.confirmation_check(actor=finance_officer, data=data, name=name)
    assert not PaymentConfirmation.objects.exists()
