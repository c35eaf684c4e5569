"""API of contracts, commitments and indicators: scope, writes through the services, OpenAPI."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from contracts.services_observatory import indicator_define

from .. import factories as f


@pytest.fixture
def api():
    return APIClient()


def test_contracts_are_scoped(api, signed, representative):
    outsider = f.UserFactory(email="out@example.org")
    api.force_authenticate(outsider)
    assert api.get("/api/contracts/").json()["results"] == []
    assert api.get(f"/api/contracts/{signed.pk}/").status_code == 404
    api.force_authenticate(representative)
    body = api.get(f"/api/contracts/{signed.pk}/").json()
    assert body["state"] == "signed" and len(body["signatories"]) == 3
    assert body["qpvs"] == ["QN01301M", "QN01302M"]


def test_commitment_create_and_report(
    api, manager, representative, signed, parts, signatories, commitments
):
    api.force_authenticate(manager)
    bad = api.post(
        "/api/contract-commitments/",
        {
            "contract": signed.pk,
            "signatory": signatories[0].pk,
            "part": parts[0].pk,
            "year": 2026,
            "kind": "specific",
        },
        format="json",
    )
    assert bad.status_code == 400
    ok = api.post(
        "/api/contract-commitments/",
        {
            "contract": signed.pk,
            "signatory": signatories[0].pk,
            "part": parts[0].pk,
            "year": 2027,
            "kind": "specific",
            "amount": "5000",
        },
        format="json",
    )
    assert ok.status_code == 201, ok.json()
    assert ok.json()["amount"] == "5000.00"
    api.force_authenticate(representative)
    done = api.post(
        f"/api/contract-commitments/{commitments[2].pk}/report/",
        {"note": "40 permanences", "realised_value": "40"},
        format="json",
    )
    assert done.status_code == 200
    assert done.json()["realised_value"] == "40.00"
    refused = api.post(
        f"/api/contract-commitments/{commitments[0].pk}/report/", {"note": "x"}, format="json"
    )
    assert refused.status_code == 403


def test_indicator_values(api, manager, signed, parts, qpvs, citizen):
    indicator = indicator_define(
        actor=manager,
        contract=signed,
        part=parts[0],
        code="reussite",
        label="Réussite au brevet",
        qpv=qpvs[0],
    )
    api.force_authenticate(manager)
    response = api.post(
        f"/api/contract-indicators/{indicator.pk}/values/",
        {"year": 2025, "value": "81.5"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["values"] == [
        {"year": 2025, "value": "81.50", "source": "", "measured_on": None}
    ]
    api.force_authenticate(citizen)
    assert api.get("/api/contract-indicators/").json()["count"] == 1
    assert (
        api.post(
            f"/api/contract-indicators/{indicator.pk}/values/",
            {"year": 2025, "value": "1"},
            format="json",
        ).status_code
        == 403
    )


def test_openapi_lists_the_endpoints(api, manager):
    api.force_authenticate(manager)
    schema = api.get("/api/schema/", {"format": "json"}).json()
    for path in (
        "/api/contracts/",
        "/api/contract-commitments/{id}/report/",
        "/api/contract-indicators/{id}/values/",
    ):
        assert path in schema["paths"]
