"""Column mapping: headers matched by name, SCDL title, synonym and similarity; the proposed
mapping shown with sample values; fixed by the user, saved as a profile, reused next time."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from core.models import AuditLog
from reporting.imports.services import import_check
from reporting.models import ImportBatch, ImportProfile, ImportState
from tests import factories as f

B1, B2 = f.siret_for(5101), f.siret_for(5102)
#: The issue's file: the headers are the SCDL titles the import page itself displays.
TITLES = (
    "Nom de l'attribuant;Identification de l'attribuant;Date de la convention de subvention;"
    "Référence de la décision;Nom du bénéficiaire;Identification SIRET du bénéficiaire;"
    "Identification RNA du bénéficiaire;Objet de la subvention;Montant total de la subvention;"
    "Nature de la subvention;Conditions de versement de la subvention;"
    "Date ou période de versement;Pourcentage du montant total de la subvention attribuée au "
    "bénéficiaire"
)


@pytest.fixture(autouse=True)
def _2026():
    with time_machine.travel(datetime.datetime(2026, 3, 1, 12, tzinfo=datetime.UTC), tick=False):
        yield


def titled_file() -> bytes:
    rows = [
        f"Département de la Gironde;22330001300016;2024-02-12;CP-2024-031;Les Amis du Bocage;"
        f"{B1};;Ateliers de quartier;8000.00;aide en numéraire;unique;2024-03-01;1",
        f"Département de la Gironde;22330001300016;2024-02-12;CP-2024-032;Banlieues Vertes;"
        f"{B2};;Jardins partagés;4500.50;aide en numéraire;unique;2024-03-01;1",
    ]
    return ("\n".join([TITLES, *rows]) + "\n").encode()


def check(user, data: bytes, *, strict: bool = False, **options):
    upload = SimpleUploadedFile("gironde-subventions-2024.csv", data)
    return import_check(
        actor=user, kind="grants", file=upload, options={"strict": strict, **options}
    )


def by_header(batch) -> dict[str, dict]:
    return {m["header"]: m for m in batch.report["mapping"]}


def test_schema_titles_are_read_in_tolerant_mode(manager):
    batch = check(manager, titled_file())
    assert batch.state == ImportState.CHECKED, batch.report["errors"][:3]
    mapping = by_header(batch)
    entry = mapping["Identification SIRET du bénéficiaire"]
    assert (entry["field"], entry["how"]) == ("idBeneficiaire", "titre du schéma")
    assert entry["samples"] == [B1, B2]
    assert mapping["Montant total de la subvention"]["samples"] == ["8000.00", "4500.50"]


def test_schema_titles_in_strict_mode_name_the_expected_field_and_suggest_tolerant(manager):
    batch = check(manager, titled_file(), strict=True)
    assert batch.state == ImportState.INVALID
    errors = {e["column"]: e["message"] for e in batch.report["errors"]}
    assert "« idBeneficiaire »" in errors["Identification SIRET du bénéficiaire"]
    assert batch.report["error_count"] < 30  # not one error per row
    assert "accepté en mode tolérant" in " ".join(batch.report["hints"])


def test_synonyms_and_similar_names(manager):
    header = (
        "Collectivité;SIRET attribuant;Date de vote;N° de délibération;Bénéficiaire;SIRET;"
        "Intitulé;Montant attribué;Nature de l'aide;Modalites de versment;Date de versement"
    )
    row = f"Ville de Tourcoing;21060004500392;2023-05-04;D-2023-12;Le Fil;{B1};Repair café;900;"
    row += "aide en numéraire;unique;2023-06-01"
    batch = check(manager, f"{header}\n{row}\n".encode())
    mapping = by_header(batch)
    assert mapping["Bénéficiaire"]["field"] == "nomBeneficiaire"
    assert mapping["Bénéficiaire"]["how"] == "synonyme connu"
    assert mapping["Modalites de versment"]["field"] == "conditionsVersement"
    assert mapping["Modalites de versment"]["how"].startswith("nom ressemblant")
    assert batch.state == ImportState.CHECKED, batch.report["errors"][:3]


def test_a_missing_required_field_names_the_columns_that_could_hold_it(manager):
    header = "nomAttribuant;idAttribuant;dateConvention;Nom;idBeneficiaire;objet;montant;Structure"
    row = f"Ville de Roubaix;22330001300016;2023-05-04;Le Fil;{B1};Repair café;900;Le Fil"
    batch = check(manager, f"{header}\n{row}\n".encode())
    errors = {e["column"]: e["message"] for e in batch.report["errors"] if e["row"] == 1}
    message = errors["nomBeneficiaire"]
    assert "Colonne obligatoire « nomBeneficiaire » absente." in message
    assert "« Nom »" in message and "« Structure »" in message


def test_the_user_fixes_the_mapping_saves_a_profile_and_reuses_it(client, manager):
    header = "Financeur;SIRET financeur;Date;Dossier;Porteur;SIRET porteur;Projet;Euros"
    row = f"Ville de Roubaix;22330001300016;2023-05-04;DOS-1;Le Fil;{B1};Repair café;900"
    data = f"{header}\n{row}\n".encode()
    client.force_login(manager)
    response = client.post(
        reverse("reporting:import_new", args=["grants"]),
        {"file": SimpleUploadedFile("roubaix.csv", data), "strict": "0"},
    )
    first = ImportBatch.objects.latest("pk")
    assert response.status_code == 302 and first.state == ImportState.INVALID
    page = client.get(reverse("reporting:import_detail", args=[first.pk])).content.decode()
    assert 'id="import-mapping-form"' in page and "<code>Repair café</code>" in page
    choices = {m["header"]: m["position"] for m in first.report["mapping"]}
    wanted = {
        "Financeur": "nomAttribuant",
        "SIRET financeur": "idAttribuant",
        "Date": "dateConvention",
        "Dossier": "referenceDecision",
        "Porteur": "nomBeneficiaire",
        "SIRET porteur": "idBeneficiaire",
        "Projet": "objet",
        "Euros": "montant",
    }
    post = {f"col-{choices[h]}": key for h, key in wanted.items()}
    response = client.post(
        reverse("reporting:import_remap", args=[first.pk]),
        {**post, "strict": "0", "profile_name": "Ville de Roubaix — export Progos"},
    )
    second = ImportBatch.objects.latest("pk")
    assert response.status_code == 302 and second.pk != first.pk
    assert second.state == ImportState.CHECKED, second.report["errors"][:3]
    assert by_header(second)["Porteur"]["how"] == "choisie par vous"
    profile = ImportProfile.objects.get()
    assert profile.mapping["siret porteur"] == "idBeneficiaire"
    assert AuditLog.objects.filter(action="reporting.import.profile_saved").count() == 1
    # Next year's file from the same source: the profile is offered and reads it.
    page = client.get(reverse("reporting:import_new", args=["grants"])).content.decode()
    assert "Ville de Roubaix — export Progos" in page
    next_year = data.replace(b"2023-05-04", b"2024-05-06").replace(b"DOS-1", b"DOS-2")
    response = client.post(
        reverse("reporting:import_new", args=["grants"]),
        {"file": SimpleUploadedFile("roubaix-2024.csv", next_year), "strict": "0",
         "profile": str(profile.pk)},
    )  # fmt: skip
    third = ImportBatch.objects.latest("pk")
    assert third.state == ImportState.CHECKED, third.report["errors"][:3]
    assert by_header(third)["Euros"]["field"] == "montant"


def test_a_field_chosen_twice_is_refused(client, manager):
    batch = check(manager, titled_file())
    client.force_login(manager)
    response = client.post(
        reverse("reporting:import_remap", args=[batch.pk]),
        {"col-0": "objet", "col-7": "objet"},
        follow=True,
    )
    assert "est choisie pour deux colonnes" in response.content.decode()
    assert ImportBatch.objects.count() == 1


def test_remap_of_someone_elses_kind_is_404(client, finance_officer, manager):
    batch = check(manager, titled_file())
    client.force_login(finance_officer)
    assert client.post(reverse("reporting:import_remap", args=[batch.pk])).status_code == 404


def test_organisation_import_uses_similarity_and_candidates(manager):
    data = (
        "Raison socialle;N° SIRET;Courriel\n"
        f"Les Amis de Belleville;{f.siret_for(5120)};contact@amis-belleville.fr\n"
    ).encode()
    upload = SimpleUploadedFile("annuaire.csv", data)
    batch = import_check(actor=manager, kind="organisations", file=upload)
    assert batch.state == ImportState.CHECKED, batch.report["errors"]
    assert by_header(batch)["Raison socialle"]["field"] == "name"
