"""Retention rules of the grants app (grants.privacy) beyond drafts: the attachments of files closed
without funding, and resident panels (open ballots unlinked, residents anonymised, the register of
voters and the results kept; a secret ballot never linked to anyone)."""

from __future__ import annotations

import datetime
import os

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from calls.models import Call, CallState, Panel
from core.clock import now
from core.models import AuditLog, User
from core.privacy.services import retention_apply
from grants.models import Application, ApplicationAttachment, ApplicationState

from .. import factories as f
from .test_solutions import T0, setup, vote  # noqa: F401

pytestmark = pytest.mark.django_db


def closed_file(state: str, decided_days_ago: int) -> tuple[Application, ApplicationAttachment]:
    app = f.ApplicationFactory()
    attachment = ApplicationAttachment.objects.create(
        application=app,
        title="Lettre de soutien",
        file=SimpleUploadedFile("lettre.pdf", b"%PDF-1.4 Mme Benali, 12 rue des Lilas"),
        original_name="lettre.pdf",
    )
    decided = now() - datetime.timedelta(days=decided_days_ago)
    Application.objects.filter(pk=app.pk).update(
        state=state, decided_at=decided, decision_reason="Hors critères", updated_at=decided
    )
    return Application.objects.get(pk=app.pk), attachment


def test_attachments_of_refused_and_withdrawn_files_are_deleted_past_the_term():
    refused, old_letter = closed_file(ApplicationState.REJECTED, 3 * 365)
    withdrawn, withdrawn_letter = closed_file(ApplicationState.WITHDRAWN, 3 * 365)
    recent, recent_letter = closed_file(ApplicationState.REJECTED, 300)
    approved, approved_letter = closed_file(ApplicationState.APPROVED, 3 * 365)
    path = old_letter.file.path

    run = retention_apply()

    assert not ApplicationAttachment.objects.filter(pk__in=[old_letter.pk, withdrawn_letter.pk])
    assert not os.path.exists(path)
    assert (
        ApplicationAttachment.objects.filter(pk__in=[recent_letter.pk, approved_letter.pk]).count()
        == 2
    )
    # The file and its decision stay.
    kept = Application.objects.get(pk=refused.pk)
    assert kept.state == ApplicationState.REJECTED and kept.decision_reason == "Hors critères"
    assert kept.requested_amount == refused.requested_amount
    assert run.results["grants.closed_files"] == {"action": "delete", "count": 2}
    rows = AuditLog.objects.filter(
        action="core.retention.deleted", payload__rule="grants.closed_files"
    )
    assert {r.object_id for r in rows} == {str(refused.pk), str(withdrawn.pk)}
    assert retention_apply().results["grants.closed_files"]["count"] == 0


def test_open_ballots_are_unlinked_and_residents_anonymised_a_year_after_the_vote(setup):  # noqa: F811
    from grants.solutions.models import Ballot, BallotChoice

    Panel.objects.filter(pk=setup["panel"].pk).update(secret_ballot=False)
    with time_machine.travel(T0 + datetime.timedelta(days=1)):
        vote(setup, 0, "A")
        vote(setup, 1, "AB")
    Call.objects.filter(pk=setup["call"].pk).update(state=CallState.DECIDED)
    assert BallotChoice.objects.filter(ballot__isnull=False).count() == 3
    results = list(
        BallotChoice.objects.order_by("application_id").values_list("application_id", "paper")
    )
    voters = setup["members"]

    with time_machine.travel(T0 + datetime.timedelta(days=200)):
        early = retention_apply()
    assert early.results["grants.panels"]["count"] == 0  # within the year: kept
    assert BallotChoice.objects.filter(ballot__isnull=False).count() == 3

    with time_machine.travel(T0 + datetime.timedelta(days=400)):
        run = retention_apply()

    assert not BallotChoice.objects.filter(ballot__isnull=False).exists()
    # The papers, the results and the register of voters stay (participation, quorum).
    assert (
        list(BallotChoice.objects.order_by("application_id").values_list("application_id", "paper"))
        == results
    )
    assert Ballot.objects.count() == 2
    for member in voters:
        person = User.objects.get(pk=member.pk)
        assert person.email.endswith("@anonyme.invalid") and not person.last_name
    assert run.results["grants.panels"]["count"] == 3 + len(voters)
    row = AuditLog.objects.get(action="core.retention.anonymised", object_id=str(setup["call"].pk))
    assert row.payload == {"rule": "grants.panels", "choices_unlinked": 3}


def test_a_resident_on_a_current_panel_or_with_an_organisation_is_kept(
    setup,  # noqa: F811
    organisation,
    manager,
):
    from calls.services import panel_add_member, panel_configure

    Call.objects.filter(pk=setup["call"].pk).update(state=CallState.DECIDED)
    member_of_org, seated_again, resident = setup["members"][:3]
    f.add_member(member_of_org, organisation)
    panel = panel_configure(
        actor=manager,
        call=f.solutions_call(),
        quorum=1,
        voting_opens_at=T0 + datetime.timedelta(days=390),
        voting_closes_at=T0 + datetime.timedelta(days=420),
    )
    panel_add_member(actor=manager, panel=panel, user=seated_again, college="residents")
    with time_machine.travel(T0 + datetime.timedelta(days=400)):
        retention_apply()
    assert User.objects.get(pk=member_of_org.pk).email == member_of_org.email
    assert User.objects.get(pk=seated_again.pk).email == seated_again.email
    assert User.objects.get(pk=resident.pk).email.endswith("@anonyme.invalid")
