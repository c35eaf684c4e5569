"""Retention of the contacts of organisations no longer funded (cpo.privacy): past the term they
are blanked and the organisation's legal identity, agreements and amounts stay; within it they are
kept; a person's erasure is refused while their organisation is under a running agreement."""

from __future__ import annotations

import datetime

import pytest

from core.clock import today
from core.models import AuditLog, ErasureRequest, Organisation
from core.privacy.services import (
    erasure_request_create,
    erasure_request_process,
    retention_apply,
)
from cpo.models import Agreement, AgreementState, Instalment, InstalmentState
from tests.factories import OrganisationFactory, add_member, cpo_awaiting_evaluation

pytestmark = pytest.mark.django_db

CONTACT = {
    "email": "contact@asso.example.org",
    "phone": "01 23 45 67 89",
    "legal_rep_name": "Awa Diallo",
    "legal_rep_role": "Présidente",
}


def closed_agreement(instructor, *, last_year: int) -> Agreement:
    """A real agreement (through the services), then closed and its years moved so that its last
    fiscal year is `last_year` (setup only: the state history is not what is tested here)."""
    organisation = OrganisationFactory(**CONTACT)
    agreement = cpo_awaiting_evaluation(instructor=instructor, organisation=organisation)
    Agreement.objects.filter(pk=agreement.pk).update(
        state=AgreementState.COMPLETED, first_year=last_year - agreement.duration_years + 1
    )
    Instalment.objects.filter(agreement=agreement).update(state=InstalmentState.PAID)
    Organisation.objects.filter(pk=organisation.pk).update(
        created_at=datetime.datetime(last_year - 3, 1, 1, tzinfo=datetime.UTC)
    )
    agreement.application.__class__.objects.filter(pk=agreement.application_id).update(
        updated_at=datetime.datetime(last_year - 3, 6, 1, tzinfo=datetime.UTC)
    )
    return Agreement.objects.get(pk=agreement.pk)


def test_contacts_of_an_organisation_no_longer_funded_are_blanked_past_the_term(instructor):
    old = closed_agreement(instructor, last_year=today().year - 7)
    recent = closed_agreement(instructor, last_year=today().year - 2)
    running = cpo_awaiting_evaluation(instructor=instructor, organisation=OrganisationFactory())
    Organisation.objects.filter(pk=running.organisation_id).update(
        created_at=datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC), **CONTACT
    )

    run = retention_apply()

    forgotten = Organisation.objects.get(pk=old.organisation_id)
    assert (forgotten.email, forgotten.phone, forgotten.legal_rep_name) == ("", "", "")
    assert forgotten.legal_rep_role == ""
    # What public accounting and the archives need stays: identity, agreement, amounts.
    assert forgotten.name == old.organisation.name and forgotten.siret == old.organisation.siret
    assert Agreement.objects.get(pk=old.pk).total_amount == old.total_amount
    assert Instalment.objects.filter(agreement=old).count() == old.instalments.count()
    # Within the term, or still funded: kept.
    assert Organisation.objects.get(pk=recent.organisation_id).email == CONTACT["email"]
    assert Organisation.objects.get(pk=running.organisation_id).legal_rep_name == "Awa Diallo"
    assert run.results["cpo.organisation_contacts"] == {"action": "anonymise", "count": 1}
    row = AuditLog.objects.get(action="core.retention.anonymised", object_id=str(forgotten.pk))
    assert row.payload == {"rule": "cpo.organisation_contacts", "fields": list(CONTACT)}
    assert "Awa" not in str(row.payload) and "contact@" not in str(row.payload)
    assert AuditLog.objects.filter(
        action="core.retention.applied", payload__rule="cpo.organisation_contacts"
    ).exists()
    assert retention_apply().results["cpo.organisation_contacts"]["count"] == 0  # idempotent


def test_erasure_is_refused_while_the_organisation_is_under_a_running_agreement(
    instructor, applicant, admin_user
):
    agreement = cpo_awaiting_evaluation(instructor=instructor)
    add_member(applicant, agreement.organisation)
    request = erasure_request_create(actor=admin_user, person=applicant, reason="Je pars")
    refused = erasure_request_process(actor=admin_user, request=request)
    assert refused.state == ErasureRequest.State.REFUSED
    assert agreement.reference in refused.refusal_reason
    assert "loi n° 2000-321" in refused.refusal_reason
    assert applicant.__class__.objects.get(pk=applicant.pk).email == applicant.email


def test_erasure_blanks_the_contact_fields_naming_the_person(instructor, admin_user):
    from tests.factories import UserFactory

    agreement = closed_agreement(instructor, last_year=today().year - 2)
    person = UserFactory(email=CONTACT["email"], first_name="Awa", last_name="Diallo")
    other = OrganisationFactory(email="autre@asso.example.org", legal_rep_name="Jean Martin")
    request = erasure_request_create(actor=admin_user, person=person, reason="Courrier")
    done = erasure_request_process(actor=admin_user, request=request)
    assert done.state == ErasureRequest.State.DONE
    assert done.outcome["cpo.organisation_contacts"] == 1
    organisation = Organisation.objects.get(pk=agreement.organisation_id)
    assert organisation.email == "" and organisation.legal_rep_name == ""
    assert organisation.siret and organisation.name  # its legal identity stays
    assert Organisation.objects.get(pk=other.pk).email == "autre@asso.example.org"
