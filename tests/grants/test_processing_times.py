"""The decision-time estimate on call pages (grants.selectors_times): what happened to the recent
files, worded as an observation; the programme's files when the call has too few; hidden under 5
decided files; nearest-rank median and 9 in 10 in local calendar days."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from calls.models import CallMode
from grants.models import Application, ApplicationKind, ApplicationState
from grants.selectors_times import decision_time_estimate, nearest_rank

from .. import factories as f

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")
START = datetime.datetime(2026, 1, 5, 10, tzinfo=PARIS)


def decided(call, days: int, state=ApplicationState.APPROVED, start=START, **kwargs):
    app = f.ApplicationFactory(call=call, complete=False, kind=call.mode, **kwargs)
    Application.objects.filter(pk=app.pk).update(
        state=state,
        submitted_at=start,
        decided_at=start + datetime.timedelta(days=days),
        approved_amount=app.requested_amount if state == ApplicationState.APPROVED else None,
    )
    return app


def test_nearest_rank():
    assert nearest_rank(list(range(10, 101, 10)), 1, 2) == 50
    assert nearest_rank(list(range(10, 101, 10)), 9, 10) == 90
    assert nearest_rank([3, 1, 2, 5, 4], 9, 10) == 5
    assert nearest_rank([3, 1, 2, 5, 4], 1, 2) == 3


class TestEstimate:
    def test_from_the_calls_own_decided_files(self, call):
        for days in (10, 20, 30, 40, 50, 60, 70, 80, 90, 100):
            decided(
                call, days, ApplicationState.APPROVED if days % 20 else ApplicationState.REJECTED
            )
        # Not decisions on the merits, or not decided: left out.
        decided(call, 1, ApplicationState.INELIGIBLE)
        decided(call, 2, ApplicationState.DISMISSED)
        f.ApplicationFactory(call=call, state=ApplicationState.SUBMITTED, complete=False)
        estimate = decision_time_estimate(call)
        assert (estimate.files, estimate.median_days, estimate.p90_days, estimate.scope) == (
            10,
            50,
            90,
            "call",
        )
        assert estimate.sentence() == (
            "Pour les 10 derniers dossiers décidés de cet appel, la décision est intervenue en "
            "50 jours ou moins pour la moitié d'entre eux et en 90 jours ou moins pour 9 sur 10."
        )

    def test_only_the_most_recent_fifty(self, call):
        old = datetime.datetime(2024, 1, 5, 10, tzinfo=PARIS)
        for _ in range(10):
            decided(call, 300, start=old)  # decided in 2024: older than the 50 below
        for _ in range(50):
            decided(call, 20)
        estimate = decision_time_estimate(call)
        assert (estimate.files, estimate.p90_days) == (50, 20)

    def test_local_calendar_days(self, call):
        late = datetime.datetime(2026, 2, 12, 23, 30, tzinfo=PARIS)
        for _ in range(5):
            app = decided(call, 0, start=late)
            Application.objects.filter(pk=app.pk).update(
                decided_at=datetime.datetime(2026, 2, 13, 0, 30, tzinfo=PARIS)
            )
        estimate = decision_time_estimate(call)
        assert (estimate.median_days, estimate.p90_days) == (1, 1)
        assert "1 jour ou moins pour la moitié" in estimate.sentence()

    def test_falls_back_on_the_programme_calls_of_the_same_mode(self, call):
        earlier = f.CallFactory(programme=call.programme, title="Appel précédent")
        for days in (12, 14, 16, 18, 40):
            decided(earlier, days)
        other_mode = f.CallFactory(programme=call.programme, mode=CallMode.SOLUTIONS_CALL)
        for _ in range(5):
            decided(other_mode, 200)
        decided(call, 5)  # one file of its own: not enough
        estimate = decision_time_estimate(call)
        assert (estimate.files, estimate.median_days, estimate.p90_days, estimate.scope) == (
            6,
            14,
            40,
            "programme",
        )
        assert estimate.sentence().startswith(
            f"Pour les 6 derniers dossiers décidés du programme « {call.programme.name} », "
        )

    def test_nothing_under_five_decided_files(self, call):
        for days in (10, 20, 30, 40):
            decided(call, days)
        assert decision_time_estimate(call) is None

    def test_never_for_an_anti_call(self):
        anti = f.anti_call()
        for _ in range(6):
            app = decided(anti, 0)
            Application.objects.filter(pk=app.pk).update(kind=ApplicationKind.ANTI_CALL)
        assert decision_time_estimate(anti) is None


class TestCallPage:
    def test_shown_to_everyone_as_an_observation(self, client, call):
        for days in (10, 20, 30, 40, 50, 60):
            decided(call, days)
        html = client.get(reverse("calls:call_detail", args=[call.pk])).content.decode()
        assert 'id="decision-times"' in html
        assert "Délais constatés" in html
        assert (
            "Pour les 6 derniers dossiers décidés de cet appel, la décision est intervenue en "
            "30 jours ou moins pour la moitié d&#x27;entre eux et en 60 jours ou moins pour 9 sur 10."
        ) in html
        assert "ne valent pas engagement" in html

    def test_hidden_under_five_files(self, client, call):
        for days in (10, 20, 30, 40):
            decided(call, days)
        html = client.get(reverse("calls:call_detail", args=[call.pk])).content.decode()
        assert 'id="decision-times"' not in html and "Délais constatés" not in html
