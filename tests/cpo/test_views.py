"""Agreement pages: preparation with its preview, the list, the agreement page with its timeline and
actions, downloads — for each role, with 404s for what is out of scope and errors kept on the form."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from calls.models import Programme
from core.clock import today
from core.models import AuditLog
from cpo import services
from cpo.models import Agreement
from cpo.models import AgreementState as A
from grants.models import Application, ApplicationState, ApplicationYear

from .. import factories as f

pytestmark = pytest.mark.django_db
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def approved(organisation, amount="90000.00", years=None) -> Application:
    app = f.ApplicationFactory(
        requested_amount=Decimal(amount), organisation=organisation, complete=False
    )
    Application.objects.filter(pk=app.pk).update(
        state=ApplicationState.APPROVED, approved_amount=Decimal(amount)
    )
    for fy, value in (years or {}).items():
        ApplicationYear.objects.create(
            application=app, fiscal_year=fy, requested_amount=value, approved_amount=value
        )
    return Application.objects.get(pk=app.pk)


@pytest.fixture
def application(organisation, applicant):
    return approved(organisation)


@pytest.fixture
def agreement(application, instructor):
    return services.agreement_create_from_application(
        actor=instructor, application=application, profile="flat", duration_years=3
    )


def login(client, user):
    client.force_login(user)
    return client


def prepare_data(application, **overrides) -> dict:
    funder = application.programme.budget_line.funder
    data = {
        "profile": "flat",
        "duration_years": "3",
        "first_year": str(application.programme.fiscal_year),
        "rate": "",
        "step": "",
        "rounding_unit": "1",
        "instalment_template": "advance_balance",
        "advance_percent": "50",
        "interim_percent": "30",
        "advance_cap_percent": "50",
        "funders-TOTAL_FORMS": "3",
        "funders-INITIAL_FORMS": "0",
        "funders-MIN_NUM_FORMS": "0",
        "funders-MAX_NUM_FORMS": "6",
        "funders-0-funder": str(funder.pk),
        "funders-0-share": "100",
        "funders-0-ej_number": "",
        "funders-1-funder": "",
        "funders-1-share": "",
        "funders-2-funder": "",
        "funders-2-share": "",
        "stage": "preview",
    }
    data.update(overrides)
    return data


# --------------------------------------------------------------------------- preparation


def test_prepare_page_for_staff_only(client, application, instructor, applicant, finance_officer):
    url = reverse("cpo:agreement_prepare", args=[application.pk])
    assert client.get(url).status_code == 302  # login first
    assert login(client, applicant).get(url).status_code == 404
    assert login(client, finance_officer).get(url).status_code == 403
    response = login(client, instructor).get(url)
    assert response.status_code == 200
    assert response.content.decode().count("<h1") == 1
    assert 'name="funders-0-funder"' in response.content.decode()


def test_other_organisation_staff_scope_404(client, application, other_applicant):
    url = reverse("cpo:agreement_prepare", args=[application.pk])
    assert login(client, other_applicant).get(url).status_code == 404


def test_preview_shows_amounts_instalments_and_envelopes(client, application, instructor):
    Programme.objects.create(
        name=application.programme.name, fiscal_year=2027, envelope=Decimal("100000")
    ).funders.set(application.programme.funders.all())
    url = reverse("cpo:agreement_prepare", args=[application.pk])
    response = login(client, instructor).post(url, prepare_data(application))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="preview"' in html and 'id="create-button"' in html
    assert 'id="preview-instalments-2026"' in html and 'id="preview-instalments-2028"' in html
    effect = response.context["preview"]["effect"]
    assert [r["envelope"] for r in effect] == [Decimal("500000.00"), Decimal("100000.00"), None]
    assert "enveloppe non votée" in html
    assert [y["amount"] for y in response.context["preview"]["years"]] == [Decimal("30000")] * 3
    assert not Agreement.objects.exists()  # nothing written by the preview


def test_preview_counts_other_agreements_of_the_programme(client, organisation, instructor):
    first = approved(organisation, "60000.00")
    services.agreement_create_from_application(
        actor=instructor, application=first, profile="flat", duration_years=2
    )
    second = f.ApplicationFactory(
        call=first.call,
        organisation=organisation,
        requested_amount=Decimal("30000"),
        complete=False,
    )
    Application.objects.filter(pk=second.pk).update(
        state=ApplicationState.APPROVED, approved_amount=Decimal("30000")
    )
    response = login(client, instructor).post(
        reverse("cpo:agreement_prepare", args=[second.pk]),
        prepare_data(first, duration_years="1"),
    )
    row = response.context["preview"]["effect"][0]
    assert row["committed_before"] == Decimal("30000") and row["this_agreement"] == Decimal("30000")


def test_create_after_preview(client, application, instructor):
    url = reverse("cpo:agreement_prepare", args=[application.pk])
    response = login(client, instructor).post(url, prepare_data(application, stage="create"))
    agreement = Agreement.objects.get(application=application)
    assert response.status_code == 302 and response["Location"] == reverse(
        "cpo:agreement_detail", args=[agreement.pk]
    )
    assert agreement.duration_years == 3 and agreement.state == A.DRAFT
    assert AuditLog.objects.filter(action="cpo.agreement.created", object_id=str(agreement.pk))
    # A second visit goes to the agreement.
    assert client.get(url)["Location"] == reverse("cpo:agreement_detail", args=[agreement.pk])


def test_invalid_profile_message_next_to_the_field_and_input_kept(client, application, instructor):
    url = reverse("cpo:agreement_prepare", args=[application.pk])
    data = prepare_data(application, profile="degressive_rate", rate="150", stage="create")
    response = login(client, instructor).post(url, data)
    assert response.status_code == 400
    form = response.context["form"]
    assert "rate" in form.errors and "100 %" in form.errors["rate"][0]
    assert 'value="150"' in response.content.decode()
    assert not Agreement.objects.exists()


def test_custom_years_do_not_add_up(client, application, instructor):
    url = reverse("cpo:agreement_prepare", args=[application.pk])
    data = prepare_data(
        application, profile="custom", custom_1="30000", custom_2="30000", custom_3="10000"
    )
    response = login(client, instructor).post(url, data)
    assert response.status_code == 400
    assert (
        response.context["form"].errors.get("custom_1")
        or response.context["form"].non_field_errors()
    )
    assert 'value="10 000,00"' in response.content.decode() or "10000" in response.content.decode()


def test_funder_shares_must_add_up(client, application, instructor):
    other = f.FunderFactory(name="Région")
    url = reverse("cpo:agreement_prepare", args=[application.pk])
    data = prepare_data(
        application,
        **{"funders-0-share": "60", "funders-1-funder": str(other.pk), "funders-1-share": "30"},
    )
    response = login(client, instructor).post(url, data)
    assert response.status_code == 400
    assert response.context["funder_errors"]


def test_prefilled_from_approved_years_and_long_duration_warning(client, organisation, instructor):
    app = approved(
        organisation,
        "96000.00",
        years={2026: Decimal("30000"), 2027: Decimal("32000"), 2028: Decimal("34000")},
    )
    url = reverse("cpo:agreement_prepare", args=[app.pk])
    form = login(client, instructor).get(url).context["form"]
    assert form.initial["profile"] == "custom" and form.initial["custom_2"] == Decimal("32000")
    response = client.post(url, prepare_data(app, duration_years="5"))
    assert 'id="duration-warning"' in response.content.decode()


def test_application_page_links(client, application, instructor, applicant):
    url = reverse("grants:application_detail", args=[application.pk])
    html = login(client, instructor).get(url).content.decode()
    assert reverse("cpo:agreement_prepare", args=[application.pk]) in html
    assert "Préparer la convention" not in login(client, applicant).get(url).content.decode()
    agreement = services.agreement_create_from_application(
        actor=instructor, application=application
    )
    html = login(client, applicant).get(url).content.decode()
    assert reverse("cpo:agreement_detail", args=[agreement.pk]) in html


# --------------------------------------------------------------------------- list and page


def test_list_by_role(client, agreement, instructor, applicant, other_applicant):
    url = reverse("cpo:agreement_list")
    staff_page = login(client, instructor).get(url, {"state": "draft"})
    assert agreement.reference in staff_page.content.decode()
    assert "Conventions" in staff_page.content.decode()
    assert not login(client, instructor).get(url, {"state": "active"}).context["page"].object_list
    mine = login(client, applicant).get(url).content.decode()
    assert agreement.reference in mine and "Mes conventions" in mine
    assert agreement.reference not in login(client, other_applicant).get(url).content.decode()
    assert (
        reverse("cpo:agreement_list")
        not in login(client, other_applicant).get(reverse("core:home")).content.decode()
    )


def test_detail_by_role(client, agreement, instructor, applicant, other_applicant):
    url = reverse("cpo:agreement_detail", args=[agreement.pk])
    assert login(client, other_applicant).get(url).status_code == 404
    member = login(client, applicant).get(url)
    assert member.status_code == 200 and 'id="actions"' not in member.content.decode()
    assert 'id="year-2027"' in member.content.decode()
    staff = login(client, instructor).get(url).content.decode()
    assert 'id="action-send_for_signature"' in staff and 'id="action-sign"' in staff
    assert 'id="action-suspend"' not in staff


def test_staff_actions_are_404_for_members(client, agreement, applicant):
    url = reverse("cpo:agreement_action", args=[agreement.pk, "send_for_signature"])
    assert login(client, applicant).post(url).status_code == 404


def test_send_sign_with_pdf_then_signed_copy_for_members_only(
    client, agreement, instructor, applicant, other_applicant
):
    login(client, instructor)
    client.post(reverse("cpo:agreement_action", args=[agreement.pk, "send_for_signature"]))
    signed_on = today() - datetime.timedelta(days=1)
    response = client.post(
        reverse("cpo:agreement_action", args=[agreement.pk, "sign"]),
        {
            "sign-signed_on": signed_on.isoformat(),
            "sign-signed_document": SimpleUploadedFile("signee.pdf", PDF, "application/pdf"),
        },
    )
    assert response.status_code == 302
    agreement = Agreement.objects.get(pk=agreement.pk)
    assert agreement.signed_on == signed_on and agreement.signed_document
    assert AuditLog.objects.filter(action="cpo.agreement.signed_copy_attached").count() == 1
    url = reverse("cpo:agreement_signed_copy", args=[agreement.pk])
    download = login(client, applicant).get(url)
    assert download.status_code == 200 and b"".join(download.streaming_content) == PDF
    assert login(client, other_applicant).get(url).status_code == 404


def test_sign_refuses_a_renamed_file_and_changes_nothing(client, agreement, instructor):
    response = login(client, instructor).post(
        reverse("cpo:agreement_action", args=[agreement.pk, "sign"]),
        {
            "sign-signed_on": today().isoformat(),
            "sign-signed_document": SimpleUploadedFile("signee.pdf", b"MZ not a pdf"),
        },
    )
    assert response.status_code == 400
    assert response.context["actions"][1]["form"].errors["signed_document"]
    agreement = Agreement.objects.get(pk=agreement.pk)
    assert agreement.state == A.DRAFT and not agreement.signed_document


def test_wrong_state_is_409_with_the_message(client, agreement, instructor):
    response = login(client, instructor).post(
        reverse("cpo:agreement_action", args=[agreement.pk, "resume"])
    )
    assert response.status_code == 409
    assert "Actions possibles maintenant" in response.context["error"]


def test_suspend_needs_a_reason(client, agreement, instructor):
    Agreement.objects.filter(pk=agreement.pk).update(state=A.ACTIVE)
    response = login(client, instructor).post(
        reverse("cpo:agreement_action", args=[agreement.pk, "suspend"]), {"suspend-reason": ""}
    )
    assert response.status_code == 400
    response = client.post(
        reverse("cpo:agreement_action", args=[agreement.pk, "suspend"]),
        {"suspend-reason": "Gouvernance à clarifier"},
    )
    assert response.status_code == 302
    agreement = Agreement.objects.get(pk=agreement.pk)
    assert agreement.state == A.SUSPENDED


def test_generated_documents_for_staff_and_members(
    client, agreement, instructor, applicant, other_applicant
):
    url = reverse("cpo:agreement_document", args=[agreement.pk])
    response = login(client, applicant).get(url)
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    assert agreement.reference in response["Content-Disposition"]
    assert login(client, instructor).get(url).status_code == 200
    assert login(client, other_applicant).get(url).status_code == 404


def test_recovery_issue_and_cancel_from_the_page(client, instructor):
    agreement = f.cpo_awaiting_evaluation(instructor=instructor)
    login(client, instructor)
    last_year = agreement.first_year
    response = client.post(
        reverse("cpo:recovery_issue", args=[agreement.pk]),
        {
            "recovery-fiscal_year": str(last_year),
            "recovery-unspent": "2000",
            "recovery-reason": "Action non réalisée",
        },
    )
    assert response.status_code == 302, response.context and response.context["error"]
    recovery = agreement.recoveries.get()
    response = client.post(
        reverse("cpo:recovery_action", args=[agreement.pk, recovery.pk, "cancel"]),
        {f"cancel-{recovery.pk}-reason": ""},
    )
    assert response.status_code == 400  # reason required, nothing changed
    response = client.post(
        reverse("cpo:recovery_action", args=[agreement.pk, recovery.pk, "cancel"]),
        {f"cancel-{recovery.pk}-reason": "Erreur de saisie"},
    )
    assert response.status_code == 302
    recovery = type(recovery).objects.get(pk=recovery.pk)
    assert recovery.state == "cancelled"


def test_amendment_preview_then_create(client, instructor):
    agreement = f.cpo_awaiting_evaluation(instructor=instructor)
    last = agreement.last_year
    data = {
        "amend-reason": "Montée en charge",
        "amend-effective_on": today().isoformat(),
        f"amend-year_{last}": "36000",
        "stage": "preview",
    }
    url = reverse("cpo:agreement_amend", args=[agreement.pk])
    response = login(client, instructor).post(url, data)
    assert response.status_code == 200, response.context["error"]
    assert 'id="amendment-preview"' in response.content.decode()
    assert not agreement.amendments.exists()
    response = client.post(url, {**data, "stage": "create"})
    assert response.status_code == 302
    agreement = Agreement.objects.get(pk=agreement.pk)
    assert agreement.amendments.count() == 1 and agreement.version == 2
    page = client.get(reverse("cpo:agreement_detail", args=[agreement.pk])).content.decode()
    assert f'id="amendment-{agreement.amendments.get().pk}"' in page


def test_custom_instalment_plan_is_read_from_the_preparation_form(db):
    from cpo.forms import AgreementPrepareForm as PrepareForm

    app = f.ApplicationFactory()
    form = PrepareForm(application=app)
    form.cleaned_data = {"instalment_custom": "40 % au 15/01 ; 35,5 % le 1/6 ; 24,5 % au 01/10"}
    assert form.clean_instalment_custom()
    assert form.cleaned_data["instalment_custom_rows"] == [
        {"percent": "40", "month": 1, "day": 15},
        {"percent": "35.5", "month": 6, "day": 1},
        {"percent": "24.5", "month": 10, "day": 1},
    ]
    form.cleaned_data = {"instalment_custom": "la moitié en janvier"}
    with pytest.raises(Exception, match="illisible"):
        form.clean_instalment_custom()
