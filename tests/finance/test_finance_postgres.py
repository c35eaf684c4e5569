"""Finance under concurrency, on PostgreSQL: row locks and the partial unique constraint keep a
run approved once, exported once, every instalment in one open run, every payment confirmed once,
and an export racing a change of bank details consistent.

Each test runs the competing calls in threads, each with its own connection (closed at the end).
A short pause is injected *inside* the locked section of the first caller, so the calls really
overlap: without the lock, both would pass the state check before either commits."""

from __future__ import annotations

import csv
import io
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections
from django.test import override_settings

from core.clock import today
from core.errors import DomainError, PermissionDenied, TransitionNotAllowed
from core.jobs import job_run
from core.models import AuditLog, BackgroundJob, Organisation, Role
from core.services import organisation_set_bank_details
from cpo.models import Instalment, InstalmentState
from finance import confirmations, resources
from finance import services as services_finance
from finance.models import (
    PaymentConfirmation,
    PaymentRun,
    PaymentRunApproval,
    PaymentRunItem,
    PaymentRunState,
)
from finance.services import confirmations as services_confirmations
from finance.services import runs as services_runs
from tests.factories import UserFactory, add_member, cpo_awaiting_evaluation, give_role

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

I = InstalmentState  # noqa: E741
RS = PaymentRunState
Item = PaymentRunItem.Status
NEW_IBAN = "FR1420041010050500013M02606"
NEW_BIC = "PSSTFRPPLIL"


# --------------------------------------------------------------------------- helpers


def run_in_threads(*targets: Callable[[], Any], timeout: float = 60) -> tuple[list, list]:
    """Start the targets together (a barrier); return (results, errors). Each thread closes its
    own database connection."""
    results: list = []
    errors: list = []
    barrier = threading.Barrier(len(targets))

    def wrap(fn: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results.append(fn())
        except Exception as exc:  # collected for the assertions
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=wrap, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    assert not any(t.is_alive() for t in threads), "a thread is stuck (deadlock?)"
    return results, errors


def pause_inside(monkeypatch, module, name: str, seconds: float = 0.4) -> None:
    """Make `module.name` sleep before doing its work (it runs while the caller holds its lock)."""
    original = getattr(module, name)

    def slow(*args, **kwargs):
        time.sleep(seconds)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, slow)


def lock_waiters() -> int:
    """Backends of this database waiting for a row lock right now."""
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def audit_count(action: str, **filters: Any) -> int:
    return AuditLog.objects.filter(action=action, **filters).count()


@pytest.fixture
def second_officer(db):
    user = UserFactory(email="comptable2@ville.example.org")
    give_role(user, Role.FINANCE_OFFICER)
    return user


@pytest.fixture
def third_officer(db):
    user = UserFactory(email="comptable3@ville.example.org")
    give_role(user, Role.FINANCE_OFFICER)
    return user


@pytest.fixture
def agreement(instructor, applicant):
    agreement = cpo_awaiting_evaluation(instructor=instructor)
    add_member(applicant, agreement.organisation)
    return agreement


def due_ids(*agreements) -> list[int]:
    return sorted(
        Instalment.objects.filter(agreement__in=agreements, state=I.DUE).values_list(
            "pk", flat=True
        )
    )


def draft_run(agreement, finance_officer) -> PaymentRun:
    return services_finance.payment_run_create(
        actor=finance_officer, instalment_ids=due_ids(agreement)
    )


def approved_run(agreement, finance_officer, second_officer) -> PaymentRun:
    run = draft_run(agreement, finance_officer)
    return services_finance.payment_run_approve(actor=second_officer, run=run)


def exported_run(agreement, finance_officer, second_officer) -> PaymentRun:
    run = approved_run(agreement, finance_officer, second_officer)
    return services_finance.payment_run_export(actor=finance_officer, run=run)


def exported_ibans(run: PaymentRun) -> set[str]:
    rows = list(csv.DictReader(io.StringIO(run.export_csv.read().decode())))
    return {r["iban"] for r in rows}


# --------------------------------------------------------------------------- approval


def test_two_approvers_at_once_one_approval_one_clear_refusal(
    monkeypatch, agreement, finance_officer, second_officer, third_officer
):
    run = draft_run(agreement, finance_officer)
    pause_inside(monkeypatch, services_runs, "approval_refusal")
    results, errors = run_in_threads(
        lambda: services_finance.payment_run_approve(
            actor=second_officer, run=PaymentRun.objects.get(pk=run.pk)
        ),
        lambda: services_finance.payment_run_approve(
            actor=third_officer, run=PaymentRun.objects.get(pk=run.pk)
        ),
    )
    assert len(results) == 1 and len(errors) == 1
    assert isinstance(errors[0], TransitionNotAllowed)
    assert "déjà « Validé »" in str(errors[0])
    run = PaymentRun.objects.get(pk=run.pk)
    assert run.state == RS.APPROVED
    assert PaymentRunApproval.objects.filter(run=run).count() == 1
    assert audit_count("cpo.payment_run.approved", object_id=str(run.pk)) == 1
    assert audit_count("cpo.payment_run.approval_given", object_id=str(run.pk)) == 1


