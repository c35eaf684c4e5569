"""A payment run driven through the finance workspace (/finances/), as the two officers would: A
ticks the due instalments and makes a run, is told he cannot approve his own run, B approves it
(keyboard only), A hands it to the accounting system, downloads the CSV, then uploads the
accounting system's confirmation file, reads the dry-run report, applies it in the background and
sees the run « Soldé ». Dates follow core.clock.today() (no time travel).

The confirmation job runs in-process (CELERY_TASK_ALWAYS_EAGER, enqueued on commit of the
request's transaction), so the job page is already « Terminée » when the redirect lands on it."""

from __future__ import annotations

import csv
import io
import re

import pytest

from core.clock import today
from core.models import BackgroundJob, Role
from cpo.models import Instalment, InstalmentState
from finance.models import PaymentConfirmation, PaymentRun, PaymentRunItem, PaymentRunState

from .. import factories as f
from .conftest import login
from .helpers import screenshot, squash, tab_until

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

I = InstalmentState  # noqa: E741
PAYMENT_FILE_HEADER = (
    "beneficiaire,siret,iban,bic,montant,ligne_budgetaire,numero_ej,exercice,"
    "reference_convention,reference_echeance,reference_lot"
)


@pytest.fixture
def officers(db):
    """Two finance officers: A prepares the runs, B approves them (segregation of duties)."""
    preparer = f.UserFactory(email="preparateur@ville.example.org", first_name="Anne")
    approver = f.UserFactory(email="valideur@ville.example.org", first_name="Bruno")
    for user in (preparer, approver):
        f.give_role(user, Role.FINANCE_OFFICER)
    return preparer, approver


def main_heading(page):
    return page.get_by_role("heading", level=1)


