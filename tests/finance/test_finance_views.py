"""The finance workspace pages (/finances/): who sees what (404 outside finance, read-only for
auditors and programme managers, 403 on their POSTs), the whole path from due instalments to a
closed run through the pages, the refusals shown as messages, the keyset list's constant query
count, fiscal year closing and recoveries."""

from __future__ import annotations

import csv
import datetime
import html
import io
from decimal import Decimal

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.clock import now, today
from core.models import BackgroundJob, Role
from cpo import services_changes
from cpo.models import Instalment, InstalmentState, Recovery, RecoveryState
from finance import selectors as selectors_finance
from finance import services as services_finance
from finance.models import FiscalYear, PaymentConfirmation, PaymentRun, PaymentRunState
from tests.factories import UserFactory, add_member, cpo_awaiting_evaluation, give_role

I = InstalmentState  # noqa: E741
RS = PaymentRunState
pytestmark = pytest.mark.django_db

PAGES = [
    ("finance:dashboard", {}),
    ("finance:instalments", {}),
    ("finance:runs", {}),
    ("finance:confirmations", {}),
    ("finance:fiscal_years", {}),
    ("finance:recoveries", {}),
]


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
    return sorted(agreement.instalments.filter(state=I.DUE).values_list("pk", flat=True))


def text(response) -> str:
    """The page's text, entities decoded (« s'applique » is escaped in the HTML)."""
    return html.unescape(response.content.decode())


def as_user(client, user):
    client.force_login(user)
    return client


def make_run(agreement, officer) -> PaymentRun:
    return services_finance.payment_run_create(actor=officer, instalment_ids=due_ids(agreement))


def confirmation_file(run, *, status="payé", reason="") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(["reference_echeance", "reference_lot", "date_paiement", "statut", "motif"])
    for item in run.items.order_by("pk"):
        writer.writerow(
            [item.instalment_reference, run.reference, today().strftime("%d/%m/%Y"), status, reason]
        )
    return out.getvalue().encode()


# --------------------------------------------------------------------------- permissions


@pytest.mark.parametrize(("name", "kwargs"), PAGES)
def test_pages_for_each_role(client, name, kwargs, finance_officer, auditor, manager):
    url = reverse(name, kwargs=kwargs)
    assert client.get(url).status_code == 302  # to the login page
    for reader in (finance_officer, auditor, manager):
        assert as_user(client, reader).get(url).status_code == 200


@pytest.mark.parametrize(("name", "kwargs"), PAGES)
def test_pages_are_404_for_everyone_else(
    client, name, kwargs, instructor, applicant, committee_member, panel_member
):
    url = reverse(name, kwargs=kwargs)
    for outsider in (instructor, applicant, committee_member, panel_member):
        assert as_user(client, outsider).get(url).status_code == 404
        assert client.post(url).status_code == 404


def test_readers_see_no_action_and_their_posts_are_refused(
    client, agreement, finance_officer, second_officer, auditor, manager
):
    run = make_run(agreement, finance_officer)
    ids = due_ids(agreement)
    for reader in (auditor, manager):
        as_user(client, reader)
        page = client.get(reverse("finance:run_detail", args=[run.pk]))
        content = text(page)
        assert page.status_code == 200
        assert "approve-button" not in content and "cancel-form" not in content
        assert agreement.organisation.iban not in content  # bank details are finance's only
        assert "read-only-note" in content
        listing = text(client.get(reverse("finance:instalments") + "?state=all"))
        assert 'name="instalment"' not in listing
        response = client.post(reverse("finance:run_action", args=[run.pk, "approve"]))
        assert response.status_code == 403
        assert "Réservé au service financier" in text(response)
        response = client.post(
            reverse("finance:instalments"),
            {"action": "run_selected", "instalment": ids, "fiscal_year": today().year},
        )
        assert response.status_code == 403
        assert client.get(reverse("finance:run_download", args=[run.pk, "csv"])).status_code == 403
    run = PaymentRun.objects.get(pk=run.pk)
    assert run.state == RS.DRAFT
    assert not run.approvals.exists()
    assert PaymentRun.objects.count() == 1


# --------------------------------------------------------------------------- the whole path