@override_settings(PAYMENT_RUN_SECOND_APPROVAL_ABOVE="1000.00")
def test_one_approver_clicking_twice_counts_once_when_two_are_required(
    monkeypatch, agreement, finance_officer, second_officer
):
    run = draft_run(agreement, finance_officer)
    assert run.approvals_required == 2
    pause_inside(monkeypatch, services_runs, "approval_refusal")
    results, errors = run_in_threads(
        *[
            lambda: services_finance.payment_run_approve(
                actor=second_officer, run=PaymentRun.objects.get(pk=run.pk)
            )
            for _ in range(2)
        ]
    )
    assert len(results) == 1 and len(errors) == 1
    assert isinstance(errors[0], PermissionDenied)
    assert "déjà validé" in str(errors[0])
    run = PaymentRun.objects.get(pk=run.pk)
    assert run.state == RS.DRAFT  # still waiting for a second, different person
    assert run.approvals.filter(is_valid=True).count() == 1


# --------------------------------------------------------------------------- export


def test_two_exports_at_once_one_file_one_refusal(
    monkeypatch, agreement, finance_officer, second_officer
):
    run = approved_run(agreement, finance_officer, second_officer)
    pause_inside(monkeypatch, resources, "payment_run_files")
    results, errors = run_in_threads(
        *[
            lambda who=who: services_finance.payment_run_export(
                actor=who, run=PaymentRun.objects.get(pk=run.pk)
            )
            for who in (finance_officer, second_officer)
        ]
    )
    assert len(results) == 1 and len(errors) == 1
    assert isinstance(errors[0], TransitionNotAllowed)
    assert "seul un lot validé" in str(errors[0])
    run = PaymentRun.objects.get(pk=run.pk)
    assert run.state == RS.EXPORTED
    ids = list(run.items.values_list("instalment_id", flat=True))
    assert Instalment.objects.filter(pk__in=ids, state=I.EXPORTED).count() == len(ids) == 3
    assert audit_count("cpo.instalment.exported") == 3
    assert audit_count("cpo.payment_run.exported", object_id=str(run.pk)) == 1
    assert exported_ibans(run) == {agreement.organisation.iban}


# --------------------------------------------------------------------------- creation


def test_two_runs_created_at_once_over_the_same_instalments(
    monkeypatch, instructor, finance_officer, second_officer
):
    agreements = [cpo_awaiting_evaluation(instructor=instructor) for _ in range(2)]
    ids = due_ids(*agreements)
    assert len(ids) == 6
    pause_inside(monkeypatch, services_runs, "next_reference")
    results, errors = run_in_threads(
        *[
            lambda who=who: services_finance.payment_run_create(actor=who, instalment_ids=ids)
            for who in (finance_officer, second_officer)
        ]
    )
    assert len(results) == 1 and len(errors) == 1
    assert isinstance(errors[0], DomainError)
    assert "Aucune échéance exigible" in str(errors[0])
    assert PaymentRun.objects.count() == 1
    assert PaymentRunItem.objects.filter(status=Item.PENDING).count() == 6
    assert Instalment.objects.filter(pk__in=ids, state=I.IN_RUN).count() == 6
    assert audit_count("cpo.instalment.added_to_run") == 6


def test_overlapping_selections_split_the_instalments_between_runs(
    monkeypatch, instructor, finance_officer, second_officer
):
    agreements = [cpo_awaiting_evaluation(instructor=instructor) for _ in range(3)]
    ids = due_ids(*agreements)
    first, second = ids[:6], ids[3:]  # three instalments wanted by both
    pause_inside(monkeypatch, services_runs, "next_reference")
    results, errors = run_in_threads(
        lambda: services_finance.payment_run_create(actor=finance_officer, instalment_ids=first),
        lambda: services_finance.payment_run_create(actor=second_officer, instalment_ids=second),
    )
    assert not errors
    assert sorted(r.item_count for r in results) == [3, 6]
    per_instalment = {
        pk: PaymentRunItem.objects.filter(instalment_id=pk, status=Item.PENDING).count()
        for pk in ids
    }
    assert set(per_instalment.values()) == {1}, per_instalment
    assert Instalment.objects.filter(pk__in=ids, state=I.IN_RUN).count() == 9
    assert sum(r.total for r in results) == sum(
        Instalment.objects.filter(pk__in=ids).values_list("amount", flat=True)
    )


