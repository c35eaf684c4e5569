"""Organisation profile and bank details: who sees, who changes, what is audited."""

import pytest
from django.urls import reverse

from core import services
from core.errors import DomainError, PermissionDenied
from core.models import AuditLog, Notification
from tests import factories as f

NEW_IBAN = "FR1420041010050500013M02606"
NEW_BIC = "PSSTFRPPPAR"


@pytest.fixture
def member(db, organisation):
    """A member of the applicant's organisation who is not its administrator."""
    user = f.UserFactory(email="membre@asso.example.org")
    f.add_member(user, organisation, is_admin=False)
    return user


# --------------------------------------------------------------------------- bank details visibility


@pytest.mark.parametrize("who", ["applicant", "member", "finance_officer"])
def test_bank_details_page_visible_to_members_and_finance(client, organisation, who, request):
    client.force_login(request.getfixturevalue(who))
    response = client.get(reverse("core:organisation_bank", args=[organisation.pk]))
    assert response.status_code == 200
    assert organisation.iban in response.content.decode()


@pytest.mark.parametrize(
    "who", ["other_applicant", "instructor", "auditor", "committee_member", "panel_member"]
)
def test_bank_details_page_404_for_others(client, organisation, who, request):
    client.force_login(request.getfixturevalue(who))
    assert client.get(reverse("core:organisation_bank", args=[organisation.pk])).status_code == 404


