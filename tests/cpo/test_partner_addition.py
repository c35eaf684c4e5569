"""A partner added to an agreement paid to each partner, after the decision, by amendment (docs/
domain.md §9, issue 18): proposed by the lead or the instruction, accepted by the organisation
from its own account, signed by the instruction; the partner then has its part, its yearly
amounts, its instalments and its report to file; every step audited; bad input refused with
nothing written."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.clock import today
from core.errors import DomainError, PermissionDenied, TransitionNotAllowed
from core.models import AuditLog, Notification
from cpo.models import Agreement, Amendment, Instalment, InstalmentState, PartnerAddition
from cpo.selectors_partner_reports import partner_parts
from cpo.services_changes import (
    partner_addition_answer,
    partner_addition_apply,
    partner_addition_propose,
    partner_addition_withdraw,
)
from grants.models import ApplicationPartner, PartnerState
from tests import factories as f

from .test_collective_payments import club, collective_approved  # noqa: F401
from .test_partner_amendments import agreement, part  # noqa: F401

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def newcomer(db):
    """A parents' association joining the agreement, with a member of its own."""
    organisation = f.OrganisationFactory(
        name="Parents d'élèves du Mail", iban="FR7630006000011234567890189"
    )
    member = f.UserFactory(email="parents@example.org")
    f.add_member(member, organisation)
    return organisation, member


def live_total(ag) -> Decimal:
    rows = Instalment.objects.filter(agreement=ag).exclude(state=InstalmentState.CANCELLED)
    return sum((i.amount for i in rows), D("0"))


def propose(actor, ag, organisation, **overrides):
    values = {
        "role": "Accompagnement des familles",
        "actions": "Ateliers parents-enfants le mercredi",
        "parts": {str(ag.first_year + 1): "600,00"},
        "from_lead": False,
        "reason": "Les parents d'élèves rejoignent l'action en deuxième année.",
        "effective_on": today(),
    }
    return partner_addition_propose(
        actor=actor, agreement=ag, organisation=organisation, **{**values, **overrides}
    )