def test_the_database_refuses_a_second_pending_item_for_an_instalment(agreement, finance_officer):
    """The last line of defence, below the row locks: the partial unique constraint."""
    from django.db import IntegrityError, transaction

    run = draft_run(agreement, finance_officer)
    item = run.items.first()
    other = PaymentRun.objects.create(reference="LOT-TEST-0001", fiscal_year=today().year)
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentRunItem.objects.create(
            run=other,
            instalment_id=item.instalment_id,
            organisation_id=item.organisation_id,
            amount=item.amount,
            fiscal_year=item.fiscal_year,
            agreement_reference=item.agreement_reference,
            instalment_reference=item.instalment_reference,
        )
    assert PaymentRunItem.objects.filter(instalment_id=item.instalment_id).count() == 1


# --------------------------------------------------------------------------- confirmations


def confirmation_rows(run: PaymentRun) -> list[dict[str, Any]]:
    return [
        {"item": pk, "status": Item.PAID, "paid_on": today(), "reason": ""}
        for pk in run.items.order_by("pk").values_list("pk", flat=True)
    ]


def confirmation_file(run: PaymentRun) -> bytes:
    lines = ["reference_echeance;reference_lot;date_paiement;statut;motif"]
    for ref in run.items.order_by("pk").values_list("instalment_reference", flat=True):
        lines.append(f"{ref};{run.reference};{today():%d/%m/%Y};payé;")
    return ("\n".join(lines) + "\n").encode()


def test_two_workers_applying_the_same_rows_pay_each_once(
    monkeypatch, instructor, finance_officer, second_officer
):
    agreements = [cpo_awaiting_evaluation(instructor=instructor) for _ in range(2)]
    run = services_finance.payment_run_create(
        actor=finance_officer, instalment_ids=due_ids(*agreements)
    )
    services_finance.payment_run_approve(actor=second_officer, run=run)
    run = services_finance.payment_run_export(actor=finance_officer, run=run)
    rows = confirmation_rows(run)
    pause_inside(monkeypatch, services_confirmations, "_settle")
    results, errors = run_in_threads(
        *[
            lambda: services_finance.confirmations_apply_rows(actor=finance_officer, rows=rows)
            for _ in range(2)
        ]
    )
    assert not errors
    assert sorted(r["paid"] for r in results) == [0, 6]
    assert sorted(r["unchanged"] for r in results) == [0, 6]
    assert Instalment.objects.filter(state=I.PAID).count() == 6
    assert audit_count("cpo.instalment.paid") == 6
    run = PaymentRun.objects.get(pk=run.pk)
    assert run.state == RS.CLOSED and run.paid_total == run.total
    assert audit_count("cpo.payment_run.closed", object_id=str(run.pk)) == 1


