"""django-import-export resources of the finance side: the payment file handed to the accounting
system (docs/domain.md §5: one line per payment — beneficiary, SIRET, IBAN/BIC, amount, budget line, EJ,
fiscal year, references of agreement, instalment and run)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

from import_export import fields, resources
from openpyxl import Workbook

from core.tabular.writer import DIALECTS, PLAIN_CSV, CsvDialect, csv_bytes
from finance.models import PaymentRun, PaymentRunItem

PAYMENT_COLUMNS = [
    ("beneficiary_name", "beneficiaire"),
    ("siret", "siret"),
    ("iban", "iban"),
    ("bic", "bic"),
    ("amount", "montant"),
    ("budget_line", "ligne_budgetaire"),
    ("ej_number", "numero_ej"),
    ("fiscal_year", "exercice"),
    ("agreement_reference", "reference_convention"),
    ("instalment_reference", "reference_echeance"),
    ("run_reference", "reference_lot"),
]


# django-import-export ships no type information: its base classes are `Any` to mypy.
class PaymentRunItemResource(resources.ModelResource):  # type: ignore[misc]
    """One line per payment of a run, in the order of the run (stable: the same run gives the same
    file). The column names are the ones the confirmation import reads back."""

    beneficiary_name = fields.Field(attribute="beneficiary_name", column_name="beneficiaire")
    siret = fields.Field(attribute="siret", column_name="siret")
    iban = fields.Field(attribute="iban", column_name="iban")
    bic = fields.Field(attribute="bic", column_name="bic")
    amount = fields.Field(attribute="amount", column_name="montant")
    budget_line = fields.Field(attribute="budget_line", column_name="ligne_budgetaire")
    ej_number = fields.Field(attribute="ej_number", column_name="numero_ej")
    fiscal_year = fields.Field(attribute="fiscal_year", column_name="exercice")
    agreement_reference = fields.Field(
        attribute="agreement_reference", column_name="reference_convention"
    )
    instalment_reference = fields.Field(
        attribute="instalment_reference", column_name="reference_echeance"
    )
    run_reference = fields.Field(attribute="run__reference", column_name="reference_lot")

    class Meta:
        model = PaymentRunItem
        fields = [name for name, _column in PAYMENT_COLUMNS]
        export_order = [name for name, _column in PAYMENT_COLUMNS]

    def dehydrate_amount(self, item: PaymentRunItem) -> str:
        return f"{item.amount:.2f}"


def payment_run_dataset(run: PaymentRun) -> Any:
    items = (
        PaymentRunItem.objects.filter(run=run, status=PaymentRunItem.Status.PENDING)
        .select_related("run")
        .order_by("pk")
    )
    return PaymentRunItemResource().export(queryset=items)


def payment_run_files(run: PaymentRun) -> tuple[bytes, bytes]:
    """The run's CSV (plain UTF-8, `,`, decimal point: the `csv` dialect of core.tabular.writer,
    what tools read) and XLSX (amounts as numbers). The XLSX carries the run's approval time as its
    creation date, not the clock. The « Excel (France) » CSV is derived from the stored CSV at
    download (payment_run_csv)."""
    dataset = payment_run_dataset(run)
    headers = list(dataset.headers)
    amount_at = headers.index("montant")
    year_at = headers.index("exercice")
    rows = []
    for row in dataset:
        row = list(row)
        row[amount_at] = Decimal(row[amount_at])
        row[year_at] = int(row[year_at])
        rows.append(row)
    csv_file = csv_bytes(headers, rows, DIALECTS[PLAIN_CSV])

    workbook = Workbook(write_only=True)
    stamp = run.approved_at.replace(tzinfo=None) if run.approved_at else None
    if stamp:
        workbook.properties.created = stamp
        workbook.properties.modified = stamp
    sheet = workbook.create_sheet(title=run.reference[:31])
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return csv_file, out.getvalue()


def payment_run_csv(stored: bytes, dialect: CsvDialect) -> bytes:
    """The stored payment file in another CSV dialect, from its own bytes (the same payments and
    amounts as the file handed over; runs exported before December 2026 stored `;`-separated
    files, read here too)."""
    text = stored.decode("utf-8-sig")
    first = text.split("\r\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=";" if ";" in first else ",")
    headers = next(reader, [])
    typed = {"montant": Decimal, "exercice": int}
    converters = [typed.get(h) for h in headers]
    rows = [
        [conv(cell) if conv and cell else cell for conv, cell in zip(converters, row, strict=True)]
        for row in reader
    ]
    return csv_bytes(headers, rows, dialect)
