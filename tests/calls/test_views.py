"""Public pages of calls and the programme manager's state buttons."""

from __future__ import annotations

import pytest
from django.urls import reverse

from calls.models import Call, CallState
from core.models import DocumentKind
from tests import factories as f

pytestmark = pytest.mark.django_db


def state_of(call):
    return Call.objects.get(pk=call.pk).state


class TestCallList:
    def test_public_list_shows_open_and_published_calls_with_their_rules(self, client):
        qpv, pillar = f.QPVFactory(name="La Castellane"), f.PillarFactory(label="Cohésion sociale")
        open_call = f.CallFactory(title="Appel ouvert", required_documents=[DocumentKind.STATUTES])
        open_call.eligible_qpvs.add(qpv)
        open_call.eligible_pillars.add(pillar)
        f.CallFactory(title="Appel publié", state=CallState.PUBLISHED)
        f.CallFactory(title="Appel en préparation", state=CallState.DRAFT)
        f.CallFactory(title="Appel clos", state=CallState.CLOSED)
        response = client.get(reverse("calls:call_list"))
        html = response.content.decode()
        assert response.status_code == 200
        assert "Appel ouvert" in html and "Appel publié" in html
        assert "Appel en préparation" not in html and "Appel clos" not in html
        assert "La Castellane" in html and "Cohésion sociale" in html and "Statuts" in html
        assert "Appel à projets" in html  # the mode
        assert "200" in html and "50" in html  # envelope and maximum amount

    def test_managers_also_see_the_other_calls(self, client, manager):
        f.CallFactory(title="Appel en préparation", state=CallState.DRAFT)
        client.force_login(manager)
        assert "Appel en préparation" in client.get(reverse("calls:call_list")).content.decode()


class TestCallDetail:
    def test_applicant_with_an_organisation_gets_the_apply_button(self, client, applicant, call):
        client.force_login(applicant)
        html = client.get(reverse("calls:call_detail", args=[call.pk])).content.decode()
        assert "Déposer un dossier" in html
        assert f"{reverse('grants:application_create')}?call={call.pk}" in html

    def test_no_apply_button_without_organisation_or_when_closed(
        self, client, instructor, applicant
    ):
        closed = f.CallFactory(state=CallState.CLOSED)
        client.force_login(instructor)
        assert (
            'id="apply-button"'
            not in client.get(
                reverse("calls:call_detail", args=[f.CallFactory().pk])
            ).content.decode()
        )
        client.force_login(applicant)
        assert (
            'id="apply-button"'
            not in client.get(reverse("calls:call_detail", args=[closed.pk])).content.decode()
        )

    def test_draft_calls_are_hidden_from_the_public(self, client, manager):
        draft_call = f.CallFactory(state=CallState.DRAFT)
        assert client.get(reverse("calls:call_detail", args=[draft_call.pk])).status_code == 404
        client.force_login(manager)
        assert client.get(reverse("calls:call_detail", args=[draft_call.pk])).status_code == 200

    def test_managers_see_only_the_transitions_possible_now(self, client, manager, applicant, call):
        client.force_login(applicant)
        assert (
            "Clore les candidatures"
            not in client.get(reverse("calls:call_detail", args=[call.pk])).content.decode()
        )
        client.force_login(manager)
        html = client.get(reverse("calls:call_detail", args=[call.pk])).content.decode()
        assert "Clore les candidatures" in html
        assert "Publier l&#x27;appel" not in html


class TestCallTransition:
    def test_manager_closes_an_open_call(self, client, manager, call):
        client.force_login(manager)
        response = client.post(reverse("calls:call_transition", args=[call.pk, "close"]))
        assert response.status_code == 302
        assert state_of(call) == CallState.CLOSED

    def test_transition_not_allowed_now_is_409(self, client, manager, call):
        client.force_login(manager)
        response = client.post(reverse("calls:call_transition", args=[call.pk, "archive"]))
        assert response.status_code == 409
        assert "Archiver l&#x27;appel" in response.content.decode()
        assert state_of(call) == CallState.OPEN

    def test_others_cannot_change_a_call(self, client, instructor, call):
        client.force_login(instructor)
        assert (
            client.post(reverse("calls:call_transition", args=[call.pk, "close"])).status_code
            == 404
        )
        assert state_of(call) == CallState.OPEN

    def test_anonymous_is_sent_to_login(self, client, call):
        response = client.post(reverse("calls:call_transition", args=[call.pk, "close"]))
        assert response.status_code == 302
        assert state_of(call) == CallState.OPEN


def test_staff_read_the_calls_history_the_public_does_not(client, manager):
    from calls.services import call_transition
    from tests import factories as f

    call = f.CallFactory(state="draft")
    call_transition(call=call, name="publish", actor=manager)
    client.force_login(manager)
    page = client.get(f"/appels/{call.pk}/").content.decode()
    assert "Historique" in page and "Appel publié" in page
    client.logout()
    assert "Appel publié" not in client.get(f"/appels/{call.pk}/").content.decode()
