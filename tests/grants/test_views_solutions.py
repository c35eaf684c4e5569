"""Pages of the call for solutions: residents' proposals, moderation, panel set-up, voting, the
results workspace (compute, compare, decide, publish), the public results and pabulib files."""

from __future__ import annotations

import datetime
import html
import re
from decimal import Decimal

import pytest
import time_machine
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from calls.models import Challenge, Panel, PanelMember
from calls.services import challenge_record, panel_add_member, panel_configure
from core.models import AuditLog, Invitation, Role
from grants.models import AllocationRun, Application, Ballot, BallotChoice
from grants.models import ApplicationState as S
from grants.solutions import pabulib

from .. import factories as f

pytestmark = pytest.mark.django_db

T0 = datetime.datetime(2026, 4, 1, 9, tzinfo=datetime.UTC)
DURING = T0 + datetime.timedelta(days=1)
AFTER = T0 + datetime.timedelta(days=8)


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def setup(manager):
    """A call for solutions of 10 000 €, four actions in committee, five panel members, quorum 3,
    voting 1–8 April 2026 (secret ballot)."""
    call = f.solutions_call(envelope=Decimal("10000.00"))
    qpv = f.QPVFactory(name="Frais Vallon")
    challenge = challenge_record(
        actor=manager,
        call=call,
        qpv=qpv,
        title="Plus de cafards",
        description="Traitement des immeubles",
    )
    panel = panel_configure(
        actor=manager,
        call=call,
        quorum=3,
        voting_opens_at=T0,
        voting_closes_at=T0 + datetime.timedelta(days=7),
    )
    members = [
        f.UserFactory(
            email=f"habitant{i}@quartier.example.org", first_name="Habitant", last_name=f"N{i}"
        )
        for i in range(5)
    ]
    for user in members:
        panel_add_member(actor=manager, panel=panel, user=user, college="citizen_council")
    apps = {}
    for name, cost in {"A": "6000.00", "B": "4000.00", "C": "5000.00", "D": "5000.00"}.items():
        app = f.ApplicationFactory(
            call=call, title=f"Action {name}", requested_amount=Decimal(cost)
        )
        Application.objects.filter(pk=app.pk).update(state=S.IN_COMMITTEE, challenge=challenge)
        apps[name] = Application.objects.get(pk=app.pk)
    return {
        "call": call,
        "panel": panel,
        "members": members,
        "apps": apps,
        "challenge": challenge,
        "qpv": qpv,
    }


def text(response) -> str:
    """The page as text, French thousands separators (no-break spaces) as plain spaces."""
    return html.unescape(response.content.decode()).replace("\xa0", " ").replace("\u202f", " ")


def url(name: str, call, **kwargs) -> str:
    return reverse(f"solutions:{name}", kwargs={"call_id": call.pk, **kwargs})


def web_vote(client, setup, who: int, names: str):
    client.force_login(setup["members"][who])
    ids = [setup["apps"][n].pk for n in names]
    review = client.post(url("vote", setup["call"]), {"approvals": ids, "action": "review"})
    assert review.status_code == 200 and "Vérifiez votre vote" in review.content.decode()
    return client.post(url("vote", setup["call"]), {"approvals": ids, "action": "confirm"})


# --------------------------------------------------------------------------- public proposals


def test_a_resident_proposes_without_an_account_and_is_thanked(client, setup):
    call, qpv = setup["call"], setup["qpv"]
    page = client.get(url("challenge_propose", call))
    assert page.status_code == 200 and 'name="website"' in page.content.decode()
    data = {
        "name": "Mme Benali",
        "email": "benali@example.org",
        "qpv": qpv.pk,
        "title": "Des jardins partagés",
        "description": "Les enfants n'ont aucun espace vert.",
    }
    response = client.post(url("challenge_propose", call), data)
    assert response.status_code == 302 and response.url == url("challenge_thanks", call)
    challenge = Challenge.objects.get(title="Des jardins partagés")
    assert (
        challenge.state == Challenge.State.PROPOSED
        and challenge.proposer_email == "benali@example.org"
    )
    assert "Merci" in client.get(response.url).content.decode()