def test_an_application_interrupted_after_its_first_chunk_resumes_without_paying_twice(
    monkeypatch, instructor, finance_officer, second_officer
):
    agreements = [cpo_awaiting_evaluation(instructor=instructor) for _ in range(2)]
    run = services_finance.payment_run_create(
        actor=finance_officer, instalment_ids=due_ids(*agreements)
    )
    services_finance.payment_run_approve(actor=second_officer, run=run)
    run = services_finance.payment_run_export(actor=finance_officer, run=run)
    check = confirmations.confirmation_check(
        actor=finance_officer, data=confirmation_file(run), name="retour.csv"
    )
    assert check.report["counts"]["paid"] == 6

    monkeypatch.setattr(confirmations, "CHUNK", 2)
    original = confirmations.confirmations_apply_rows
    calls = {"n": 0}

    def crash_on_second_chunk(**kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker lost")
        return original(**kwargs)

    monkeypatch.setattr(confirmations, "confirmations_apply_rows", crash_on_second_chunk)
    # The job is run by hand below, not by the (eager) task queue.
    from core import tasks

    monkeypatch.setattr(tasks.run_job, "delay", lambda *args, **kwargs: None)
    job = confirmations.confirmation_apply(actor=finance_officer, confirmation=check)

    with pytest.raises(RuntimeError, match="worker lost"):
        job_run(job.pk)
    job = BackgroundJob.objects.get(pk=job.pk)
    assert job.state == BackgroundJob.State.QUEUED and job.attempts == 1
    assert "worker lost" in job.error
    assert job.progress_done == 2 and job.progress_total == 6
    assert Instalment.objects.filter(state=I.PAID).count() == 2  # the first chunk committed
    assert PaymentRun.objects.get(pk=run.pk).state == RS.EXPORTED

    job = job_run(job.pk)  # the redelivered task
    assert job.state == BackgroundJob.State.DONE, job.error
    assert job.attempts == 2
    # Totals over both attempts (core.jobs tally), not the last attempt's alone.
    assert job.result == {
        "Paiements confirmés": 6,
        "Paiements rejetés": 0,
        "Lignes déjà prises en compte": 0,
    }
    assert (job.progress_done, job.progress_total) == (6, 6)
    assert Instalment.objects.filter(state=I.PAID).count() == 6
    assert audit_count("cpo.instalment.paid") == 6
    assert not PaymentRunItem.objects.filter(status=Item.PENDING).exists()
    assert PaymentRun.objects.get(pk=run.pk).state == RS.CLOSED
    assert PaymentConfirmation.objects.get(pk=check.pk).state == PaymentConfirmation.State.APPLIED
    assert job_run(job.pk).attempts == 2  # a finished job is not run again


# --------------------------------------------------------------------------- bank details


def race_export_against_bank_change(run, organisation, finance_officer, applicant, monkeypatch):
    """The export takes the run's lock and builds its files; meanwhile the association records a
    new account, and waits for a lock; then the export finishes. Returns (export result, errors)."""
    exporting, resume = threading.Event(), threading.Event()
    original = resources.payment_run_files

    def files_paused(*args, **kwargs):
        exporting.set()
        resume.wait(timeout=20)
        return original(*args, **kwargs)

    monkeypatch.setattr(resources, "payment_run_files", files_paused)
    outcome: dict[str, list] = {"export": [], "bank": [], "errors": []}

    def export() -> None:
        try:
            outcome["export"].append(
                services_finance.payment_run_export(
                    actor=finance_officer, run=PaymentRun.objects.get(pk=run.pk)
                )
            )
        except Exception as exc:  # collected for the assertions
            outcome["errors"].append(exc)
        finally:
            connection.close()

    def change() -> None:
        try:
            exporting.wait(timeout=20)
            outcome["bank"].append(
                organisation_set_bank_details(
                    actor=applicant,
                    organisation=Organisation.objects.get(pk=organisation.pk),
                    iban=NEW_IBAN,
                    bic=NEW_BIC,
                )
            )
        except Exception as exc:  # collected for the assertions
            outcome["errors"].append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=export), threading.Thread(target=change)]
    for t in threads:
        t.start()
    assert exporting.wait(timeout=20)
    deadline = time.monotonic() + 10
    while lock_waiters() == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert lock_waiters() >= 1, "the bank-details change should wait for the export's lock"
    resume.set()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    return outcome


def assert_export_and_bank_change_consistent(run, organisation, outcome) -> None:
    assert not outcome["errors"], outcome["errors"]
    assert Organisation.objects.get(pk=organisation.pk).iban == NEW_IBAN
    run = PaymentRun.objects.get(pk=run.pk)
    # The export started first and holds the lock: it goes out with the account it was approved
    # for, and the run keeps what it sent — file, items and approvals agree.
    assert run.state == RS.EXPORTED
    items_ibans = set(run.items.values_list("iban", flat=True))
    assert exported_ibans(run) == items_ibans == {organisation.iban}
    assert run.approvals.filter(is_valid=True).count() >= run.approvals_required
    assert not AuditLog.objects.filter(
        action="cpo.payment_run.reopened", object_id=str(run.pk)
    ).exists()


def test_bank_details_change_racing_an_export(
    monkeypatch, agreement, finance_officer, second_officer, applicant
):
    run = approved_run(agreement, finance_officer, second_officer)
    organisation = agreement.organisation
    outcome = race_export_against_bank_change(
        run, organisation, finance_officer, applicant, monkeypatch
    )
    assert_export_and_bank_change_consistent(run, organisation, outcome)


def test_bank_details_change_before_the_export_sends_the_run_back(
    agreement, finance_officer, second_officer, applicant
):
    """The other order: the change commits first, the export is refused and nothing goes out."""
    run = approved_run(agreement, finance_officer, second_officer)
    organisation_set_bank_details(
        actor=applicant, organisation=agreement.organisation, iban=NEW_IBAN, bic=NEW_BIC
    )
    with pytest.raises(TransitionNotAllowed):
        services_finance.payment_run_export(
            actor=finance_officer, run=PaymentRun.objects.get(pk=run.pk)
        )
    run = PaymentRun.objects.get(pk=run.pk)
    assert run.state == RS.DRAFT and not run.export_csv
    assert set(run.items.values_list("iban", flat=True)) == {NEW_IBAN}
    assert not Instalment.objects.filter(state=I.EXPORTED).exists()
