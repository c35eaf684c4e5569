"""Pages of direct awards (hors appel) and structural support: who sees what, the whole web path of a
direct award (open → manager awards, with an envelope override when over) and of a structural
support file (yearly amounts → … → approval with per-year amounts), and the multi-year share."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from calls.models import CallMode
from core.models import AuditLog
from grants import services
from grants.direct import services as services_direct
from grants.models import Application, ApplicationKind
from grants.models import ApplicationState as S
from tests import factories as f

pytestmark = pytest.mark.django_db


def login(client, user):
    client.force_login(user)
    return client


def fresh(app):
    return Application.objects.get(pk=app.pk)


@pytest.fixture
def programme(db):
    return f.ProgrammeFactory(name="Contrat de ville", envelope=Decimal("20000.00"))


def open_payload(organisation, programme, **extra):
    qpv, pillar = f.QPVFactory(), f.PillarFactory()
    return {
        "organisation": str(organisation.pk),
        "programme": str(programme.pk),
        "title": "Été solidaire",
        "summary": "Sorties pour les enfants restés au quartier.",
        "qpvs": [str(qpv.pk)],
        "pillar": str(pillar.pk),
        "requested_amount": "8 000,00",
        "urgency_reason": "Fermeture du centre de loisirs en juin.",
        **extra,
    }


def open_award(instructor, organisation, programme, amount="8000.00"):
    return services_direct.direct_award_open(
        actor=instructor,
        organisation=organisation,
        programme=programme,
        title="Été solidaire",
        summary="Sorties",
        urgency_reason="Urgence",
        requested_amount=Decimal(amount),
    )


class TestAccess:
    def test_pages_need_a_login(self, client):
        for name in ("direct:list", "direct:create", "direct:multi_year_overview"):
            assert client.get(reverse(name)).status_code == 302

    def test_applicants_and_residents_are_refused(self, client, applicant, panel_member, programme):
        for user in (applicant, panel_member):
            login(client, user)
            for url in (
                reverse("direct:list"),
                reverse("direct:create"),
                reverse("direct:multi_year_overview"),
                reverse("direct:multi_year_programme", args=[programme.pk]),
            ):
                assert client.get(url).status_code == 403, (user, url)

    def test_only_instruction_opens(
        self, client, auditor, committee_member, finance_officer, instructor, manager
    ):
        for user in (auditor, committee_member, finance_officer):
            login(client, user)
            assert client.get(reverse("direct:list")).status_code == 200
            assert client.get(reverse("direct:create")).status_code == 403
            assert client.post(reverse("direct:create"), {}).status_code == 403
        for user in (instructor, manager):
            login(client, user)
            page = client.get(reverse("direct:create"))
            assert page.status_code == 200
            assert 'id="direct-award-form"' in page.content.decode()

    def test_unknown_programme_is_404(self, client, manager):
        login(client, manager)
        assert client.get(reverse("direct:multi_year_programme", args=[99999])).status_code == 404

    def test_scoped_instructor_sees_only_their_direct_awards(self, client, manager, programme):
        inside, outside = f.QPVFactory(), f.QPVFactory()
        scoped = f.UserFactory(email="scoped@ville.example.org")
        f.give_role(scoped, "instructor", territories=[inside])
        seen = services_direct.direct_award_open(
            actor=manager,
            organisation=f.OrganisationFactory(name="Asso dedans"),
            programme=programme,
            title="Dedans",
            summary="s",
            urgency_reason="u",
            requested_amount=Decimal("100"),
            data={"qpvs": [inside]},
        )
        services_direct.direct_award_open(
            actor=manager,
            organisation=f.OrganisationFactory(name="Asso dehors"),
            programme=programme,
            title="Dehors",
            summary="s",
            urgency_reason="u",
            requested_amount=Decimal("100"),
            data={"qpvs": [outside]},
        )
        body = login(client, scoped).get(reverse("direct:list")).content.decode()
        assert seen.reference in body and "Asso dehors" not in body


class TestOpen:
    def test_search_narrows_the_organisation_list(self, client, instructor):
        f.OrganisationFactory(name="Régie Nord")
        other = f.OrganisationFactory(name="Ludothèque Sud")
        login(client, instructor)
        body = client.get(reverse("direct:create"), {"q": "régie"}).content.decode()
        assert "Régie Nord" in body and "Ludothèque Sud" not in body
        body = client.get(reverse("direct:create"), {"q": other.siret[:9]}).content.decode()
        assert "Ludothèque Sud" in body and "Régie Nord" not in body

    def test_missing_reason_is_shown_next_to_the_field_and_input_kept(
        self, client, instructor, organisation, programme
    ):
        login(client, instructor)
        response = client.post(
            reverse("direct:create"), open_payload(organisation, programme, urgency_reason="")
        )
        assert response.status_code == 400
        body = response.content.decode()
        assert (
            "Motivez l&#x27;attribution hors appel" in body
            or "Motivez l'attribution hors appel" in body
        )
        assert "Été solidaire" in body and "8 000,00" in body
        assert 'role="alert"' in body
        assert not Application.objects.filter(kind=ApplicationKind.DIRECT_AWARD).exists()

    def test_open_files_the_award_at_once(self, client, instructor, organisation, programme):
        login(client, instructor)
        response = client.post(reverse("direct:create"), open_payload(organisation, programme))
        app = Application.objects.get(kind=ApplicationKind.DIRECT_AWARD)
        assert response.status_code == 302 and response["Location"] == reverse(
            "grants:application_detail", args=[app.pk]
        )
        assert app.state == S.SUBMITTED and app.requested_amount == Decimal("8000.00")
        assert (
            app.urgency_reason == "Fermeture du centre de loisirs en juin."
            and app.qpvs.count() == 1
        )
        page = client.get(response["Location"]).content.decode()
        assert 'id="urgency-reason"' in page and "Fermeture du centre de loisirs" in page


def test_direct_award_whole_web_path_with_envelope_override(
    client, instructor, manager, organisation, programme, applicant
):
    """Open from the page → listed as pending → the manager awards; beyond the envelope only with a
    reason, shown next to its field, the input kept."""
    f.ApplicationFactory(
        call=f.CallFactory(programme=programme)
    )  # a draft of another mode, not counted
    earlier = open_award(instructor, organisation, programme, "15000.00")
    services_direct.direct_award_decide(
        actor=manager, application=earlier, approve=True, amount=Decimal("15000.00")
    )
    login(client, instructor)
    client.post(reverse("direct:create"), open_payload(organisation, programme))
    app = Application.objects.filter(kind=ApplicationKind.DIRECT_AWARD, state=S.SUBMITTED).get()

    listing = (
        login(client, manager)
        .get(reverse("direct:list"), {"programme": programme.pk})
        .content.decode()
    )
    assert app.reference in listing and earlier.reference in listing
    assert "20 000,00 €" in listing.replace("\u202f", " ").replace("\xa0", " ")  # envelope
    assert "5 000,00 €" in listing.replace("\u202f", " ").replace("\xa0", " ")  # remaining

    detail = client.get(reverse("grants:application_detail", args=[app.pk])).content.decode()
    assert (
        'id="transition-award_directly"' in detail and 'id="transition-refuse_directly"' in detail
    )
    url = reverse("grants:application_transition", args=[app.pk, "award_directly"])
    response = client.post(
        url, {"award_directly-amount": "8000,00", "award_directly-reason": "Urgence"}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "dépasse l&#x27;enveloppe" in body or "dépasse l'enveloppe" in body
    assert 'value="8000,00"' in body
    assert fresh(app).state == S.SUBMITTED
    response = client.post(
        url,
        {
            "award_directly-amount": "8000,00",
            "award_directly-reason": "Urgence",
            "award_directly-envelope_override_reason": "Canicule : priorité du préfet",
        },
    )
    assert response.status_code == 302
    app = fresh(app)
    assert app.state == S.APPROVED and app.approved_amount == Decimal("8000.00")
    assert app.envelope_override_reason == "Canicule : priorité du préfet"
    assert AuditLog.objects.filter(
        object_id=str(app.pk), action="grants.application.envelope_overridden"
    ).exists()
    # The instructor sees the award but cannot decide it; the applicant sees it without internal data.
    detail = (
        login(client, instructor)
        .get(reverse("grants:application_detail", args=[app.pk]))
        .content.decode()
    )
    assert 'id="transition-award_directly"' not in detail
    detail = (
        login(client, applicant)
        .get(reverse("grants:application_detail", args=[app.pk]))
        .content.decode()
    )
    assert "Canicule" not in detail and 'id="approved-amount"' in detail


def test_manager_refuses_with_a_reason(client, instructor, manager, organisation, programme):
    app = open_award(instructor, organisation, programme)
    login(client, manager)
    url = reverse("grants:application_transition", args=[app.pk, "refuse_directly"])
    assert client.post(url, {"refuse_directly-reason": ""}).status_code == 400
    assert client.post(url, {"refuse_directly-reason": "Financé par ailleurs"}).status_code == 302
    assert fresh(app).state == S.REJECTED


# --------------------------------------------------------------------------- structural support


def years_payload(rows, base=None):
    data = dict(base or {})
    data.update(
        {
            "years-TOTAL_FORMS": str(len(rows)),
            "years-INITIAL_FORMS": "0",
            "years-MIN_NUM_FORMS": "0",
            "years-MAX_NUM_FORMS": "5",
        }
    )
    for i, (year, amount) in enumerate(rows):
        data[f"years-{i}-fiscal_year"] = str(year)
        data[f"years-{i}-amount"] = amount
    return data


def edit_base(app):
    """The rest of the edit form as the page posts it back: a balanced three-year budget whose
    account 74 holds the whole request."""
    qpv = app.qpvs.first()
    mgmt = {}
    for prefix, total in (("indicators", 0), ("charges", 2), ("products", 1)):
        mgmt.update(
            {
                f"{prefix}-TOTAL_FORMS": str(total),
                f"{prefix}-INITIAL_FORMS": "0",
                f"{prefix}-MIN_NUM_FORMS": "0",
                f"{prefix}-MAX_NUM_FORMS": "1000",
            }
        )
    mgmt.update(
        {
            "charges-0-account": "60",
            "charges-0-amount": "5000",
            "charges-1-account": "64",
            "charges-1-amount": "91000",
            "products-0-account": "74",
            "products-0-subsidy_source": "municipality",
            "products-0-amount": "96000",
        }
    )
    return {
        "title": app.title,
        "summary": app.summary,
        "start_date": "2027-01-01",
        "end_date": "2029-12-31",
        "qpvs": [str(qpv.pk)],
        "pillar": str(app.pillar_id),
        "requested_amount": "0",
        "objectives": "Accueillir toute l'année",
        **mgmt,
    }


@pytest.fixture
def structural(applicant, organisation):
    call = f.CallFactory(
        mode=CallMode.STRUCTURAL_SUPPORT,
        multi_year_allowed=True,
        envelope=Decimal("500000"),
        max_amount=None,
        max_share_percent=None,
    )
    return f.ApplicationFactory(
        call=call, organisation=organisation, kind=ApplicationKind.STRUCTURAL_SUPPORT
    )


def test_years_section_only_where_it_applies(client, applicant, draft, structural):
    login(client, applicant)
    body = client.get(reverse("grants:application_edit", args=[draft.pk])).content.decode()
    assert 'id="years-edit"' not in body
    body = client.get(reverse("grants:application_edit", args=[structural.pk])).content.decode()
    assert (
        'id="years-edit"' in body and "Montants annuels" in body and 'name="years-4-amount"' in body
    )
    assert 'for="id_years-0-amount"' in body
    Application.objects.filter(pk=draft.pk).update(wants_multi_year=True)
    body = client.get(reverse("grants:application_edit", args=[draft.pk])).content.decode()
    assert 'id="years-edit"' in body


def test_years_errors_are_shown_and_the_rest_saved(client, applicant, structural):
    login(client, applicant)
    url = reverse("grants:application_edit", args=[structural.pk])
    data = years_payload(
        [(2027, "30000"), (2028, "30000")], edit_base(structural) | {"title": "Nouveau titre"}
    )
    response = client.post(url, data)
    assert response.status_code == 400
    body = response.content.decode()
    assert 'id="years-errors"' in body and "de 3 à 5 exercices" in body
    assert fresh(structural).title == "Nouveau titre" and not structural.years.exists()
    response = client.post(
        url, years_payload([(2027, "30000"), (2028, "abc"), (2029, "1")], edit_base(structural))
    )
    assert response.status_code == 400
    assert 'aria-describedby="id_years-1-amount_error"' in response.content.decode()


def test_structural_support_whole_web_path(
    client, applicant, structural, instructor, committee_member
):
    """Years typed in the edit page → filed → instruction → committee approves year by year on the file
    page → the file page shows requested, proposed and approved amounts per year."""
    login(client, applicant)
    url = reverse("grants:application_edit", args=[structural.pk])
    data = years_payload(
        [(2027, "30 000,00"), (2028, "32000"), (2029, "34000"), (2030, "")], edit_base(structural)
    )
    response = client.post(url, {**data, "action": "save"})
    assert response.status_code == 302, response.content.decode()[:3000]
    app = fresh(structural)
    assert [(y.fiscal_year, y.requested_amount) for y in app.years.all()] == [
        (2027, Decimal("30000.00")),
        (2028, Decimal("32000.00")),
        (2029, Decimal("34000.00")),
    ]
    assert app.requested_amount == Decimal("96000.00") and app.duration_years == 3
    body = client.get(url).content.decode().replace("\u202f", " ").replace("\xa0", " ")
    assert 'value="32 000,00"' in body

    # Filed from the page.
    response = client.post(url, {**data, "action": "submit", "requested_amount": "96000"})
    assert response.status_code == 302, response.content.decode()[:3000]
    app = fresh(app)
    assert app.state == S.SUBMITTED
    app = services.application_declare_eligible(actor=instructor, application=app)
    app = services.application_start_review(actor=instructor, application=app)
    app = services.application_send_to_committee(
        actor=instructor, application=app, proposed_amount=Decimal("90000.00")
    )
    f.open_session_for(app, chair=committee_member)  # the chair decides in the open session

    login(client, committee_member)
    detail = client.get(reverse("grants:application_detail", args=[app.pk])).content.decode()
    assert 'id="years-table"' in detail and 'name="approve-year_2028"' in detail
    action = reverse("grants:application_transition", args=[app.pk, "approve"])
    response = client.post(
        action,
        {
            "approve-amount": "90000",
            "approve-year_2027": "30000",
            "approve-year_2028": "30000",
            "approve-year_2029": "20000",
        },
    )
    assert response.status_code == 400  # the years must add up to the approval
    assert "totaliser le montant accordé" in response.content.decode()
    assert fresh(app).state == S.IN_COMMITTEE
    response = client.post(
        action,
        {
            "approve-amount": "90000",
            "approve-year_2027": "28000",
            "approve-year_2028": "30000",
            "approve-year_2029": "32000",
        },
    )
    assert response.status_code == 302
    app = fresh(app)
    assert app.state == S.APPROVED and app.is_multi_year
    assert [(y.fiscal_year, y.approved_amount) for y in app.years.all()] == [
        (2027, Decimal("28000.00")),
        (2028, Decimal("30000.00")),
        (2029, Decimal("32000.00")),
    ]
    detail = client.get(reverse("grants:application_detail", args=[app.pk])).content.decode()
    assert 'id="year-2029"' in detail and "32 000,00" in detail.replace("\u202f", " ").replace(
        "\xa0", " "
    )

    # The applicant sees the years, never the proposed column.
    detail = (
        login(client, applicant)
        .get(reverse("grants:application_detail", args=[app.pk]))
        .content.decode()
    )
    assert 'id="years-table"' in detail and "Proposé" not in detail


def test_multi_year_share_page(client, manager, programme):
    for multi in (True, False, False, True):
        app = f.ApplicationFactory(call=f.CallFactory(programme=programme))
        Application.objects.filter(pk=app.pk).update(
            state=S.APPROVED, is_multi_year=multi, approved_amount=Decimal("100")
        )
    login(client, manager)
    body = client.get(reverse("direct:multi_year_programme", args=[programme.pk])).content.decode()
    assert "Part des associations soutenues en pluriannuel" in body
    assert 'id="share-supported">4<' in body and 'id="share-multi-year">2<' in body
    assert "50,0 %" in body or "50.0 %" in body
    overview = client.get(reverse("direct:multi_year_overview")).content.decode()
    assert reverse("direct:multi_year_programme", args=[programme.pk]) in overview
    assert body.count("<h1") == 1