def test_happy_path_through_the_pages(
    client,
    agreement,
    finance_officer,
    second_officer,
    applicant,
    django_capture_on_commit_callbacks,
):
    ids = due_ids(agreement)
    assert len(ids) == 3
    as_user(client, finance_officer)
    listing = client.get(reverse("finance:instalments"))
    assert listing.status_code == 200
    assert [i.pk for i in listing.context["page"].rows] == sorted(
        ids, key=lambda pk: (Instalment.objects.get(pk=pk).earliest_date, pk)
    )

    # select → create
    response = client.post(
        reverse("finance:instalments"),
        {
            "action": "run_selected",
            "instalment": ids,
            "fiscal_year": today().year,
            "label": "Paiements du mois",
        },
    )
    run = PaymentRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("finance:run_detail", args=[run.pk])
    assert run.item_count == 3
    assert run.label == "Paiements du mois"
    assert set(Instalment.objects.filter(pk__in=ids).values_list("state", flat=True)) == {I.IN_RUN}

    # the creator cannot approve: told why on the page, refused on POST
    page = text(client.get(reverse("finance:run_detail", args=[run.pk])))
    assert "préparé le lot ne peut pas le valider" in page
    assert "approve-button" not in page
    response = client.post(reverse("finance:run_action", args=[run.pk, "approve"]))
    assert response.status_code == 403
    assert "préparé le lot ne peut pas le valider" in text(response)
    assert PaymentRun.objects.get(pk=run.pk).state == RS.DRAFT

    # a second officer approves
    as_user(client, second_officer)
    page = text(client.get(reverse("finance:run_detail", args=[run.pk])))
    assert "approve-button" in page
    response = client.post(reverse("finance:run_action", args=[run.pk, "approve"]), follow=True)
    assert f"Lot {run.reference} validé" in text(response)
    assert PaymentRun.objects.get(pk=run.pk).state == RS.APPROVED

    # export, then the stored files are served, identical at every download
    as_user(client, finance_officer)
    response = client.post(reverse("finance:run_action", args=[run.pk, "export"]))
    assert response.status_code == 302
    run = PaymentRun.objects.get(pk=run.pk)
    assert run.state == RS.EXPORTED
    url = reverse("finance:run_download", args=[run.pk, "csv"])
    first, second = client.get(url), client.get(url)
    body = b"".join(first.streaming_content)
    assert body == b"".join(second.streaming_content)
    assert first["Cache-Control"] == "private, no-store"
    assert first["Content-Type"].startswith("text/csv")
    assert f'filename="{run.reference}.csv"' in first["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(body.decode())))  # plain CSV: `,`, decimal point
    assert len(rows) == 4
    assert sum(Decimal(r[4]) for r in rows[1:]) == run.total
    xlsx = client.get(reverse("finance:run_download", args=[run.pk, "xlsx"]))
    assert xlsx.status_code == 200
    assert b"".join(xlsx.streaming_content)[:2] == b"PK"

    # confirmation: dry run, then apply in the background
    upload = SimpleUploadedFile("retour.csv", confirmation_file(run), content_type="text/csv")
    response = client.post(reverse("finance:confirmations"), {"file": upload})
    confirmation = PaymentConfirmation.objects.get()
    assert response["Location"] == reverse("finance:confirmation_detail", args=[confirmation.pk])
    report = client.get(response["Location"])
    assert report.context["counts"]["paid"] == 3
    assert "apply-button" in text(report)
    assert Instalment.objects.filter(state=I.PAID).count() == 0  # the dry run wrote nothing
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("finance:confirmation_apply", args=[confirmation.pk]))
    job = BackgroundJob.objects.get(kind="cpo.confirmation_apply")
    assert response["Location"] == reverse("core:job_detail", args=[job.pk])
    assert BackgroundJob.objects.get(pk=job.pk).state == BackgroundJob.State.DONE
    run = PaymentRun.objects.get(pk=run.pk)
    assert run.state == RS.CLOSED
    assert run.paid_total == run.total
    assert set(Instalment.objects.filter(pk__in=ids).values_list("state", flat=True)) == {I.PAID}
    page = client.get(reverse("finance:confirmation_detail", args=[confirmation.pk]))
    assert "apply-button" not in text(page)
    assert page.context["applied"]["paid"] == 3

    # the same file again changes nothing
    again = SimpleUploadedFile("retour.csv", confirmation_file(run), content_type="text/csv")
    client.post(reverse("finance:confirmations"), {"file": again})
    second_check = PaymentConfirmation.objects.order_by("-pk").first()
    assert second_check.report["counts"] == {"lines": 3, "paid": 0, "rejected": 0, "unchanged": 3}

    # the dashboard counts what was paid this year
    dashboard = client.get(reverse("finance:dashboard"))
    paid_this_year = Instalment.objects.filter(pk__in=ids, charged_year=today().year)
    assert dashboard.context["cards"]["paid_this_year"]["count"] == paid_this_year.count()
    history = text(client.get(reverse("finance:run_detail", args=[run.pk])))
    assert "Lot soldé" in history and "Lot transmis à la comptabilité" in history


