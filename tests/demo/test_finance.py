"""Finance demo data (demo.finance) on top of `manage.py demo`: every payment-run state, paid
instalments this fiscal year across funders, recoveries, a confirmation file ready to import; a
second load changes nothing; the demo's reset removes it all."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.apps import apps
from django.core.management import call_command

from core.clock import today
from core.models import BackgroundJob, Role
from core.permissions import has_role
from cpo.models import Instalment, InstalmentState, Recovery, RecoveryState
from demo.finance import (
    OFFICER,
    REJECTION,
    SECOND_OFFICER,
    load_finance_demo,
    reset_finance_demo,
)
from finance import confirmations
from finance.models import PaymentConfirmation, PaymentRun, PaymentRunItem, PaymentRunState

RS = PaymentRunState
Item = PaymentRunItem.Status


@pytest.fixture
def demo(db, tmp_path):
    out = io.StringIO()
    call_command("demo", stdout=out)
    lines: list[str] = []
    again = load_finance_demo(write=lines.append, directory=tmp_path)
    return {"output": out.getvalue(), "again": again, "lines": lines, "dir": tmp_path}


def snapshot() -> dict:
    counts = {m._meta.label: m._default_manager.count() for m in apps.get_models()}
    counts["instalments"] = sorted(
        Instalment.objects.values_list("pk", "state", "amount", "is_late", "charged_year")
    )
    counts["runs"] = sorted(
        PaymentRun.objects.values_list("pk", "state", "total", "paid_total", "blocked_reason")
    )
    return counts


def test_every_run_state_and_the_money_paid_this_year(demo):
    from core.models import User

    assert "Finance demo: payment runs" in demo["output"]  # `manage.py demo` builds it
    assert demo["again"] is False
    runs = {r.label: r for r in PaymentRun.objects.all()}
    states = {r.state for r in runs.values()}
    assert states == {RS.DRAFT, RS.APPROVED, RS.EXPORTED, RS.CLOSED, RS.CANCELLED}
    assert all(r.fiscal_year == today().year for r in runs.values())

    closed = [r for r in runs.values() if r.state == RS.CLOSED]
    paid_only = [r for r in closed if r.rejected_total == 0]
    with_rejection = [r for r in closed if r.rejected_total > 0]
    assert paid_only and with_rejection
    assert paid_only[0].paid_total == paid_only[0].total
    rejected = with_rejection[0].items.get(status=Item.REJECTED)
    assert rejected.reject_reason == REJECTION

    # The rejected payment is due again and taken by the run sent back for approval when the
    # association changed its bank details.
    reopened = [r for r in runs.values() if r.state == RS.DRAFT and r.blocked_reason]
    assert len(reopened) == 1
    reopened = reopened[0]
    assert "bancaires" in reopened.blocked_reason
    assert reopened.approvals.filter(is_valid=False).exists()
    assert not reopened.approvals.filter(is_valid=True).exists()
    assert reopened.items.filter(instalment_id=rejected.instalment_id, status=Item.PENDING).exists()
    organisation = reopened.items.first().organisation
    assert set(reopened.items.values_list("iban", flat=True)) == {organisation.iban}

    # Segregation of duties: the draft prepared by the second officer waits for the first one.
    officer = User.objects.get(email=OFFICER)
    second = User.objects.get(email=SECOND_OFFICER)
    assert has_role(second, Role.FINANCE_OFFICER)
    assert second.check_password("demo1234")
    drafts_by_second = [r for r in runs.values() if r.created_by_id == second.pk]
    assert [r.state for r in drafts_by_second] == [RS.DRAFT]
    for run in runs.values():
        approvers = set(run.approvals.values_list("user_id", flat=True))
        assert run.created_by_id not in approvers
    assert PaymentRun.objects.filter(state=RS.CANCELLED, created_by=officer).count() == 1

    # Paid this fiscal year, across funders; every paid instalment once, with its date.
    paid = Instalment.objects.filter(state=InstalmentState.PAID)
    assert paid.count() == PaymentRunItem.objects.filter(status=Item.PAID).count() >= 8
    assert {i.charged_year for i in paid} == {today().year}
    assert all(i.paid_on == today() for i in paid)
    funders = set(paid.values_list("funder__funder__name", flat=True))
    assert len(funders) >= 3
    assert paid.exclude(funder__ej_number="").exists()
    # Some due instalments are left for trying a run, and late ones feed the dashboard.
    assert Instalment.objects.filter(state=InstalmentState.DUE, is_late=True).exists()

    recoveries = set(Recovery.objects.values_list("state", flat=True))
    assert {RecoveryState.ISSUED, RecoveryState.OFFSET} <= recoveries
    offset = Recovery.objects.get(state=RecoveryState.OFFSET)
    assert offset.offset_instalment.amount > Decimal("0")


def test_the_confirmation_file_is_ready_to_import(demo):
    exported = PaymentRun.objects.get(state=RS.EXPORTED)
    path = demo["dir"] / f"confirmation-{exported.reference}.csv"
    assert path.exists()
    assert any(str(path) in line for line in demo["lines"])
    data = path.read_bytes()
    officer_job = BackgroundJob.objects.get(owner__email=OFFICER, params__run=exported.reference)
    assert officer_job.state == BackgroundJob.State.DONE
    assert officer_job.result_file.read() == data
    check = confirmations.confirmation_check(actor=officer_job.owner, data=data, name=path.name)
    assert check.state == PaymentConfirmation.State.CHECKED, check.report
    assert check.report["counts"]["paid"] == exported.item_count > 0


def test_a_second_load_changes_nothing(demo):
    before = snapshot()
    lines: list[str] = []
    assert load_finance_demo(write=lines.append, directory=demo["dir"]) is False
    assert snapshot() == before
    assert any("confirmation-" in line for line in lines)


def test_the_demo_reset_removes_it_all(demo):
    from calls.models import Programme
    from demo.reset import reset_demo

    programmes = list(Programme.objects.filter(name="Contrat de ville"))
    assert reset_finance_demo(programmes) == 7
    reset_demo()
    assert not PaymentRun.objects.exists()
    assert not PaymentConfirmation.objects.exists()
    assert not Instalment.objects.exists()


def test_every_state_early_in_another_year(db, tmp_path):
    """Dates follow today: early January, nothing of the new year is due yet, and still every
    state is there (last year's quarterly instalments are paid late)."""
    import time_machine

    with time_machine.travel("2027-01-04 10:00:00+00:00", tick=False):
        call_command("demo", stdout=io.StringIO())
        load_finance_demo(write=lambda line: None, directory=tmp_path)
        states = set(PaymentRun.objects.values_list("state", flat=True))
        assert states == {RS.DRAFT, RS.APPROVED, RS.EXPORTED, RS.CLOSED, RS.CANCELLED}
        assert set(PaymentRun.objects.values_list("fiscal_year", flat=True)) == {2027}
        assert PaymentRun.objects.filter(state=RS.DRAFT).exclude(blocked_reason="").count() == 1
