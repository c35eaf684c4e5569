"""API of direct awards and multi-year support: POST /api/direct-awards/, GET/PUT
/api/applications/{id}/years/, GET /api/programmes/{id}/multi-year-share/."""

from __future__ import annotations

from decimal import Decimal

import pytest

from calls.models import CallMode
from grants import services
from grants.models import Application, ApplicationKind
from grants.models import ApplicationState as S

from .. import factories as f
from .conftest import put

pytestmark = pytest.mark.django_db


@pytest.fixture
def programme(db):
    return f.ProgrammeFactory(envelope=Decimal("20000.00"))


def award_payload(organisation, programme, **extra):
    return {
        "organisation": organisation.pk,
        "programme": programme.pk,
        "title": "Été solidaire",
        "summary": "Sorties pour les enfants",
        "requested_amount": "8000.00",
        "urgency_reason": "Fermeture du centre de loisirs",
        "qpvs": [f.QPVFactory().pk],
        "pillar": f.PillarFactory().pk,
        **extra,
    }


class TestDirectAwards:
    def test_instructor_opens_a_filed_award(self, client_for, organisation, programme):
        response = client_for("instructor").post(
            "/api/direct-awards/", award_payload(organisation, programme), format="json"
        )
        assert response.status_code == 201, response.content
        body = response.json()
        assert (
            body["state"] == "submitted" and body["kind"] == "direct_award" and body["call"] is None
        )
        assert (
            body["reference"].startswith("HA-2026-")
            and body["urgency_reason"] == "Fermeture du centre de loisirs"
        )
        assert body["requested_amount"] == "8000.00" and len(body["qpvs"]) == 1
        names = [t["name"] for t in body["allowed_transitions"]]
        assert (
            "award_directly" not in names and "refuse_directly" not in names
        )  # the instructor does not decide

    def test_errors_by_field_in_french(self, client_for, organisation, programme):
        response = client_for("instructor").post(
            "/api/direct-awards/",
            award_payload(organisation, programme, urgency_reason="", title=""),
            format="json",
        )
        assert response.status_code == 400
        assert set(response.json()["errors"]) == {"urgency_reason", "title"}
        response = client_for("instructor").post(
            "/api/direct-awards/",
            award_payload(organisation, programme, requested_amount="12,5"),
            format="json",
        )
        assert response.status_code == 400 and "requested_amount" in response.json()["errors"]

    @pytest.mark.parametrize(
        "role,expected",
        [
            ("anonymous", 401),
            ("applicant", 403),
            ("committee_member", 403),
            ("auditor", 403),
            ("panel_member", 403),
            ("manager", 201),
        ],
    )
    def test_who_may_open(self, client_for, role, expected, organisation, programme, applicant):
        response = client_for(role).post(
            "/api/direct-awards/", award_payload(organisation, programme), format="json"
        )
        assert response.status_code == expected
        if role == "applicant":
            assert response.json()["code"] == "permission_denied"

    def test_manager_decides_through_the_transitions_with_override(
        self, client_for, organisation, programme
    ):
        app_id = (
            client_for("instructor")
            .post(
                "/api/direct-awards/",
                award_payload(organisation, programme, requested_amount="25000.00"),
                format="json",
            )
            .json()["id"]
        )
        manager = client_for("manager")
        url = f"/api/applications/{app_id}/transitions/award_directly/"
        response = manager.post(url, {"amount": "25000.00"}, format="json")
        assert response.status_code == 400 and response.json()["code"] == "envelope_exceeded"
        response = manager.post(
            url, {"amount": "25000.00", "envelope_override_reason": "Canicule"}, format="json"
        )
        assert response.status_code == 200 and response.json()["state"] == "approved"
        assert (
            client_for("instructor").post(url, {"amount": "1.00"}, format="json").status_code == 403
        )
        assert (
            manager.post(url, {"amount": "25000.00"}, format="json").status_code == 200
        )  # already decided


