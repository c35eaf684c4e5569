"""Every application transition: allowed source works, forbidden source refused (409), one audit row
written, and a failure after the transition rolls everything back."""

from __future__ import annotations

import datetime
from decimal import Decimal
from unittest import mock

import pytest

from core.errors import PermissionDenied, TransitionNotAllowed
from core.models import AuditLog
from grants import services
from grants.models import Application, CompletionRequest
from grants.models import ApplicationState as S

from .. import factories as f

pytestmark = pytest.mark.django_db

ALL_STATES = list(S.values)


def put(app: Application, state: str) -> Application:
    Application.objects.filter(pk=app.pk).update(state=state)
    return Application.objects.get(pk=app.pk)


def inputs(name: str) -> dict:
    return {
        "resubmit": {"answer": "Voici le RIB à jour."},
        "request_completion": {
            "message": "Merci de joindre le RIB.",
            "deadline": datetime.date.today() + datetime.timedelta(days=15),
        },
        "declare_ineligible": {"reason": "Hors périmètre"},
        "send_to_committee": {"proposed_amount": Decimal("8000.00")},
        "approve": {"amount": Decimal("8000.00")},
        "reject": {"reason": "Projet insuffisamment ancré dans le quartier"},
        "dismiss": {"reason": "Projet abandonné"},
        "reopen": {"reason": "Erreur matérielle sur le montant"},
        "withdraw": {"reason": "Nous renonçons"},
    }.get(name, {})


# name → (allowed sources, target, actor fixture)
TRANSITIONS = {
    "submit": ([S.DRAFT], S.SUBMITTED, "applicant"),
    "request_completion": ([S.SUBMITTED, S.ELIGIBLE, S.UNDER_REVIEW], S.RETURNED, "instructor"),
    "resubmit": ([S.RETURNED], S.SUBMITTED, "applicant"),
    "declare_eligible": ([S.SUBMITTED], S.ELIGIBLE, "instructor"),
    "declare_ineligible": ([S.SUBMITTED], S.INELIGIBLE, "instructor"),
    "start_review": ([S.ELIGIBLE], S.UNDER_REVIEW, "instructor"),
    "send_to_committee": ([S.UNDER_REVIEW], S.IN_COMMITTEE, "instructor"),
    "approve": ([S.IN_COMMITTEE], S.APPROVED, "committee_member"),
    "reject": ([S.IN_COMMITTEE], S.REJECTED, "committee_member"),
    "dismiss": (
        [S.SUBMITTED, S.RETURNED, S.ELIGIBLE, S.UNDER_REVIEW, S.IN_COMMITTEE],
        S.DISMISSED,
        "instructor",
    ),
    "withdraw": (
        [S.DRAFT, S.SUBMITTED, S.RETURNED, S.ELIGIBLE, S.UNDER_REVIEW, S.IN_COMMITTEE],
        S.WITHDRAWN,
        "applicant",
    ),
    "reopen": ([S.APPROVED, S.REJECTED, S.DISMISSED, S.INELIGIBLE], S.UNDER_REVIEW, "manager"),
}

ALLOWED = [(name, src) for name, (sources, _t, _a) in TRANSITIONS.items() for src in sources]
# A forbidden source for each transition, other than its target (target = idempotent no-op).
FORBIDDEN = [
    (name, src)
    for name, (sources, target, _a) in TRANSITIONS.items()
    for src in ALL_STATES
    if src not in sources and src != target
]


def ready(name: str, app: Application, actors: dict) -> Application:
    """A committee decision is taken in an open session: the file is put on one, chaired by the
    committee member who decides (grants.services.decision.check_open_session)."""
    if name in ("approve", "reject") and app.state == S.IN_COMMITTEE:
        f.open_session_for(app, chair=actors["committee_member"])
    return app


@pytest.fixture
def actors(applicant, instructor, committee_member, manager):
    return {
        "applicant": applicant,
        "instructor": instructor,
        "committee_member": committee_member,
        "manager": manager,
    }


@pytest.mark.parametrize(("name", "source"), ALLOWED)
def test_allowed_source_moves_and_audits(name, source, draft, actors):
    sources, target, who = TRANSITIONS[name]
    app = ready(name, put(draft, source), actors)
    before = AuditLog.objects.count()
    result = services.run_transition(
        name=name, actor=actors[who], application=app, data=inputs(name)
    )
    assert result.state == target
    assert Application.objects.get(pk=app.pk).state == target
    row = AuditLog.objects.filter(
        object_id=str(app.pk), source_state=source, target_state=target
    ).get()
    assert row.actor == actors[who]
    assert row.action == services.transition_specs()[name].action
    assert AuditLog.objects.count() > before


@pytest.mark.parametrize(("name", "source"), FORBIDDEN)
def test_forbidden_source_is_refused_with_allowed_list(name, source, draft, actors):
    _sources, _target, who = TRANSITIONS[name]
    app = put(draft, source)
    before = AuditLog.objects.count()
    with pytest.raises((TransitionNotAllowed, PermissionDenied)) as exc:
        services.run_transition(name=name, actor=actors[who], application=app, data=inputs(name))
    if isinstance(exc.value, TransitionNotAllowed):
        assert isinstance(exc.value.allowed, list)
    assert Application.objects.get(pk=app.pk).state == source
    assert AuditLog.objects.count() == before


@pytest.mark.parametrize("name", list(TRANSITIONS))
def test_failure_after_transition_rolls_back(name, draft, actors):
    sources, target, who = TRANSITIONS[name]
    app = ready(name, put(draft, sources[0]), actors)
    with (
        mock.patch("core.fsm.audit_log", side_effect=RuntimeError("disk full")),
        pytest.raises(RuntimeError),
    ):
        services.run_transition(name=name, actor=actors[who], application=app, data=inputs(name))
    assert Application.objects.get(pk=app.pk).state == sources[0]
    assert not AuditLog.objects.filter(object_id=str(app.pk), target_state=target).exists()
    if name == "request_completion":
        assert not CompletionRequest.objects.filter(application=app).exists()


@pytest.mark.parametrize("name", list(TRANSITIONS))
def test_running_twice_is_idempotent(name, draft, actors):
    sources, target, who = TRANSITIONS[name]
    app = ready(name, put(draft, sources[0]), actors)
    services.run_transition(name=name, actor=actors[who], application=app, data=inputs(name))
    count = AuditLog.objects.filter(object_id=str(app.pk)).count()
    services.run_transition(
        name=name,
        actor=actors[who],
        application=Application.objects.get(pk=app.pk),
        data=inputs(name),
    )
    assert Application.objects.get(pk=app.pk).state == target
    assert AuditLog.objects.filter(object_id=str(app.pk)).count() == count


def test_unknown_transition_is_409(draft, applicant):
    with pytest.raises(TransitionNotAllowed) as exc:
        services.run_transition(name="teleport", actor=applicant, application=draft, data={})
    assert "submit" in exc.value.allowed


def test_state_field_cannot_be_set_directly(draft):
    with pytest.raises(AttributeError):
        draft.state = S.APPROVED
