"""Directory pages: the public sees listed actors and published sheets only (a draft is a 404),
organisations edit their profile and sheets, staff publish; the public export of the sheets."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from directory import services
from directory.models import ExperienceSheet, SheetState

from .. import factories as f

pytestmark = pytest.mark.django_db


def _listed(organisation, admin, text="Soutien scolaire au Jas de Bouffan."):
    return services.profile_update(
        actor=admin, organisation=organisation, is_listed=True, presentation=text
    )


def test_public_cannot_see_a_draft_sheet(client, sheet, other_applicant, auditor):
    assert client.get(f"/experiences/{sheet.pk}/").status_code == 404
    client.force_login(other_applicant)
    assert client.get(f"/experiences/{sheet.pk}/").status_code == 404
    assert client.get(f"/experiences/{sheet.pk}/modifier/").status_code == 404
    # Staff read it (auditors read, never edit).
    client.force_login(auditor)
    assert client.get(f"/experiences/{sheet.pk}/").status_code == 200
    assert client.get(f"/experiences/{sheet.pk}/modifier/").status_code == 404


def test_published_sheet_is_public_and_searchable(client, published, organisation, applicant):
    response = client.get(f"/experiences/{published.pk}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert published.title in body and "Jeunes accompagnés" in body
    assert "Historique" not in body
    listing = client.get("/experiences/", {"quartier": "QN01301M", "theme": "alimentation"})
    assert published.title in listing.content.decode()
    other_kind = client.get("/experiences/", {"financement": "anti_call"})
    assert published.title not in other_kind.content.decode()
    # Not listed: the sheet names the organisation without linking a directory page.
    assert f"/annuaire/{organisation.pk}/" not in body
    _listed(organisation, applicant)
    assert (
        f"/annuaire/{organisation.pk}/"
        in client.get(f"/experiences/{published.pk}/").content.decode()
    )


def test_bad_filters_are_not_an_error(client, published):
    response = client.get("/experiences/", {"quartier": "nope", "financement": "x", "page": "z"})
    assert response.status_code == 200


def test_directory_lists_opted_in_actors_only(client, published, organisation, applicant):
    assert client.get(f"/annuaire/{organisation.pk}/").status_code == 404
    assert organisation.name not in client.get("/annuaire/").content.decode()
    _listed(organisation, applicant)
    page = client.get(f"/annuaire/{organisation.pk}/").content.decode()
    assert "Jas de Bouffan" in page and "Alimentation" in page
    assert f"/experiences/{published.pk}/" in page
    # No personal data: neither the legal representative nor the private contact of the profile.
    assert organisation.email not in page
    assert (
        client.get("/annuaire/", {"quartier": "QN01301M"})
        .content.decode()
        .count(f"actor-{organisation.pk}")
        == 1
    )


def test_profile_page_is_for_the_organisation_admin(client, organisation, applicant, instructor):
    url = f"/annuaire/organisations/{organisation.pk}/fiche-publique/"
    client.force_login(instructor)
    assert client.get(url).status_code == 404
    client.force_login(applicant)
    assert client.get(url).status_code == 200
    bad = client.post(url, {"is_listed": "on", "presentation": "Asso", "public_email": "a@b.org"})
    assert bad.status_code == 400
    assert "consentement" in bad.content.decode()
    ok = client.post(url, {"is_listed": "on", "presentation": "Asso du quartier"})
    assert ok.status_code == 302
    assert organisation.public_profile.is_listed is True


def test_organisation_drafts_edits_and_submits(client, evaluation, applicant, instructor):
    client.force_login(applicant)
    mine = client.get("/experiences/mes-fiches/").content.decode()
    assert f"evaluation-{evaluation.pk}" in mine
    response = client.post(f"/experiences/rediger/{evaluation.pk}/")
    sheet = ExperienceSheet.objects.get()
    assert response.url == f"/experiences/{sheet.pk}/modifier/"
    form = client.get(response.url)
    assert form.status_code == 200
    data = {
        "title": "Des stages pour 120 jeunes",
        "what": "Accompagnement vers des stages",
        "place": "Aix-en-Provence",
        "qpvs": [q.pk for q in sheet.qpvs.all()],
        "audience": "Jeunes de 16 à 25 ans",
        "results": "35 jeunes en emploi",
        "funding_kind": sheet.funding_kind,
        "contact_name": "Awa Diallo",
        "action": "submit",
    }
    refused = client.post(response.url, data)
    assert refused.status_code == 400  # a contact without consent
    data["contact_consent"] = "on"
    done = client.post(response.url, data)
    assert done.status_code == 302
    sheet = ExperienceSheet.objects.get()
    assert sheet.state == SheetState.SUBMITTED and sheet.contact_name == "Awa Diallo"
    # Submitted: the organisation can no longer edit, the instructor publishes.
    assert client.get(f"/experiences/{sheet.pk}/modifier/").status_code == 404
    assert client.post(f"/experiences/{sheet.pk}/publier/").status_code == 302
    assert ExperienceSheet.objects.get().state == SheetState.SUBMITTED
    client.force_login(instructor)
    assert sheet.title in client.get("/experiences/mes-fiches/").content.decode()
    client.post(f"/experiences/{sheet.pk}/publier/")
    assert ExperienceSheet.objects.get().state == SheetState.PUBLISHED
    client.logout()
    assert "Awa Diallo" in client.get(f"/experiences/{sheet.pk}/").content.decode()


def test_instructor_returns_with_a_reason(client, sheet, applicant, instructor):
    services.sheet_submit(actor=applicant, sheet=sheet)
    client.force_login(instructor)
    client.post(f"/experiences/{sheet.pk}/renvoyer/", {"reason": ""})
    assert ExperienceSheet.objects.get().state == SheetState.SUBMITTED
    client.post(f"/experiences/{sheet.pk}/renvoyer/", {"reason": "Ajoutez le coût par jeune."})
    assert ExperienceSheet.objects.get().state == SheetState.RETURNED
    client.force_login(applicant)
    page = client.get(f"/experiences/{sheet.pk}/").content.decode()
    assert "Ajoutez le coût par jeune." in page


def test_public_export_holds_published_sheets_only(client, published, instructor, applicant):
    second = f.OrganisationFactory(name="Deuxième association")
    member = f.UserFactory(email="b@asso.example.org")
    f.add_member(member, second)
    from .conftest import accepted_evaluation

    draft_eval = accepted_evaluation(
        instructor=instructor,
        applicant=member,
        organisation=second,
        qpv=f.QPVFactory(code="QN01309Z"),
    )
    services.sheet_draft(actor=member, evaluation=draft_eval)
    response = client.get("/experiences/export.csv")
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8")
    rows = list(csv.reader(io.StringIO(text)))  # plain CSV: `,`, decimal point, no BOM
    assert rows[0][:3] == ["Titre", "Organisation", "Année de l'action"]
    assert "État" not in rows[0]
    assert [r[0] for r in rows[1:]] == [published.title]
    assert rows[1][rows[0].index("Quartiers")] == "QN01301M"
    assert rows[1][rows[0].index("Coût de l'action (€)")] == "89000.00"
    excel = b"".join(client.get("/experiences/export.excel-fr").streaming_content)
    assert excel.startswith(b"\xef\xbb\xbf")
    excel_rows = list(csv.reader(io.StringIO(excel.decode("utf-8-sig")), delimiter=";"))
    assert excel_rows[1][excel_rows[0].index("Coût de l'action (€)")] == "89000,00"
    xlsx = client.get("/experiences/export.xlsx", {"quartier": "QN01301M"})
    book = openpyxl.load_workbook(io.BytesIO(b"".join(xlsx.streaming_content)))
    sheet_rows = list(book.active.iter_rows(values_only=True))
    assert len(sheet_rows) == 2 and sheet_rows[1][0] == published.title
    assert client.get("/experiences/export.pdf").status_code == 404
    ods = client.get("/experiences/export.ods", {"financement": "anti_call"})
    assert ods.status_code == 200


def test_staff_export_dataset_lists_every_sheet(client, sheet, published, instructor):
    from reporting.resources import DATASETS, datasets_for

    assert "experience_sheets" in DATASETS
    assert DATASETS["experience_sheets"] in datasets_for(instructor)
    rows = DATASETS["experience_sheets"].queryset(instructor, {"state": "published"})
    assert list(rows) == [published]