def test_bank_details_hidden_on_profile_for_staff_without_finance_role(
    client, organisation, instructor
):
    client.force_login(instructor)
    response = client.get(reverse("core:organisation_detail", args=[organisation.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert organisation.name in body
    assert organisation.iban not in body and organisation.iban[-4:] not in body
    assert reverse("core:organisation_bank", args=[organisation.pk]) not in body


def test_profile_shows_masked_iban_to_members(client, organisation, applicant):
    client.force_login(applicant)
    body = client.get(reverse("core:organisation_detail", args=[organisation.pk])).content.decode()
    assert services.mask_iban(organisation.iban) in body
    assert organisation.iban not in body


def test_other_organisation_profile_is_404(client, organisation, other_applicant):
    client.force_login(other_applicant)
    assert (
        client.get(reverse("core:organisation_detail", args=[organisation.pk])).status_code == 404
    )
    assert client.get(reverse("core:documents", args=[organisation.pk])).status_code == 404
    assert client.get(reverse("core:members", args=[organisation.pk])).status_code == 404


def test_anonymous_is_sent_to_login(client, organisation):
    response = client.get(reverse("core:organisation_detail", args=[organisation.pk]))
    assert response.status_code == 302 and response.url.startswith(reverse("core:login"))


# --------------------------------------------------------------------------- bank details change


def test_org_admin_changes_bank_details_audited_with_masked_iban(organisation, applicant, member):
    old_iban = organisation.iban
    services.organisation_set_bank_details(
        actor=applicant,
        organisation=organisation,
        iban="fr14 2004 1010 0505 0001 3m02 606",
        bic="psstfrpppar",
    )
    organisation.refresh_from_db()
    assert (organisation.iban, organisation.bic) == (NEW_IBAN, NEW_BIC)
    assert organisation.bank_details_changed_by == applicant
    assert organisation.bank_details_changed_at is not None
    row = AuditLog.objects.get(action="core.organisation.bank_details_changed")
    assert row.actor == applicant
    assert row.payload["iban"] == "FR14 **** 2606"
    dumped = str(row.payload)
    assert NEW_IBAN not in dumped and old_iban not in dumped
    # The other members hear about it (a hijacked account cannot divert a grant unnoticed).
    assert Notification.objects.filter(
        user=member, title__contains="Coordonnées bancaires"
    ).exists()
    assert not Notification.objects.filter(user=applicant).exists()


def test_same_bank_details_again_is_a_no_op(organisation, applicant):
    services.organisation_set_bank_details(
        actor=applicant, organisation=organisation, iban=organisation.iban, bic=organisation.bic
    )
    assert not AuditLog.objects.filter(action="core.organisation.bank_details_changed").exists()


@pytest.mark.parametrize("who", ["member", "finance_officer", "other_applicant"])
def test_only_org_admins_change_bank_details(organisation, who, request):
    with pytest.raises(PermissionDenied):
        services.organisation_set_bank_details(
            actor=request.getfixturevalue(who),
            organisation=organisation,
            iban=NEW_IBAN,
            bic=NEW_BIC,
        )


def test_invalid_iban_and_bic_refused(organisation, applicant):
    with pytest.raises(DomainError) as exc:
        services.organisation_set_bank_details(
            actor=applicant,
            organisation=organisation,
            iban="FR7630006000011234567890188",
            bic="AGRIFRP",
        )
    assert set(exc.value.errors) == {"iban", "bic"}
    assert "n'est pas un IBAN valide" in str(exc.value.errors["iban"][0])


def test_bank_form_page(client, organisation, applicant, member):
    client.force_login(applicant)
    url = reverse("core:organisation_bank", args=[organisation.pk])
    response = client.post(url, {"iban": "FR76", "bic": "AGRIFRPP"})
    assert response.status_code == 200 and 'id="id_iban_error"' in response.content.decode()
    response = client.post(url, {"iban": NEW_IBAN, "bic": NEW_BIC})
    assert response.status_code == 302
    organisation.refresh_from_db()
    assert organisation.iban == NEW_IBAN
    # A plain member reads the page but gets no form and cannot post.
    client.force_login(member)
    assert '<form method="post" novalidate>' not in client.get(url).content.decode()
    assert (
        client.post(url, {"iban": "FR7630006000011234567890189", "bic": "AGRIFRPP"}).status_code
        == 404
    )
    organisation.refresh_from_db()
    assert organisation.iban == NEW_IBAN


# --------------------------------------------------------------------------- profile update


def test_org_admin_updates_profile_with_audit(organisation, applicant):
    services.organisation_update(
        actor=applicant,
        organisation=organisation,
        data={"name": "Nouveau nom", "rna": "w 133000001", "phone": "04 91 00 00 00"},
    )
    organisation.refresh_from_db()
    assert organisation.name == "Nouveau nom" and organisation.rna == "W133000001"
    row = AuditLog.objects.get(action="core.organisation.updated")
    assert row.payload["changes"]["name"][1] == "Nouveau nom"


def test_profile_update_validates(organisation, applicant):
    with pytest.raises(DomainError) as exc:
        services.organisation_update(
            actor=applicant, organisation=organisation, data={"rna": "X1", "commune_insee": "2C004"}
        )
    assert {"rna", "commune_insee"} <= set(exc.value.errors)


def test_profile_update_refused_to_plain_members_and_staff(organisation, member, instructor):
    for actor in (member, instructor):
        with pytest.raises(PermissionDenied):
            services.organisation_update(actor=actor, organisation=organisation, data={"name": "X"})


def test_platform_admin_may_update_profile(organisation):
    admin = f.UserFactory(email="admin@ville.example.org")
    f.give_role(admin, "admin")
    services.organisation_update(actor=admin, organisation=organisation, data={"city": "Lyon"})
    organisation.refresh_from_db()
    assert organisation.city == "Lyon"


def test_edit_page(client, organisation, applicant, member):
    client.force_login(member)
    assert client.get(reverse("core:organisation_edit", args=[organisation.pk])).status_code == 404
    client.force_login(applicant)
    url = reverse("core:organisation_edit", args=[organisation.pk])
    data = {
        "name": "Ateliers",
        "rna": "",
        "legal_form": "association",
        "email": "",
        "phone": "",
        "address": "",
        "postcode": "13003",
        "city": "Marseille",
        "commune_insee": "2C004",
        "legal_rep_name": "",
        "legal_rep_role": "",
    }
    response = client.post(url, data)
    assert (
        response.status_code == 200 and 'id="id_commune_insee_error"' in response.content.decode()
    )
    data["commune_insee"] = "13055"
    assert client.post(url, data).status_code == 302
    organisation.refresh_from_db()
    assert organisation.name == "Ateliers"


def test_profile_page_lists_my_organisations(client, organisation, applicant):
    client.force_login(applicant)
    body = client.get(reverse("core:profile")).content.decode()
    assert applicant.email in body and organisation.name in body


def test_organisation_page_shows_its_history(client, db):
    from core import services
    from tests import factories as f

    user = f.UserFactory()
    organisation = f.OrganisationFactory()
    f.add_member(user, organisation, is_admin=True)
    services.organisation_set_bank_details(
        actor=user, organisation=organisation, iban="FR1420041010050500013M02606", bic="PSSTFRPPMAR"
    )
    client.force_login(user)
    page = client.get(f"/organisations/{organisation.pk}/").content.decode()
    assert "Historique" in page and "Coordonnées bancaires modifiées" in page


def test_bank_details_notification_is_in_the_other_members_language(
    settings, organisation, applicant, member, django_capture_on_commit_callbacks
):
    """Issue 16: the warning to the other members is in each one's language."""
    from django.core import mail

    settings.SITE_URL = "https://pluriel.example.org"
    member.language = "en"
    member.save(update_fields=["language"])
    with django_capture_on_commit_callbacks(execute=True):
        services.organisation_set_bank_details(
            actor=applicant,
            organisation=organisation,
            iban="fr14 2004 1010 0505 0001 3m02 606",
            bic="psstfrpppar",
        )
    row = Notification.objects.get(user=member)
    assert row.title == f"Bank details of {organisation.name} changed"
    assert "new bank account (FR14 **** 2606)" in row.body
    (email,) = [m for m in mail.outbox if m.to == [member.email]]
    assert email.subject == f"[Pluriel] Bank details of {organisation.name} changed"
    assert f"https://pluriel.example.org/organisations/{organisation.pk}/" in email.body
