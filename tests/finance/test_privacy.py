"""Retention of bank details (finance.privacy): the IBAN of an organisation whose agreements are
closed leaves its profile after a year, the copies in payments and export files after ten years,
amounts and payments staying; the person who entered an IBAN used for payments cannot be erased."""

from __future__ import annotations

import datetime

import pytest

from core.clock import now, today
from core.models import AuditLog, ErasureRequest, Organisation
from core.privacy.services import (
    erasure_request_create,
    erasure_request_process,
    retention_apply,
)
from core.services import organisation_set_bank_details
from cpo.models import Agreement, AgreementState, Instalment, InstalmentState
from finance.models import PaymentRun, PaymentRunItem, PaymentRunState

from .test_finance import agreement, exported_run, make_run, second_officer  # noqa: F401

pytestmark = pytest.mark.django_db

IBAN = "FR7630006000011234567890189"


def close_agreement(agreement, *, last_year: int) -> None:  # noqa: F811
    """Setup: the agreement completed, everything paid, its last fiscal year `last_year`."""
    Agreement.objects.filter(pk=agreement.pk).update(
        state=AgreementState.COMPLETED, first_year=last_year - agreement.duration_years + 1
    )
    Instalment.objects.filter(agreement=agreement).update(state=InstalmentState.PAID)
    Organisation.objects.filter(pk=agreement.organisation_id).update(
        created_at=datetime.datetime(last_year - 3, 1, 1, tzinfo=datetime.UTC)
    )


def test_profile_iban_of_closed_agreements_is_deleted_after_a_year(agreement, instructor):  # noqa: F811
    from tests.factories import OrganisationFactory, cpo_awaiting_evaluation

    close_agreement(agreement, last_year=today().year - 2)
    running = cpo_awaiting_evaluation(instructor=instructor, organisation=OrganisationFactory())
    Organisation.objects.filter(pk=running.organisation_id).update(
        created_at=datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
    )

    run = retention_apply()

    closed = Organisation.objects.get(pk=agreement.organisation_id)
    assert (closed.iban, closed.bic) == ("", "")
    assert closed.siret and Agreement.objects.get(pk=agreement.pk).total_amount  # kept
    assert Organisation.objects.get(pk=running.organisation_id).iban == IBAN  # still paid: kept
    assert run.results["finance.organisation_bank_details"] == {"action": "delete", "count": 1}
    row = AuditLog.objects.get(action="core.retention.deleted", object_id=str(closed.pk))
    assert row.payload == {"rule": "finance.organisation_bank_details", "fields": ["iban", "bic"]}
    assert IBAN not in str(row.payload)


def test_profile_iban_is_kept_within_the_year_and_while_something_is_unpaid(agreement):  # noqa: F811
    close_agreement(agreement, last_year=today().year - 1)
    retention_apply()
    assert Organisation.objects.get(pk=agreement.organisation_id).iban == IBAN  # within the term
    close_agreement(agreement, last_year=today().year - 3)
    Instalment.objects.filter(pk=agreement.instalments.first().pk).update(
        state=InstalmentState.EXPORTED
    )
    retention_apply()
    assert Organisation.objects.get(pk=agreement.organisation_id).iban == IBAN  # money on its way


def test_payment_copies_and_export_files_are_deleted_ten_years_after_the_run(
    agreement,  # noqa: F811
    finance_officer,
    second_officer,  # noqa: F811
):
    run = exported_run(agreement, finance_officer, second_officer)
    csv_path, sha = run.export_csv.path, run.export_sha256
    items = list(run.items.values_list("pk", "amount", "siret", "instalment_reference"))
    PaymentRun.objects.filter(pk=run.pk).update(
        state=PaymentRunState.CLOSED, closed_at=now() - datetime.timedelta(days=9 * 365)
    )
    retention_apply()
    assert PaymentRunItem.objects.filter(run=run, iban=IBAN).count() == len(items)  # 9 years: kept

    PaymentRun.objects.filter(pk=run.pk).update(closed_at=now() - datetime.timedelta(days=3660))
    result = retention_apply().results["finance.payment_bank_details"]

    assert result["count"] == len(items) + 2  # the payments' copies and the two export files
    assert not PaymentRunItem.objects.filter(run=run).exclude(iban="", bic="").exists()
    # The payments themselves stay: amount, SIRET, references; and the file's fingerprint.
    assert list(run.items.values_list("pk", "amount", "siret", "instalment_reference")) == items
    run = PaymentRun.objects.get(pk=run.pk)
    assert not run.export_csv and not run.export_xlsx and run.export_sha256 == sha
    import os

    assert not os.path.exists(csv_path)
    row = AuditLog.objects.get(action="core.retention.deleted", object_id=str(run.pk))
    assert row.payload["rule"] == "finance.payment_bank_details"
    assert row.payload["items"] == len(items)
    assert retention_apply().results["finance.payment_bank_details"]["count"] == 0


def test_erasure_of_who_entered_an_iban_used_for_payments_is_refused(
    agreement,  # noqa: F811
    applicant,
    admin_user,
    finance_officer,
):
    organisation_set_bank_details(
        actor=applicant,
        organisation=agreement.organisation,
        iban="FR1420041010050500013M02606",
        bic="PSSTFRPPPAR",
    )
    request = erasure_request_create(actor=applicant, person=applicant, reason="Je pars")
    # Entered but not used yet: the finance rule does not hold (the running agreement does).
    from finance.privacy import bank_details_hold

    assert bank_details_hold(applicant) is None
    make_run(agreement, finance_officer)
    assert bank_details_hold(applicant) is not None
    refused = erasure_request_process(actor=admin_user, request=request)
    assert refused.state == ErasureRequest.State.REFUSED
    assert "décret n° 2012-1246" in refused.refusal_reason
    assert agreement.organisation.name in refused.refusal_reason
    assert AuditLog.objects.get(action="core.erasure.refused").payload["holds"]
