"""« A travaillé avec » in the directory (docs/domain.md §9, issue 18): listed actors that carried a
funded collective file together, as lead or accepted partner; nothing for a file not funded yet,
nor for an actor not listed."""

from __future__ import annotations

import pytest

from core.models import User
from directory import selectors, services
from grants.models import PaymentFlow

from ..cpo import test_collective_payments as collective

pytestmark = pytest.mark.django_db

club = collective.club
signed_agreement = collective.signed_agreement
collective_approved = collective.collective_approved


def _list(organisation, admin):
    services.profile_update(
        actor=admin, organisation=organisation, is_listed=True, presentation="Acteur du quartier."
    )


def test_lead_and_partner_worked_with_each_other(
    client, draft, applicant, club, manager, signed_agreement
):
    app = collective_approved(draft, applicant, club, manager, PaymentFlow.PARTNERS)
    lead = app.organisation
    club_admin = User.objects.get(email="club@example.org")
    _list(lead, applicant)
    # The file is approved but its agreement is not signed: no partnership shown yet.
    assert selectors.worked_with(lead) == []
    signed_agreement(app)
    # The club is not listed: it is not shown.
    assert selectors.worked_with(lead) == []
    _list(club, club_admin)
    (co,) = selectors.worked_with(lead)
    assert co.organisation == club and co.titles == [app.title]
    (back,) = selectors.worked_with(club)
    assert back.organisation == lead
    page = client.get(f"/annuaire/{lead.pk}/")
    assert page.status_code == 200
    assert 'id="worked-with"' in page.text and club.name in page.text