def test_proposal_errors_keep_the_input_and_the_honeypot_keeps_nothing(client, setup):
    call = setup["call"]
    response = client.post(
        url("challenge_propose", call), {"name": "Mme Benali", "title": "", "description": ""}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert 'value="Mme Benali"' in body and "aria-describedby" in body
    robot = client.post(
        url("challenge_propose", call),
        {
            "name": "Bot",
            "qpv": setup["qpv"].pk,
            "title": "Spam",
            "description": "Spam",
            "website": "http://spam",
        },
    )
    assert robot.status_code == 302
    assert not Challenge.objects.filter(title="Spam").exists()


def test_proposals_are_rate_limited_per_address(client, setup):
    data = {"name": "X", "qpv": setup["qpv"].pk, "title": "T", "description": "D"}
    for _ in range(10):
        assert client.post(url("challenge_propose", setup["call"]), data).status_code == 302
    assert client.post(url("challenge_propose", setup["call"]), data).status_code == 429


def test_proposals_on_a_project_call_or_a_draft_are_404(client, manager):
    assert (
        client.get(
            reverse("solutions:challenge_propose", kwargs={"call_id": f.CallFactory().pk})
        ).status_code
        == 404
    )
    draft = f.solutions_call(state="draft")
    assert client.get(url("challenge_propose", draft)).status_code == 404


def test_call_page_shows_retained_challenges_and_the_proposal_link_but_no_email(client, setup):
    Challenge.objects.create(
        call=setup["call"],
        qpv=setup["qpv"],
        title="Proposition cachée",
        description="x",
        source="public",
        proposer_name="Mme Benali",
        proposer_email="secret@example.org",
    )
    body = client.get(reverse("calls:call_detail", args=[setup["call"].pk])).content.decode()
    assert "Plus de cafards" in body and url("challenge_propose", setup["call"]) in body
    assert "Proposition cachée" not in body and "secret@example.org" not in body
    hub = client.get(url("hub", setup["call"])).content.decode()
    assert "Plus de cafards" in hub and "secret@example.org" not in hub


# --------------------------------------------------------------------------- moderation


@pytest.fixture
def proposal(setup):
    return Challenge.objects.create(
        call=setup["call"],
        qpv=setup["qpv"],
        title="Éclairage des halls",
        description="Les halls sont sombres",
        source="public",
        proposer_name="M. Diallo",
        proposer_email="diallo@example.org",
    )


def test_panel_members_moderate_with_a_note_to_set_aside(client, setup, proposal):
    client.force_login(setup["members"][0])
    page = client.get(url("challenge_list", setup["call"]))
    assert page.status_code == 200 and "Éclairage des halls" in page.content.decode()
    assert (
        "diallo@example.org" not in page.content.decode()
    )  # residents never see proposers' emails
    moderate = url("challenge_moderate", setup["call"], pk=proposal.pk)
    refused = client.post(
        moderate, {f"c{proposal.pk}-decision": "reject", f"c{proposal.pk}-note": ""}
    )
    assert refused.status_code == 400 and "Indiquez pourquoi" in refused.content.decode()
    ok = client.post(
        moderate, {f"c{proposal.pk}-decision": "reject", f"c{proposal.pk}-note": "Hors sujet"}
    )
    assert ok.status_code == 302
    proposal.refresh_from_db()
    assert proposal.state == Challenge.State.REJECTED and proposal.moderation_note == "Hors sujet"


def test_staff_record_a_challenge_and_see_emails(client, setup, manager, proposal):
    client.force_login(manager)
    assert "diallo@example.org" in client.get(url("challenge_list", setup["call"])).content.decode()
    response = client.post(
        url("challenge_list", setup["call"]),
        {
            "record-qpv": setup["qpv"].pk,
            "record-title": "Soutien scolaire",
            "record-description": "Après 17 h",
        },
    )
    assert response.status_code == 302
    assert Challenge.objects.get(title="Soutien scolaire").state == Challenge.State.APPROVED


def test_moderation_is_refused_to_others(client, setup, applicant, proposal):
    assert client.get(url("challenge_list", setup["call"])).status_code == 302  # login first
    client.force_login(applicant)
    assert client.get(url("challenge_list", setup["call"])).status_code == 403
    moderate = url("challenge_moderate", setup["call"], pk=proposal.pk)
    assert client.post(moderate, {f"c{proposal.pk}-decision": "approve"}).status_code == 403
    other_panel_member = f.UserFactory()
    f.give_role(other_panel_member, Role.PANEL_MEMBER)
    client.force_login(other_panel_member)
    assert client.get(url("challenge_list", setup["call"])).status_code == 403


# --------------------------------------------------------------------------- panel set-up


def test_manager_configures_the_panel_and_seats_or_invites_members(client, manager, mailoutbox):
    call = f.solutions_call()
    client.force_login(manager)
    bad = client.post(
        url("panel_manage", call),
        {
            "action": "configure",
            "panel-quorum": "3",
            "panel-voting_opens_at": "2026-04-08T09:00",
            "panel-voting_closes_at": "2026-04-01T09:00",
            "panel-ballot_kind": "approval",
            "panel-max_score": "5",
        },
    )
    assert bad.status_code == 400 and "La clôture du vote doit suivre" in bad.content.decode()
    assert 'value="3"' in bad.content.decode()
    ok = client.post(
        url("panel_manage", call),
        {
            "action": "configure",
            "panel-quorum": "3",
            "panel-voting_opens_at": "2026-04-01T09:00",
            "panel-voting_closes_at": "2026-04-08T09:00",
            "panel-ballot_kind": "approval",
            "panel-max_score": "5",
            "panel-secret_ballot": "on",
        },
    )
    assert ok.status_code == 302
    panel = Panel.objects.get(call=call)
    assert panel.quorum == 3 and panel.secret_ballot
    resident = f.UserFactory(email="parent@ecole.example.org")
    seated = client.post(
        url("panel_manage", call),
        {
            "action": "add_member",
            "member-email": "PARENT@ecole.example.org",
            "member-college": "parents",
        },
    )
    assert seated.status_code == 302
    assert PanelMember.objects.get(panel=panel, user=resident).college == "parents"
    invited = client.post(
        url("panel_manage", call),
        {
            "action": "add_member",
            "member-email": "new@quartier.example.org",
            "member-college": "residents",
        },
    )
    assert invited.status_code == 302
    assert Invitation.objects.get(email="new@quartier.example.org").role == Role.PANEL_MEMBER
    page = client.get(url("panel_manage", call)).content.decode()
    assert "parent@ecole.example.org" in page and "new@quartier.example.org" in page


def test_panel_page_is_for_programme_managers_only(client, setup, instructor):
    client.force_login(setup["members"][0])
    assert client.get(url("panel_manage", setup["call"])).status_code == 403
    client.force_login(instructor)
    assert (
        client.post(url("panel_manage", setup["call"]), {"action": "configure"}).status_code == 403
    )


# --------------------------------------------------------------------------- voting


def test_voting_outside_the_phase_shows_the_dates(client, setup):
    client.force_login(setup["members"][0])
    with time_machine.travel(T0 - datetime.timedelta(hours=1)):
        page = client.get(url("vote", setup["call"]))
    body = page.content.decode()
    assert page.status_code == 200 and "01/04/2026" in body and "08/04/2026" in body
    assert 'id="ballot-form"' not in body
    with time_machine.travel(AFTER):
        late = client.post(
            url("vote", setup["call"]), {"approvals": [setup["apps"]["A"].pk], "action": "confirm"}
        )
    assert late.status_code == 409 and not Ballot.objects.exists()


def test_a_member_votes_once_after_confirming(client, setup):
    apps = setup["apps"]
    with time_machine.travel(DURING):
        client.force_login(setup["members"][0])
        page = text(client.get(url("vote", setup["call"])))
        assert (
            "Solution attendue : Plus de cafards" in page
            and "Action A" in page
            and "6 000,00" in page
        )
        review = client.post(
            url("vote", setup["call"]),
            {"approvals": [apps["A"].pk, apps["B"].pk], "action": "review"},
        )
        assert "Confirmer mon vote" in review.content.decode() and not Ballot.objects.exists()
        done = client.post(
            url("vote", setup["call"]),
            {"approvals": [apps["A"].pk, apps["B"].pk], "action": "confirm"},
        )
        assert done.status_code == 302
        again = client.get(url("vote", setup["call"])).content.decode()
        assert "Vous avez voté le" in again and 'id="ballot-form"' not in again
        second = client.post(
            url("vote", setup["call"]), {"approvals": [apps["C"].pk], "action": "confirm"}
        )
    assert second.status_code == 400
    assert Ballot.objects.count() == 1 and BallotChoice.objects.count() == 2


def test_the_vote_page_is_for_the_calls_panel_only(client, setup, applicant, manager):
    client.force_login(applicant)
    assert client.get(url("vote", setup["call"])).status_code == 403
    client.force_login(manager)
    assert client.get(url("vote", setup["call"])).status_code == 403
    client.logout()
    assert client.get(url("vote", setup["call"])).status_code == 302


def test_score_ballot_through_the_page(client, setup, manager):
    panel_configure(
        actor=manager,
        call=setup["call"],
        quorum=3,
        voting_opens_at=T0,
        voting_closes_at=T0 + datetime.timedelta(days=7),
        ballot_kind="score",
        score_criteria=["Utilité", "Faisabilité"],
        max_score=5,
    )
    a = setup["apps"]["A"]
    with time_machine.travel(DURING):
        client.force_login(setup["members"][0])
        bad = client.post(url("vote", setup["call"]), {f"score-{a.pk}-0": "9", "action": "review"})
        assert bad.status_code == 400 and "Les notes vont de 0 à 5" in bad.content.decode()
        client.post(
            url("vote", setup["call"]),
            {f"score-{a.pk}-0": "4", f"score-{a.pk}-1": "2", "action": "confirm"},
        )
    assert sorted(BallotChoice.objects.values_list("criterion", "score")) == [
        ("Faisabilité", 2),
        ("Utilité", 4),
    ]


# --------------------------------------------------------------------------- the whole path


def test_whole_path_configure_vote_compute_decide_publish_public_results(
    client, setup, manager, django_capture_on_commit_callbacks
):
    call, apps = setup["call"], setup["apps"]
    results = url("results", call)
    assert client.get(results).status_code == 404  # nothing public before publication
    with time_machine.travel(DURING):
        for who, names in ((0, "AC"), (1, "AC"), (2, "A"), (3, "BD"), (4, "BD")):
            assert web_vote(client, setup, who, names).status_code == 302
        client.force_login(manager)
        early = client.post(url("allocation_compute", call))
        assert early.status_code == 409 and "après la clôture du vote" in early.content.decode()
    with time_machine.travel(AFTER):
        client.force_login(manager)
        page = client.get(results).content.decode()
        assert "Calculer la répartition" in page and "5 / 5" in page
        with django_capture_on_commit_callbacks(execute=True):  # the job runs after commit
            computed = client.post(url("allocation_compute", call))
        assert computed.status_code == 302
        run = AllocationRun.objects.get(call=call)
        page = text(client.get(results))
        assert 'id="rule-greedy"' in page and 'id="rule-equal-shares"' in page
        # A paid by its 3 supporters, the same amount each: said once, not « de 2 000 € à 2 000 € ».
        assert "3 soutiens, 2 000,00 € chacun·e" in page and "à 2 000,00 € chacun" not in page
        # Plain words, no internal names; the per-voter share explained from the envelope.
        assert "add1_greedy" not in page and "la part de chaque votant·e est relevée" in page
        assert "÷ 5 votant·es =" in page and "Part de départ" in page
        decide = url("allocation_decide", call, run_id=run.pk)
        no_reason = client.post(
            decide,
            {"decide-rule": "override", "decide-selection": [apps["C"].pk], "decide-reason": ""},
        )
        assert no_reason.status_code == 400 and "Motif du choix" in no_reason.content.decode()
        over = client.post(
            decide,
            {
                "decide-rule": "override",
                "decide-selection": [apps["A"].pk, apps["C"].pk],
                "decide-reason": "Essai",
            },
        )
        assert over.status_code == 400 and "dépasse l'enveloppe" in text(over)
        ok = client.post(
            decide, {"decide-rule": "equal_shares", "decide-reason": "La règle votée par le panel"}
        )
        assert ok.status_code == 302
        assert "Publier les résultats" in client.get(results).content.decode()
        published = client.post(url("allocation_publish", call, run_id=run.pk))
        assert published.status_code == 302
    client.logout()
    page = client.get(results)
    body = text(page)
    assert page.status_code == 200
    assert "Méthode des parts égales" in body and "La règle votée par le panel" in body
    assert "5 votant·es sur 5 membres du panel (100 %)" in body and "10 000,00" in body
    assert 'id="decide-form"' not in body and "Calculer la répartition" not in body
    assert {n: Application.objects.get(pk=a.pk).state for n, a in apps.items()} == {
        "A": S.APPROVED,
        "B": S.APPROVED,
        "C": S.REJECTED,
        "D": S.REJECTED,
    }


def test_secret_ballot_never_shows_who_voted_what(
    client, setup, manager, django_capture_on_commit_callbacks
):
    with time_machine.travel(DURING):
        for who, names in ((0, "A"), (1, "A"), (2, "B")):
            web_vote(client, setup, who, names)
    assert not BallotChoice.objects.filter(ballot__isnull=False).exists()
    assert (
        AuditLog.objects.filter(action="grants.ballot.cast")
        .values_list("payload", flat=True)
        .distinct()
        .get()
        == {}
    )
    with time_machine.travel(AFTER):
        client.force_login(manager)
        with django_capture_on_commit_callbacks(execute=True):
            client.post(url("allocation_compute", setup["call"]))
        page = client.get(url("results", setup["call"])).content.decode()
        pb = client.get(url("export_pb", setup["call"])).content.decode()
    # The CSRF tokens are random letters: a short last name such as "N2" can appear in them.
    page = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", page)
    page = re.sub(r'value="[A-Za-z0-9]{64}"', "", page)
    for member in setup["members"]:
        assert member.email not in page and member.last_name not in page
        assert member.email not in pb and member.last_name not in pb


def test_compute_and_results_workspace_are_the_managers(client, setup, instructor):
    client.force_login(setup["members"][0])
    assert client.get(url("results", setup["call"])).status_code == 404
    assert client.post(url("allocation_compute", setup["call"])).status_code == 403
    client.force_login(instructor)
    assert client.get(url("export_pb", setup["call"])).status_code == 404


def test_quorum_not_reached_is_explained(client, setup, manager):
    with time_machine.travel(DURING):
        web_vote(client, setup, 0, "A")
    with time_machine.travel(AFTER):
        client.force_login(manager)
        response = client.post(url("allocation_compute", setup["call"]))
    assert response.status_code == 400 and "Le quorum n'est pas atteint" in text(response)


# --------------------------------------------------------------------------- pabulib


def test_pb_export_then_import_round_trip(
    client, setup, manager, django_capture_on_commit_callbacks
):
    with time_machine.travel(DURING):
        for who, names in ((0, "AC"), (1, "AC"), (2, "A"), (3, "BD"), (4, "BD")):
            web_vote(client, setup, who, names)
    with time_machine.travel(AFTER):
        client.force_login(manager)
        with django_capture_on_commit_callbacks(execute=True):
            client.post(url("allocation_compute", setup["call"]))
        response = client.get(url("export_pb", setup["call"]))
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    content = response.content.decode()
    election = pabulib.read_pb(content)
    apps = setup["apps"]
    assert election.budget == Decimal("10000.00") and len(election.ballots) == 5
    assert {p.id: p.fields["votes"] for p in election.projects}[str(apps["A"].pk)] == "3"
    assert election.meta["description"] == setup["call"].title
    client.force_login(manager)  # the session opened at the travelled date may have expired
    upload = SimpleUploadedFile("appel.pb", content.encode(), content_type="text/plain")
    page = client.post(reverse("solutions:import_pb"), {"file": upload})
    assert page.status_code == 200
    body = text(page)
    run = AllocationRun.objects.get()
    assert "Action A" in body and "Action B" in body
    assert AllocationRun.objects.count() == 1  # a what-if writes nothing
    assert body.count("10 000,00") >= 1 and run.greedy_selection == [
        str(apps["A"].pk),
        str(apps["B"].pk),
    ]


def test_pb_import_explains_malformed_files_with_line_numbers(client, manager, applicant):
    client.force_login(applicant)
    assert client.get(reverse("solutions:import_pb")).status_code == 403
    client.force_login(manager)
    bad = "META\nkey;value\nbudget;abc\nvote_type;approval\nPROJECTS\nproject_id;cost\n1;-5\nVOTES\nvoter_id;vote\n1;9\n"
    response = client.post(
        reverse("solutions:import_pb"),
        {"file": SimpleUploadedFile("bad.pb", bad.encode(), content_type="text/plain")},
    )
    body = response.content.decode()
    assert response.status_code == 400
    assert "Ligne 7" in body and "Ligne 10" in body


# --------------------------------------------------------------------------- the operator's file


def test_operator_picks_the_expected_solution_and_it_is_required(
    client, applicant, organisation, manager
):
    call = f.solutions_call()
    approved = challenge_record(
        actor=manager,
        call=call,
        qpv=f.QPVFactory(),
        title="Réussite scolaire",
        description="Grandes écoles",
    )
    Challenge.objects.create(
        call=call, qpv=approved.qpv, title="Pas encore modérée", description="x", source="public"
    )
    draft = f.ApplicationFactory(call=call, organisation=organisation)
    client.force_login(applicant)
    edit = reverse("grants:application_edit", args=[draft.pk])
    page = client.get(edit).content.decode()
    assert "Solution attendue à laquelle l&#x27;action répond" in page
    assert "Réussite scolaire" in page and "Pas encore modérée" not in page
    assert "Choisissez la solution attendue" in page  # pre-submission check
    form = {
        "title": draft.title,
        "summary": draft.summary,
        "start_date": "2026-01-01",
        "end_date": "2026-12-31",
        "qpvs": [q.pk for q in draft.qpvs.all()],
        "pillar": draft.pillar_id,
        "requested_amount": "10000",
        "objectives": "Réduire le décrochage",
        "challenge": approved.pk,
        **{f"{p}-TOTAL_FORMS": "0" for p in ("indicators", "charges", "products")},
        **{f"{p}-INITIAL_FORMS": "0" for p in ("indicators", "charges", "products")},
    }
    client.post(edit, form)
    assert Application.objects.get(pk=draft.pk).challenge == approved


class TestPanelEvaluation:
    """The panel is invited to the annual evaluation of the projects it chose, and rates them."""

    @pytest.fixture
    def chosen(self, db, manager):
        import datetime as dt
        from decimal import Decimal

        from calls.services import panel_add_member, panel_configure
        from grants.models import Application, ApplicationState

        call = f.solutions_call()
        panel = panel_configure(
            actor=manager,
            call=call,
            quorum=1,
            voting_opens_at=timezone.now() - dt.timedelta(days=10),
            voting_closes_at=timezone.now() - dt.timedelta(days=1),
        )
        resident = f.UserFactory(email="residente@quartier.example.org")
        panel_add_member(actor=manager, panel=panel, user=resident, college="residents")
        app = f.ApplicationFactory(call=call, title="Soutien scolaire renforcé")
        Application.objects.filter(pk=app.pk).update(
            state=ApplicationState.APPROVED, approved_amount=Decimal("1000")
        )
        return call, resident, app

    def test_invite_rate_and_see_the_count(self, client, chosen, manager, applicant):
        from core.models import Notification
        from grants.models import PanelAssessment

        call, resident, app = chosen
        url = f"/appels-a-solutions/{call.pk}/evaluation/2026/"
        client.force_login(applicant)
        assert client.get(url).status_code == 403
        client.force_login(manager)
        assert client.post(url, {"action": "invite"}).status_code == 302
        assert Notification.objects.filter(user=resident, url=url).exists()
        client.force_login(resident)
        page = client.get(url)
        assert page.status_code == 200 and "Soutien scolaire renforcé" in page.content.decode()
        bad = client.post(url, {"application": app.pk, f"a{app.pk}-rating": "nope"})
        assert bad.status_code == 400
        ok = client.post(
            url,
            {"application": app.pk, f"a{app.pk}-rating": "meets", f"a{app.pk}-comment": "Utile"},
        )
        assert ok.status_code == 302
        row = PanelAssessment.objects.get(application=app, fiscal_year=2026)
        assert (row.rating, row.comment, row.member.user) == ("meets", "Utile", resident)
        client.force_login(manager)
        content = client.get(url).content.decode()
        assert "Utile" in content and "Conforme aux attentes" in content


def test_my_panels_lists_seats_with_the_vote_link(client, manager):
    import datetime as dt

    from calls.services import panel_add_member, panel_configure

    call = f.solutions_call(title="Appel à solutions — Frais Vallon")
    panel = panel_configure(
        actor=manager,
        call=call,
        quorum=1,
        voting_opens_at=timezone.now() - dt.timedelta(days=1),
        voting_closes_at=timezone.now() + dt.timedelta(days=5),
    )
    resident = f.UserFactory()
    panel_add_member(actor=manager, panel=panel, user=resident, college="parents")
    client.force_login(resident)
    page = client.get("/appels-a-solutions/mes-panels/").content.decode()
    assert "Appel à solutions — Frais Vallon" in page
    assert f"/appels-a-solutions/{call.pk}/vote/" in page
    assert "Mes panels" in client.get("/").content.decode()


# --------------------------------------------------------------------------- allocation job


def test_compute_is_a_background_job_with_progress(
    client, setup, manager, django_capture_on_commit_callbacks
):
    from core.models import BackgroundJob
    from grants.jobs_solutions import KIND, allocation_compute_start, allocation_job

    call = setup["call"]
    with time_machine.travel(DURING):
        for who, names in ((0, "AC"), (1, "AC"), (2, "A"), (3, "BD"), (4, "BD")):
            web_vote(client, setup, who, names)
    with time_machine.travel(AFTER):
        client.force_login(manager)
        # Without running the queued work: the request only starts the job.
        response = client.post(url("allocation_compute", call))
        assert response.status_code == 302
        job = allocation_job(call)
        assert job.state == BackgroundJob.State.QUEUED and job.params == {"call": call.pk}
        assert not AllocationRun.objects.filter(call=call).exists()
        # A second click while it waits does not start a second computation.
        again = allocation_compute_start(actor=manager, call=call)
        assert again.pk == job.pk
        assert BackgroundJob.objects.filter(kind=KIND).count() == 1
        page = client.get(url("results", call))
        assert 'id="computing"' in text(page) and 'http-equiv="refresh"' in text(page)
        assert 'id="compute-button"' not in text(page)
        BackgroundJob.objects.filter(pk=job.pk).update(
            state=BackgroundJob.State.RUNNING, progress_done=12
        )
        assert "12 tours de complétion" in text(client.get(url("results", call)))
        BackgroundJob.objects.filter(pk=job.pk).update(state=BackgroundJob.State.FAILED)
        # Failed: said so, and it can be started again; this time the job runs.
        page = text(client.get(url("results", call)))
        assert 'id="compute-failed"' in page and 'id="compute-button"' in page
        with django_capture_on_commit_callbacks(execute=True):
            client.post(url("allocation_compute", call))
        job = allocation_job(call)
        run = AllocationRun.objects.get(call=call)
        assert job.state == BackgroundJob.State.DONE and job.result == {
            "call": call.pk,
            "run": run.pk,
        }
        page = text(client.get(url("results", call)))
        assert 'id="rule-equal-shares"' in page and 'id="computing"' not in page


def test_compute_refused_before_queueing_and_at_run_time(
    client, setup, manager, django_capture_on_commit_callbacks
):
    from core.jobs import job_run
    from core.models import BackgroundJob
    from grants.jobs_solutions import allocation_job

    call = setup["call"]
    with time_machine.travel(DURING):
        for who in range(5):
            web_vote(client, setup, who, "A")
        client.force_login(manager)
        early = client.post(url("allocation_compute", call))
    assert early.status_code == 409 and allocation_job(call) is None
    with time_machine.travel(AFTER):
        client.force_login(manager)
        client.post(url("allocation_compute", call))  # queued, not run yet
        job = allocation_job(call)
    # The vote is reopened before the worker picks the job: refused with the reason, no 500.
    with time_machine.travel(DURING):
        job = job_run(job.pk)
    assert job.state == BackgroundJob.State.DONE
    assert "après la clôture du vote" in job.result["error"]
    assert not AllocationRun.objects.filter(call=call).exists()
    with time_machine.travel(AFTER):
        page = text(client.get(url("results", call)))
    assert 'id="compute-refused"' in page and "après la clôture du vote" in page
