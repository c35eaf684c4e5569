"""Every agreement and evaluation transition: allowed source works and is audited, a forbidden
source is refused (409), and a failure after the transition rolls everything back."""

from __future__ import annotations

import datetime
from decimal import Decimal
from unittest import mock

import pytest

from core.errors import TransitionNotAllowed
from core.models import AuditLog
from cpo import services
from cpo.models import Agreement, Evaluation
from cpo.models import AgreementState as A
from cpo.models import EvaluationState as E

from .test_services import approved

pytestmark = pytest.mark.django_db

AGREEMENT = {
    "send_for_signature": ([A.DRAFT], A.SENT_FOR_SIGNATURE, {}),
    "sign": ([A.DRAFT, A.SENT_FOR_SIGNATURE], A.SIGNED, {"signed_on": datetime.date(2026, 1, 5)}),
    "activate": ([A.SIGNED], A.ACTIVE, {}),
    "suspend": ([A.ACTIVE], A.SUSPENDED, {"reason": "Contrôle en cours"}),
    "resume": ([A.SUSPENDED], A.ACTIVE, {}),
    "terminate": ([A.SIGNED, A.ACTIVE, A.SUSPENDED], A.TERMINATED, {"reason": "Dissolution"}),
}


def run(name, actor, agreement, data):
    return getattr(services, f"agreement_{name}")(actor=actor, agreement=agreement, **data)


def put(agreement, state):
    Agreement.objects.filter(pk=agreement.pk).update(state=state)
    return Agreement.objects.get(pk=agreement.pk)


@pytest.fixture
def agreement(instructor):
    return services.agreement_create_from_application(
        actor=instructor, application=approved("30000.00"), first_year=2026
    )


@pytest.mark.parametrize(
    ("name", "source"), [(n, s) for n, (src, _t, _d) in AGREEMENT.items() for s in src]
)
def test_agreement_transition_allowed_and_audited(name, source, agreement, instructor):
    _sources, target, data = AGREEMENT[name]
    result = run(name, instructor, put(agreement, source), data)
    assert result.state == target
    assert AuditLog.objects.filter(
        object_id=str(agreement.pk), source_state=source, target_state=target
    ).exists()


@pytest.mark.parametrize(
    ("name", "source"),
    [(n, s) for n, (src, t, _d) in AGREEMENT.items() for s in A.values if s not in src and s != t],
)
def test_agreement_transition_refused_from_wrong_state(name, source, agreement, instructor):
    _sources, _target, data = AGREEMENT[name]
    with pytest.raises(TransitionNotAllowed):
        run(name, instructor, put(agreement, source), data)
    assert Agreement.objects.get(pk=agreement.pk).state == source


@pytest.mark.parametrize("name", list(AGREEMENT))
def test_agreement_transition_rolls_back_on_failure(name, agreement, instructor):
    sources, _target, data = AGREEMENT[name]
    with (
        mock.patch("core.fsm.audit_log", side_effect=RuntimeError("boom")),
        pytest.raises(RuntimeError),
    ):
        run(name, instructor, put(agreement, sources[0]), data)
    assert Agreement.objects.get(pk=agreement.pk).state == sources[0]


@pytest.mark.parametrize(
    ("outcome", "target"),
    [
        ("accept", E.ACCEPTED),
        ("accept_with_reservations", E.ACCEPTED_WITH_RESERVATIONS),
        ("reject", E.REJECTED),
    ],
)
def test_evaluation_review_audited_refused_and_rolled_back(outcome, target, agreement, instructor):
    evaluation = agreement.evaluations.get()
    with pytest.raises(TransitionNotAllowed):  # nothing filed yet
        services.evaluation_review(
            actor=instructor, evaluation=evaluation, outcome=outcome, comment="x"
        )
    Evaluation.objects.filter(pk=evaluation.pk).update(state=E.SUBMITTED)
    with (
        mock.patch("core.fsm.audit_log", side_effect=RuntimeError("boom")),
        pytest.raises(RuntimeError),
    ):
        services.evaluation_review(
            actor=instructor,
            evaluation=Evaluation.objects.get(pk=evaluation.pk),
            outcome=outcome,
            comment="x",
        )
    assert Evaluation.objects.get(pk=evaluation.pk).state == E.SUBMITTED
    services.evaluation_review(
        actor=instructor,
        evaluation=Evaluation.objects.get(pk=evaluation.pk),
        outcome=outcome,
        comment="x",
    )
    assert Evaluation.objects.get(pk=evaluation.pk).state == target
    assert AuditLog.objects.filter(object_id=str(evaluation.pk), target_state=target).exists()
    assert Decimal(agreement.total_amount) == Decimal("30000.00")
