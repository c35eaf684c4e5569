"""The annual evaluation pages: the association files (errors beside the fields, nothing lost,
approved accounts uploaded or picked), the instructor reviews on the same page (and sees the panel's
assessments for a call for solutions), acceptance releases the balance; lists and scopes."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from core.models import AuditLog, DocumentKind, OrganisationDocument
from cpo.models import Evaluation, Instalment
from cpo.models import EvaluationState as E
from cpo.models import InstalmentState as I  # noqa: E741

from .. import factories as f

pytestmark = pytest.mark.django_db
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


@pytest.fixture
def cpo(instructor, applicant, organisation):
    return f.cpo_awaiting_evaluation(instructor=instructor, organisation=organisation)


def evaluation_of(agreement, year=None) -> Evaluation:
    return Evaluation.objects.get(agreement=agreement, fiscal_year=year or agreement.first_year)


def url(evaluation: Evaluation) -> str:
    return reverse("cpo:evaluation_detail", args=[evaluation.agreement_id, evaluation.fiscal_year])


def balance(agreement) -> Instalment:
    return Instalment.objects.get(
        agreement=agreement, year__fiscal_year=agreement.first_year + 1, kind="balance"
    )


def filing(**overrides) -> dict:
    data = {
        "action": "submit",
        "activity_report": "Quarante ateliers, 38 jeunes accompagnés.",
        "actual_60": "18 000,00",
        "actual_64": "72600",
        "actual_74": "90000",
        "indicator_0": "38",
    }
    data.update(overrides)
    return data


def test_the_form_is_prefilled_from_the_application(client, applicant, cpo):
    client.force_login(applicant)
    response = client.get(url(evaluation_of(cpo)))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-planned="20000.00"' in html and 'data-planned="70000.00"' in html
    assert "Jeunes accompagnés" in html and "Déposer l'évaluation" in html
    assert "En attente de l&#x27;évaluation" in html  # the balance waiting for it is shown
    assert html.count("<h1") == 1


def test_errors_beside_the_fields_and_nothing_lost(client, applicant, cpo):
    client.force_login(applicant)
    response = client.post(url(evaluation_of(cpo)), filing(activity_report="", actual_64=""))
    assert response.status_code == 400
    form = response.context["form"]
    assert "activity_report" in form.errors and "actual_64" in form.errors
    assert "approved_accounts" in form.errors  # none on file, none uploaded
    html = response.content.decode()
    assert "18 000,00" in html  # what was typed comes back
    assert evaluation_of(cpo).state == E.EXPECTED


def test_association_files_with_a_new_accounts_file(client, applicant, cpo):
    client.force_login(applicant)
    upload = SimpleUploadedFile("comptes.pdf", PDF, content_type="application/pdf")
    response = client.post(url(evaluation_of(cpo)), {**filing(), "accounts_file": upload})
    assert response.status_code == 302, response.context["form"].errors
    evaluation = evaluation_of(cpo)
    assert evaluation.state == E.SUBMITTED
    assert evaluation.approved_accounts.kind == DocumentKind.APPROVED_ACCOUNTS
    assert evaluation.approved_accounts.organisation == cpo.organisation
    lines = {b.account: b for b in evaluation.budget_lines.all()}
    assert lines["60"].actual == Decimal("18000.00") and lines["60"].gap == Decimal("-2000.00")
    assert lines["60"].gap_percent == Decimal("-10.0")
    assert evaluation.indicator_values.get().actual == Decimal("38")
    page = re.sub(r"[\s\u202f\xa0]+", " ", client.get(url(evaluation)).content.decode())
    assert "-2 000,00" in page and "-10,0 %" in page  # the gaps on the server after saving
    assert AuditLog.objects.filter(
        action="cpo.evaluation.submitted", object_id=str(evaluation.pk)
    ).exists()


def test_an_existing_valid_accounts_document_can_be_picked(client, applicant, cpo):
    document = OrganisationDocument.objects.create(
        organisation=cpo.organisation,
        kind=DocumentKind.APPROVED_ACCOUNTS,
        file=SimpleUploadedFile("c.pdf", PDF),
        original_name="c.pdf",
    )
    client.force_login(applicant)
    response = client.post(url(evaluation_of(cpo)), filing(approved_accounts=str(document.pk)))
    assert response.status_code == 302
    assert evaluation_of(cpo).approved_accounts == document


def test_another_organisations_document_is_refused(client, applicant, cpo):
    other = OrganisationDocument.objects.create(
        organisation=f.OrganisationFactory(),
        kind=DocumentKind.APPROVED_ACCOUNTS,
        file=SimpleUploadedFile("c.pdf", PDF),
        original_name="c.pdf",
    )
    client.force_login(applicant)
    response = client.post(url(evaluation_of(cpo)), filing(approved_accounts=str(other.pk)))
    assert response.status_code == 400
    assert evaluation_of(cpo).state == E.EXPECTED


def _submitted(client, applicant, cpo) -> Evaluation:
    client.force_login(applicant)
    upload = SimpleUploadedFile("comptes.pdf", PDF, content_type="application/pdf")
    client.post(url(evaluation_of(cpo)), {**filing(), "accounts_file": upload})
    client.logout()
    evaluation = evaluation_of(cpo)
    assert evaluation.state == E.SUBMITTED
    return evaluation


def test_instructor_accepts_and_the_balance_falls_due(client, applicant, instructor, cpo):
    evaluation = _submitted(client, applicant, cpo)
    assert balance(cpo).state == I.ON_HOLD
    client.force_login(instructor)
    page = client.get(url(evaluation))
    assert page.context["can_review_now"] and "Enregistrer la décision" in page.content.decode()
    response = client.post(url(evaluation), {"action": "review", "outcome": "accept"})
    assert response.status_code == 302
    assert evaluation_of(cpo).state == E.ACCEPTED
    assert balance(cpo).state == I.DUE


def test_rejection_needs_comments_and_keeps_the_balance_on_hold(client, applicant, instructor, cpo):
    evaluation = _submitted(client, applicant, cpo)
    client.force_login(instructor)
    response = client.post(url(evaluation), {"action": "review", "outcome": "reject"})
    assert response.status_code == 400 and "comment" in response.context["review_form"].errors
    response = client.post(
        url(evaluation),
        {"action": "review", "outcome": "reject", "comment": "Comptes non certifiés"},
    )
    assert response.status_code == 302
    assert evaluation_of(cpo).state == E.REJECTED and balance(cpo).state == I.ON_HOLD
    # the association sees the comment and files again from what it typed
    client.force_login(applicant)
    page = client.get(url(evaluation))
    html = page.content.decode()
    assert "Comptes non certifiés" in html and page.context["can_file"]
    assert page.context["form"].initial["actual_64"] == Decimal("72600.00")


def test_association_cannot_review_and_staff_cannot_file(client, applicant, instructor, cpo):
    evaluation = _submitted(client, applicant, cpo)
    client.force_login(applicant)
    assert (
        client.post(url(evaluation), {"action": "review", "outcome": "accept"}).status_code == 403
    )
    client.force_login(instructor)
    assert client.post(url(evaluation_of(cpo, cpo.first_year + 1)), filing()).status_code == 403
    assert evaluation_of(cpo).state == E.SUBMITTED


def test_outsiders_get_a_404(client, other_applicant, cpo):
    client.force_login(other_applicant)
    assert client.get(url(evaluation_of(cpo))).status_code == 404


def test_follow_up_links_to_the_agreement_page(client, applicant, instructor, cpo):
    evaluation = _submitted(client, applicant, cpo)
    client.force_login(instructor)
    html = client.get(url(evaluation)).content.decode()
    base = reverse("cpo:agreement_detail", args=[cpo.pk])
    for anchor, label in [
        ("amendment", "Proposer un avenant"),
        ("suspend", "Suspendre"),
        ("recovery", "Émettre un reversement"),
        ("terminate", "Résilier"),
    ]:
        assert f'href="{base}#{anchor}"' in html and label in html


def test_panel_assessments_beside_for_a_call_for_solutions(client, instructor, applicant):
    from calls.models import Panel, PanelMember
    from grants.models import PanelAssessment

    call = f.solutions_call()
    agreement = f.cpo_awaiting_evaluation(
        instructor=instructor, organisation=applicant.memberships.first().organisation, call=call
    )
    panel = Panel.objects.create(
        call=call,
        voting_opens_at=timezone.now() - datetime.timedelta(days=400),
        voting_closes_at=timezone.now() - datetime.timedelta(days=390),
    )
    resident = f.UserFactory(email="habitante@quartier.example.org", first_name="Nadia")
    member = PanelMember.objects.create(panel=panel, user=resident, college="residents")
    PanelAssessment.objects.create(
        application=agreement.application,
        member=member,
        fiscal_year=agreement.first_year,
        rating="meets",
        comment="Les jeunes du quartier y vont.",
    )
    client.force_login(instructor)
    html = client.get(url(evaluation_of(agreement))).content.decode()
    assert "Appréciations du panel" in html and "Les jeunes du quartier y vont." in html
    assert "Conforme aux attentes" in html


def test_lists_for_staff_and_for_the_association(client, applicant, instructor, cpo):
    client.force_login(applicant)
    html = client.get(reverse("cpo:evaluation_list")).content.decode()
    assert cpo.reference in html and "Les évaluations de mes conventions" in html
    evaluation = _submitted(client, applicant, cpo)
    client.force_login(instructor)
    response = client.get(reverse("cpo:evaluation_list"))
    assert response.status_code == 200
    assert evaluation in response.context["queue"]["to_review"]


def test_a_person_without_organisation_or_role_is_refused_the_list(client):
    user = f.UserFactory(email="personne@example.org")
    client.force_login(user)
    assert client.get(reverse("cpo:evaluation_list")).status_code == 403
