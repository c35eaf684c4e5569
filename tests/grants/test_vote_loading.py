"""A vote held outside Pluriel, loaded from a pabulib `.pb` file into a real call for solutions:
projects become (or are matched to) the call's candidate actions, voters and ballots are recorded,
and the allocation, the publication and the `.pb` export then work as for a vote held in Pluriel."""

from __future__ import annotations

import datetime
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from calls.services import panel_add_member, panel_configure
from core.errors import DomainError, PermissionDenied, TransitionNotAllowed
from core.models import AuditLog
from grants.models import Application, Ballot, BallotChoice, VoteImport
from grants.models import ApplicationState as S
from grants.solutions import pabulib
from grants.solutions import services as svc
from grants.solutions.vote_loading import (
    Target,
    proposed_targets,
    vote_load_apply,
    vote_load_check,
)

from .. import factories as f

pytestmark = pytest.mark.django_db

DATA = Path(__file__).parent / "data"
T0 = datetime.datetime(2026, 4, 1, 9, tzinfo=datetime.UTC)
AFTER = T0 + datetime.timedelta(days=10)


def upload(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, (DATA / name).read_bytes(), content_type="text/plain")


def a_call(manager, election: pabulib.Election, *, secret: bool = True, closes=None):
    call = f.solutions_call(envelope=election.budget)
    panel_configure(
        actor=manager,
        call=call,
        quorum=1,
        voting_opens_at=T0,
        voting_closes_at=closes or T0 + datetime.timedelta(days=7),
        secret_ballot=secret,
    )
    return call


def every_project_to(organisation, election) -> dict[str, Target]:
    return {p.id: Target(siret=organisation.siret) for p in election.projects}


def test_a_real_vote_loads_and_allocates_as_the_file_says(manager):
    """Toulouse 2022, Mirail (pabulib: 93 voters, 10 projects): after loading, the call's tally,
    both rules and the `.pb` export give back the file's vote."""
    election = pabulib.read_pb((DATA / "toulouse_2022_mirail.pb").read_text())
    call = a_call(manager, election)
    carrier = f.OrganisationFactory()
    with time_machine.travel(AFTER):
        vote_import = vote_load_check(
            actor=manager, call=call, upload=upload("toulouse_2022_mirail.pb")
        )
        assert Ballot.objects.filter(call=call).count() == 0  # checking writes no ballot
        vote_load_apply(
            actor=manager, vote_import=vote_import, targets=every_project_to(carrier, election)
        )
        run = svc.allocation_compute(actor=manager, call=call)

    vote_import.refresh_from_db()
    assert vote_import.state == VoteImport.State.APPLIED
    assert vote_import.result["voters"] == 93 and vote_import.result["created"] == 10
    # Each project became a candidate action in committee, carried by the organisation.
    applications = list(Application.objects.filter(call=call).order_by("pk"))
    assert [a.state for a in applications] == [S.IN_COMMITTEE] * 10
    assert {a.organisation_id for a in applications} == {carrier.pk}
    project_of = {
        int(row.object_id): row.payload["project"]
        for row in AuditLog.objects.filter(action="grants.application.loaded_from_vote")
    }
    assert len(project_of) == 10
    application_of = {pid: pk for pk, pid in project_of.items()}

    # The tally counts the file's votes for each project.
    file_votes = Counter(pid for ballot in election.ballots.values() for pid in ballot)
    assert run.tally["voters"] == 93 and run.tally["members"] == 93
    assert run.tally["votes"] == {
        str(application_of[p.id]): file_votes[p.id] for p in election.projects
    }
    # Both rules select what they select on the file itself.
    what_if = svc.election_what_if((DATA / "toulouse_2022_mirail.pb").read_text())
    assert run.greedy_selection == [
        str(application_of[row["id"]]) for row in what_if["greedy"]["selected"]
    ]
    assert run.equal_shares_selection == [
        str(application_of[row["id"]]) for row in what_if["equal_shares"]["selected"]
    ]
    # The export gives back the same ballots (as sets of project names).
    exported = pabulib.read_pb(pabulib.write_pb(svc.election_for_call(call)))
    names = {p.id: p.fields["name"] for p in election.projects}
    exported_names = {p.id: p.fields["name"] for p in exported.projects}
    assert Counter(frozenset(names[i] for i in b) for b in election.ballots.values()) == Counter(
        frozenset(exported_names[i] for i in b) for b in exported.ballots.values()
    )
    assert AuditLog.objects.filter(action="grants.solutions.vote_loaded").count() == 1


