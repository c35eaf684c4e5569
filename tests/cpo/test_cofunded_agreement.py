"""The agreement of a co-funded file (issue 15): each funder's share, yearly amounts and
instalments come from its own decision on its part; a file with one part keeps its programme's
funder, as before."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db.models import Sum

from cpo import services as cpo_services
from cpo.models import Instalment
from grants import services
from grants.models import Application, ApplicationState

from ..grants.test_cofunding import cofunded_file, part_of, proposed, world  # noqa: F401

pytestmark = pytest.mark.django_db


def _decide(world, manager, state_amount: str, commune: str | None):  # noqa: F811
    application = cofunded_file(world)
    proposed(world, application, manager)
    services.funder_part_decide(
        actor=manager,
        part=part_of(application, world["state"]),
        decision="approve",
        amount=state_amount,
        reference="Arrêté 2026-12",
    )
    kwargs = (
        {"decision": "approve", "amount": commune}
        if commune
        else {"decision": "refuse", "reason": "Hors priorités"}
    )
    services.funder_part_decide(
        actor=manager,
        part=part_of(application, world["commune"]),
        reference="Délibération 2026-041",
        **kwargs,
    )
    application = Application.objects.get(pk=application.pk)
    assert application.state == ApplicationState.APPROVED
    return application


def test_each_funder_gets_its_decided_share_and_its_own_instalments(world, manager):  # noqa: F811
    application = _decide(world, manager, "5000", "2500")
    agreement = cpo_services.agreement_create_from_application(
        actor=manager, application=application
    )
    assert agreement.total_amount == Decimal("7500.00")
    shares = {link.funder.name: link.share for link in agreement.funders.select_related("funder")}
    assert shares == {"État — ANCT": Decimal("0.666667"), "Ville d'Aix": Decimal("0.333333")}
    paid_by = dict(
        Instalment.objects.filter(agreement=agreement)
        .values_list("funder__funder__name")
        .annotate(total=Sum("amount"))
    )
    # Each funder's instalments add up to exactly what it decided.
    assert paid_by == {"État — ANCT": Decimal("5000.00"), "Ville d'Aix": Decimal("2500.00")}


def test_a_refusing_funder_is_not_on_the_agreement(world, manager):  # noqa: F811
    application = _decide(world, manager, "6000", None)
    agreement = cpo_services.agreement_create_from_application(
        actor=manager, application=application
    )
    assert [link.funder.name for link in agreement.funders.select_related("funder")] == [
        "État — ANCT"
    ]
    assert agreement.funders.get().share == Decimal("1")


def test_a_file_with_one_part_keeps_the_programmes_funder(manager, call):
    from .. import factories as f

    application = f.ApplicationFactory(call=call, state=ApplicationState.IN_COMMITTEE)
    f.open_session_for(application, chair=manager)
    application = services.application_approve(
        actor=manager, application=application, amount=Decimal("9000")
    )
    agreement = cpo_services.agreement_create_from_application(
        actor=manager, application=application
    )
    assert agreement.funders.get().funder == call.programme.budget_line.funder