def test_run_with_everything_matching_the_filters(client, agreement, finance_officer):
    as_user(client, finance_officer)
    programme = agreement.programme_id
    response = client.post(
        reverse("finance:instalments") + f"?programme={programme}",
        {"action": "run_all", "fiscal_year": today().year},
    )
    run = PaymentRun.objects.get()
    assert response.status_code == 302
    assert run.item_count == 3
    assert run.criteria == {"programme": str(programme)}


def test_run_all_refuses_a_search(client, agreement, finance_officer):
    as_user(client, finance_officer)
    response = client.post(
        reverse("finance:instalments") + "?q=CPO",
        {"action": "run_all", "fiscal_year": today().year},
    )
    assert response.status_code == 400
    assert "La recherche ne s'applique pas" in text(response)
    assert not PaymentRun.objects.exists()


def test_certify_service_done_from_the_list(client, agreement, finance_officer):
    as_user(client, finance_officer)
    ids = due_ids(agreement)
    response = client.post(
        reverse("finance:instalments"),
        {"action": "approve", "instalment": ids[:2], "fiscal_year": today().year, "note": "OK"},
        follow=True,
    )
    assert "2 échéances certifiées" in text(response)
    assert Instalment.objects.filter(pk__in=ids[:2], state=I.APPROVED).count() == 2
    assert Instalment.objects.get(pk=ids[2]).state == I.DUE


def test_list_errors_keep_the_selection(client, agreement, finance_officer):
    as_user(client, finance_officer)
    planned = agreement.instalments.filter(state=I.PLANNED).first() or (
        agreement.instalments.filter(state=I.ON_HOLD).first()
    )
    response = client.post(
        reverse("finance:instalments") + "?state=all",
        {"action": "approve", "instalment": [planned.pk], "fiscal_year": today().year},
    )
    assert response.status_code == 400
    assert "Seule une échéance exigible peut être liquidée" in text(response)
    assert planned.pk in response.context["selected"]
    response = client.post(
        reverse("finance:instalments"), {"action": "run_selected", "fiscal_year": today().year}
    )
    assert response.status_code == 400
    assert "Cochez au moins une échéance" in text(response)
    response = client.post(
        reverse("finance:instalments"),
        {"action": "run_selected", "instalment": due_ids(agreement), "fiscal_year": "abc"},
    )
    assert response.status_code == 400
    assert not PaymentRun.objects.exists()


def test_closed_run_cannot_be_approved_again_shown_as_message(
    client, agreement, finance_officer, second_officer
):
    run = make_run(agreement, finance_officer)
    services_finance.payment_run_approve(actor=second_officer, run=run)
    as_user(client, second_officer)
    response = client.post(reverse("finance:run_action", args=[run.pk, "approve"]))
    assert response.status_code == 409
    assert "ne peut plus être validé" in text(response)
    as_user(client, finance_officer)
    response = client.post(reverse("finance:run_action", args=[run.pk, "cancel"]), {})
    assert response.status_code == 400  # a reason is required
    assert PaymentRun.objects.get(pk=run.pk).state == RS.APPROVED


def test_remove_items_and_cancel_a_run(client, agreement, finance_officer):
    run = make_run(agreement, finance_officer)
    as_user(client, finance_officer)
    item = run.items.order_by("pk").first()
    response = client.post(
        reverse("finance:run_action", args=[run.pk, "remove"]),
        {"item": [item.pk], "remove-reason": "Pièce manquante"},
    )
    assert response.status_code == 302
    run = PaymentRun.objects.get(pk=run.pk)
    assert run.item_count == 2
    assert Instalment.objects.get(pk=item.instalment_id).state == I.APPROVED
    response = client.post(
        reverse("finance:run_action", args=[run.pk, "cancel"]),
        {"cancel-reason": "Erreur de sélection"},
    )
    assert response.status_code == 302
    assert PaymentRun.objects.get(pk=run.pk).state == RS.CANCELLED
    runs = client.get(reverse("finance:runs") + "?etat=cancelled")
    assert [r.pk for r in runs.context["page"].object_list] == [run.pk]


