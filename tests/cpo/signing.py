"""Shared set-up of the electronic signature tests: a throwaway PKI generated once per session
(`manage.py make_test_pki`'s code), the settings pointing at it, and a co-funded agreement with
its signatories."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.core import mail
from django.core.management import call_command

from core.models import Role
from cpo import services
from cpo.models import Agreement, FunderCertificate
from cpo.signatures.pki import ThrowawayPki
from grants.models import Application, ApplicationState

from .. import factories as f


@pytest.fixture(scope="session")
def pki(tmp_path_factory) -> ThrowawayPki:
    directory = tmp_path_factory.mktemp("pki")
    call_command("make_test_pki", str(directory), stdout=open("/dev/null", "w"))  # noqa: SIM115
    return ThrowawayPki.at(directory)


def use_test_pki(settings, pki: ThrowawayPki, *funder_keys: str) -> ThrowawayPki:
    """Point the signature settings at a test PKI: its seal, CA, CRL and local time-stamping
    authority (no TSA URL), with the passphrase of each funder key given."""
    settings.SIGNATURE_SEAL_PKCS12 = str(pki.seal)
    settings.SIGNATURE_TRUST_ROOTS = [str(pki.ca)]
    settings.SIGNATURE_CRLS = [str(pki.crl)]
    settings.SIGNATURE_TSA_URL = ""
    settings.SIGNATURE_TSA_PKCS12 = str(pki.tsa)
    settings.SIGNATURE_TSA_TRUST_ROOTS = []
    keys = ("SEAL", "TSA", *funder_keys)
    settings.SIGNATURE_PASSPHRASES = dict.fromkeys(keys, pki.passphrase)
    return pki


@pytest.fixture
def signing(settings, pki):
    return use_test_pki(settings, pki, "VILLE")


@pytest.fixture
def ville(db, signing):
    funder = f.FunderFactory(name="Ville de Marseille")
    FunderCertificate.objects.create(
        funder=funder, pkcs12_path=str(signing.funder), passphrase_key="VILLE"
    )
    return funder


@pytest.fixture
def representative(db, organisation):
    user = f.UserFactory(email="presidente@asso.example.org", first_name="Nadia", last_name="B")
    membership = f.add_member(user, organisation)
    membership.can_sign = True
    membership.save(update_fields=["can_sign"])
    return user


@pytest.fixture
def funder_signatory(db, ville):
    user = f.UserFactory(email="adjointe@ville.example.org", first_name="Claire", last_name="M")
    assignment = f.give_role(user, Role.PROGRAMME_MANAGER, funder=ville)
    assignment.can_sign = True
    assignment.save(update_fields=["can_sign"])
    return user


def approved_application(organisation, amount: str = "60000.00") -> Application:
    app = f.ApplicationFactory(
        requested_amount=Decimal(amount), organisation=organisation, complete=False
    )
    Application.objects.filter(pk=app.pk).update(
        state=ApplicationState.APPROVED, approved_amount=Decimal(amount)
    )
    return Application.objects.get(pk=app.pk)


@pytest.fixture
def to_sign(instructor, organisation, ville) -> Agreement:
    """A 2-year agreement of 60 000 € funded by the city alone."""
    return services.agreement_create_from_application(
        actor=instructor,
        application=approved_application(organisation),
        profile="flat",
        duration_years=2,
        first_year=2026,
        funders=[{"funder": ville, "share": Decimal("1")}],
    )


def last_code() -> str:
    match = re.search(r": (\d{6})\b", mail.outbox[-1].body)
    assert match, mail.outbox[-1].body
    return match.group(1)


def sign_in_order(request, representative, funder_signatory, capture) -> None:
    """Every signature of a request given in turn: the association with its e-mailed code, then
    the city with its certificate."""
    from cpo.signatures import services as signing_services

    first, *funders = request.signatures.order_by("position")
    with capture(execute=True):
        signing_services.signature_code_send(actor=representative, signature=first)
    signing_services.signature_sign_with_code(
        actor=representative, signature=first, code=last_code(), ip_address="203.0.113.7"
    )
    for signature in funders:
        signing_services.signature_sign_as_funder(
            actor=funder_signatory, signature=signature, ip_address="198.51.100.2"
        )
