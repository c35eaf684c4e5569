"""Historical grants import: what each row becomes, all or nothing, idempotent, audited, and the
odd files people really send (Latin-1, `;`, decimal commas, DD/MM/YYYY, stray spaces)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from calls.models import Programme
from core.errors import DomainError, PermissionDenied
from core.models import AuditLog, BackgroundJob, Funder, Organisation
from cpo.models import Agreement, AgreementFunder, AgreementState, AgreementYear
from reporting.imports import services
from reporting.imports.services import import_apply, import_check, import_start
from reporting.models import ImportBatch, ImportState
from tests import factories as f

DATA = Path(__file__).parent / "data" / "scdl"
HEADER = (
    "nomAttribuant,idAttribuant,dateConvention,referenceDecision,nomBeneficiaire,idBeneficiaire,"
    "rnaBeneficiaire,objet,montant,nature,conditionsVersement,datesPeriodeVersement,idRAE,"
    "notificationUE,pourcentageSubvention,dispositifAide"
)
CITY = "Ville de Testville,21060004500392"  # the SIRET of Antibes in the SCDL examples: valid


@pytest.fixture(autouse=True)
def _2026():
    with time_machine.travel(datetime.datetime(2026, 3, 1, 12, tzinfo=datetime.UTC), tick=False):
        yield


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content)


def grant_row(n: int, *, amount: str = "30000", share: str = "1", period: str = "2024-03-01",
              ref: str | None = None, objet: str = "Actions éducatives") -> str:  # fmt: skip
    return (
        f"{CITY},2024-01-15,{ref or f'DEL-{n}'},Association {n},{f.siret_for(500 + n)},,"
        f"{objet},{amount},aide en numéraire,unique,{period},,non,{share},"
    )


def csv_of(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def check_and_apply(user, content: bytes, *, name: str = "subventions.csv", strict: bool = True):
    batch = import_check(actor=user, kind="grants", file=upload(name, content),
                         options={"strict": strict})  # fmt: skip
    assert batch.report["errors"] == [], batch.report["errors"][:5]
    return import_apply(actor=user, batch=batch)


@pytest.fixture
def antibes_rallye(db):
    return f.OrganisationFactory(name="Antibes Rallye Association", rna="W322216459")


def test_valid_example_becomes_29_imported_agreements(manager, antibes_rallye):
    batch = check_and_apply(manager, (DATA / "exemple_valide.csv").read_bytes())
    assert batch.state == ImportState.APPLIED
    assert batch.applied_by == manager and batch.applied_at is not None
    assert batch.result["Subventions créées"] == 29
    assert batch.result["Organisations créées"] == 28  # every row but the RNA-only one
    agreements = Agreement.objects.filter(source=Agreement.Source.IMPORTED)
    assert agreements.count() == 29
    assert not agreements.filter(application__isnull=False).exists()
    funder = Funder.objects.get(siret="21060004500392")
    assert funder.name == "ANTIBES"
    # Row 2: 99 786,57 € shared, 5 % to this beneficiary → 4 989,33 € (half-up), paid in 2017.
    first = agreements.get(organisation__siret="52499120500013")
    assert first.total_amount == Decimal("4989.33")
    assert first.kind == Agreement.Kind.DECISION  # ≤ 23 000 €
    assert first.first_year == 2017 and first.duration_years == 1
    assert first.signed_on == datetime.date(2015, 7, 7) == first.notified_on
    assert first.state == AgreementState.COMPLETED  # 2017 is over
    assert first.reference.startswith("HIST-2017-")
    assert first.external_id.startswith("CONV N° 2074-15 2015-06-19|52499120500013|2017|")
    assert list(first.years.values_list("fiscal_year", "amount")) == [(2017, Decimal("4989.33"))]
    link = AgreementFunder.objects.get(agreement=first)
    assert (link.funder, link.share) == (funder, Decimal("1"))
    # Row 21: 460 000 € × 100 % → a written agreement.
    assert agreements.get(total_amount=Decimal("460000.00")).kind == Agreement.Kind.AGREEMENT
    # The RNA-only row reuses the known association.
    assert agreements.filter(organisation=antibes_rallye).count() == 1
    created = Organisation.objects.get(siret="52499120500013")
    assert created.name == "CEA DU PERSONNEL DE LA VILLE D'ANTIBES JUAN-LES-PINS"
    assert created.rna == "W333216789"


def test_programme_per_funder_and_year_with_its_envelope(manager, antibes_rallye):
    check_and_apply(manager, (DATA / "exemple_valide.csv").read_bytes())
    programmes = Programme.objects.filter(name="Historique — ANTIBES")
    assert list(programmes.values_list("fiscal_year", flat=True)) == [2017]
    programme = programmes.get()
    assert list(programme.funders.values_list("siret", flat=True)) == ["21060004500392"]
    total = sum(a.total_amount for a in Agreement.objects.filter(programme=programme))
    assert programme.envelope == total


def test_one_audit_row_per_agreement_and_per_organisation(manager, antibes_rallye):
    batch = check_and_apply(manager, (DATA / "exemple_valide.csv").read_bytes())
    rows = AuditLog.objects.filter(action="cpo.agreement.imported")
    assert rows.count() == 29
    row = rows.order_by("id").first()
    assert row.actor == manager and row.target_state in ("completed", "active")
    assert row.payload["file"] == f"subventions.csv (import n° {batch.pk})"
    assert AuditLog.objects.filter(action="core.organisation.created").count() == 28
    assert AuditLog.objects.filter(
        action="reporting.import.applied", object_id=str(batch.pk)
    ).exists()


def test_the_same_file_is_not_imported_twice(manager, antibes_rallye):
    content = (DATA / "exemple_valide.csv").read_bytes()
    batch = check_and_apply(manager, content)
    # Applying the applied batch again does nothing.
    assert import_apply(actor=manager, batch=batch).state == ImportState.APPLIED
    # Sending the same file again is refused at the dry run.
    again = import_check(actor=manager, kind="grants", file=upload("copie.csv", content))
    assert again.state == ImportState.INVALID
    assert "déjà été importé" in again.report["errors"][0]["message"]
    with pytest.raises(DomainError):
        import_apply(actor=manager, batch=again)
    assert Agreement.objects.count() == 29


def test_overlapping_file_adds_only_the_new_grants(manager):
    check_and_apply(manager, csv_of(grant_row(1), grant_row(2)))
    batch = check_and_apply(manager, csv_of(grant_row(1), grant_row(2), grant_row(3)))
    assert batch.result["Subventions créées"] == 1
    assert batch.result["Subventions déjà importées (ignorées)"] == 2
    assert Agreement.objects.count() == 3
    assert Funder.objects.count() == 1
    assert Programme.objects.filter(name__startswith="Historique").count() == 1


def test_same_decision_two_objects_for_one_beneficiary_are_two_grants(manager):
    rows = [grant_row(1, ref="D-1", objet="Cybercafé"), grant_row(1, ref="D-1", objet="Santé")]
    batch = check_and_apply(manager, csv_of(*rows))
    assert batch.result["Subventions créées"] == 2
    assert Organisation.objects.filter(siret=f.siret_for(501)).count() == 1


def test_exact_duplicate_row_is_an_error(manager):
    batch = import_check(
        actor=manager, kind="grants", file=upload("d.csv", csv_of(grant_row(1), grant_row(1)))
    )
    assert batch.state == ImportState.INVALID
    assert [(e["row"], e["message"][:26]) for e in batch.report["errors"]] == [
        (3, "Même subvention que la lig")
    ]


def test_state_follows_the_last_year(manager):
    past, current = grant_row(1, period="2025-02-01"), grant_row(2, period="2026-02-01")
    check_and_apply(manager, csv_of(past, current))
    states = dict(Agreement.objects.values_list("first_year", "state"))
    assert states == {2025: AgreementState.COMPLETED, 2026: AgreementState.ACTIVE}


def test_multi_year_grant_from_the_data_subvention_extension(manager):
    header = HEADER + ",idSubvention,exerciceBudgetaire,ej"
    rows = [
        grant_row(1, amount="40000") + ",SUB-77,2025,1234567890",
        grant_row(1, amount="42000") + ",SUB-77,2026,1234567890",
        grant_row(1, amount="45000") + ",SUB-77,2027,1234567890",
    ]
    check_and_apply(manager, csv_of(*rows, header=header))
    agreement = Agreement.objects.get()
    assert agreement.external_id == "SUB-77"
    assert (agreement.first_year, agreement.duration_years) == (2025, 3)
    assert agreement.total_amount == Decimal("127000.00")
    assert agreement.profile == "custom"
    assert agreement.state == AgreementState.ACTIVE
    assert list(AgreementYear.objects.values_list("fiscal_year", "amount")) == [
        (2025, Decimal("40000.00")),
        (2026, Decimal("42000.00")),
        (2027, Decimal("45000.00")),
    ]
    assert AgreementFunder.objects.get().ej_number == "1234567890"


def test_multi_year_grant_with_a_gap_is_refused(manager):
    header = HEADER + ",idSubvention,exerciceBudgetaire"
    rows = [grant_row(1) + ",SUB-8,2024", grant_row(1) + ",SUB-8,2026"]
    batch = import_check(
        actor=manager, kind="grants", file=upload("g.csv", csv_of(*rows, header=header))
    )
    assert batch.state == ImportState.INVALID
    assert batch.report["errors"][0]["column"] == "exerciceBudgetaire"
    assert "se suivre" in batch.report["errors"][0]["message"]


ODD_FILE = (
    # Latin-1, `;`, decimal commas, thousands with no-break spaces, DD/MM/YYYY dates, stray
    # spaces around names and in SIRETs, headers with other case and an accent, 45 % written so.
    "NomAttribuant ; idattribuant;DateConvention;référenceDécision;nomBénéficiaire;idBeneficiaire;"
    "rnaBeneficiaire;objet;montant;nature;conditionsVersement;datesPeriodeVersement;idRAE;"
    "notificationUE;pourcentageSubvention\r\n"
    "  Région Île-de-France ;237 500 079 00015;15/03/2024;CP 24-117;  Les Amis   du Quartier ;"
    "524 991 205 00013;W751234567;Ateliers d'été;12\u00a0800,50;Aide en numéraire;unique;"
    "01/04/2024;;Non;100 %\r\n"
    "Région Île-de-France;23750007900015;02-05-2024;CP 24-118;Théâtre des Cités;"
    "38033590100027;;Festival;45 000;aide en numéraire;échelonné;2024-05-02/2024-12-31;;non;"
    "0,45\r\n"
).encode("latin-1")


def test_odd_real_world_file_in_tolerant_mode(manager):
    batch = check_and_apply(manager, ODD_FILE, strict=False)
    assert batch.report["file"]["delimiter"] == ";"
    assert batch.report["file"]["encoding"] in ("CP1252", "LATIN-1")
    funder = Funder.objects.get()
    assert (funder.name, funder.siret, funder.kind) == (
        "Région Île-de-France",
        "23750007900015",
        Funder.Kind.REGION,
    )
    first = Agreement.objects.get(organisation__siret="52499120500013")
    assert first.total_amount == Decimal("12800.50")
    assert first.signed_on == datetime.date(2024, 3, 15)
    assert first.organisation.name == "Les Amis du Quartier"
    assert first.organisation.rna == "W751234567"
    second = Agreement.objects.get(organisation__siret="38033590100027")
    assert second.total_amount == Decimal("20250.00")  # 45 000 × 0,45
    assert second.signed_on == datetime.date(2024, 5, 2)


def test_odd_real_world_file_in_strict_mode_lists_each_deviation(manager):
    batch = import_check(actor=manager, kind="grants", file=upload("odd.csv", ODD_FILE))
    assert batch.state == ImportState.INVALID
    found = {(e["row"], e["column"]): e["message"] for e in batch.report["errors"]}
    assert "nomAttribuant" in found[(1, "NomAttribuant")]
    assert "14 chiffres" in found[(2, "idattribuant")]
    assert "AAAA-MM-JJ" in found[(2, "DateConvention")]
    assert "point" in found[(2, "montant")] or "nombre" in found[(2, "montant")]
    assert "« oui » ou « non »" in found[(2, "notificationUE")]
    assert "séparateur décimal" in found[(3, "pourcentageSubvention")]
    assert Agreement.objects.count() == 0


def test_one_bad_row_means_nothing_is_written(manager):
    content = csv_of(grant_row(1), grant_row(2, amount="douze"), grant_row(3))
    batch = import_check(actor=manager, kind="grants", file=upload("x.csv", content))
    assert batch.state == ImportState.INVALID
    assert [(e["row"], e["column"]) for e in batch.report["errors"]] == [(3, "montant")]
    with pytest.raises(DomainError):
        import_apply(actor=manager, batch=batch)
    assert (Agreement.objects.count(), Organisation.objects.count(), Funder.objects.count()) == (
        0,
        0,
        0,
    )


def test_a_failure_while_writing_rolls_everything_back(manager, monkeypatch):
    batch = import_check(actor=manager, kind="grants", file=upload("x.csv", csv_of(grant_row(1))))

    def boom(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("cpo.services_import.audit_log_many", boom)
    with pytest.raises(RuntimeError):
        import_apply(actor=manager, batch=batch)
    assert (Agreement.objects.count(), Organisation.objects.count(), Funder.objects.count()) == (
        0,
        0,
        0,
    )
    assert ImportBatch.objects.get(pk=batch.pk).state == ImportState.CHECKED


def test_data_changed_since_the_dry_run_refuses_the_apply(manager):
    known = f.OrganisationFactory(rna="W751234567")
    row = f"{CITY},2024-01-15,D-9,Asso RNA,,W751234567,Objet,1000,aide en numéraire,unique,2024-02-01,,non,1,"
    batch = import_check(actor=manager, kind="grants", file=upload("r.csv", csv_of(row)))
    assert batch.state == ImportState.CHECKED
    known.delete()
    with pytest.raises(DomainError, match="ne peut plus être importé"):
        import_apply(actor=manager, batch=batch)
    batch = ImportBatch.objects.get(pk=batch.pk)
    assert batch.state == ImportState.INVALID
    assert batch.report["errors"][0]["row"] == 2
    assert batch.report["errors"][0]["column"] == "rnaBeneficiaire"
    assert AuditLog.objects.filter(action="reporting.import.invalidated").count() == 1
    assert Agreement.objects.count() == 0


def test_only_programme_managers_import_grants(instructor, finance_officer):
    for user in (instructor, finance_officer):
        with pytest.raises(PermissionDenied):
            import_check(actor=user, kind="grants", file=upload("x.csv", csv_of(grant_row(1))))
    assert ImportBatch.objects.count() == 0


def test_big_file_is_applied_by_a_background_job(
    manager, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(services, "SYNC_MAX_ROWS", 2)
    batch = import_check(
        actor=manager,
        kind="grants",
        file=upload("big.csv", csv_of(*(grant_row(n) for n in range(1, 6)))),
    )
    with django_capture_on_commit_callbacks(execute=True):
        job = import_start(actor=manager, batch=batch)
    assert job is not None
    job = BackgroundJob.objects.get(pk=job.pk)
    assert job.state == BackgroundJob.State.DONE
    assert job.result["Subventions créées"] == 5
    assert (job.progress_done, job.progress_total) == (10, 10)  # reading, then writing
    batch = ImportBatch.objects.get(pk=batch.pk)
    assert (batch.state, batch.job_id) == (ImportState.APPLIED, job.pk)
    # The worker running the job again (acks_late) writes nothing more.
    from core.jobs import _RUNNERS

    again = _RUNNERS[services.JOB_KIND](job, lambda done, total=None: None)
    assert again.summary["Subventions créées"] == 5
    assert Agreement.objects.count() == 5


def test_background_job_of_a_file_gone_invalid_reports_it(
    manager, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(services, "SYNC_MAX_ROWS", 0)
    known = f.OrganisationFactory(rna="W751234567")
    row = f"{CITY},2024-01-15,D-9,Asso,,W751234567,Objet,1000,aide en numéraire,unique,2024-02-01,,non,1,"
    batch = import_check(actor=manager, kind="grants", file=upload("r.csv", csv_of(row)))
    known.delete()
    with django_capture_on_commit_callbacks(execute=True):
        job = import_start(actor=manager, batch=batch)
    job = BackgroundJob.objects.get(pk=job.pk)
    assert job.state == BackgroundJob.State.DONE
    assert "ne peut plus être importé" in job.result["Résultat"]
    assert ImportBatch.objects.get(pk=batch.pk).state == ImportState.INVALID


def test_previous_tool_export_with_only_the_needed_columns(manager):
    content = (
        "Attribuant;SIRET attribuant;Date;Bénéficiaire;SIRET;Objet;Montant\n"
        f"Ville de Testville;21060004500392;12/02/2023;Asso;{f.siret_for(7)};Fonctionnement;"
        "8 000,00\n"
    ).encode("cp1252")
    strict = import_check(actor=manager, kind="grants", file=upload("old.csv", content))
    assert strict.state == ImportState.INVALID  # the schema's columns and names are required
    header = (
        "nomAttribuant;idAttribuant;dateConvention;nomBeneficiaire;idBeneficiaire;objet;montant"
    )
    content = header.encode() + b"\n" + content.split(b"\n", 1)[1]
    batch = check_and_apply(manager, content, strict=False)
    missing = {w["column"] for w in batch.report["warnings"] if "absente" in w["message"]}
    assert {"nature", "notificationUE", "pourcentageSubvention"} <= missing
    agreement = Agreement.objects.get()
    assert (agreement.total_amount, agreement.first_year) == (Decimal("8000.00"), 2023)
