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
    """The run's CSV (UTF-8, `;`-separated, as French accounting tools expect) and XLSX (amounts
    as numbers). The XLSX carries the run's approval time as its creation date, not the clock."""
    dataset = payment_run_dataset(run)
    text = io.StringIO(newline="")

    writer = csv.writer(text, delimiter=";", lineterminator="\r\n")
    writer.writerow(dataset.headers)
    writer.writerows(dataset)
    csv_bytes = text.getvalue().encode("utf-8")

    workbook = Workbook(write_only=True)
    stamp = run.approved_at.replace(tzinfo=None) if run.approved_at else None
    if stamp:
        workbook.properties.created = stamp
        workbook.properties.modified = stamp
    sheet = workbook.create_sheet(title=run.reference[:31])
    sheet.append(list(dataset.headers))
    amount_at = dataset.headers.index("montant")
    year_at = dataset.headers.index("exercice")
    for row in dataset:
        row = list(row)
        row[amount_at] = Decimal(row[amount_at])
        row[year_at] = int(row[year_at])
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return csv_bytes, out.getvalue()
