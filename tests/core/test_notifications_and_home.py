"""Notifications list (read on open), home page by role, admin for reference data and audit log."""

import pytest
from django.urls import reverse

from core.models import AuditLog, Notification
from core.notifications import notify
from tests import factories as f


def test_notifications_list_marks_shown_items_read(client, applicant, other_applicant):
    notify(
        users=[applicant],
        title="Dossier AAP-2026-0001 déposé",
        body="Votre dossier est déposé.",
        url="/dossiers/1/",
    )
    notify(users=[other_applicant], title="Pas pour vous")
    client.force_login(applicant)
    assert "1 non lue" in client.get(reverse("core:home")).content.decode()

    body = client.get(reverse("core:notifications")).content.decode()
    assert "Dossier AAP-2026-0001 déposé" in body and "Nouveau" in body
    assert "Pas pour vous" not in body
    assert not Notification.objects.filter(user=applicant, read_at__isnull=True).exists()
    assert Notification.objects.filter(user=other_applicant, read_at__isnull=True).exists()
    # Shown again, it is no longer new.
    assert "Nouveau" not in client.get(reverse("core:notifications")).content.decode()


def test_opening_a_notification_marks_it_read_and_follows_local_links_only(client, applicant):
    local = notify(users=[applicant], title="A", url="/compte/")[0]
    external = notify(users=[applicant], title="B", url="https://evil.example.com/")[0]
    client.force_login(applicant)
    response = client.get(reverse("core:notification_open", args=[local.pk]))
    assert response.status_code == 302 and response.url == "/compte/"
    local.refresh_from_db()
    assert local.read_at is not None
    response = client.get(reverse("core:notification_open", args=[external.pk]))
    assert response.url == reverse("core:notifications")


def test_cannot_open_someone_elses_notification(client, applicant, other_applicant):
    theirs = notify(users=[other_applicant], title="Privé")[0]
    client.force_login(applicant)
    assert client.get(reverse("core:notification_open", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_mark_all_read(client, applicant):
    notify(users=[applicant], title="A")
    notify(users=[applicant], title="B")
    client.force_login(applicant)
    assert client.post(reverse("core:notifications_mark_all_read")).status_code == 302
    assert not applicant.notifications.filter(read_at__isnull=True).exists()


def test_notifications_require_login(client, db):
    response = client.get(reverse("core:notifications"))
    assert response.status_code == 302 and response.url.startswith(reverse("core:login"))


# --------------------------------------------------------------------------- home


def test_public_home_links_to_open_calls_and_signup(client, db):
    body = client.get(reverse("core:home")).content.decode()
    assert reverse("calls:call_list") in body and reverse("core:signup") in body
    assert body.count("<h1") == 1


def test_dashboard_by_role(client, applicant, organisation, instructor, manager):
    client.force_login(applicant)
    body = client.get(reverse("core:home")).content.decode()
    assert organisation.name in body and reverse("grants:my_applications") in body
    assert reverse("core:staff_invite") not in body

    client.force_login(instructor)
    body = client.get(reverse("core:home")).content.decode()
    assert reverse("grants:queue") in body and reverse("core:staff_invite") not in body

    client.force_login(manager)
    assert reverse("core:staff_invite") in client.get(reverse("core:home")).content.decode()


# --------------------------------------------------------------------------- admin


@pytest.fixture
def superuser(db):
    return f.UserFactory(email="root@ville.example.org", is_staff=True, is_superuser=True)


def test_admin_reference_data_pages(client, superuser):
    f.QPVFactory()
    f.BudgetLineFactory()
    client.force_login(superuser)
    for model in (
        "qpv",
        "funder",
        "pillar",
        "transitiontheme",
        "budgetline",
        "user",
        "organisation",
    ):
        assert client.get(reverse(f"admin:core_{model}_changelist")).status_code == 200
        assert client.get(reverse(f"admin:core_{model}_add")).status_code == 200


def test_admin_user_page_has_role_inline(client, superuser, instructor):
    client.force_login(superuser)
    body = client.get(reverse("admin:core_user_change", args=[instructor.pk])).content.decode()
    assert "role_assignments-TOTAL_FORMS" in body


def test_admin_organisation_bank_details_read_only(client, superuser, organisation):
    client.force_login(superuser)
    body = client.get(
        reverse("admin:core_organisation_change", args=[organisation.pk])
    ).content.decode()
    assert 'name="iban"' not in body and "memberships-TOTAL_FORMS" in body


def test_admin_audit_log_is_read_only(client, superuser, organisation):
    from core.audit import audit_log

    row = audit_log(actor=superuser, obj=organisation, action="core.organisation.updated")
    client.force_login(superuser)
    assert client.get(reverse("admin:core_auditlog_changelist")).status_code == 200
    assert client.get(reverse("admin:core_auditlog_change", args=[row.pk])).status_code == 200
    assert client.get(reverse("admin:core_auditlog_add")).status_code == 403
    assert (
        client.post(
            reverse("admin:core_auditlog_delete", args=[row.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    client.post(reverse("admin:core_auditlog_change", args=[row.pk]), {"action": "x"})
    row.refresh_from_db()
    assert row.action == "core.organisation.updated"
    assert AuditLog.objects.filter(pk=row.pk).exists()
