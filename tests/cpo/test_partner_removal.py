"""An amendment removing a partner from an agreement paid to each partner (docs/domain.md §9,
issue 18): what the partner already has stays, its unpaid instalments are cancelled, its freed part
goes to the lead or leaves the agreement, the totals balance, the partner leaves the file,
audited; bad input is refused with nothing written."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.clock import today
from core.errors import DomainError, PermissionDenied
from core.models import AuditLog
from cpo.models import Agreement, Amendment, Instalment, InstalmentState
from cpo.selectors_partner_reports import partner_parts
from cpo.services_changes import amendment_partner_remove
from grants.models import ApplicationPartner, PartnerState

from .test_collective_payments import club, collective_approved  # noqa: F401
from .test_partner_amendments import agreement, part  # noqa: F401

pytestmark = pytest.mark.django_db
D = Decimal


def live_total(ag) -> Decimal:
    rows = Instalment.objects.filter(agreement=ag).exclude(state=InstalmentState.CANCELLED)
    return sum((i.amount for i in rows), D("0"))


def settled(ag, payee, year) -> Decimal:
    """What a payee already has of a year: due, paid or on its way (not re-plannable)."""
    rows = Instalment.objects.filter(
        agreement=ag, beneficiary=payee, year__fiscal_year=year
    ).exclude(
        state__in=[InstalmentState.CANCELLED, InstalmentState.PLANNED, InstalmentState.ON_HOLD]
    )
    return sum((i.amount for i in rows), D("0"))


def test_removed_partner_keeps_what_is_due_and_the_lead_takes_the_rest(agreement, club, instructor):  # noqa: F811
    agreement = agreement()
    this_year, next_year = agreement.first_year, agreement.first_year + 1
    kept_now = settled(agreement, club, this_year)
    lead_now, lead_next = part(agreement, None, this_year), part(agreement, None, next_year)
    assert part(agreement, club, next_year) == D("800.00") and kept_now <= D("800.00")
    amendment = amendment_partner_remove(
        actor=instructor,
        agreement=agreement,
        organisation=club,
        reason="Le club cesse ses activités dans le quartier.",
        effective_on=today(),
        reallocate=True,
    )
    agreement = Agreement.objects.get(pk=agreement.pk)
    assert amendment.version == 2
    assert part(agreement, club, this_year) == kept_now
    assert part(agreement, club, next_year) == D("0.00")
    assert part(agreement, None, this_year) == lead_now + D("800.00") - kept_now
    assert part(agreement, None, next_year) == lead_next + D("800.00")
    # Reallocated: the years and the total do not move, and the instalments add up to them.
    assert agreement.total_amount == D("8000.00") == live_total(agreement)
    partner = ApplicationPartner.objects.get(organisation=club)
    assert partner.state == PartnerState.LEFT and partner.approved_amount == kept_now
    row = AuditLog.objects.get(action="cpo.agreement.partner_removed")
    assert row.actor == instructor and row.target_state == PartnerState.LEFT
    assert row.payload["reallocated"] is True
    assert AuditLog.objects.filter(action="cpo.agreement.amended").count() == 1
    # Its report is no longer expected in the next evaluation.
    evaluation = agreement.evaluations.get(fiscal_year=next_year)
    assert [p.organisation for p in partner_parts(evaluation)] == []


def test_without_reallocation_the_agreement_shrinks(agreement, club, instructor):  # noqa: F811
    agreement = agreement()
    this_year = agreement.first_year
    freed = D("1600.00") - settled(agreement, club, this_year)
    amendment_partner_remove(
        actor=instructor,
        agreement=agreement,
        organisation=club,
        reason="Le club se retire.",
        effective_on=today(),
        reallocate=False,
    )
    agreement = Agreement.objects.get(pk=agreement.pk)
    assert agreement.total_amount == D("8000.00") - freed == live_total(agreement)
    assert sum(y.amount for y in agreement.years.all()) == agreement.total_amount


def test_bad_input_is_refused_with_nothing_written(agreement, club, instructor, applicant):  # noqa: F811
    agreement = agreement()
    calls = {
        "reason": "Retrait",
        "effective_on": today(),
        "reallocate": True,
    }
    with pytest.raises(PermissionDenied):
        amendment_partner_remove(actor=applicant, agreement=agreement, organisation=club, **calls)
    with pytest.raises(DomainError, match="chef de file"):
        amendment_partner_remove(
            actor=instructor, agreement=agreement, organisation=agreement.organisation, **calls
        )
    with pytest.raises(DomainError, match="motif"):
        amendment_partner_remove(
            actor=instructor, agreement=agreement, organisation=club, **{**calls, "reason": " "}
        )
    assert not Amendment.objects.exists()
    assert ApplicationPartner.objects.get(organisation=club).state == PartnerState.ACCEPTED
    amendment_partner_remove(actor=instructor, agreement=agreement, organisation=club, **calls)
    # Already removed: no longer a partner paid by the agreement.
    with pytest.raises(DomainError, match="partenaire payé"):
        amendment_partner_remove(
            actor=instructor,
            agreement=Agreement.objects.get(pk=agreement.pk),
            organisation=club,
            **calls,
        )
    assert Amendment.objects.count() == 1


def test_the_agreement_page_removes_a_partner(client, agreement, club, instructor):  # noqa: F811
    agreement = agreement()
    client.force_login(instructor)
    page = client.get(f"/conventions/{agreement.pk}/")
    assert 'id="remove-partner"' in page.text and f'<option value="{club.pk}">' in page.text
    url = f"/conventions/{agreement.pk}/avenants/retrait-partenaire/"
    refused = client.post(
        url, {"organisation": str(club.pk), "effective_on": today().isoformat(), "reason": ""}
    )
    assert refused.status_code == 400 and "motif" in refused.text.lower()
    unknown = client.post(
        url, {"organisation": "999999", "effective_on": today().isoformat(), "reason": "Retrait"}
    )
    assert unknown.status_code == 400 and "Choisissez le partenaire" in unknown.text
    assert not Amendment.objects.exists()
    done = client.post(
        url,
        {
            "organisation": str(club.pk),
            "reallocate": "lead",
            "effective_on": today().isoformat(),
            "reason": "Le club se retire.",
        },
    )
    assert done.status_code == 302
    assert ApplicationPartner.objects.get(organisation=club).state == PartnerState.LEFT
    assert Agreement.objects.get(pk=agreement.pk).total_amount == D("8000.00")