def test_export_refused_when_bank_details_changed_is_a_message(
    client, agreement, finance_officer, second_officer
):
    run = make_run(agreement, finance_officer)
    services_finance.payment_run_approve(actor=second_officer, run=run)
    type(agreement.organisation).objects.filter(pk=agreement.organisation_id).update(
        iban="FR1420041010050500013M02606"
    )
    as_user(client, finance_officer)
    response = client.post(reverse("finance:run_action", args=[run.pk, "export"]))
    assert response.status_code == 400
    assert "validé à nouveau" in text(response)
    assert PaymentRun.objects.get(pk=run.pk).state == RS.DRAFT


def test_invalid_confirmation_file_shows_its_errors_and_no_apply_button(
    client, agreement, finance_officer, second_officer
):
    run = make_run(agreement, finance_officer)
    services_finance.payment_run_approve(actor=second_officer, run=run)
    services_finance.payment_run_export(actor=finance_officer, run=run)
    item = run.items.order_by("pk").first()
    data = (
        "reference_echeance;date_paiement;statut;motif\n"
        f"{item.instalment_reference};32/13/2026;payé;\n"
        "CPO-0000-0000/E999999;01/01/2026;payé;\n"
    ).encode()
    as_user(client, finance_officer)
    response = client.post(
        reverse("finance:confirmations"), {"file": SimpleUploadedFile("bad.csv", data)}
    )
    confirmation = PaymentConfirmation.objects.get()
    assert confirmation.state == PaymentConfirmation.State.INVALID
    page = client.get(response["Location"])
    content = text(page)
    assert "apply-button" not in content
    errors = [(e["line"], e["column"]) for e in page.context["errors"].object_list]
    assert errors == [(2, "date_paiement"), (3, "reference_echeance")]
    assert "CPO-0000-0000/E999999" in content and "Référence inconnue" in content
    response = client.post(reverse("finance:confirmation_apply", args=[confirmation.pk]))
    assert response.status_code == 400
    assert "contient des erreurs" in text(response)
    assert not BackgroundJob.objects.exists()


def test_unreadable_uploads_are_refused_next_to_the_field(client, finance_officer):
    as_user(client, finance_officer)
    response = client.post(
        reverse("finance:confirmations"), {"file": SimpleUploadedFile("retour.pdf", b"%PDF")}
    )
    assert response.status_code == 400
    assert response.context["form"].errors["file"]
    response = client.post(
        reverse("finance:confirmations"),
        {"file": SimpleUploadedFile("retour.csv", b"reference;statut\nX;paye\n")},
    )
    assert response.status_code == 400
    assert "date_paiement" in response.context["form"].errors["file"][0]
    assert not PaymentConfirmation.objects.exists()


# --------------------------------------------------------------------------- keyset list


def add_instalments(agreement, count: int) -> None:
    model = agreement.instalments.order_by("pk").first()
    start = agreement.instalments.count() + 100
    Instalment.objects.bulk_create(
        [
            Instalment(
                agreement=agreement,
                year=model.year,
                funder=model.funder,
                number=start + n,
                kind=Instalment.Kind.CUSTOM,
                amount=Decimal("10.00"),
                earliest_date=model.earliest_date,
                state=I.DUE,
            )
            for n in range(count)
        ]
    )


def test_instalment_list_query_count_is_constant(
    client, agreement, finance_officer, django_assert_num_queries
):
    as_user(client, finance_officer)
    url = reverse("finance:instalments") + "?state=all"
    client.get(url)  # warm the caches (content types, roles)
    Instalment.objects.filter(agreement=agreement).exclude(pk__in=due_ids(agreement)[:1]).delete()
    add_instalments(agreement, 4)
    with CaptureQueriesContext(connection) as five:
        response = client.get(url)
    assert len(response.context["page"].rows) == 5
    add_instalments(agreement, 45)
    with django_assert_num_queries(len(five.captured_queries)):
        response = client.get(url)
    assert len(response.context["page"].rows) == 50
    # one query reads the instalments: no COUNT over the set, no OFFSET
    reads = [
        q["sql"].upper() for q in five.captured_queries if '"CPO_INSTALMENT"' in q["sql"].upper()
    ]
    assert len(reads) == 1
    assert "COUNT(" not in reads[0] and "OFFSET" not in reads[0]


