"""The permission before the body, on every write operation of the API (issue 11, point 8).

Someone without the right to an operation — anonymous, or an applicant whose organisation has
nothing to do with the object — who sends a malformed, oversized or ill-typed body must get
401/403/404, never a 400 that describes the body: the answer tells nothing about the expected
fields, and no parsing work is done for them. The operations are read from the OpenAPI schema
itself, so a new endpoint is covered without editing this file; the objects in the paths are the
demo's (`manage.py demo`), which has one of each."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from calls.models import Call, CallMode, Challenge, Need
from contracts.models import Commitment, Indicator
from core.models import Organisation
from cpo.api import RECOVERY_OPS
from cpo.models import Agreement, Evaluation, PartnerAddition, Recovery, Signature
from cpo.serializers import AGREEMENT_TRANSITIONS
from directory.models import ExperienceSheet
from finance.models import FiscalYear, PaymentConfirmation, PaymentRun
from grants.models import Application, BudgetRevision, Candidacy, FunderPart

from .. import factories as f

pytestmark = pytest.mark.django_db

WRITE_METHODS = ("post", "put", "patch", "delete")

# Operations open to an applicant of any organisation: the target is named in the body (a call,
# a need, the caller's own organisation), so a 400 that describes the body is the right answer.
APPLICANT_MAY_WRITE = {
    ("POST", "/api/auth/token/"),  # the login endpoint
    ("POST", "/api/applications/"),
    ("POST", "/api/experience-sheets/draft/"),
    ("POST", "/api/calls/{call_pk}/challenges/"),  # residents' challenges: open to anyone
}
ANONYMOUS_MAY_WRITE = {
    ("POST", "/api/auth/token/"),  # the login endpoint
    ("POST", "/api/calls/{call_pk}/challenges/"),
}

# A transition that exists for each kind of object (`{name}` in the path).
TRANSITION_NAME = {
    "agreements": "sign",
    "applications": "approve",
    "calls": "open",
    "candidacies": "accept",
}
MALFORMED = b'{"ids": [1, 2,'
ILL_TYPED = (
    b'{"ids": "x", "instalment_ids": "x", "amount": "abc", "reason": 42, "title": [], '
    b'"organisation": "x", "call": -1, "deadline": "demain", "year": "x"}'
)


def _oversized(limit: int) -> bytes:
    return b'{"reason": "' + b"x" * (limit + 10) + b'"}'


def write_operations() -> list[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return sorted(
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in WRITE_METHODS
    )


def demo_objects() -> dict[str, Any]:
    """One object of each kind for the path parameters, none of them the outsider's."""
    solutions = Call.objects.filter(mode=CallMode.SOLUTIONS_CALL).order_by("pk").first()
    recovery = Recovery.objects.order_by("pk").first()
    evaluation = Evaluation.objects.order_by("pk").first()
    assert solutions and recovery and evaluation
    challenge = Challenge.objects.filter(call__mode=CallMode.SOLUTIONS_CALL).order_by("pk").first()
    return {
        "agreement": (evaluation.agreement_id if evaluation else Agreement.objects.first().pk),
        "recovery_agreement": recovery.agreement_id,
        "recovery": recovery.pk,
        "year": evaluation.fiscal_year,
        "application": Application.objects.order_by("pk").first().pk,
        "call": Call.objects.order_by("pk").first().pk,
        "solutions_call": challenge.call_id if challenge else solutions.pk,
        "challenge": challenge.pk if challenge else 1,
        "candidacy": Candidacy.objects.order_by("pk").first().pk,
        "commitment": Commitment.objects.order_by("pk").first().pk,
        "indicator": Indicator.objects.order_by("pk").first().pk,
        "sheet": ExperienceSheet.objects.order_by("pk").first().pk,
        "confirmation": PaymentConfirmation.objects.order_by("pk").first().pk,
        # A fiscal year is a plain year until it is closed: the demo's first year of payments.
        "fiscal_year": getattr(FiscalYear.objects.order_by("year").first(), "year", 2026),
        "run": PaymentRun.objects.order_by("pk").first().pk,
        "need": Need.objects.order_by("pk").first().pk,
        "organisation": Organisation.objects.order_by("pk").first().pk,
        "funder_part": FunderPart.objects.order_by("pk").first().pk,
        "budget_revision": BudgetRevision.objects.order_by("pk").first().pk,
        # The demo signs nothing by itself: an id that does not exist is as good (404).
        "signature": getattr(Signature.objects.order_by("pk").first(), "pk", 1),
        # The demo adds no partner by amendment: an id that does not exist is as good (404).
        "partner_addition": getattr(PartnerAddition.objects.order_by("pk").first(), "pk", 1),
    }


