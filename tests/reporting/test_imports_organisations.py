"""Organisations (create or update by SIRET) and reference lists (QPV, communes) imports."""

from __future__ import annotations

import io

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.errors import PermissionDenied
from core.models import QPV, AuditLog, Organisation
from reporting.imports.services import import_apply, import_check
from reporting.models import Commune, ImportState
from tests import factories as f

S1, S2, S3 = f.siret_for(901), f.siret_for(902), f.siret_for(903)


def run(user, kind: str, content: bytes, name: str = "f.csv"):
    batch = import_check(actor=user, kind=kind, file=SimpleUploadedFile(name, content))
    if batch.state == ImportState.CHECKED:
        batch = import_apply(actor=user, batch=batch)
    return batch


def errors(batch) -> dict[tuple[int | None, str], str]:
    return {(e["row"], e["column"]): e["message"] for e in batch.report["errors"]}


# --------------------------------------------------------------------------- organisations


def test_organisations_created_and_updated_by_siret(finance_officer):
    existing = f.OrganisationFactory(siret=S1, name="Ancien nom", email="old@asso.example.org",
                                     city="Marseille")  # fmt: skip
    content = (
        "Raison sociale;SIRET;N° RNA;Forme juridique;Courriel;Code postal;Ville;Code INSEE;IBAN\n"
        f"Nouveau nom;{S1};;;;;;;FR7630006000011234567890189\n"
        f"Les Jardins Partagés;{S2[:3]} {S2[3:6]} {S2[6:9]} {S2[9:]};w 75 1234567;Association loi 1901;"
        "Contact@Jardins.example.org;1000;Bourg-en-Bresse;1053;\n"
    ).encode("cp1252")
    batch = run(finance_officer, "organisations", content)
    assert batch.state == ImportState.APPLIED, batch.report["errors"]
    assert batch.result == {
        "Organisations créées": 1,
        "Organisations mises à jour": 1,
        "Organisations inchangées": 0,
    }
    existing = Organisation.objects.get(pk=existing.pk)
    # Only the name changed: empty cells never erase, bank details are never imported.
    assert (existing.name, existing.email, existing.city) == (
        "Nouveau nom",
        "old@asso.example.org",
        "Marseille",
    )
    assert existing.iban == "FR7630006000011234567890189"  # the factory's, untouched
    new = Organisation.objects.get(siret=S2)
    assert (new.name, new.rna, new.legal_form, new.email) == (
        "Les Jardins Partagés",
        "W751234567",
        "association",
        "contact@jardins.example.org",
    )
    assert (new.postcode, new.commune_insee) == ("01000", "01053")  # leading zeros restored
    assert new.iban == ""
    warnings = {(w["row"], w["column"]): w["message"] for w in batch.report["warnings"]}
    assert "anti-fraude" in warnings[(1, "IBAN")]
    updated = AuditLog.objects.get(action="core.organisation.updated")
    assert updated.payload["changes"] == {"name": ["Ancien nom", "Nouveau nom"]}
    assert AuditLog.objects.filter(
        action="core.organisation.created", object_id=str(new.pk)
    ).exists()


def test_unchanged_organisations_are_not_written(manager):
    f.OrganisationFactory(siret=S1, name="Même nom")
    batch = run(manager, "organisations", f"nom,siret\nMême nom,{S1}\n".encode())
    assert batch.result["Organisations inchangées"] == 1
    assert not AuditLog.objects.filter(action="core.organisation.updated").exists()


def test_organisation_errors_by_row_and_column(manager):
    content = (
        "nom;siret;email;forme juridique\n"
        f";{S1};a@b.example.org;association\n"
        f"B;{S1[:-1]}0;pas-une-adresse;\n"
        f"C;{S2};;club de foot\n"
        f"D;{S2};;\n"
    ).encode()
    batch = run(manager, "organisations", content)
    assert batch.state == ImportState.INVALID
    found = errors(batch)
    assert "obligatoire" in found[(2, "nom")]
    assert "SIRET" in found[(3, "siret")]
    assert "e-mail" in found[(3, "email")]
    assert "forme juridique" in found[(4, "forme juridique")]
    assert "ligne 4" in found[(5, "siret")]
    assert Organisation.objects.count() == 0


def test_missing_required_column(manager):
    batch = run(manager, "organisations", b"nom;ville\nA;Lyon\n")
    assert errors(batch) == {(1, "siret"): "Colonne obligatoire « siret » absente."}