def test_instalment_list_next_page(client, agreement, finance_officer, monkeypatch):
    monkeypatch.setattr(selectors_finance, "PAGE_SIZE", 2)
    as_user(client, finance_officer)
    ids = due_ids(agreement)
    first = client.get(reverse("finance:instalments"))
    assert len(first.context["page"].rows) == 2
    content = text(first)
    assert 'id="next-page"' in content
    cursor = first.context["page"].next_cursor
    second = client.get(reverse("finance:instalments") + f"?state=due&apres={cursor}")
    shown = [i.pk for i in first.context["page"].rows] + [i.pk for i in second.context["page"].rows]
    assert sorted(shown) == ids
    assert second.context["page"].next_cursor is None


def test_instalment_list_shows_run_hold_and_reject_reasons(client, agreement, finance_officer):
    run = make_run(agreement, finance_officer)
    as_user(client, finance_officer)
    content = text(client.get(reverse("finance:instalments") + "?state=all"))
    assert f"lot {run.reference}" in content
    on_hold = agreement.instalments.filter(state=I.ON_HOLD).first()
    assert on_hold.hold_reason and on_hold.hold_reason in content
    # only due or certified instalments can be selected
    in_run = run.items.first().instalment_id
    assert f'id="select-{in_run}"' not in content
    assert f'id="select-{on_hold.pk}"' not in content


def test_instalment_list_shows_reject_reason_and_late_flag(client, agreement, finance_officer):
    due = due_ids(agreement)[0]
    Instalment.objects.filter(pk=due).update(reject_reason="IBAN clos", is_late=True)
    as_user(client, finance_officer)
    response = client.get(reverse("finance:instalments") + "?late_only=on")
    assert [i.pk for i in response.context["page"].rows] == [due]
    content = text(response)
    assert "Rejet : IBAN clos" in content
    assert "en retard (60 jours)" in content
    assert f'id="select-{due}"' in content


# --------------------------------------------------------------------------- fiscal years


def test_fiscal_year_closing_page(client, agreement, finance_officer):
    year = today().year
    as_user(client, finance_officer)
    url = reverse("finance:fiscal_year_close", args=[year])
    page = client.get(url)
    rows = page.context["rows"]
    assert rows
    remaining = {r["instalment"].pk for r in rows}
    # nothing chosen: refused, nothing written
    response = client.post(url, {"note": "Clôture"})
    assert response.status_code == 400
    assert "reportez-les ou annulez-les" in text(response)
    assert not FiscalYear.objects.filter(year=year, closed_at__isnull=False).exists()
    # « tout reporter » pre-fills every row
    preset = client.get(url + "?preset=carry")
    assert {r["choice"] for r in preset.context["rows"]} == {"carry"}
    # one row cancelled, the others carried by the common choice
    cancelled = next(r["instalment"].pk for r in rows if r["cancellable"])
    response = client.post(url, {f"row-{cancelled}": "cancel", "default": "carry", "note": "Fin"})
    assert response.status_code == 302
    fy = FiscalYear.objects.get(year=year)
    assert fy.is_closed and fy.closing_note == "Fin"
    assert Instalment.objects.get(pk=cancelled).state == I.CANCELLED
    carried = remaining - {cancelled}
    assert Instalment.objects.filter(pk__in=carried, charged_year=year + 1).count() == len(carried)
    years = text(client.get(reverse("finance:fiscal_years")))
    assert "Clos le" in years


def test_fiscal_year_with_open_run_shows_the_runs(client, agreement, finance_officer):
    run = make_run(agreement, finance_officer)
    as_user(client, finance_officer)
    url = reverse("finance:fiscal_year_close", args=[run.fiscal_year])
    page = text(client.get(url))
    assert run.reference in page and "open-runs" in page
    response = client.post(url + "?preset=carry", {"default": "carry"})
    assert response.status_code == 400
    assert run.reference in text(response)


# --------------------------------------------------------------------------- recoveries