def concrete(path: str, objects: dict[str, Any]) -> str:
    """The schema's path with real ids: the first `{id}` names the resource of the path's head."""
    head = path.split("/")[2]
    resource = {
        "agreements": "recovery_agreement" if "{recovery_id}" in path else "agreement",
        "applications": "application",
        "calls": "solutions_call" if "challenges" in path or "ballot" in path else "call",
        "candidacies": "candidacy",
        "contract-commitments": "commitment",
        "contract-indicators": "indicator",
        "experience-sheets": "sheet",
        "needs": "need",
        "organisations": "organisation",
        "funder-parts": "funder_part",
        "budget-revisions": "budget_revision",
        "signatures": "signature",
        "partner-additions": "partner_addition",
    }.get(head)
    if head == "finance":
        resource = {"confirmations": "confirmation", "runs": "run"}.get(path.split("/")[3])
    names = {
        "id": resource,
        "application_pk": "application",
        "call_pk": "solutions_call" if "challenges" in path or "ballot" in path else "call",
        "challenge_pk": "challenge",
        "recovery_id": "recovery",
        "year": "fiscal_year" if head == "finance" else "year",
    }

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "name":
            return TRANSITION_NAME[head]
        if name == "op":
            return "cancel"
        return str(objects[names[name]])

    return re.sub(r"\{(\w+)\}", value, path)


def _send(client: APIClient, method: str, url: str, body: bytes) -> Any:
    return client.generic(method, url, body, content_type="application/json")


@pytest.fixture
def demo(db) -> dict[str, Any]:
    call_command("demo", verbosity=0)
    return demo_objects()


@pytest.fixture
def outsider(db):
    """An applicant whose organisation has no file, agreement, candidacy or sheet anywhere."""
    user = f.UserFactory(email="dehors@asso.example.org")
    f.add_member(user, f.OrganisationFactory(name="Association sans dossier"))
    return user


@pytest.fixture
def member(demo) -> tuple[Any, list[str]]:
    """A member of the organisations behind the demo's first recovery, candidacy, sheet and an
    application under review, with the write operations on those objects that only staff may
    run: each must be a 403 whatever the body."""
    recovery = Recovery.objects.select_related("agreement").order_by("pk").first()
    evaluation = Evaluation.objects.filter(agreement=recovery.agreement).order_by("pk").first()
    application = Application.objects.filter(state="under_review").order_by("pk").first()
    candidacy = Candidacy.objects.exclude(organisation=None).order_by("pk").first()
    sheet = ExperienceSheet.objects.order_by("pk").first()
    assert recovery and evaluation and application and candidacy and sheet
    user = f.UserFactory(email="membre@asso.example.org")
    for organisation in {
        recovery.agreement.organisation,
        application.organisation,
        candidacy.organisation,
        sheet.organisation,
    }:
        f.add_member(user, organisation)
    agreement = f"/api/agreements/{recovery.agreement_id}"
    urls = [f"{agreement}/transitions/{name}/" for name in AGREEMENT_TRANSITIONS]
    urls += [f"{agreement}/recoveries/{recovery.pk}/{op}/" for op in RECOVERY_OPS]
    urls += [
        f"{agreement}/amendments/",
        f"{agreement}/amendments/preview/",
        f"{agreement}/recoveries/",
        f"{agreement}/evaluations/{evaluation.fiscal_year}/review/",
        f"/api/applications/{application.pk}/notes/",
        f"/api/applications/{application.pk}/opinions/",
        f"/api/applications/{application.pk}/scores/",
        f"/api/applications/{application.pk}/transitions/approve/",
        f"/api/candidacies/{candidacy.pk}/coaching/",
        f"/api/candidacies/{candidacy.pk}/transitions/fund/",
        f"/api/candidacies/{candidacy.pk}/transitions/invite/",
        f"/api/experience-sheets/{sheet.pk}/return/",
    ]
    return user, urls


def test_every_write_operation_is_listed():
    operations = write_operations()
    assert len(operations) >= 40
    assert ("POST", "/api/finance/runs/") in operations


def test_the_permission_comes_before_the_body(demo, outsider, member, settings):
    """Every write operation × {anonymous → 401, outsider applicant → 403/404} × three broken
    bodies, then the staff-only operations on a member's own objects → 403 (one demo load for
    all: it takes most of the test's time)."""
    bodies = {
        "malformed": MALFORMED,
        "ill-typed": ILL_TYPED,
        "oversized": _oversized(settings.API_JSON_MAX_BYTES),
    }
    leaks = []
    checked = 0
    for role, expected, allowed in [
        ("anonymous", {401}, ANONYMOUS_MAY_WRITE),
        ("outsider", {403, 404}, APPLICANT_MAY_WRITE),
    ]:
        client = APIClient()
        if role == "outsider":
            client.force_login(outsider)
        for method, path in write_operations():
            if (method, path) in allowed:
                continue
            url = concrete(path, demo)
            for kind, body in bodies.items():
                response = _send(client, method, url, body)
                checked += 1
                if response.status_code not in expected:
                    leaks.append(f"{role}: {method} {url} ({kind}) → {response.status_code}")
    client = APIClient()
    client.force_login(member[0])
    for url in member[1]:
        for kind, body in bodies.items():
            response = _send(client, "POST", url, body)
            checked += 1
            if response.status_code != 403:
                leaks.append(f"member: POST {url} ({kind}) → {response.status_code}")
    assert checked >= 300
    assert leaks == [], "\n".join(leaks)