def test_organisations_from_xlsx(manager):
    book = openpyxl.Workbook()
    book.active.append(["Nom", "SIRET", "Code postal"])
    book.active.append(["Tous en Scène", int(S3), 13003])
    buffer = io.BytesIO()
    book.save(buffer)
    batch = run(manager, "organisations", buffer.getvalue(), "orgs.xlsx")
    assert batch.state == ImportState.APPLIED, batch.report["errors"]
    assert Organisation.objects.get(siret=S3).postcode == "13003"


def test_instructors_may_not_import_organisations(instructor):
    with pytest.raises(PermissionDenied):
        run(instructor, "organisations", f"nom,siret\nA,{S1}\n".encode())


# --------------------------------------------------------------------------- QPV


def test_qpv_list_2024_and_2015_codes_upserted(manager):
    f.QPVFactory(code="QN01301M", name="Ancien nom", commune_insee="13201")
    content = (
        b"code_qp;lib_qp;insee_com;lib_com\n"
        b"QN01301M;Centre-Nord;13201, 13202;Marseille\n"
        b"qp 974 001;Le Chaudron;97411;Saint-Denis\n"
        b"QN0130;Faux;13055;Marseille\n"
    )
    batch = run(manager, "qpv", content)
    assert batch.state == ImportState.INVALID
    assert "QN00101M" in errors(batch)[(4, "code_qp")]
    batch = run(manager, "qpv", content.rsplit(b"QN0130", 1)[0])
    assert batch.result == {
        "Quartiers créés": 1,
        "Quartiers mis à jour": 1,
        "Quartiers inchangés": 0,
    }
    assert QPV.objects.get(code="QN01301M").name == "Centre-Nord"
    overseas = QPV.objects.get(code="QP974001")
    assert (overseas.commune_insee, overseas.commune_name) == ("97411", "Saint-Denis")


def test_finance_may_not_import_reference_lists(finance_officer):
    with pytest.raises(PermissionDenied):
        run(finance_officer, "qpv", b"code;nom;code commune INSEE\nQN01301M;A;13201\n")


# --------------------------------------------------------------------------- communes


def test_communes_from_the_insee_cog_file(manager):
    content = (
        b"TYPECOM,COM,REG,DEP,CTCD,ARR,TNCC,NCC,NCCENR,LIBELLE,CAN,COMPARENT\n"
        b"COM,01053,84,01,01D,012,5,BOURG EN BRESSE,Bourg-en-Bresse,Bourg-en-Bresse,0108,\n"
        b"COM,2A004,94,2A,20D,2A1,0,AJACCIO,Ajaccio,Ajaccio,2A99,\n"
        b"COMD,01015,84,01,01D,012,1,ARBIGNIEU,Arbignieu,Arbignieu,,01015\n"
        b"ARM,13201,93,13,13D,133,0,MARSEILLE 1ER,Marseille 1er,Marseille 1er Arrondissement,,13055\n"
        b"COM,97411,04,974,974D,4,0,SAINT DENIS,Saint-Denis,Saint-Denis,97498,\n"
    )
    batch = run(manager, "communes", content)
    assert batch.state == ImportState.APPLIED, batch.report["errors"]
    assert dict(Commune.objects.values_list("code", "departement")) == {
        "01053": "01",
        "2A004": "2A",
        "97411": "974",
    }
    assert Commune.objects.get(code="2A004").name == "Ajaccio"
    assert any("2 lignes ignorées" in w["message"] for w in batch.report["warnings"])
    assert any(
        "LIBELLE" in w["message"] for w in batch.report["warnings"] if w["column"] == "NCCENR"
    )


def test_communes_upserted_and_departement_derived(manager):
    Commune.objects.create(code="13055", name="Marseile", departement="13")
    batch = run(
        manager, "communes", b"code insee;nom\n13055;Marseille\n2B033;Bastia\n97101;Les Abymes\n"
    )
    assert batch.result == {
        "Communes créées": 2,
        "Communes mises à jour": 1,
        "Communes inchangées": 0,
    }
    assert dict(Commune.objects.values_list("code", "departement")) == {
        "13055": "13",
        "2B033": "2B",
        "97101": "971",
    }
    assert Commune.objects.get(code="13055").name == "Marseille"


def test_bad_commune_codes(manager):
    batch = run(manager, "communes", b"code insee;nom\n2C004;X\n123456;Y\n13055;\n")
    found = errors(batch)
    assert "INSEE" in found[(2, "code insee")] and "INSEE" in found[(3, "code insee")]
    assert "obligatoire" in found[(4, "nom")]
    assert Commune.objects.count() == 0
