"""`manage.py demo`: idempotent, every state and role present, real audit rows, working logins."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import call_command
from stdnum.fr import siret

from calls.models import Call, CallMode, CallState
from core.identifiers import RNA_RE
from core.models import AuditLog, Organisation, Role, User
from core.permissions import roles_of
from grants.models import Application, ApplicationState, CommitteeSession, CompletionRequest
from grants.selectors import budget_totals

pytestmark = pytest.mark.django_db

LOGINS = [
    "porteur@demo.pluriel.fr",
    "instructeur@demo.pluriel.fr",
    "comite@demo.pluriel.fr",
    "habitant@demo.pluriel.fr",
    "finances@demo.pluriel.fr",
    "responsable@demo.pluriel.fr",
    "audit@demo.pluriel.fr",
    "admin@demo.pluriel.fr",
]


def snapshot() -> list[tuple]:
    return sorted(
        Application.objects.values_list(
            "reference", "title", "state", "requested_amount", "approved_amount"
        )
    )


@pytest.fixture
def demo(db):
    call_command("demo", stdout=open("/dev/null", "w"))  # noqa: SIM115


def test_running_twice_adds_nothing_and_does_not_fail(demo):
    before = (
        snapshot(),
        AuditLog.objects.count(),
        User.objects.count(),
        Organisation.objects.count(),
        Call.objects.count(),
        CommitteeSession.objects.count(),
    )
    call_command("demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    after = (
        snapshot(),
        AuditLog.objects.count(),
        User.objects.count(),
        Organisation.objects.count(),
        Call.objects.count(),
        CommitteeSession.objects.count(),
    )
    assert after == before
    assert len(before[0]) == 40


def test_reset_rebuilds_the_same_data(demo):
    before = snapshot()
    call_command("demo", "--reset", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert snapshot() == before


def test_every_application_state_is_present(demo):
    present = set(Application.objects.values_list("state", flat=True))
    assert present == set(ApplicationState.values)


def test_states_are_real_ones_with_their_audit_trail(demo):
    # Each file's history ends in its current state: it got there through the services.
    for app in Application.objects.exclude(state=ApplicationState.DRAFT):
        last = (
            AuditLog.objects.filter(object_id=str(app.pk), content_type__model="application")
            .exclude(target_state="")
            .order_by("-created_at", "-id")
            .first()
        )
        assert last is not None and last.target_state == app.state, app.reference
        assert last.actor is not None
    returned = Application.objects.filter(state=ApplicationState.RETURNED)
    assert all(
        CompletionRequest.objects.filter(application=a, answered_at__isnull=True).exists()
        for a in returned
    )
    reviewed = Application.objects.filter(state=ApplicationState.UNDER_REVIEW)
    assert all(a.scores.exists() and a.notes.exists() and a.opinions.exists() for a in reviewed)
    in_committee = Application.objects.filter(state=ApplicationState.IN_COMMITTEE)
    assert all(a.committee_session_id and a.proposed_amount for a in in_committee)
    for app in Application.objects.filter(state=ApplicationState.APPROVED):
        assert Decimal("0") < app.approved_amount <= app.requested_amount
        assert app.committee_session.state == CommitteeSession.State.HELD
    assert AuditLog.objects.filter(action="grants.application.approved").count() == 6


def test_submitted_budgets_are_balanced_cerfa_budgets(demo):
    for app in Application.objects.exclude(state=ApplicationState.DRAFT):
        totals = budget_totals(app)
        assert totals["balance"] == 0, app.reference
        assert totals["charges"] > 0
        assert totals["in_kind_charges"] == totals["in_kind_products"]
        assert app.requested_amount <= totals["subsidies"]


def test_reference_data(demo):
    assert Organisation.objects.count() >= 15
    for org in Organisation.objects.all():
        siret.validate(org.siret)
        assert RNA_RE.match(org.rna)
    assert {c.mode for c in Call.objects.all()} == set(CallMode.values)
    classic = Call.objects.get(mode=CallMode.PROJECT_CALL)
    assert classic.state == CallState.OPEN and classic.criteria.count() >= 3
    assert all(c.state in (CallState.PUBLISHED, CallState.OPEN) for c in Call.objects.all())


def test_every_role_has_a_user(demo):
    held = set()
    for user in User.objects.filter(email__endswith="@demo.pluriel.fr"):
        held |= {str(r) for r in roles_of(user)}
    assert held >= set(Role.values)
    assert User.objects.get(email="admin@demo.pluriel.fr").is_superuser


def test_audit_log_has_rows(demo):
    assert AuditLog.objects.filter(action="grants.application.submitted").count() >= 30
    assert AuditLog.objects.filter(action__startswith="calls.call.").exists()


def test_demo_logins_work(demo, client):
    for email in LOGINS:
        assert client.login(email=email, password="demo1234"), email
        client.logout()
    assert not client.login(email="porteur@demo.pluriel.fr", password="wrong-password")