@pytest.fixture
def recovery(agreement, instructor):
    year = agreement.first_year
    return services_changes.recovery_issue(
        actor=instructor,
        agreement=agreement,
        fiscal_year=year,
        unspent=Decimal("1000.00"),
        reason="Action non réalisée",
    )


def test_recoveries_collect_and_offset(client, agreement, recovery, finance_officer, instructor):
    as_user(client, finance_officer)
    page = client.get(reverse("finance:recoveries"))
    assert page.context["totals"][0]["state"] == RecoveryState.ISSUED
    assert page.context["totals"][0]["amount"] == recovery.amount
    candidates = page.context["rows"][0]["candidates"]
    assert candidates
    target = candidates[0]
    before = target.amount
    response = client.post(
        reverse("finance:recovery_action", args=[recovery.pk, "offset"]),
        {f"offset-{recovery.pk}-instalment": target.pk},
    )
    assert response.status_code == 302
    assert Recovery.objects.get(pk=recovery.pk).state == RecoveryState.OFFSET
    assert Instalment.objects.get(pk=target.pk).amount == before - recovery.amount
    offset_page = client.get(reverse("finance:recoveries") + "?etat=offset")
    assert [r["recovery"].pk for r in offset_page.context["rows"]] == [recovery.pk]

    second = services_changes.recovery_issue(
        actor=instructor,
        agreement=agreement,
        fiscal_year=agreement.first_year,
        unspent=Decimal("500.00"),
        reason="Reliquat",
    )
    response = client.post(reverse("finance:recovery_action", args=[second.pk, "collect"]))
    assert response.status_code == 302
    assert Recovery.objects.get(pk=second.pk).state == RecoveryState.COLLECTED


def test_recovery_offset_refusal_is_a_message(client, agreement, recovery, finance_officer):
    as_user(client, finance_officer)
    paid_or_earlier = agreement.instalments.filter(year__fiscal_year=recovery.fiscal_year).first()
    response = client.post(
        reverse("finance:recovery_action", args=[recovery.pk, "offset"]),
        {f"offset-{recovery.pk}-instalment": paid_or_earlier.pk},
    )
    assert response.status_code == 400
    assert "exercice ultérieur" in text(response)
    assert Recovery.objects.get(pk=recovery.pk).state == RecoveryState.ISSUED


def test_auditor_cannot_collect(client, recovery, auditor):
    as_user(client, auditor)
    content = text(client.get(reverse("finance:recoveries")))
    assert f"collect-{recovery.pk}" not in content
    response = client.post(reverse("finance:recovery_action", args=[recovery.pk, "collect"]))
    assert response.status_code == 403
    assert Recovery.objects.get(pk=recovery.pk).state == RecoveryState.ISSUED


@override_settings(PAYMENT_RUN_SECOND_APPROVAL_ABOVE="1000.00")
def test_large_run_needs_two_approvers_through_the_page(
    client, agreement, finance_officer, second_officer
):
    third = UserFactory(email="comptable3@ville.example.org")
    give_role(third, Role.FINANCE_OFFICER)
    run = make_run(agreement, finance_officer)
    assert run.approvals_required == 2
    url = reverse("finance:run_action", args=[run.pk, "approve"])
    as_user(client, second_officer)
    response = client.post(url, follow=True)
    assert "attend une seconde validation" in text(response)
    assert PaymentRun.objects.get(pk=run.pk).state == RS.DRAFT
    page = text(client.get(reverse("finance:run_detail", args=[run.pk])))
    assert "Vous avez déjà validé ce lot" in page and "approve-button" not in page
    as_user(client, third)
    client.post(url)
    run = PaymentRun.objects.get(pk=run.pk)
    assert run.state == RS.APPROVED
    page = client.get(reverse("finance:run_detail", args=[run.pk]))
    assert page.context["valid_approvals"] == 2
    assert "export-form" in text(page)


def test_who_changed_the_bank_details_is_told_why(
    client, agreement, finance_officer, second_officer
):
    run = make_run(agreement, finance_officer)
    type(agreement.organisation).objects.filter(pk=agreement.organisation_id).update(
        bank_details_changed_by=second_officer
    )
    as_user(client, second_officer)
    page = text(client.get(reverse("finance:run_detail", args=[run.pk])))
    assert "Vous avez modifié les coordonnées bancaires" in page
    response = client.post(reverse("finance:run_action", args=[run.pk, "approve"]))
    assert response.status_code == 403
    assert PaymentRun.objects.get(pk=run.pk).state == RS.DRAFT


