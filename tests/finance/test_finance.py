"""Finance side of instalments: liquidation, payment runs and segregation of duties, export,
confirmation files (dry run, idempotence, partial, unknown references), fiscal year closing."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.test import override_settings
from openpyxl import load_workbook

from core.clock import today
from core.errors import DomainError, PermissionDenied, TransitionNotAllowed
from core.models import AuditLog, BackgroundJob, Notification, Role
from core.services import organisation_set_bank_details
from cpo.models import Instalment, InstalmentState
from finance import confirmations
from finance import services as services_finance
from finance.models import (
    FiscalYear,
    PaymentConfirmation,
    PaymentRun,
    PaymentRunItem,
    PaymentRunState,
)
from tests.factories import UserFactory, add_member, cpo_awaiting_evaluation, give_role

I = InstalmentState  # noqa: E741


@pytest.fixture
def second_officer(db):
    user = UserFactory(email="comptable2@ville.example.org")
    give_role(user, Role.FINANCE_OFFICER)
    return user


@pytest.fixture
def agreement(instructor, applicant):
    agreement = cpo_awaiting_evaluation(instructor=instructor)
    add_member(applicant, agreement.organisation)
    return agreement


def due_ids(agreement) -> list[int]:
    return list(agreement.instalments.filter(state=I.DUE).values_list("pk", flat=True))


def make_run(agreement, finance_officer, **kwargs):
    return services_finance.payment_run_create(
        actor=finance_officer, instalment_ids=due_ids(agreement), **kwargs
    )


def exported_run(agreement, finance_officer, second_officer):
    run = make_run(agreement, finance_officer)
    services_finance.payment_run_approve(actor=second_officer, run=run)
    return services_finance.payment_run_export(actor=finance_officer, run=run)


def confirmation_csv(run, *, status="payé", date=None, reason="", skip=0) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(["reference_echeance", "reference_lot", "date_paiement", "statut", "motif"])
    for item in run.items.order_by("pk")[skip:]:
        writer.writerow(
            [
                item.instalment_reference,
                run.reference,
                (date or today()).strftime("%d/%m/%Y"),
                status,
                reason,
            ]
        )
    return out.getvalue().encode("latin-1")


@pytest.fixture
def apply_file(django_capture_on_commit_callbacks, finance_officer):
    def apply(*, confirmation):
        with django_capture_on_commit_callbacks(execute=True):
            return confirmations.confirmation_apply(
                actor=finance_officer, confirmation=confirmation
            )

    return apply


def test_run_takes_due_instalments_and_certifies_them(agreement, finance_officer):
    ids = due_ids(agreement)
    assert len(ids) == 3
    run = make_run(agreement, finance_officer, label="Décembre")
    assert run.state == PaymentRunState.DRAFT
    assert run.item_count == 3
    assert run.total == sum(Instalment.objects.get(pk=i).amount for i in ids)
    assert run.reference.startswith(f"LOT-{today().year}-")
    for instalment in Instalment.objects.filter(pk__in=ids):
        assert instalment.state == I.IN_RUN
        assert instalment.certified_by == finance_officer
    item = run.items.first()
    assert item.iban == agreement.organisation.iban
    assert item.instalment_reference == f"{agreement.reference}/E{item.instalment_id}"
    actions = set(AuditLog.objects.filter(object_id=str(ids[0])).values_list("action", flat=True))
    assert {"cpo.instalment.approved", "cpo.instalment.added_to_run"} <= actions


def test_an_instalment_is_in_one_open_run_only(agreement, finance_officer):
    make_run(agreement, finance_officer)
    with pytest.raises(DomainError, match="Aucune échéance exigible"):
        make_run(agreement, finance_officer)
    assert PaymentRunItem.objects.count() == 3


def test_creator_cannot_approve(agreement, finance_officer):
    run = make_run(agreement, finance_officer)
    with pytest.raises(PermissionDenied, match="préparé le lot"):
        services_finance.payment_run_approve(actor=finance_officer, run=run)
    assert PaymentRun.objects.get(pk=run.pk).state == PaymentRunState.DRAFT


def test_other_roles_cannot_create_or_approve(agreement, finance_officer, instructor, manager):
    with pytest.raises(PermissionDenied):
        services_finance.payment_run_create(actor=instructor, instalment_ids=due_ids(agreement))
    run = make_run(agreement, finance_officer)
    with pytest.raises(PermissionDenied):
        services_finance.payment_run_approve(actor=manager, run=run)


@override_settings(PAYMENT_RUN_SECOND_APPROVAL_ABOVE="1000.00")
def test_large_run_needs_two_distinct_approvers(agreement, finance_officer, second_officer):
    third = UserFactory(email="comptable3@ville.example.org")
    give_role(third, Role.FINANCE_OFFICER)
    run = make_run(agreement, finance_officer)
    assert run.approvals_required == 2
    run = services_finance.payment_run_approve(actor=second_officer, run=run)
    assert run.state == PaymentRunState.DRAFT
    with pytest.raises(PermissionDenied, match="déjà validé"):
        services_finance.payment_run_approve(actor=second_officer, run=run)
    run = services_finance.payment_run_approve(actor=third, run=run)
    assert run.state == PaymentRunState.APPROVED
    assert run.approvals.filter(is_valid=True).count() == 2


def test_who_changed_bank_details_cannot_approve(
    agreement, finance_officer, second_officer, applicant
):
    run = make_run(agreement, finance_officer)
    organisation = agreement.organisation
    type(organisation).objects.filter(pk=organisation.pk).update(
        bank_details_changed_by=second_officer
    )
    with pytest.raises(PermissionDenied, match="coordonnées bancaires"):
        services_finance.payment_run_approve(actor=second_officer, run=run)


def test_bank_details_change_after_approval_blocks_until_reapproved(
    agreement, finance_officer, second_officer, applicant
):
    run = make_run(agreement, finance_officer)
    run = services_finance.payment_run_approve(actor=second_officer, run=run)
    assert run.state == PaymentRunState.APPROVED
    organisation_set_bank_details(
        actor=applicant,
        organisation=agreement.organisation,
        iban="FR1420041010050500013M02606",
        bic="PSSTFRPPLIL",
    )
    run = PaymentRun.objects.get(pk=run.pk)
    assert run.state == PaymentRunState.DRAFT
    assert "bancaires" in run.blocked_reason
    assert not run.approvals.filter(is_valid=True).exists()
    assert set(run.items.values_list("iban", flat=True)) == {"FR1420041010050500013M02606"}
    with pytest.raises(TransitionNotAllowed):
        services_finance.payment_run_export(actor=finance_officer, run=run)
    run = services_finance.payment_run_approve(actor=second_officer, run=run)
    run = services_finance.payment_run_export(actor=finance_officer, run=run)
    assert run.state == PaymentRunState.EXPORTED


def test_export_refuses_details_changed_behind_its_back(agreement, finance_officer, second_officer):
    """Even without the hook (a direct change of the row), the export compares the details."""
    run = make_run(agreement, finance_officer)
    run = services_finance.payment_run_approve(actor=second_officer, run=run)
    type(agreement.organisation).objects.filter(pk=agreement.organisation_id).update(
        iban="FR1420041010050500013M02606"
    )
    with pytest.raises(DomainError, match="validé à nouveau"):
        services_finance.payment_run_export(actor=finance_officer, run=run)
    run = PaymentRun.objects.get(pk=run.pk)
    assert run.state == PaymentRunState.DRAFT
    assert run.items.filter(iban="FR1420041010050500013M02606").count() == 3
    assert Instalment.objects.filter(state=I.IN_RUN).count() == 3


def test_export_writes_the_payment_file_once(agreement, finance_officer, second_officer):
    run = exported_run(agreement, finance_officer, second_officer)
    assert Instalment.objects.filter(state=I.EXPORTED).count() == 3
    first_csv = run.export_csv.read()
    rows = list(csv.reader(io.StringIO(first_csv.decode("utf-8"))))
    assert rows[0] == [
        "beneficiaire",
        "siret",
        "iban",
        "bic",
        "montant",
        "ligne_budgetaire",
        "numero_ej",
        "exercice",
        "reference_convention",
        "reference_echeance",
        "reference_lot",
    ]
    assert len(rows) == 4
    assert rows[1][0] == agreement.organisation.name
    assert rows[1][1] == agreement.organisation.siret
    assert rows[1][10] == run.reference
    assert sum(Decimal(r[4]) for r in rows[1:]) == run.total
    sheet = load_workbook(run.export_xlsx.open("rb"), read_only=True).active
    xlsx_rows = list(sheet.iter_rows(values_only=True))
    assert [r[9] for r in xlsx_rows[1:]] == [r[9] for r in rows[1:]]
    with pytest.raises(TransitionNotAllowed, match="seul un lot validé"):
        services_finance.payment_run_export(actor=finance_officer, run=run)
    again = PaymentRun.objects.get(pk=run.pk)
    assert again.export_csv.read() == first_csv


def test_confirmation_dry_run_writes_nothing_and_apply_pays(
    apply_file, agreement, finance_officer, second_officer, applicant
):
    run = exported_run(agreement, finance_officer, second_officer)
    data = confirmation_csv(run)
    check = confirmations.confirmation_check(actor=finance_officer, data=data, name="retour.csv")
    assert check.state == PaymentConfirmation.State.CHECKED
    assert check.report["counts"]["paid"] == 3
    assert Instalment.objects.filter(state=I.PAID).count() == 0
    job = apply_file(confirmation=check)
    job = BackgroundJob.objects.get(pk=job.pk)
    assert job.state == BackgroundJob.State.DONE, job.error
    paid = Instalment.objects.filter(state=I.PAID)
    assert paid.count() == 3
    assert {i.paid_on for i in paid} == {today()}
    assert {i.charged_year for i in paid} == {run.fiscal_year}
    run = PaymentRun.objects.get(pk=run.pk)
    assert run.state == PaymentRunState.CLOSED
    assert run.paid_total == run.total
    assert Notification.objects.filter(user=applicant, title__startswith="Paiement").exists()
    assert AuditLog.objects.filter(action="cpo.instalment.paid").count() == 3


def test_reimporting_the_same_file_changes_nothing(
    apply_file, agreement, finance_officer, second_officer
):
    run = exported_run(agreement, finance_officer, second_officer)
    data = confirmation_csv(run)
    first = confirmations.confirmation_check(actor=finance_officer, data=data, name="r.csv")
    apply_file(confirmation=first)
    audits = AuditLog.objects.count()
    second = confirmations.confirmation_check(actor=finance_officer, data=data, name="r.csv")
    assert second.state == PaymentConfirmation.State.CHECKED
    assert second.report["counts"] == {"lines": 3, "paid": 0, "rejected": 0, "unchanged": 3}
    apply_file(confirmation=second)
    assert AuditLog.objects.filter(action="cpo.instalment.paid").count() == 3
    assert AuditLog.objects.count() == audits + 1  # only the "file applied" row
    with pytest.raises(DomainError, match="déjà été appliqué"):
        apply_file(confirmation=second)


def test_partial_confirmation_then_the_rest(apply_file, agreement, finance_officer, second_officer):
    run = exported_run(agreement, finance_officer, second_officer)
    items = list(run.items.order_by("pk"))
    partial = confirmation_csv(run, skip=2)  # the last line only
    check = confirmations.confirmation_check(actor=finance_officer, data=partial, name="p.csv")
    apply_file(confirmation=check)
    assert PaymentRun.objects.get(pk=run.pk).state == PaymentRunState.EXPORTED
    assert Instalment.objects.get(pk=items[2].instalment_id).state == I.PAID
    assert Instalment.objects.get(pk=items[0].instalment_id).state == I.EXPORTED
    full = confirmation_csv(run)
    check = confirmations.confirmation_check(actor=finance_officer, data=full, name="f.csv")
    assert check.report["counts"]["unchanged"] == 1
    assert check.report["counts"]["paid"] == 2
    apply_file(confirmation=check)
    assert PaymentRun.objects.get(pk=run.pk).state == PaymentRunState.CLOSED


def test_rejection_puts_the_instalment_back_to_due_with_its_reason(
    apply_file, agreement, finance_officer, second_officer
):
    run = exported_run(agreement, finance_officer, second_officer)
    data = confirmation_csv(run, status="rejeté", reason="IBAN clos")
    check = confirmations.confirmation_check(actor=finance_officer, data=data, name="r.csv")
    apply_file(confirmation=check)
    rejected = Instalment.objects.filter(pk__in=run.items.values("instalment_id"))
    assert {i.state for i in rejected} == {I.DUE}
    assert {i.reject_reason for i in rejected} == {"IBAN clos"}
    run = PaymentRun.objects.get(pk=run.pk)
    assert run.state == PaymentRunState.CLOSED
    assert run.rejected_total == run.total
    # Due again: a new run can take them.
    again = services_finance.payment_run_create(
        actor=finance_officer, instalment_ids=[i.pk for i in rejected]
    )
    assert again.item_count == 3


def test_unknown_references_and_bad_cells_are_reported_per_line(
    apply_file, agreement, finance_officer, second_officer
):
    run = exported_run(agreement, finance_officer, second_officer)
    item = run.items.first()
    data = (
        "reference_echeance;date_paiement;statut;motif\n"
        f"{item.instalment_reference};32/13/2026;payé;\n"
        "CPO-0000-0000/E999999;01/01/2026;payé;\n"
        f"{item.instalment_reference};01/01/2026;perdu;\n"
        f"{item.instalment_reference};;rejeté;\n"
    ).encode()
    check = confirmations.confirmation_check(actor=finance_officer, data=data, name="x.csv")
    assert check.state == PaymentConfirmation.State.INVALID
    errors = {(e["line"], e["column"]) for e in check.report["errors"]}
    assert errors == {
        (2, "date_paiement"),
        (3, "reference_echeance"),
        (4, "statut"),
        (5, "motif"),
    }
    with pytest.raises(DomainError, match="erreurs"):
        apply_file(confirmation=check)
    assert Instalment.objects.filter(state=I.PAID).count() == 0


def test_missing_columns_are_named(agreement, finance_officer):
    with pytest.raises(DomainError, match="date_paiement"):
        confirmations.confirmation_check(
            actor=finance_officer, data=b"reference;statut\nX;paye\n", name="x.csv"
        )


def test_resume_after_a_crash_pays_nothing_twice(agreement, finance_officer, second_officer):
    """Chunks commit one by one: applying again after a failure completes the rest only."""
    run = exported_run(agreement, finance_officer, second_officer)
    items = list(run.items.order_by("pk"))
    rows = [{"item": i.pk, "status": "paid", "paid_on": today(), "reason": ""} for i in items]
    services_finance.confirmations_apply_rows(actor=finance_officer, rows=rows[:1])
    counts = services_finance.confirmations_apply_rows(actor=finance_officer, rows=rows)
    assert counts == {"paid": 2, "rejected": 0, "unchanged": 1}
    assert AuditLog.objects.filter(action="cpo.instalment.paid").count() == 3


def test_cancel_run_frees_its_instalments(agreement, finance_officer):
    run = make_run(agreement, finance_officer)
    services_finance.payment_run_cancel(
        actor=finance_officer, run=run, reason="Erreur de sélection"
    )
    assert Instalment.objects.filter(state=I.APPROVED).count() == 3
    assert set(run.items.values_list("status", flat=True)) == {"removed"}
    again = services_finance.payment_run_create(
        actor=finance_officer, instalment_ids=run.items.values_list("instalment_id", flat=True)
    )
    assert again.item_count == 3


def test_suspension_takes_payments_out_of_an_open_run(agreement, finance_officer, instructor):
    from cpo import services as cpo_services

    run = make_run(agreement, finance_officer)
    cpo_services.agreement_suspend(actor=instructor, agreement=agreement, reason="Contrôle")
    run = PaymentRun.objects.get(pk=run.pk)
    assert run.item_count == 0
    assert not agreement.instalments.filter(state=I.IN_RUN).exists()
    assert agreement.instalments.filter(state=I.ON_HOLD).count() >= 3


def test_termination_never_cancels_what_is_paid(
    apply_file, agreement, finance_officer, second_officer, instructor
):
    from cpo import services as cpo_services

    run = exported_run(agreement, finance_officer, second_officer)
    check = confirmations.confirmation_check(
        actor=finance_officer, data=confirmation_csv(run), name="r.csv"
    )
    apply_file(confirmation=check)
    cpo_services.agreement_terminate(actor=instructor, agreement=agreement, reason="Dissolution")
    assert agreement.instalments.filter(state=I.PAID).count() == 3


def test_fiscal_year_closing_needs_every_remaining_instalment_decided(agreement, finance_officer):
    year = today().year
    remaining = list(
        Instalment.objects.filter(services_finance.effective_year_q(year))
        .exclude(state__in=[I.PAID, I.CANCELLED])
        .values_list("pk", "state")
    )
    assert remaining
    with pytest.raises(DomainError, match="reportez-les ou annulez-les"):
        services_finance.fiscal_year_close(actor=finance_officer, year=year)
    carry = [pk for pk, state in remaining if state != I.DUE]
    cancel = [pk for pk, state in remaining if state == I.DUE]
    fy = services_finance.fiscal_year_close(
        actor=finance_officer, year=year, carry_ids=carry, cancel_ids=cancel, note="Clôture"
    )
    assert fy.is_closed
    assert Instalment.objects.filter(pk__in=carry, charged_year=year + 1).count() == len(carry)
    assert Instalment.objects.filter(pk__in=cancel, state=I.CANCELLED).count() == len(cancel)
    with pytest.raises(DomainError, match="clos"):
        services_finance.payment_run_create(actor=finance_officer, fiscal_year=year)
    assert FiscalYear.objects.get(year=year).closed_by == finance_officer


def test_fiscal_year_with_an_open_run_cannot_close(agreement, finance_officer):
    run = make_run(agreement, finance_officer)
    with pytest.raises(DomainError, match=run.reference):
        services_finance.fiscal_year_close(actor=finance_officer, year=run.fiscal_year)


def test_a_completed_agreement_still_pays_its_last_balance(agreement, finance_officer):
    """The final evaluation completes the agreement and releases the balance: it must be payable."""
    from cpo.models import Agreement, AgreementState

    Agreement.objects.filter(pk=agreement.pk).update(state=AgreementState.COMPLETED)
    run = make_run(agreement, finance_officer)
    assert run.item_count == 3


def test_removing_payments_not_pending_in_the_run_is_refused(agreement, finance_officer):
    run = make_run(agreement, finance_officer)
    item = run.items.first()
    with pytest.raises(DomainError, match="pas en cours dans le lot"):
        services_finance.payment_run_remove_items(
            actor=finance_officer, run=run, item_ids=[item.pk, 999999]
        )
    assert run.items.filter(status="pending").count() == 3
    run = services_finance.payment_run_remove_items(
        actor=finance_officer, run=run, item_ids=[item.pk], reason="Doublon"
    )
    assert run.item_count == 2
    assert Instalment.objects.get(pk=item.instalment_id).state == I.APPROVED


def test_payment_notification_is_in_the_members_language(
    settings, apply_file, agreement, finance_officer, second_officer, applicant
):
    """Issue 16: the « paid » notification is rendered in each member's language, with its link."""
    from django.core import mail
    from django.utils import translation

    settings.SITE_URL = "https://pluriel.example.org"
    applicant.language = "en"
    applicant.save(update_fields=["language"])
    run = exported_run(agreement, finance_officer, second_officer)
    check = confirmations.confirmation_check(
        actor=finance_officer, data=confirmation_csv(run), name="retour.csv"
    )
    apply_file(confirmation=check)
    row = Notification.objects.get(user=applicant, url="/conventions/paiements/")
    assert (
        row.title.startswith("Payment of €45,000.00 made on ")
        and row.body == "The transfer has been confirmed by accounting."
    )
    with translation.override("fr"):
        assert row.display_title.startswith("Paiement de 45\xa0000,00 € effectué le ")
    (email,) = [m for m in mail.outbox if m.to == [applicant.email] and "Payment" in m.subject]
    assert "https://pluriel.example.org/conventions/paiements/" in email.body