def test_projects_match_the_calls_candidates_and_every_problem_is_named(manager):
    election = pabulib.read_pb((DATA / "quartier_nord_2026.pb").read_text())
    call = a_call(manager, election)
    # Two of the eight projects already are candidate actions of the call (same title and cost).
    existing = {}
    for project in election.projects[:2]:
        app = f.ApplicationFactory(
            call=call, title=project.fields["name"], requested_amount=project.cost
        )
        Application.objects.filter(pk=app.pk).update(state=S.IN_COMMITTEE)
        existing[project.id] = app.pk
    cheaper = f.ApplicationFactory(call=call, title="Autre", requested_amount=Decimal("1.00"))
    Application.objects.filter(pk=cheaper.pk).update(state=S.IN_COMMITTEE)
    carrier = f.OrganisationFactory()
    with time_machine.travel(AFTER):
        vote_import = vote_load_check(
            actor=manager, call=call, upload=upload("quartier_nord_2026.pb")
        )
        rows = proposed_targets(vote_import)
        assert [r["application"].pk if r["application"] else None for r in rows[:3]] == [
            existing["1"],
            existing["2"],
            None,
        ]
        targets = {p.id: Target(siret=carrier.siret) for p in election.projects[2:]}
        targets["1"] = Target(application_id=existing["1"])
        targets["2"] = Target(application_id=cheaper.pk)  # cost differs from the file's
        targets["3"] = Target(siret="12345678901234")  # nobody has this SIRET
        del targets["4"]  # nothing said
        with pytest.raises(DomainError) as exc:
            vote_load_apply(actor=manager, vote_import=vote_import, targets=targets)
        assert set(exc.value.errors) == {"2", "3", "4"}
        assert "1.00" in exc.value.errors["2"][0] and "12500" in exc.value.errors["2"][0]
        assert "12345678901234" in exc.value.errors["3"][0]
        # Nothing was written.
        assert Ballot.objects.filter(call=call).count() == 0
        assert Application.objects.filter(call=call).count() == 3
        vote_import.refresh_from_db()
        assert vote_import.state == VoteImport.State.CHECKED

        targets["2"] = Target(application_id=existing["2"])
        targets["3"] = targets["4"] = Target(siret=carrier.siret)
        vote_load_apply(actor=manager, vote_import=vote_import, targets=targets)
        with pytest.raises(TransitionNotAllowed):  # once only
            vote_load_apply(actor=manager, vote_import=vote_import, targets=targets)
    assert Application.objects.filter(call=call).count() == 3 + 6
    assert Ballot.objects.filter(call=call).count() == 24
    assert BallotChoice.objects.filter(call=call, application_id=existing["1"]).count() == 13


def test_a_secret_ballot_keeps_choices_apart_from_voters_and_stores_no_voter_details(manager):
    election = pabulib.read_pb((DATA / "quartier_nord_2026.pb").read_text())
    secret, open_ = a_call(manager, election), a_call(manager, election, secret=False)
    carrier = f.OrganisationFactory()
    with time_machine.travel(AFTER):
        for call in (secret, open_):
            vote_import = vote_load_check(
                actor=manager, call=call, upload=upload("quartier_nord_2026.pb")
            )
            vote_load_apply(
                actor=manager, vote_import=vote_import, targets=every_project_to(carrier, election)
            )
    assert not BallotChoice.objects.filter(call=secret, ballot__isnull=False).exists()
    assert not BallotChoice.objects.filter(call=open_, ballot__isnull=True).exists()
    ballot = Ballot.objects.filter(call=open_).order_by("pk").first()
    assert ballot.member is None and ballot.voter_ref == "1"
    assert ballot.choices.count() == 4  # voter 1 approved 1,2,4,7
    # The file's other columns (age, sex, voting method) are not kept anywhere.
    assert "16-25" not in str(VoteImport.objects.filter(call=open_).values().first())


