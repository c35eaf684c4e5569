"""An organisation whose multi-year agreement has an accepted evaluation (the action a sheet is
drafted from), with a QPV, a pillar and a transition theme on its application."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cpo import services as cpo
from cpo.models import Evaluation

from .. import factories as f


def accepted_evaluation(*, instructor, applicant, organisation, qpv=None, theme=None):
    agreement = f.cpo_awaiting_evaluation(instructor=instructor, organisation=organisation)
    application = agreement.application
    application.qpvs.set([qpv or f.QPVFactory(code="QN01301M", name="Jas de Bouffan")])
    application.themes.set([theme or f.ThemeFactory(code="alimentation", label="Alimentation")])
    evaluation = Evaluation.objects.get(agreement=agreement, fiscal_year=agreement.first_year)
    cpo.evaluation_submit(
        actor=applicant,
        evaluation=evaluation,
        activity_report="120 jeunes accompagnés vers un stage ; 35 en emploi.",
        budget_lines=[
            {"account": "60", "planned": "20000", "actual": "18000"},
            {"account": "64", "planned": "70000", "actual": "71000"},
            {"account": "74", "planned": "90000", "actual": "89000"},
        ],
        indicators=[
            {"label": "Jeunes accompagnés", "unit": "jeunes", "target": "40", "actual": "42"}
        ],
    )
    return cpo.evaluation_review(
        actor=instructor, evaluation=Evaluation.objects.get(pk=evaluation.pk), outcome="accept"
    )


@pytest.fixture
def evaluation(instructor, applicant, organisation):
    return accepted_evaluation(
        instructor=instructor, applicant=applicant, organisation=organisation
    )


@pytest.fixture
def sheet(applicant, evaluation):
    from directory import services

    return services.sheet_draft(actor=applicant, evaluation=evaluation)


@pytest.fixture
def published(sheet, applicant, instructor):
    from directory import services

    services.sheet_submit(actor=applicant, sheet=sheet)
    return services.sheet_publish(actor=instructor, sheet=sheet)


COST = Decimal("89000.00")
