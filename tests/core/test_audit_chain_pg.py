"""PostgreSQL: parallel transitions and bulk writers extend one valid audit chain (the advisory
lock serialises them; no two rows chain onto the same head)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from core.audit import audit_log_many
from core.audit_chain import chain_verify
from core.models import AuditLog, AuditSeal, Organisation
from grants import services
from grants.models import Application

from .. import factories as f

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_in_threads(*targets):  # noqa: ANN001, ANN201
    errors: list[Exception] = []
    barrier = threading.Barrier(len(targets))

    def wrap(fn):  # noqa: ANN001, ANN202
        try:
            barrier.wait()
            fn()
        except Exception as exc:  # collected for the assertions
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=wrap, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return errors


def test_parallel_transitions_produce_one_valid_chain(call, organisation, applicant):
    drafts = [f.ApplicationFactory(call=call, organisation=organisation) for _ in range(8)]
    before = AuditLog.objects.count()

    def submit(pk: int) -> None:
        services.application_submit(actor=applicant, application=Application.objects.get(pk=pk))

    def bulk() -> None:
        with transaction.atomic():
            audit_log_many(
                actor=applicant,
                model=Organisation,
                action="core.organisation.updated",
                entries=[{"object_id": organisation.pk, "object_repr": "x"}] * 600,  # COPY
            )

    errors = run_in_threads(*[lambda pk=d.pk: submit(pk) for d in drafts], bulk, bulk)
    assert not errors
    assert AuditLog.objects.filter(action="grants.application.submitted").count() == 8
    rows = AuditLog.objects.count()
    assert rows >= before + 8 + 1200
    result = chain_verify()
    assert result.ok, result.first_break
    seals = list(AuditSeal.objects.order_by("seq").values_list("seq", flat=True))
    assert result.rows == rows and seals == list(range(1, len(seals) + 1))
    assert result.head_seq == len(seals) and not AuditSeal.objects.filter(seq__isnull=True)
