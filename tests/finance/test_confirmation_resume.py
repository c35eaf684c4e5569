"""A confirmation file whose worker was killed halfway: another worker takes the job over once the
lease has expired, and the job reports totals over both attempts, its progress ending at the
file's total (issue 12, item 7). The real-worker version with kill -9 is .ci/celery_smoke.sh."""

from __future__ import annotations

import datetime

import pytest

from core.clock import now, today
from core.jobs import job_run
from core.models import AuditLog, BackgroundJob, Role
from cpo.models import Instalment, InstalmentState
from finance import confirmations
from finance import services as services_finance
from finance.models import PaymentConfirmation
from tests.factories import UserFactory, cpo_awaiting_evaluation, give_role

pytestmark = pytest.mark.django_db


class WorkerKilled(BaseException):
    """Stands for SIGKILL: not an Exception, so job_run records nothing (as a dead worker)."""


def test_a_killed_confirmation_is_resumed_with_totals_over_attempts(
    monkeypatch, instructor, finance_officer
):
    second = UserFactory(email="comptable2@ville.example.org")
    give_role(second, Role.FINANCE_OFFICER)
    agreements = [cpo_awaiting_evaluation(instructor=instructor) for _ in range(2)]
    ids = sorted(
        Instalment.objects.filter(agreement__in=agreements, state=InstalmentState.DUE).values_list(
            "pk", flat=True
        )
    )
    run = services_finance.payment_run_create(actor=finance_officer, instalment_ids=ids)
    services_finance.payment_run_approve(actor=second, run=run)
    run = services_finance.payment_run_export(actor=finance_officer, run=run)
    lines = ["reference_echeance;reference_lot;date_paiement;statut;motif"]
    for ref in run.items.order_by("pk").values_list("instalment_reference", flat=True):
        lines.append(f"{ref};{run.reference};{today():%d/%m/%Y};payé;")
    check = confirmations.confirmation_check(
        actor=finance_officer, data=("\n".join(lines) + "\n").encode(), name="retour.csv"
    )
    total = check.report["counts"]["paid"]
    assert total == len(ids) == 6

    monkeypatch.setattr(confirmations, "CHUNK", 2)
    original = confirmations.confirmations_apply_rows
    calls = {"n": 0}

    def killed_during_second_chunk(**kwargs):  # noqa: ANN003, ANN202
        calls["n"] += 1
        if calls["n"] == 2:
            raise WorkerKilled
        return original(**kwargs)

    monkeypatch.setattr(confirmations, "confirmations_apply_rows", killed_during_second_chunk)
    from core import tasks

    monkeypatch.setattr(tasks.run_job, "delay", lambda *args, **kwargs: None)
    job = confirmations.confirmation_apply(actor=finance_officer, confirmation=check)
    with pytest.raises(WorkerKilled):
        job_run(job.pk)
    job = BackgroundJob.objects.get(pk=job.pk)
    assert job.state == BackgroundJob.State.RUNNING and job.attempts == 1
    assert (job.progress_done, job.progress_total) == (2, 6)

    # The task is redelivered while the lease runs: left alone.
    assert job_run(job.pk).attempts == 1
    assert Instalment.objects.filter(state=InstalmentState.PAID).count() == 2
    # Once the lease has expired, another worker takes the job over.
    BackgroundJob.objects.filter(pk=job.pk).update(
        lease_until=now() - datetime.timedelta(seconds=1)
    )
    job = job_run(job.pk)
    assert job.state == BackgroundJob.State.DONE and job.attempts == 2
    assert job.result == {
        "Paiements confirmés": 6,
        "Paiements rejetés": 0,
        "Lignes déjà prises en compte": 0,
    }
    assert (job.progress_done, job.progress_total, job.percent) == (6, 6, 100)
    applied = PaymentConfirmation.objects.get(pk=check.pk).report["applied"]
    assert applied == {"paid": 6, "rejected": 0, "unchanged": 0}
    assert AuditLog.objects.filter(action="cpo.instalment.paid").count() == 6
    assert Instalment.objects.filter(state=InstalmentState.PAID).count() == 6