class TestYears:
    @pytest.fixture
    def structural(self, organisation, applicant):
        call = f.CallFactory(
            mode=CallMode.STRUCTURAL_SUPPORT,
            multi_year_allowed=True,
            max_amount=None,
            max_share_percent=None,
            envelope=Decimal("500000"),
        )
        return f.ApplicationFactory(
            call=call, organisation=organisation, kind=ApplicationKind.STRUCTURAL_SUPPORT
        )

    def url(self, app):
        return f"/api/applications/{app.pk}/years/"

    def test_applicant_sets_the_years(self, client_for, structural):
        client = client_for("applicant")
        years = [
            {"fiscal_year": 2027, "amount": "30000.00"},
            {"fiscal_year": 2028, "amount": "32000.00"},
            {"fiscal_year": 2029, "amount": "34000.50"},
        ]
        response = client.put(self.url(structural), {"years": years}, format="json")
        assert response.status_code == 200, response.content
        assert response.json() == [
            {
                "fiscal_year": y["fiscal_year"],
                "requested_amount": y["amount"],
                "proposed_amount": None,
                "approved_amount": None,
            }
            for y in years
        ]
        app = Application.objects.get(pk=structural.pk)
        assert app.requested_amount == Decimal("96000.50") and app.duration_years == 3
        assert client.get(self.url(structural)).json()[2]["requested_amount"] == "34000.50"

    def test_rules_of_the_service(self, client_for, structural):
        client = client_for("applicant")
        two = [{"fiscal_year": 2027, "amount": "1.00"}, {"fiscal_year": 2028, "amount": "1.00"}]
        response = client.put(self.url(structural), {"years": two}, format="json")
        assert response.status_code == 400 and "years" in response.json()["errors"]
        gap = [*two, {"fiscal_year": 2030, "amount": "1.00"}]
        assert client.put(self.url(structural), {"years": gap}, format="json").status_code == 400
        response = client.put(
            self.url(structural), {"years": [{"fiscal_year": "x", "amount": "1"}]}, format="json"
        )
        assert response.status_code == 400

    def test_scope_and_state(self, client_for, structural, instructor):
        three = [{"fiscal_year": 2027 + i, "amount": "10.00"} for i in range(3)]
        assert (
            client_for("other_applicant")
            .put(self.url(structural), {"years": three}, format="json")
            .status_code
            == 404
        )
        assert client_for("other_applicant").get(self.url(structural)).status_code == 404
        put(structural, S.SUBMITTED)
        assert (
            client_for("instructor")
            .put(self.url(structural), {"years": three}, format="json")
            .status_code
            == 403
        )
        response = client_for("applicant").put(
            self.url(structural), {"years": three}, format="json"
        )
        assert response.status_code == 409
        assert client_for("instructor").get(self.url(structural)).status_code == 200

    def test_proposed_is_for_staff_only(self, client_for, structural, applicant, committee_member):
        from grants.direct import services as services_direct

        services_direct.application_set_years(
            actor=applicant,
            application=structural,
            years=[{"fiscal_year": 2027 + i, "amount": "10000"} for i in range(3)],
        )
        app = put(structural, S.IN_COMMITTEE)
        app.years.update(proposed_amount=Decimal("9000.00"))
        assert client_for("applicant").get(self.url(app)).json()[0]["proposed_amount"] is None
        assert (
            client_for("committee_member").get(self.url(app)).json()[0]["proposed_amount"]
            == "9000.00"
        )
        f.open_session_for(app, chair=committee_member)
        services.application_approve(
            actor=committee_member,
            application=app,
            amount=Decimal("27000.00"),
            yearly_amounts={2027: Decimal("9000"), 2028: Decimal("9000"), 2029: Decimal("9000")},
        )
        assert [
            y["approved_amount"] for y in client_for("applicant").get(self.url(app)).json()
        ] == ["9000.00"] * 3


class TestMultiYearShare:
    def test_share(self, client_for, programme):
        for multi in (True, False, False, True):
            app = f.ApplicationFactory(call=f.CallFactory(programme=programme))
            Application.objects.filter(pk=app.pk).update(
                state=S.APPROVED, is_multi_year=multi, approved_amount=Decimal("100")
            )
        response = client_for("auditor").get(f"/api/programmes/{programme.pk}/multi-year-share/")
        assert response.status_code == 200
        assert response.json() == {
            "programme": programme.pk,
            "supported": 4,
            "multi_year": 2,
            "share": "50.0",
        }

    def test_empty_programme_unknown_programme_and_roles(self, client_for, programme):
        assert (
            client_for("manager")
            .get(f"/api/programmes/{programme.pk}/multi-year-share/")
            .json()["share"]
            is None
        )
        assert (
            client_for("manager").get("/api/programmes/999999/multi-year-share/").status_code == 404
        )
        assert (
            client_for("applicant")
            .get(f"/api/programmes/{programme.pk}/multi-year-share/")
            .status_code
            == 403
        )
        assert (
            client_for("anonymous")
            .get(f"/api/programmes/{programme.pk}/multi-year-share/")
            .status_code
            == 401
        )


def test_schema_documents_the_endpoints(client_for):
    schema = client_for("anonymous").get("/api/schema/?format=json").json()
    assert "post" in schema["paths"]["/api/direct-awards/"]
    assert {"get", "put"} <= set(schema["paths"]["/api/applications/{application_pk}/years/"])
    assert "get" in schema["paths"]["/api/programmes/{programme_pk}/multi-year-share/"]