def test_lead_proposes_partner_accepts_instruction_signs(
    agreement,  # noqa: F811
    newcomer,
    applicant,
    instructor,
):
    ag = agreement()
    organisation, member = newcomer
    next_year = ag.first_year + 1
    year_before = ag.years.get(fiscal_year=next_year).amount

    addition = propose(applicant, ag, organisation)
    assert addition.state == "proposed" and addition.parts == {str(next_year): "600.00"}
    assert Notification.objects.filter(user=member, url__contains=str(addition.pk)).exists()
    # Not funded while it has not accepted.
    with pytest.raises(TransitionNotAllowed):
        partner_addition_apply(actor=instructor, addition=addition)
    assert part(ag, organisation, next_year) == D("0")

    addition = partner_addition_answer(actor=member, addition=addition, accept=True)
    assert addition.state == "accepted" and addition.answered_by == member
    addition = partner_addition_apply(actor=instructor, addition=addition)

    ag = Agreement.objects.get(pk=ag.pk)
    assert addition.state == "applied" and addition.amendment.version == ag.version == 2
    # Its instalments, its yearly amount, the year and the total follow (added, not taken).
    assert part(ag, organisation, next_year) == D("600.00")
    assert part(ag, organisation, ag.first_year) == D("0")
    assert ag.years.get(fiscal_year=next_year).amount == year_before + D("600.00")
    assert ag.total_amount == D("8600.00") == live_total(ag)
    instalments = Instalment.objects.filter(agreement=ag, beneficiary=organisation)
    assert instalments.count() >= 1
    assert all(i.earliest_date >= today() for i in instalments)
    # A partner of the file, with its share.
    partner = ApplicationPartner.objects.get(application=ag.application, organisation=organisation)
    assert partner.state == PartnerState.ACCEPTED and partner.approved_amount == D("600.00")
    assert partner.role == "Accompagnement des familles"
    # Its report is owed from the effective year, not for the year before it joined.
    owed_next = partner_parts(ag.evaluations.get(fiscal_year=next_year))
    assert organisation in [p.organisation for p in owed_next]
    assert next(p for p in owed_next if p.organisation == organisation).share == D("600.00")
    this_year = ag.evaluations.get(fiscal_year=ag.first_year)
    assert organisation not in [p.organisation for p in partner_parts(this_year)]
    # Every step audited.
    actions = list(
        AuditLog.objects.filter(action__startswith="cpo.partner_addition.")
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == [
        "cpo.partner_addition.proposed",
        "cpo.partner_addition.accepted",
        "cpo.partner_addition.applied",
    ]
    added = AuditLog.objects.get(action="cpo.agreement.partner_added")
    assert added.actor == instructor and added.payload["organisation"] == organisation.pk
    assert AuditLog.objects.filter(action="cpo.agreement.amended").count() == 1


def test_a_part_taken_from_the_lead_keeps_the_total(agreement, newcomer, instructor):  # noqa: F811
    ag = agreement()
    organisation, member = newcomer
    next_year = ag.first_year + 1
    lead_before = part(ag, None, next_year)
    addition = propose(instructor, ag, organisation, from_lead=True)
    partner_addition_answer(actor=member, addition=addition, accept=True)
    partner_addition_apply(actor=instructor, addition=PartnerAddition.objects.get(pk=addition.pk))
    ag = Agreement.objects.get(pk=ag.pk)
    assert part(ag, organisation, next_year) == D("600.00")
    assert part(ag, None, next_year) == lead_before - D("600.00")
    assert ag.total_amount == D("8000.00") == live_total(ag)


def test_a_declined_or_withdrawn_proposal_funds_nobody(agreement, newcomer, applicant, instructor):  # noqa: F811
    ag = agreement()
    organisation, member = newcomer
    declined = partner_addition_answer(
        actor=member, addition=propose(applicant, ag, organisation), accept=False
    )
    assert declined.state == "declined"
    with pytest.raises(TransitionNotAllowed):
        partner_addition_apply(actor=instructor, addition=declined)
    withdrawn = partner_addition_withdraw(
        actor=applicant, addition=propose(applicant, ag, organisation)
    )
    assert withdrawn.state == "withdrawn"
    with pytest.raises(TransitionNotAllowed):
        partner_addition_answer(actor=member, addition=withdrawn, accept=True)
    assert not Amendment.objects.exists()
    assert not ApplicationPartner.objects.filter(organisation=organisation).exists()
    assert not Instalment.objects.filter(beneficiary=organisation).exists()


def test_who_may_do_what(agreement, newcomer, applicant, instructor, other_applicant):  # noqa: F811
    ag = agreement()
    organisation, member = newcomer
    with pytest.raises(PermissionDenied):
        propose(other_applicant, ag, organisation)
    with pytest.raises(PermissionDenied):
        propose(member, ag, organisation)  # the newcomer cannot invite itself
    addition = propose(applicant, ag, organisation)
    with pytest.raises(PermissionDenied):
        partner_addition_answer(actor=applicant, addition=addition, accept=True)  # not the lead
    partner_addition_answer(actor=member, addition=addition, accept=True)
    with pytest.raises(PermissionDenied):
        partner_addition_apply(actor=applicant, addition=addition)  # the lead does not sign
    with pytest.raises(PermissionDenied):
        partner_addition_withdraw(actor=member, addition=addition)
    assert PartnerAddition.objects.get(pk=addition.pk).state == "accepted"


def test_bad_proposals_are_refused_with_nothing_written(agreement, club, newcomer, applicant):  # noqa: F811
    ag = agreement()
    organisation, _member = newcomer
    year = str(ag.first_year + 1)
    cases = [
        ({"reason": "  "}, "motif"),
        ({"parts": {}}, "au moins un exercice"),
        ({"parts": {year: "-5"}}, "positif"),
        ({"parts": {year: "12.345"}}, "centime"),
        ({"parts": {"1990": "100"}}, "hors de la convention"),
        ({"parts": {year: "abc"}}, "invalide"),
        ({"effective_on": "2027-01-01"}, "date"),
    ]
    for overrides, message in cases:
        with pytest.raises(DomainError, match=message):
            propose(applicant, ag, organisation, **overrides)
    with pytest.raises(DomainError, match="chef de file"):
        propose(applicant, ag, ag.organisation)
    with pytest.raises(DomainError, match="déjà partenaire"):
        propose(applicant, ag, club)
    assert not PartnerAddition.objects.exists()
    propose(applicant, ag, organisation)
    with pytest.raises(DomainError, match="déjà proposé"):
        propose(applicant, ag, organisation)
    assert PartnerAddition.objects.count() == 1


def test_an_agreement_paid_to_the_lead_only_is_refused(agreement, newcomer, applicant):  # noqa: F811
    from grants.models import PaymentFlow

    ag = agreement(flow=PaymentFlow.LEAD)
    with pytest.raises(DomainError, match="verse tout au chef de file"):
        propose(applicant, ag, newcomer[0])


def test_the_lead_part_must_cover_a_part_taken_from_it(agreement, newcomer, instructor):  # noqa: F811
    ag = agreement()
    organisation, member = newcomer
    year = str(ag.first_year + 1)
    addition = propose(instructor, ag, organisation, from_lead=True, parts={year: "90000"})
    partner_addition_answer(actor=member, addition=addition, accept=True)
    with pytest.raises(DomainError, match="ne suffit pas"):
        partner_addition_apply(actor=instructor, addition=addition)
    assert PartnerAddition.objects.get(pk=addition.pk).state == "accepted"
    assert Agreement.objects.get(pk=ag.pk).version == 1
    assert not ApplicationPartner.objects.filter(organisation=organisation).exists()


# --------------------------------------------------------------------------- pages


def test_the_three_steps_on_the_pages(agreement, newcomer, applicant, instructor, other_applicant):  # noqa: F811
    from django.test import Client
    from django.urls import reverse

    ag = agreement()
    organisation, member = newcomer
    year = ag.first_year + 1
    lead = Client()
    lead.force_login(applicant)
    page = lead.get(reverse("cpo:agreement_detail", args=[ag.pk])).content.decode()
    assert reverse("cpo:partner_addition_propose", args=[ag.pk]) in page
    url = reverse("cpo:partner_addition_propose", args=[ag.pk])
    form = {
        "siret": organisation.siret,
        "role": "Familles",
        f"part_{year}": "600,00",
        "effective_on": today().isoformat(),
        "reason": "Les parents rejoignent l'action.",
    }
    refused = lead.post(url, {**form, "siret": "000"})
    assert refused.status_code == 400
    assert "Aucune organisation inscrite sur Pluriel" in refused.content.decode()
    assert not PartnerAddition.objects.exists()
    created = lead.post(url, form)
    addition = PartnerAddition.objects.get()
    assert created["Location"] == reverse("cpo:partner_addition", args=[addition.pk])

    # The proposed organisation reads it and accepts; an outsider does not even see it.
    outsider = Client()
    outsider.force_login(other_applicant)
    assert outsider.get(created["Location"]).status_code == 404
    assert outsider.get(url).status_code == 404
    partner = Client()
    partner.force_login(member)
    shown = partner.get(created["Location"]).content.decode()
    assert "Accepter de rejoindre la convention" in shown and "600.00" in shown
    partner.post(reverse("cpo:partner_addition_action", args=[addition.pk, "accept"]))
    assert PartnerAddition.objects.get().state == "accepted"

    # The lead cannot sign; the instruction does.
    lead.post(reverse("cpo:partner_addition_action", args=[addition.pk, "apply"]))
    assert PartnerAddition.objects.get().state == "accepted"
    staff = Client()
    staff.force_login(instructor)
    assert "addition-apply" in staff.get(created["Location"]).content.decode()
    staff.post(reverse("cpo:partner_addition_action", args=[addition.pk, "apply"]))
    assert PartnerAddition.objects.get().state == "applied"
    assert part(Agreement.objects.get(pk=ag.pk), organisation, year) == D("600.00")
    assert (
        staff.post(
            reverse("cpo:partner_addition_action", args=[addition.pk, "nothing"])
        ).status_code
        == 404
    )


# --------------------------------------------------------------------------- API


def test_the_three_steps_through_the_api(
    agreement,  # noqa: F811
    newcomer,
    applicant,
    instructor,
    other_applicant,
):
    from rest_framework.test import APIClient

    ag = agreement()
    organisation, member = newcomer
    year = str(ag.first_year + 1)
    lead = APIClient()
    lead.force_authenticate(applicant)
    url = f"/api/agreements/{ag.pk}/partner-additions/"
    body = {
        "siret": organisation.siret,
        "role": "Familles",
        "parts": {year: "600.00"},
        "reason": "Les parents rejoignent l'action.",
        "effective_on": today().isoformat(),
    }
    bad = lead.post(url, {**body, "parts": {"1990": "600.00"}}, format="json")
    assert bad.status_code == 400 and "hors de la convention" in bad.json()["detail"]
    created = lead.post(url, body, format="json")
    assert created.status_code == 201, created.json()
    addition = created.json()
    assert addition["state"] == "proposed" and addition["parts"] == {year: "600.00"}

    outsider = APIClient()
    outsider.force_authenticate(other_applicant)
    assert outsider.get(f"/api/partner-additions/{addition['id']}/").status_code == 404
    assert outsider.post(url, body, format="json").status_code == 404
    refused = outsider.post(f"/api/partner-additions/{addition['id']}/accept/")
    assert refused.status_code == 404

    partner = APIClient()
    partner.force_authenticate(member)
    assert [a["id"] for a in partner.get("/api/partner-additions/").json()["results"]] == [
        addition["id"]
    ]
    assert lead.post(f"/api/partner-additions/{addition['id']}/accept/").status_code == 403
    accepted = partner.post(f"/api/partner-additions/{addition['id']}/accept/")
    assert accepted.status_code == 200 and accepted.json()["state"] == "accepted"
    assert partner.post(f"/api/partner-additions/{addition['id']}/apply/").status_code == 403
    staff = APIClient()
    staff.force_authenticate(instructor)
    assert staff.post(f"/api/partner-additions/{addition['id']}/nothing/").status_code == 404
    applied = staff.post(f"/api/partner-additions/{addition['id']}/apply/")
    assert applied.status_code == 200
    assert applied.json()["state"] == "applied" and applied.json()["amendment_version"] == 2
    again = staff.post(f"/api/partner-additions/{addition['id']}/apply/")
    assert again.status_code == 409
    assert part(Agreement.objects.get(pk=ag.pk), organisation, int(year)) == D("600.00")


def test_the_pages_meet_the_accessibility_basics(agreement, newcomer, applicant):  # noqa: F811
    """One h1, a label for every field, scoped header cells (tests/test_accessibility_pages.py)."""
    from django.test import Client
    from django.urls import reverse

    from tests.test_accessibility_pages import audit

    ag = agreement()
    organisation, member = newcomer
    addition = propose(applicant, ag, organisation)
    lead = Client()
    lead.force_login(applicant)
    partner = Client()
    partner.force_login(member)
    problems = audit(lead, reverse("cpo:partner_addition_propose", args=[ag.pk]))
    problems += audit(lead, reverse("cpo:partner_addition", args=[addition.pk]))
    problems += audit(partner, reverse("cpo:partner_addition", args=[addition.pk]))
    problems += audit(lead, reverse("cpo:agreement_detail", args=[ag.pk]))
    assert problems == []