def test_run_in_a_closed_year_is_refused_next_to_the_field(client, agreement, finance_officer):
    year = today().year
    FiscalYear.objects.create(year=year, closed_at=now(), closed_by=finance_officer)
    as_user(client, finance_officer)
    response = client.post(
        reverse("finance:instalments"),
        {"action": "run_selected", "instalment": due_ids(agreement), "fiscal_year": year},
    )
    assert response.status_code == 400
    assert "est clos" in response.context["run_form"].errors["fiscal_year"][0]
    assert not PaymentRun.objects.exists()


def test_closing_a_closed_year_again_is_refused(client, finance_officer):
    year = today().year - 3
    services_finance.fiscal_year_close(actor=finance_officer, year=year, note="Fait")
    as_user(client, finance_officer)
    url = reverse("finance:fiscal_year_close", args=[year])
    assert "closed-note" in text(client.get(url))
    response = client.post(url, {"default": "carry"})
    assert response.status_code == 409
    assert "déjà clos" in text(response)


@time_machine.travel(datetime.datetime(2026, 6, 15, 10, tzinfo=datetime.UTC), tick=False)
def test_dashboard_figures_and_what_if(client, finance_officer, auditor):
    from .test_finance_selectors import build_dataset

    data = build_dataset()
    as_user(client, auditor)
    url = reverse("finance:dashboard") + f"?exercice=2026&simuler={data['g5'].pk}"
    response = client.get(url)
    assert response.status_code == 200
    forecast = response.context["forecast"]
    assert forecast["chosen"] == [data["g5"].pk]
    rows = {r["year"]: r for r in forecast["rows"]}
    assert rows[2026]["what_if"] == Decimal("12000.00")
    assert rows[2027]["what_if"] == Decimal("12000.00")
    paid = response.context["paid"]
    assert paid["year"] == 2026 and paid["total"] == Decimal("37000.00")
    content = text(response)
    assert "Simulation : conventions non signées" in content
    assert 'id="what-if-form"' in content
    cards = response.context["cards"]
    assert cards["paid_this_year"] == {"count": 4, "amount": Decimal("37000.00")}
    assert cards["due_this_month"] == {"count": 2, "amount": Decimal("12000.00")}
    assert "37 000,00" in content.replace("\u202f", " ").replace("\xa0", " ")


def test_pages_meet_the_accessibility_basics(
    client, agreement, recovery, finance_officer, second_officer, auditor
):
    """One <h1>, a language, a label for every field, scoped header cells, no external asset —
    the checks of tests/test_accessibility_pages.py, on every finance page with data."""
    from tests.test_accessibility_pages import audit

    run = make_run(agreement, finance_officer)
    confirmation = PaymentConfirmation.objects.create(
        original_name="r.csv",
        sha256="0",
        state=PaymentConfirmation.State.INVALID,
        report={
            "counts": {"lines": 1, "paid": 0, "rejected": 0, "unchanged": 0},
            "errors": [{"line": 2, "column": "statut", "value": "x", "message": "Statut inconnu"}],
            "error_count": 1,
        },
    )
    urls = [
        reverse("finance:dashboard"),
        reverse("finance:instalments") + "?state=all",
        reverse("finance:runs"),
        reverse("finance:run_detail", args=[run.pk]),
        reverse("finance:confirmations"),
        reverse("finance:confirmation_detail", args=[confirmation.pk]),
        reverse("finance:fiscal_years"),
        reverse("finance:fiscal_year_close", args=[today().year]),
        reverse("finance:recoveries"),
    ]
    problems = []
    for user in (finance_officer, auditor):
        as_user(client, user)
        for url in urls:
            problems += audit(client, url)
    assert problems == []


def test_dashboard_reads_in_few_queries(client, agreement, finance_officer, instructor):
    from .test_finance_selectors import build_dataset

    as_user(client, finance_officer)
    client.get(reverse("finance:dashboard"))  # warm the caches
    with CaptureQueriesContext(connection) as small:
        client.get(reverse("finance:dashboard"))
    build_dataset()
    cpo_awaiting_evaluation(instructor=instructor)
    with CaptureQueriesContext(connection) as large:
        client.get(reverse("finance:dashboard"))
    assert len(large.captured_queries) == len(small.captured_queries) <= 20