def test_an_online_vote_still_to_come_is_closed_by_loading(manager):
    election = pabulib.read_pb((DATA / "quartier_nord_2026.pb").read_text())
    call = a_call(manager, election, closes=T0 + datetime.timedelta(days=30))
    carrier = f.OrganisationFactory()
    with time_machine.travel(T0 + datetime.timedelta(days=2)):
        vote_import = vote_load_check(
            actor=manager, call=call, upload=upload("quartier_nord_2026.pb")
        )
        vote_load_apply(
            actor=manager, vote_import=vote_import, targets=every_project_to(carrier, election)
        )
        call.panel.refresh_from_db()
        assert call.panel.voting_closes_at <= datetime.datetime.now(datetime.UTC)
        svc.allocation_compute(actor=manager, call=call)  # the vote is closed: it can be counted
    vote_import.refresh_from_db()
    assert vote_import.result["online_vote_closed"]["closes"].startswith("2026-05-01")


def test_loading_is_refused_with_the_reason(manager, applicant):
    election = pabulib.read_pb((DATA / "quartier_nord_2026.pb").read_text())
    call = a_call(manager, election)
    with pytest.raises(PermissionDenied):
        vote_load_check(actor=applicant, call=call, upload=upload("quartier_nord_2026.pb"))
    # A call that is not a call for solutions.
    with pytest.raises(DomainError):
        vote_load_check(actor=manager, call=f.CallFactory(), upload=upload("quartier_nord_2026.pb"))
    # A file that is not a pabulib approval vote: every error by line.
    text = (DATA / "quartier_nord_2026.pb").read_text().replace("approval", "ordinal")
    bad = SimpleUploadedFile("x.pb", text.encode())
    with pytest.raises(DomainError) as exc:
        vote_load_check(actor=manager, call=call, upload=bad)
    assert any("ordinal" in m for m in exc.value.errors["file"])
    with pytest.raises(DomainError):
        vote_load_check(actor=manager, call=call, upload=SimpleUploadedFile("x.pb", b"\xff\xfe"))
    # Ballots already cast online: a loaded vote does not mix with them.
    member = f.UserFactory()
    panel_add_member(actor=manager, panel=call.panel, user=member, college="residents")
    app = f.ApplicationFactory(call=call)
    Application.objects.filter(pk=app.pk).update(state=S.IN_COMMITTEE)
    with time_machine.travel(T0 + datetime.timedelta(days=1)):
        svc.ballot_cast(actor=member, call=call, approvals=[app.pk])
    with pytest.raises(TransitionNotAllowed):
        vote_load_check(actor=manager, call=call, upload=upload("quartier_nord_2026.pb"))
    assert not VoteImport.objects.filter(call=call).exists()


def test_the_pages_check_then_load(client, manager, applicant):
    election = pabulib.read_pb((DATA / "quartier_nord_2026.pb").read_text())
    call = a_call(manager, election)
    carrier = f.OrganisationFactory()
    url = reverse("solutions:vote_load", args=[call.pk])
    client.force_login(applicant)
    assert client.get(url).status_code in (403, 404)
    client.force_login(manager)
    with time_machine.travel(AFTER):
        response = client.post(url, {"file": upload("quartier_nord_2026.pb")})
        assert response.status_code == 302
        map_url = response["Location"]
        page = client.get(map_url)
        assert page.status_code == 200 and "24 votant·es" in page.content.decode()
        data = {f"siret_{i}": carrier.siret for i in range(8)}
        data["siret_3"] = "not a siret"
        page = client.post(map_url, data)
        assert page.status_code == 400 and "not a siret" in page.content.decode()
        assert not Ballot.objects.filter(call=call).exists()
        data["siret_3"] = carrier.siret
        response = client.post(map_url, data)
        assert response.status_code == 302
        assert response["Location"] == reverse("solutions:results", args=[call.pk])
    assert Ballot.objects.filter(call=call).count() == 24
    bad = client.post(url, {"file": SimpleUploadedFile("x.pb", b"rien")})
    assert bad.status_code == 409  # ballots exist now
