"""Pages of the anti-call: who sees what, the whole path through the web forms, and errors shown in
French next to their field with the input kept."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from calls.models import Need
from core.models import AuditLog
from grants.anticall import services as svc
from grants.models import (
    Application,
    ApplicationState,
    Candidacy,
    CoachingEntry,
    PrototypeDeliverable,
)
from grants.models import CandidacyState as C
from tests import factories as f

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
STAFF_READERS = ["instructor", "committee_member", "manager", "auditor"]
OUTSIDERS = ["applicant", "other_applicant", "finance_officer", "panel_member"]


def login(client, user):
    client.force_login(user)
    return client


def fresh(candidacy):
    return Candidacy.objects.get(pk=candidacy.pk)


def put(candidacy, state):
    Candidacy.objects.filter(pk=candidacy.pk).update(state=state)
    return fresh(candidacy)


def detail_url(candidacy):
    return reverse("anticall:candidacy_detail", args=[candidacy.pk])


def action_url(candidacy, name):
    return reverse("anticall:candidacy_transition", args=[candidacy.pk, name])


@pytest.fixture
def anticall(db):
    return f.anti_call()


@pytest.fixture
def need(anticall):
    return f.published_need(call=anticall, title="Pas de lieu ouvert le soir pour les jeunes")


@pytest.fixture
def candidacy(need, instructor, organisation):
    return svc.candidacy_source(
        actor=instructor, need=need, organisation=organisation, why="Déjà active le soir"
    )


# --------------------------------------------------------------------------- who sees what


class TestAccess:
    def test_anonymous_is_sent_to_login(self, client, anticall, need, candidacy):
        for url in [
            reverse("anticall:anticall_list"),
            reverse("anticall:anticall_detail", args=[anticall.pk]),
            reverse("anticall:need_detail", args=[need.pk]),
            detail_url(candidacy),
            reverse("anticall:my_invitations"),
        ]:
            response = client.get(url)
            assert response.status_code == 302 and reverse("core:login") in response["Location"]

    @pytest.mark.parametrize("role", STAFF_READERS)
    def test_staff_read_every_anticall_page(self, client, request, role, anticall, need, candidacy):
        client = login(client, request.getfixturevalue(role))
        listing = client.get(reverse("anticall:anticall_list"))
        assert listing.status_code == 200 and anticall.title in listing.content.decode()
        page = client.get(reverse("anticall:anticall_detail", args=[anticall.pk]))
        assert page.status_code == 200 and need.title in page.content.decode()
        page = client.get(reverse("anticall:need_detail", args=[need.pk]))
        assert page.status_code == 200 and candidacy.display_name in page.content.decode()
        page = client.get(detail_url(candidacy))
        assert page.status_code == 200
        assert "Déjà active le soir" in page.content.decode()  # the sourcing note is for staff

    @pytest.mark.parametrize("role", OUTSIDERS)
    def test_everyone_else_gets_404(self, client, request, role, anticall, need, candidacy):
        client = login(client, request.getfixturevalue(role))
        for url in [
            reverse("anticall:anticall_list"),
            reverse("anticall:anticall_detail", args=[anticall.pk]),
            reverse("anticall:need_detail", args=[need.pk]),
            detail_url(candidacy),
        ]:
            assert client.get(url).status_code == 404, url

    def test_auditor_reads_but_gets_no_form(self, client, auditor, anticall, need, candidacy):
        client = login(client, auditor)
        assert (
            'id="record-need"'
            not in client.get(
                reverse("anticall:anticall_detail", args=[anticall.pk])
            ).content.decode()
        )
        assert (
            'id="source-form"'
            not in client.get(reverse("anticall:need_detail", args=[need.pk])).content.decode()
        )
        body = client.get(detail_url(candidacy)).content.decode()
        assert 'id="actions"' not in body and 'id="coaching-form"' not in body
        response = client.post(action_url(candidacy, "invite"), {"invite-message": "x"})
        assert response.status_code == 403 and fresh(candidacy).state == C.SOURCED

    def test_structure_sees_its_candidacy_once_invited_only(
        self, client, applicant, candidacy, instructor
    ):
        client = login(client, applicant)
        assert client.get(detail_url(candidacy)).status_code == 404  # sourcing stays internal
        assert (
            'id="no-invitations"' in client.get(reverse("anticall:my_invitations")).content.decode()
        )
        svc.candidacy_invite(actor=instructor, candidacy=candidacy, message="Venez prototyper")
        page = client.get(detail_url(candidacy))
        assert page.status_code == 200
        body = page.content.decode()
        assert "Déjà active le soir" not in body and 'id="coaching"' not in body
        assert "<strong>Structure repérée</strong>" not in body  # internal history rows left out
        assert 'id="transition-accept"' in body and 'id="transition-decline"' in body
        assert 'id="transition-invite"' not in body

    def test_abandoned_before_invitation_stays_hidden(
        self, client, applicant, candidacy, instructor
    ):
        svc.candidacy_abandon(actor=instructor, candidacy=candidacy, reason="Doublon")
        assert login(client, applicant).get(detail_url(candidacy)).status_code == 404

    def test_my_applications_links_to_invitations_only_when_there_are_some(
        self, client, applicant, candidacy, instructor
    ):
        client = login(client, applicant)
        assert (
            "anticall-invitations-link"
            not in client.get(reverse("grants:my_applications")).content.decode()
        )
        svc.candidacy_invite(actor=instructor, candidacy=candidacy)
        body = client.get(reverse("grants:my_applications")).content.decode()
        assert "anticall-invitations-link" in body and reverse("anticall:my_invitations") in body


# --------------------------------------------------------------------------- the whole path


def test_whole_path_through_the_web_forms(client, committee_member, manager, instructor, anticall):
    qpv = f.QPVFactory(name="Les Flamants")
    # A partner records a need.
    client = login(client, committee_member)
    response = client.post(
        reverse("anticall:anticall_detail", args=[anticall.pk]),
        {
            "need-qpv": qpv.pk,
            "need-title": "Aucun lieu ouvert le soir pour les 16-25 ans",
            "need-description": "Les jeunes n'ont rien après 19 h.",
            "need-raised_by": "Conseil citoyen",
        },
    )
    assert response.status_code == 302
    need = Need.objects.get(title="Aucun lieu ouvert le soir pour les 16-25 ans")
    assert need.state == Need.State.RECORDED and need.recorded_by == committee_member
    page = client.get(reverse("anticall:anticall_detail", args=[anticall.pk])).content.decode()
    assert "Les Flamants" in page and "Enregistré" in page

    # The programme manager publishes it.
    client = login(client, manager)
    response = client.post(reverse("anticall:need_publish", args=[need.pk]))
    assert response.status_code == 302
    assert Need.objects.get(pk=need.pk).state == Need.State.PUBLISHED

    # An instructor sources a new structure known only by its email, then invites it.
    client = login(client, instructor)
    response = client.post(
        reverse("anticall:need_detail", args=[need.pk]),
        {
            "source-name": "Les Jardins du Nord",
            "source-email": "Contact@Jardins.example.org",
            "source-why": "Anime déjà un jardin partagé",
        },
    )
    assert response.status_code == 302
    candidacy = Candidacy.objects.get(need=need)
    assert (
        candidacy.organisation is None and candidacy.prospect_email == "contact@jardins.example.org"
    )
    assert response["Location"] == detail_url(candidacy)
    response = client.post(
        action_url(candidacy, "invite"), {"invite-message": "Venez prototyper avec nous !"}
    )
    assert response.status_code == 302 and fresh(candidacy).state == C.INVITED

    # The structure signs up, creates its organisation, finds the invitation and accepts it.
    person = f.UserFactory(email="contact@jardins.example.org")
    organisation = f.OrganisationFactory(name="Les Jardins du Nord")
    f.add_member(person, organisation)
    client = login(client, person)
    page = client.get(reverse("anticall:my_invitations"))
    assert page.status_code == 200 and need.title in page.content.decode()
    response = client.post(
        action_url(candidacy, "accept"),
        {"accept-organisation": organisation.pk, "next": "invitations"},
    )
    assert response.status_code == 302 and response["Location"] == reverse(
        "anticall:my_invitations"
    )
    candidacy = fresh(candidacy)
    assert candidacy.state == C.ACCEPTED and candidacy.organisation == organisation

    # Prototyping for 10 days instead of 15.
    client = login(client, instructor)
    response = client.post(
        action_url(candidacy, "start_prototyping"),
        {"start_prototyping-start": "2026-03-02", "start_prototyping-prototyping_days": "10"},
    )
    assert response.status_code == 302
    candidacy = fresh(candidacy)
    assert candidacy.state == C.PROTOTYPING and candidacy.prototype_deadline == datetime.date(
        2026, 3, 12
    )
    with time_machine.travel(datetime.datetime(2026, 3, 5, 9, tzinfo=datetime.UTC)):
        body = client.get(detail_url(candidacy)).content.decode()
    assert "12/03/2026" in body and "7 jours" in body and 'id="overdue"' not in body
    with time_machine.travel(datetime.datetime(2026, 3, 14, 9, tzinfo=datetime.UTC)):
        assert 'id="overdue"' in client.get(detail_url(candidacy)).content.decode()

    # Coaching log.
    response = client.post(
        reverse("anticall:candidacy_coaching", args=[candidacy.pk]),
        {
            "coaching-date": "2026-03-03",
            "coaching-kind": "support",
            "coaching-support": "engineering",
            "coaching-notes": "Montage budgétaire",
            "coaching-cost": "800,00",
        },
    )
    assert response.status_code == 302
    entry = CoachingEntry.objects.get(candidacy=candidacy)
    assert entry.cost == Decimal("800.00") and entry.support == "engineering"

    # The structure adds a deliverable with a file from « Mes invitations ».
    client = login(client, person)
    response = client.post(
        reverse("anticall:candidacy_deliverable", args=[candidacy.pk]),
        {
            "deliverable-title": "Ouverture test du local trois soirs",
            "deliverable-description": "45 jeunes",
            "deliverable-file": SimpleUploadedFile(
                "bilan.pdf", PDF, content_type="application/pdf"
            ),
            "next": "invitations",
        },
    )
    assert response.status_code == 302
    deliverable = PrototypeDeliverable.objects.get(candidacy=candidacy)
    download = reverse("anticall:deliverable_download", args=[candidacy.pk, deliverable.pk])
    response = client.get(download)
    assert response.status_code == 200 and b"".join(response.streaming_content) == PDF
    assert login(client, f.UserFactory()).get(download).status_code == 404

    # Presented, then funded by the manager with a foundation as co-funder, over three years.
    client = login(client, instructor)
    response = client.post(
        action_url(candidacy, "present"), {"present-summary": "45 jeunes accueillis"}
    )
    assert response.status_code == 302 and fresh(candidacy).state == C.PRESENTED
    assert 'id="transition-fund"' not in client.get(detail_url(candidacy)).content.decode()
    foundation = f.FunderFactory(name="Fondation Quartiers Solidaires")
    client = login(client, manager)
    response = client.post(
        action_url(candidacy, "fund"),
        {
            "fund-amount": "30 000,00",
            "fund-cofunder": foundation.pk,
            "fund-is_multi_year": "on",
            "fund-duration_years": "3",
            "fund-reason": "Prototype concluant",
        },
    )
    assert response.status_code == 302
    candidacy = fresh(candidacy)
    application = candidacy.application
    assert candidacy.state == C.FUNDED and candidacy.funded_amount == Decimal("30000.00")
    assert (
        application.state == ApplicationState.APPROVED
        and application.approved_amount == Decimal("30000.00")
    )
    assert application.organisation == organisation and application.cofunder == foundation
    assert application.is_multi_year and application.duration_years == 3
    body = client.get(detail_url(candidacy)).content.decode()
    assert reverse("grants:application_detail", args=[application.pk]) in body
    assert "Prototypage commencé" in body and "Structure financée" in body  # history
    # The structure reaches its approved file.
    assert (
        login(client, person)
        .get(reverse("grants:application_detail", args=[application.pk]))
        .status_code
        == 200
    )


def test_sourcing_an_existing_organisation_found_by_search(client, instructor, need):
    target = f.OrganisationFactory(name="Maison des Jeunes du Merlan")
    client = login(client, instructor)
    page = client.get(reverse("anticall:need_detail", args=[need.pk]), {"q": "merlan"})
    assert page.status_code == 200 and "Maison des Jeunes du Merlan" in page.content.decode()
    page = client.get(reverse("anticall:need_detail", args=[need.pk]), {"q": target.siret[:9]})
    assert "Maison des Jeunes du Merlan" in page.content.decode()
    response = client.post(
        reverse("anticall:need_detail", args=[need.pk]),
        {"source-q": "merlan", "source-organisation": target.pk},
    )
    assert response.status_code == 302
    assert Candidacy.objects.get(need=need).organisation == target
    # Twice for the same need: refused next to the organisation, input kept.
    response = client.post(
        reverse("anticall:need_detail", args=[need.pk]),
        {"source-q": "merlan", "source-organisation": target.pk, "source-why": "Encore"},
    )
    assert response.status_code == 400
    assert "déjà repérée" in response.content.decode() and "Encore" in response.content.decode()


# --------------------------------------------------------------------------- errors


def test_need_form_errors_are_french_and_keep_the_input(client, committee_member, anticall):
    qpv = f.QPVFactory()
    response = login(client, committee_member).post(
        reverse("anticall:anticall_detail", args=[anticall.pk]),
        {
            "need-qpv": qpv.pk,
            "need-title": "",
            "need-description": "Les jeunes n'ont rien",
            "need-raised_by": "",
        },
    )
    assert response.status_code == 400
    form = response.context["form"]
    assert form.errors["title"] == ["Ce champ est obligatoire."]
    assert form.errors["raised_by"] == ["Ce champ est obligatoire."]
    body = response.content.decode()
    assert "Les jeunes n&#x27;ont rien" in body
    assert 'aria-describedby="id_need-title_helptext id_need-title_error"' in body
    assert not Need.objects.exists()


def test_sourcing_errors_are_shown_next_to_their_fields(client, instructor, need):
    response = login(client, instructor).post(
        reverse("anticall:need_detail", args=[need.pk]),
        {
            "source-name": "Collectif Soleil",
            "source-siret": "12345678901234",
            "source-email": "pas-un-email",
        },
    )
    assert response.status_code == 400
    form = response.context["source_form"]
    assert "siret" in form.errors and form.errors["email"] == [
        "Saisissez une adresse e-mail valide."
    ]
    assert 'value="Collectif Soleil"' in response.content.decode()
    assert not Candidacy.objects.exists()


def test_unpublished_need_cannot_be_sourced_and_only_managers_publish(client, instructor, need):
    Need.objects.filter(pk=need.pk).update(state=Need.State.RECORDED)
    client = login(client, instructor)
    assert (
        'id="source-form"'
        not in client.get(reverse("anticall:need_detail", args=[need.pk])).content.decode()
    )
    response = client.post(reverse("anticall:need_detail", args=[need.pk]), {"source-name": "X"})
    assert response.status_code == 400 and not Candidacy.objects.exists()
    response = client.post(reverse("anticall:need_publish", args=[need.pk]))
    assert response.status_code == 403
    assert Need.objects.get(pk=need.pk).state == Need.State.RECORDED


def test_transition_errors_keep_the_input(client, instructor, manager, candidacy):
    candidacy = put(candidacy, C.ACCEPTED)
    client = login(client, instructor)
    response = client.post(
        action_url(candidacy, "start_prototyping"), {"start_prototyping-prototyping_days": "500"}
    )
    assert response.status_code == 400
    assert "entre 1 et 120 jours" in response.content.decode()
    assert 'value="500"' in response.content.decode()
    assert fresh(candidacy).state == C.ACCEPTED

    candidacy = put(candidacy, C.PRESENTED)
    client = login(client, manager)
    response = client.post(
        action_url(candidacy, "fund"), {"fund-amount": "250000", "fund-reason": "Très bien"}
    )
    assert response.status_code == 400
    assert response.context["transitions"][0]["form"].errors["envelope_override_reason"]
    assert "Très bien" in response.content.decode() and 'value="250000' in response.content.decode()
    assert not Application.objects.exists()
    response = client.post(action_url(candidacy, "not_fund"), {"not_fund-reason": ""})
    assert response.status_code == 400 and "Un motif est obligatoire" in response.content.decode()


def test_wrong_state_answers_409_with_the_possible_actions(client, instructor, candidacy):
    response = login(client, instructor).post(
        action_url(candidacy, "present"), {"present-summary": "Trop tôt"}
    )
    assert response.status_code == 409
    body = response.content.decode()
    assert "Inviter la structure" in body and "Trop tôt" in body
    assert fresh(candidacy).state == C.SOURCED


def test_structure_cannot_run_staff_actions(client, applicant, candidacy, instructor):
    svc.candidacy_invite(actor=instructor, candidacy=candidacy)
    response = login(client, applicant).post(
        action_url(candidacy, "abandon"), {"abandon-reason": "Non"}
    )
    assert response.status_code == 403 and fresh(candidacy).state == C.INVITED
    assert (
        login(client, applicant)
        .post(
            reverse("anticall:candidacy_coaching", args=[candidacy.pk]),
            {"coaching-date": "2026-03-03", "coaching-kind": "note", "coaching-notes": "x"},
        )
        .status_code
        == 404
    )


def test_prospect_declines_from_my_invitations(client, instructor, need):
    candidacy = svc.candidacy_source(actor=instructor, need=need, email="asso@quartier.example.org")
    svc.candidacy_invite(actor=instructor, candidacy=candidacy)
    person = f.UserFactory(email="asso@quartier.example.org")
    client = login(client, person)
    body = client.get(reverse("anticall:my_invitations")).content.decode()
    assert "créez d'abord l'organisation" in body
    response = client.post(
        action_url(candidacy, "decline"), {"decline-reason": "Pas le temps", "next": "invitations"}
    )
    assert response.status_code == 302 and fresh(candidacy).state == C.DECLINED
    assert AuditLog.objects.filter(action="grants.candidacy.declined", actor=person).exists()


def test_deliverable_refused_file_keeps_input(client, applicant, candidacy):
    candidacy = put(candidacy, C.PROTOTYPING)
    response = login(client, applicant).post(
        reverse("anticall:candidacy_deliverable", args=[candidacy.pk]),
        {
            "deliverable-title": "Bilan",
            "deliverable-file": SimpleUploadedFile("bilan.pdf", b"MZ not a pdf"),
        },
    )
    assert response.status_code == 400
    assert response.context["deliverable_form"].errors["file"]
    assert 'value="Bilan"' in response.content.decode()
    assert not PrototypeDeliverable.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_cached_invitation_count_follows_each_invitation(client, applicant, candidacy, instructor):
    """Outside a transaction the count is a cached fact of the user (core.user_facts, issue 17):
    the invitation, a tracked write, shows at once."""
    from django.core.cache import cache

    from core.models import DataVersion

    cache.clear()
    client = login(client, applicant)
    url = reverse("grants:my_applications")
    assert "anticall-invitations-link" not in client.get(url).content.decode()
    assert DataVersion.objects.filter(name="nav").exists()  # the cached path was taken
    svc.candidacy_invite(actor=instructor, candidacy=candidacy)
    body = client.get(url).content.decode()
    assert "anticall-invitations-link" in body and "Mes invitations à prototyper (1)" in body
    cache.clear()
