"""The apply takes the rows its dry run read and checked (kept in the cache by file hash and
options) instead of reading the file again: what it stores is exactly what a second read stores;
a read that depended on the database (a SIREN completed) is not kept; the per-column memo of the
cell reader reports every row as before. Runs on SQLite (bulk_create) and PostgreSQL (COPY)."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile

from calls.models import Programme
from core.audit_chain import chain_verify
from core.models import AuditLog, Funder, Organisation
from cpo.models import Agreement, AgreementFunder, AgreementYear
from reporting.imports import columns, grants, services
from reporting.imports.services import import_apply, import_check
from reporting.models import ImportState
from tests import factories as f

HEADER = (
    "nomAttribuant,idAttribuant,dateConvention,referenceDecision,nomBeneficiaire,idBeneficiaire,"
    "rnaBeneficiaire,objet,montant,nature,conditionsVersement,datesPeriodeVersement,idRAE,"
    "notificationUE,pourcentageSubvention,dispositifAide,idSubvention,exerciceBudgetaire"
)
CITY = "Ville de Testville,21060004500392"


@pytest.fixture(autouse=True)
def _2026():
    with time_machine.travel(datetime.datetime(2026, 3, 1, 12, tzinfo=datetime.UTC), tick=False):
        yield


def content(first: int = 1) -> bytes:
    """Single- and multi-year grants, shares, RNA numbers, two funders, amounts around the
    written-agreement threshold."""
    lines = [HEADER]
    for n in range(first, first + 30):
        funder = CITY if n % 3 else "Département du Test,22490001900015"
        rna = f"W75{n:07d}" if n % 4 == 0 else ""
        amount = f"{10_000 + 1_000 * n}.{n % 100:02d}"
        share = "0.5" if n % 5 == 0 else "1"
        years = ("2023", "2024") if n % 7 == 0 else ("",)
        for year in years:
            lines.append(
                f"{funder},2023-0{1 + n % 9}-1{n % 10},DEL-{n},Association {n},"
                f"{f.siret_for(700 + n % 20)},{rna},Objet {n % 4},{amount},aide en numéraire,"
                f"unique,2023-06-01,,non,{share},,{f'SUB-{n}' if year else ''},{year}"
            )
    return ("\n".join(lines) + "\n").encode()


def stored(audit_after: int = 0) -> dict[str, object]:
    """What an import stored, without ids, references and times (audit rows: after an id)."""
    audit = AuditLog.objects.filter(pk__gt=audit_after)
    return {
        "agreements": sorted(
            Agreement.objects.values_list(
                "external_id",
                "organisation__siret",
                "programme__name",
                "programme__fiscal_year",
                "kind",
                "state",
                "title",
                "first_year",
                "duration_years",
                "total_amount",
                "profile",
                "signed_on",
                "notified_on",
                "source",
            )
        ),
        "years": sorted(
            AgreementYear.objects.values_list("agreement__external_id", "fiscal_year", "amount")
        ),
        "funders": sorted(
            AgreementFunder.objects.values_list(
                "agreement__external_id", "funder__siret", "share", "ej_number"
            )
        ),
        "organisations": sorted(Organisation.objects.values_list("siret", "name", "rna")),
        "funder_rows": sorted(Funder.objects.values_list("siret", "name", "kind")),
        "programmes": sorted(Programme.objects.values_list("name", "fiscal_year", "envelope")),
        "audit": sorted(
            (a, p["external_id"], p["years"])
            for a, p in audit.filter(action="cpo.agreement.imported").values_list(
                "target_state", "payload"
            )
        ),
        "audit_organisations": audit.filter(action="core.organisation.created").count(),
    }


def wipe() -> None:
    for model in (AgreementYear, AgreementFunder, Agreement, Programme, Organisation, Funder):
        model.objects.all().delete()


def test_the_kept_rows_store_what_a_second_read_stores(manager):
    data = content()
    batch = import_check(actor=manager, kind="grants", file=SimpleUploadedFile("a.csv", data))
    assert batch.state == ImportState.CHECKED
    key = services._rows_key(batch)
    assert cache.get(key) is not None
    import_apply(actor=manager, batch=batch)
    assert cache.get(key) is None  # dropped once applied
    kept = stored()
    assert len(kept["agreements"]) == 30 and len(kept["years"]) == 34

    wipe()
    last_audit = AuditLog.objects.order_by("-pk").values_list("pk", flat=True)[0]
    # The same rows in another file (a blank line more: another hash, so not « already imported »).
    again = SimpleUploadedFile("b.csv", data + b"\n")
    batch = import_check(actor=manager, kind="grants", file=again)
    cache.delete(services._rows_key(batch))  # expired, evicted, another cache: read again
    batch = import_apply(actor=manager, batch=batch)
    assert batch.state == ImportState.APPLIED
    assert stored(last_audit) == kept
    assert chain_verify().ok  # the audit rows of both imports are chained and verify


def test_thaw_gives_back_what_read_returned(manager):
    from core.tabular.reader import open_table
    from core.tabular.report import Report

    report = Report()
    table = open_table(SimpleUploadedFile("a.csv", content()), name="a.csv")
    rows = grants.read(table, {"strict": True}, report, lambda n: None)
    assert report.ok and len(rows) == 30
    frozen = grants.freeze(rows, report)
    assert frozen is not None
    assert grants.thaw(frozen) == rows
    assert any(len(g.years) == 2 for g in rows)
    assert all(isinstance(a, Decimal) for g in grants.thaw(frozen) for a in g.years.values())


def test_a_siren_completed_from_the_database_is_read_again_at_the_apply(manager):
    known = f.OrganisationFactory(siret=f.siret_for(4904))
    line = (
        f"{CITY},2023-03-14,DEL-1,Régie,{known.siret[:9]},,Objet,1000,aide en numéraire,unique,"
        "2023-04-01,,non,1,,,"
    )
    upload = SimpleUploadedFile("s.csv", f"{HEADER}\n{line}\n".encode())
    batch = import_check(actor=manager, kind="grants", file=upload, options={"strict": False})
    assert batch.state == ImportState.CHECKED
    assert cache.get(services._rows_key(batch)) is None
    batch = import_apply(actor=manager, batch=batch)
    assert Agreement.objects.get().organisation == known


def test_the_memo_of_repeated_cells_still_reports_every_row(manager, monkeypatch):
    # The memo is probed after 2 rows: the amounts (all distinct) lose theirs, the rest keeps it.
    monkeypatch.setattr(columns, "MEMO_PROBE", 2)
    lines = [
        f"{CITY},2023-13-01,DEL-{n},Asso {n},{f.siret_for(800 + n)},,Objet,{1000 + n},"
        "aide en numéraire,unique,2023-04-01,NA,non,1,,,"
        for n in range(6)
    ]
    upload = SimpleUploadedFile("m.csv", ("\n".join([HEADER, *lines]) + "\n").encode())
    batch = import_check(actor=manager, kind="grants", file=upload, options={"strict": False})
    errors = [(e["row"], e["column"]) for e in batch.report["errors"]]
    assert errors == [(n, "dateConvention") for n in range(2, 8)]
    cleaned = {c["column"]: (c["count"], c["rows"]) for c in batch.report["cleaning"]}
    assert cleaned["idRAE"] == (6, [2, 3, 4, 5, 6, 7])


def test_an_unreadable_kept_entry_means_the_file_is_read_again(manager):
    batch = import_check(actor=manager, kind="grants", file=SimpleUploadedFile("a.csv", content()))
    cache.set(services._rows_key(batch), b"not zlib", 60)
    batch = import_apply(actor=manager, batch=batch)
    assert batch.state == ImportState.APPLIED
    assert Agreement.objects.count() == 30