def confirmation_file(run: PaymentRun) -> bytes:
    """What the accounting system sends back: every payment of the run paid today."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(["reference_echeance", "reference_lot", "date_paiement", "statut", "motif"])
    for item in run.items.order_by("pk"):
        writer.writerow(
            [item.instalment_reference, run.reference, today().strftime("%d/%m/%Y"), "payé", ""]
        )
    return out.getvalue().encode("utf-8")


def test_run_prepared_approved_exported_and_confirmed(
    page, new_person_page, officers, instructor, tmp_path
):
    preparer, approver = officers
    agreement = f.cpo_awaiting_evaluation(instructor=instructor)
    due = list(agreement.instalments.filter(state=I.DUE).order_by("earliest_date", "pk"))
    assert len(due) == 3
    due_total = sum(i.amount for i in due)

    # 1. A ticks the three due instalments and makes a run of them.
    login(page, preparer.email)
    page.goto("/finances/echeances/")
    expect(main_heading(page)).to_have_text("Échéances")
    table = page.get_by_role("table", name="Échéances triées par date de paiement au plus tôt")
    expect(table.locator("tbody tr")).to_have_count(3)
    # The checkbox labels name the instalment by its number within its year only (n° 1 of two
    # years reads the same), so each box is found in its row.
    for instalment in due:
        table.locator(f"#instalment-{instalment.pk}").get_by_role("checkbox").check()
    expect(table.get_by_role("checkbox", checked=True)).to_have_count(3)
    expect(page.get_by_label("Exercice d'imputation")).to_have_value(str(today().year))
    page.get_by_label("Libellé du lot").fill("Paiements du mois")
    screenshot(page, "finance-01-instalments")
    page.get_by_role("button", name="Créer un lot avec les échéances cochées").click()

    run = PaymentRun.objects.get()
    expect(page.get_by_role("status")).to_contain_text(
        f"Lot {run.reference} préparé : 3 paiements."
    )
    expect(main_heading(page)).to_contain_text(f"Lot de paiement {run.reference}")
    expect(main_heading(page)).to_contain_text("En préparation")
    assert run.item_count == 3 and run.total == due_total
    in_run = Instalment.objects.filter(pk__in=[i.pk for i in due])
    assert set(in_run.values_list("state", flat=True)) == {I.IN_RUN}

    # 2. A may not approve the run he prepared: the page says why and shows no button.
    expect(page.locator("#approval-refusal")).to_have_text(
        "Vous ne pouvez pas valider ce lot : "
        "La personne qui a préparé le lot ne peut pas le valider."
    )
    expect(page.get_by_role("button", name="Valider le lot")).to_have_count(0)
    screenshot(page, "finance-02-run-refused")
    run_path = f"/finances/lots/{run.pk}/"

    # 3. B, at another computer, approves it with the keyboard only.
    other = new_person_page()
    login(other, approver.email)
    other.goto(run_path)
    expect(other.locator("#approval-refusal")).to_have_count(0)
    approve = other.get_by_role("button", name="Valider le lot")
    expect(approve).to_be_visible()
    tab_until(other, approve)
    other.keyboard.press("Enter")
    expect(other.get_by_role("status")).to_contain_text(
        f"Lot {run.reference} validé : il peut être transmis à la comptabilité."
    )
    expect(main_heading(other)).to_contain_text("Validé")
    expect(other.locator("#approval-list")).to_contain_text("Bruno")
    assert PaymentRun.objects.get(pk=run.pk).state == PaymentRunState.APPROVED

    # 4. A hands it to the accounting system and downloads the payment file.
    page.reload()
    expect(main_heading(page)).to_contain_text("Validé")
    page.get_by_role("button", name="Transmettre à la comptabilité").click()
    expect(page.get_by_role("status")).to_contain_text(
        f"Lot {run.reference} transmis à la comptabilité : les fichiers CSV et XLSX sont prêts."
    )
    expect(main_heading(page)).to_contain_text("Transmis à la comptabilité")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Télécharger le fichier CSV").click()
    download = download_info.value
    assert download.suggested_filename == f"{run.reference}.csv"
    lines = download.path().read_bytes().decode("utf-8").splitlines()
    assert lines[0] == PAYMENT_FILE_HEADER
    assert len(lines) == 4
    assert {line.split(",")[-1] for line in lines[1:]} == {run.reference}
    screenshot(page, "finance-03-run-exported")

    # 5. A uploads the confirmation file: dry run first, nothing written.
    run = PaymentRun.objects.get(pk=run.pk)
    upload = tmp_path / "retour-banque.csv"
    upload.write_bytes(confirmation_file(run))
    page.get_by_role("navigation", name="Espace finances").get_by_role(
        "link", name="Retours de la comptabilité"
    ).click()
    expect(main_heading(page)).to_have_text("Retours de la comptabilité")
    page.get_by_label("Fichier de retour de la comptabilité (CSV ou XLSX)").set_input_files(
        str(upload)
    )
    page.get_by_role("button", name="Vérifier le fichier").click()
    expect(main_heading(page)).to_contain_text("Retour de la comptabilité : retour-banque.csv")
    expect(page.locator("#count-lines")).to_have_text("3")
    expect(page.locator("#count-paid")).to_have_text("3")
    expect(page.locator("#count-rejected")).to_have_text("0")
    expect(page.locator("#count-errors")).to_have_text("0")
    screenshot(page, "finance-04-confirmation-checked")
    assert not PaymentRunItem.objects.filter(status=PaymentRunItem.Status.PAID).exists()

    # ... then applied in the background; the job page follows it to the end.
    page.get_by_role("button", name="Appliquer").click()
    expect(page.get_by_role("status").first).to_contain_text(
        "Application du fichier retour-banque.csv lancée."
    )
    expect(main_heading(page)).to_have_text("Retour comptable retour-banque.csv")
    job_status = page.locator("main p[role='status']")
    expect(job_status).to_contain_text("Terminée", timeout=20_000)
    job = BackgroundJob.objects.get(kind="cpo.confirmation_apply")
    assert job.state == BackgroundJob.State.DONE and job.owner == preparer
    screenshot(page, "finance-05-job-done")

    # The run is settled: every payment paid today, the instalments too.
    page.goto(run_path)
    expect(main_heading(page)).to_contain_text("Soldé")
    assert squash(page.locator("#run-paid").inner_text()) == squash(
        page.locator("#run-total").inner_text()
    )
    expect(page.locator("#run-rejected")).to_have_text(re.compile(r"^0,00\s€$"))
    expect(page.locator("#run-items tbody .state-paid")).to_have_count(3)
    screenshot(page, "finance-06-run-closed")
    assert PaymentRun.objects.get(pk=run.pk).state == PaymentRunState.CLOSED
    assert PaymentConfirmation.objects.get().state == PaymentConfirmation.State.APPLIED
    paid = Instalment.objects.filter(pk__in=[i.pk for i in due])
    assert set(paid.values_list("state", flat=True)) == {I.PAID}
    assert set(paid.values_list("paid_on", flat=True)) == {today()}
