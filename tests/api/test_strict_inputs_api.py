"""Strict inputs on the endpoints of every app (issue 11): a fractional id, `-0`, more than two
decimals or a non-integer `page_size` is a 400 in French; a non-manager is refused a call's
transition whatever the body. The field rules themselves: tests/api/test_strict_numbers.py."""

from __future__ import annotations

import pytest

from calls.models import Call, CallState
from tests import factories as f

from .conftest import ROLES  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "query", ["call=1.5", "call=0", "call=abc", "programme=2.0", "pillar=1e3", "qpv=-1"]
)
def test_id_filters_refuse_what_is_not_an_id(client_for, instructor, query):
    response = client_for("instructor").get(f"/api/applications/?{query}")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_an_unknown_id_in_a_filter_is_an_empty_list(client_for, instructor, call):
    response = client_for("instructor").get("/api/calls/?programme=999999")
    assert response.status_code == 200
    assert response.json()["results"] == []


@pytest.mark.parametrize("value", ["AAA", "0", "0.5", "201", "-1"])
def test_page_size_must_be_an_integer_within_bounds(client_for, instructor, value):
    response = client_for("instructor").get(f"/api/applications/?page_size={value}")
    assert response.status_code == 400
    assert response.json()["errors"] == {"page_size": ["Saisissez un nombre entier de 1 à 200."]}


def test_page_size_within_bounds_is_honoured(client_for, instructor):
    assert client_for("instructor").get("/api/applications/?page_size=200").status_code == 200


def test_year_filter_refuses_a_fraction(client_for, finance_officer):
    response = client_for("finance_officer").get("/api/finance/runs/?fiscal_year=2026.5")
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"instalment_ids": [1.5]}, "instalment_ids"),
        ({"instalment_ids": [True]}, "instalment_ids"),
        ({"criteria": {"programme": 1.5}}, "criteria"),
        ({"fiscal_year": 2026.5}, "fiscal_year"),
    ],
)
def test_finance_refuses_fractional_ids_and_years(client_for, finance_officer, payload, field):
    response = client_for("finance_officer").post("/api/finance/runs/", payload, format="json")
    assert response.status_code == 400
    assert any(key.startswith(field) for key in response.json()["errors"])


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"application": 1.5}, "Identifiant invalide."),
        ({"rate": "-0"}, "Un montant nul s'écrit sans signe (0.00)."),
        ({"rate": "NaN"}, None),
        ({"duration_years": 1.5}, "Saisissez un nombre entier."),
        ({"funders": [{"funder": 1, "share": "1.234"}]}, None),
    ],
)
def test_cpo_agreement_creation_refuses_loose_numbers(client_for, manager, payload, message):
    response = client_for("manager").post("/api/agreements/", payload, format="json")
    assert response.status_code == 400
    errors = response.json()["errors"]
    if message:
        assert message in [m for messages in errors.values() for m in messages]


def test_contracts_refuse_negative_zero_three_decimals_and_infinity():
    from contracts.api import ContractCommitmentReportSerializer

    for value in ("-0", "-0.00", "12.345", "Infinity", "NaN", True):
        data = ContractCommitmentReportSerializer(data={"note": "x", "realised_amount": value})
        assert not data.is_valid()
        assert "realised_amount" in data.errors


@pytest.mark.parametrize("body", [{}, {"reason": 5}, {"reason": "x" * 6000}, {"reason": "ok"}])
def test_call_transition_permission_comes_before_the_body(client_for, instructor, body):
    call = f.CallFactory(state=CallState.OPEN)
    response = client_for("instructor").post(
        f"/api/calls/{call.pk}/transitions/close/", body, format="json"
    )
    assert response.status_code == 403
    assert Call.objects.get(pk=call.pk).state == CallState.OPEN


def test_call_transition_reason_is_limited(client_for, manager):
    call = f.CallFactory(state=CallState.OPEN)
    response = client_for("manager").post(
        f"/api/calls/{call.pk}/transitions/close/", {"reason": "x" * 6000}, format="json"
    )
    assert response.status_code == 400
    assert "reason" in response.json()["errors"]
    assert Call.objects.get(pk=call.pk).state == CallState.OPEN


def test_an_empty_choice_filter_is_refused_not_ignored(client_for):
    """`?state=` is outside the documented enum: a 400 naming the filter, not the whole list
    (schemathesis ST201, issue 11)."""
    client = client_for("instructor")
    assert client.get("/api/agreements/", {"state": "draft"}).status_code == 200
    response = client.get("/api/agreements/", {"state": ""})
    assert response.status_code == 400
    assert response.json()["errors"]["state"] == ["Choisissez une valeur de la liste."]
    assert client.get("/api/applications/", {"state": " "}).status_code == 400


def test_the_schema_says_what_schemathesis_found_undocumented():
    """Lists of ids need one id (`minItems: 1`), a bulk action without a job has `job: null`, and
    transition bodies that overlap are `anyOf` (a body valid for two transitions is not invalid)."""
    from drf_spectacular.generators import SchemaGenerator

    components = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]
    ids = "InstalmentApproveInputRequest", "ids"
    assert components[ids[0]]["properties"][ids[1]]["minItems"] == 1
    run = components["PaymentRunCreateInputRequest"]["properties"]
    assert run["instalment_ids"]["minItems"] == 1
    assert components["BulkActionInputRequest"]["properties"]["ids"]["minItems"] == 1
    assert components["BulkAction"]["properties"]["job"]["nullable"] is True
    for name in ("Transition", "AgreementTransition", "CandidacyTransition", "RecoveryAction"):
        body = components[f"{name}InputRequest"]
        assert "anyOf" in body and "oneOf" not in body, name
