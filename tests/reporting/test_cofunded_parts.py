"""The parts of co-funded files still in progress (issue 15), before any agreement: the
organisation's global page lists what each funder is asked, proposes (staff only) and grants; the
dashboards' « demandé / accordé par financeur » read each funder's part."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from cpo import services as cpo_services
from grants import services
from grants.models import Application
from reporting import analytics
from reporting.analytics import Filters

from ..grants.test_cofunding import cofunded_file, part_of, proposed, world  # noqa: F401

pytestmark = pytest.mark.django_db
D = Decimal


def _row(html: str, funder: str) -> str:
    start = html.index(f'<tr class="part-row" data-funder="{funder}">')
    return html[start : html.index("</tr>", start)]


def test_the_global_page_lists_each_funders_part_of_the_files_in_progress(
    client,
    world,  # noqa: F811
    manager,
):
    application = cofunded_file(world)
    proposed(world, application, manager, state_amount="5000", commune_amount="3000")
    client.force_login(manager)
    url = reverse("reporting:organisation_global", args=[world["organisation"].pk])
    html = client.get(url).content.decode()
    state_row = _row(html, "État — ANCT")
    # Asked 6 000, proposed 5 000, nothing decided yet.
    assert "6\xa0000,00 €" in state_row and "5\xa0000,00 €" in state_row
    assert "4\xa0000,00 €" in _row(html, "Ville d&#x27;Aix")
    assert "Proposé" in html

    # The applicant sees what was asked and decided, never a proposal.
    client.force_login(world["applicant"])
    html = client.get(url).content.decode()
    assert 'id="parts-in-progress"' in html
    assert "5\xa0000,00 €" not in _row(html, "État — ANCT")
    assert "Proposé" not in html

    # Decided: what each funder granted; then the agreement takes over (the table goes).
    services.funder_part_decide(
        actor=manager,
        part=part_of(application, world["state"]),
        decision="approve",
        amount="5000",
        reference="Comité 12",
    )
    services.funder_part_decide(
        actor=manager,
        part=part_of(application, world["commune"]),
        decision="refuse",
        reason="Hors priorités",
        reference="Délibération 41",
    )
    client.force_login(manager)
    html = client.get(url).content.decode()
    state_row = _row(html, "État — ANCT")
    assert '<td class="num">1</td><td class="num">5\xa0000,00 €</td>' in state_row
    assert '<td class="num">1</td><td class="num">0,00 €</td>' in _row(html, "Ville d&#x27;Aix")
    cpo_services.agreement_create_from_application(
        actor=manager, application=Application.objects.get(pk=application.pk)
    )
    assert 'id="parts-in-progress"' not in client.get(url).content.decode()


def test_the_dashboards_ask_and_grant_by_each_funders_part(world, manager):  # noqa: F811
    application = cofunded_file(world)
    proposed(world, application, manager)

    def by_funder(stage: str) -> dict[str, Decimal]:
        table = analytics.money_by_stage("funder", Filters())
        column = [c.key for c in table.columns].index(stage)
        return {row[0]: row[column] for row in table.rows}

    # Asked: each funder its part (6 000 of the State, 4 000 of the commune), not the whole
    # 10 000 € under each funder of the file's programme.
    asked = by_funder("requested")
    assert (asked["État — ANCT"], asked["Ville d'Aix"]) == (D("6000.00"), D("4000.00"))
    for funder, amount in ((world["state"], "6000"), (world["commune"], "2500")):
        services.funder_part_decide(
            actor=manager,
            part=part_of(application, funder),
            decision="approve",
            amount=amount,
            reference="Comité 12",
        )
    granted = by_funder("approved")
    assert (granted["État — ANCT"], granted["Ville d'Aix"]) == (D("6000.00"), D("2500.00"))
    totals = analytics.totals(Filters(funder=world["commune"].pk))
    assert (totals["requested"], totals["approved"]) == (D("4000.00"), D("2500.00"))
