"""Concurrency on PostgreSQL: two funders' agents proposing at once on one funder's programme cannot
both squeeze under its envelope (the programme row is locked)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.errors import DomainError
from core.models import Funder, Role
from grants import services
from grants.models import Application, FunderPart, FunderPartState
from grants.models import ApplicationState as S

from .. import factories as f
from .test_concurrency_pg import run_in_threads

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_parts_cannot_both_fit_under_the_funders_envelope():
    state_funder = f.FunderFactory(name="État — ANCT", kind=Funder.Kind.STATE)
    commune = f.FunderFactory(name="Ville d'Aix", kind=Funder.Kind.MUNICIPALITY)
    call = f.CallFactory(programme=f.ProgrammeFactory(funders=[state_funder]))
    f.ProgrammeFactory(name="Ville", funders=[commune], envelope=Decimal("6000"))
    agent = f.UserFactory(email="instruction@aix.example.org")
    f.give_role(agent, Role.INSTRUCTOR, funder=commune)
    parts = []
    for _ in range(2):
        app = f.ApplicationFactory(call=call, complete=False)
        services.application_set_budget_rows(
            app,
            [
                {"account": "64", "amount": "20000"},
                {
                    "account": "74",
                    "subsidy_source": "state",
                    "funder": state_funder.pk,
                    "amount": "6000",
                },
                {
                    "account": "74",
                    "subsidy_source": "municipality",
                    "funder": commune.pk,
                    "amount": "4000",
                },
                {"account": "75", "amount": "10000"},
            ],
        )
        Application.objects.filter(pk=app.pk).update(state=S.UNDER_REVIEW)
        parts.append(FunderPart.objects.get(application=app, funder=commune))
    results, errors = run_in_threads(
        *[
            lambda p=p: services.funder_part_propose(actor=agent, part=p, amount=Decimal("4000"))
            for p in parts
        ]
    )
    assert len(results) == 1
    assert len(errors) == 1 and isinstance(errors[0], DomainError)
    assert errors[0].code == "envelope_exceeded"
    assert FunderPart.objects.filter(state=FunderPartState.PROPOSED).count() == 1
