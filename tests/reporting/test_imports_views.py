"""Import pages: who sees them, upload → dry-run report → confirm → result."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from core.models import BackgroundJob, Organisation
from cpo.models import Agreement
from reporting.imports import services
from reporting.models import ImportBatch, ImportState
from tests import factories as f

DATA = Path(__file__).parent / "data" / "scdl"
S1, S2 = f.siret_for(801), f.siret_for(802)
LIST = reverse("reporting:import_list")


def new_url(kind: str) -> str:
    return reverse("reporting:import_new", args=[kind])


def post_file(client, kind: str, content: bytes, name: str = "f.csv", **extra):
    return client.post(new_url(kind), {"file": SimpleUploadedFile(name, content), **extra})


def test_list_shows_the_kinds_each_role_may_import(client, manager, finance_officer):
    client.force_login(manager)
    page = client.get(LIST).content.decode()
    for kind in ("organisations", "qpv", "communes", "grants"):
        assert f'id="new-{kind}"' in page
    client.force_login(finance_officer)
    page = client.get(LIST).content.decode()
    assert 'id="new-organisations"' in page and 'id="new-grants"' not in page
    assert client.get(new_url("grants")).status_code == 403


@pytest.mark.parametrize("role", ["instructor", "auditor", "applicant"])
def test_other_roles_are_refused(client, request, role):
    client.force_login(request.getfixturevalue(role))
    assert client.get(LIST).status_code == 403
    assert client.get(new_url("organisations")).status_code == 403


def test_anonymous_is_sent_to_login(client):
    assert client.get(LIST).status_code == 302


def test_unknown_kind_is_404(client, manager):
    client.force_login(manager)
    assert client.get(new_url("nope")).status_code == 404


def test_upload_page_lists_the_expected_columns(client, manager):
    client.force_login(manager)
    page = client.get(new_url("grants")).content.decode()
    assert "<code>idBeneficiaire</code>" in page and "Strict" in page and "Tolérant" in page
    page = client.get(new_url("organisations")).content.decode()
    assert "<code>siret</code>" in page and 'name="strict"' not in page


def test_valid_file_then_confirm_then_result(client, finance_officer):
    client.force_login(finance_officer)
    response = post_file(client, "organisations", f"nom;siret\nA;{S1}\nB;{S2}\n".encode())
    batch = ImportBatch.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "reporting:import_detail", args=[batch.pk]
    )
    page = client.get(response["Location"]).content.decode()
    assert 'id="apply-button"' in page and "Organisations à créer" in page
    assert Organisation.objects.count() == 0
    response = client.post(reverse("reporting:import_apply", args=[batch.pk]), follow=True)
    page = response.content.decode()
    assert "Import terminé." in page and 'id="import-result"' in page
    assert 'id="apply-button"' not in page
    assert Organisation.objects.count() == 2
    assert f'id="import-{batch.pk}"' in client.get(LIST).content.decode()


def test_invalid_file_shows_every_error_and_no_confirm_button(client, manager):
    client.force_login(manager)
    post_file(client, "grants", (DATA / "exemple_invalide_erreurs_cellules.csv").read_bytes(),
              strict="1")  # fmt: skip
    batch = ImportBatch.objects.get()
    assert batch.state == ImportState.INVALID
    page = client.get(reverse("reporting:import_detail", args=[batch.pk])).content.decode()
    assert 'id="import-refused"' in page and 'id="apply-button"' not in page
    assert '<th scope="col" class="num">Ligne</th>' in page
    assert "« 05/12/2016 » n&#x27;est pas une date au format AAAA-MM-JJ" in page
    response = client.post(reverse("reporting:import_apply", args=[batch.pk]), follow=True)
    assert "corrigez-le" in response.content.decode()
    assert Agreement.objects.count() == 0


def test_report_as_csv(client, manager):
    client.force_login(manager)
    post_file(client, "organisations", f"nom;siret\n;{S1}\n".encode())
    batch = ImportBatch.objects.get()
    response = client.get(reverse("reporting:import_report_csv", args=[batch.pk]))
    text = response.content.decode("utf-8-sig")
    assert response["Content-Type"].startswith("text/csv")
    assert text.splitlines()[1] == "Erreur;2;nom;;Cellule obligatoire vide."
    assert response.content.startswith(b"\xef\xbb\xbf")  # Excel (France) by default
    url = reverse("reporting:import_report_csv", args=[batch.pk])
    plain = client.get(url + "?format=csv").content
    assert plain.decode("utf-8").splitlines()[1] == "Erreur,2,nom,,Cellule obligatoire vide."
    assert client.get(url + "?format=tsv").status_code == 400


def test_unreadable_file_error_next_to_the_field(client, manager):
    client.force_login(manager)
    response = post_file(client, "organisations", b"%PDF-1.4", "scan.pdf")
    assert response.status_code == 400
    assert "Ce fichier est un PDF" in response.content.decode()
    assert not ImportBatch.objects.exists()
    response = client.post(new_url("organisations"), {})
    assert response.status_code == 400 and "obligatoire" in response.content.decode()


def test_batches_of_kinds_one_may_not_import_are_404(client, manager, finance_officer):
    client.force_login(manager)
    post_file(client, "communes", b"code insee;nom\n13055;Marseille\n")
    batch = ImportBatch.objects.get()
    client.force_login(finance_officer)
    assert client.get(reverse("reporting:import_detail", args=[batch.pk])).status_code == 404
    assert client.post(reverse("reporting:import_apply", args=[batch.pk])).status_code == 404
    assert client.get(reverse("reporting:import_report_csv", args=[batch.pk])).status_code == 404


def test_big_file_goes_to_the_job_page(
    client, manager, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(services, "SYNC_MAX_ROWS", 1)
    client.force_login(manager)
    post_file(client, "organisations", f"nom;siret\nA;{S1}\nB;{S2}\n".encode())
    batch = ImportBatch.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("reporting:import_apply", args=[batch.pk]))
    job = BackgroundJob.objects.get()
    assert response["Location"] == reverse("core:job_detail", args=[job.pk])
    assert ImportBatch.objects.get(pk=batch.pk).state == ImportState.APPLIED
    assert Organisation.objects.count() == 2


def test_pages_meet_the_accessibility_basics(client, manager):
    from tests.test_accessibility_pages import audit

    client.force_login(manager)
    post_file(client, "grants", (DATA / "exemple_invalide_erreurs_colonnes.csv").read_bytes(),
              strict="1")  # fmt: skip
    post_file(client, "organisations", f"nom;siret\nA;{S1}\n".encode())
    invalid, valid = ImportBatch.objects.order_by("pk")
    urls = [LIST, new_url("grants"), new_url("organisations")]
    urls += [reverse("reporting:import_detail", args=[b.pk]) for b in (invalid, valid)]
    problems = [p for url in urls for p in audit(client, url)]
    assert problems == []
