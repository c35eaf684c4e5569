"""A co-funded agreement's instalments per funder add up exactly to each funder's decision. Found
by the end-to-end browser test: the funders' shares are stored to six places, and splitting on them
made a 2/3 – 1/3 split of 45 000 € give 30 000,02 and 14 999,98; the split is now made on the
decided amounts themselves."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db.models import Sum

from cpo import services as cpo_services
from cpo.models import Instalment
from grants import services
from grants.models import Application, ApplicationState

from .. import factories as f
from ..grants.test_cofunding import part_of, world  # noqa: F401

pytestmark = pytest.mark.django_db


def test_each_funders_instalments_add_up_to_its_decision_on_a_large_file(world, manager):  # noqa: F811
    application = f.ApplicationFactory(
        call=world["call"],
        organisation=world["organisation"],
        state=ApplicationState.IN_COMMITTEE,
        complete=False,
    )
    services.application_set_budget_rows(
        application,
        [
            {"account": "64", "label": "Salaires", "amount": "80000"},
            {
                "account": "74",
                "subsidy_source": "state",
                "funder": world["state"].pk,
                "amount": "30000",
            },
            {
                "account": "74",
                "subsidy_source": "municipality",
                "funder": world["commune"].pk,
                "amount": "15000",
            },
            {"account": "75", "label": "Cotisations", "amount": "35000"},
        ],
    )
    for funder, amount in ((world["state"], "30000"), (world["commune"], "15000")):
        part = part_of(application, funder)
        services.funder_part_propose(actor=manager, part=part, amount=amount)
        services.funder_part_decide(
            actor=manager,
            part=part_of(application, funder),
            decision="approve",
            amount=amount,
            reference="Comité 12",
        )
    application = Application.objects.get(pk=application.pk)
    assert application.approved_amount == Decimal("45000.00")
    agreement = cpo_services.agreement_create_from_application(
        actor=manager, application=application, profile="flat", duration_years=1, first_year=2026
    )
    paid_by = dict(
        Instalment.objects.filter(agreement=agreement)
        .values_list("funder__funder__name")
        .annotate(total=Sum("amount"))
    )
    assert paid_by == {"État — ANCT": Decimal("30000.00"), "Ville d'Aix": Decimal("15000.00")}
