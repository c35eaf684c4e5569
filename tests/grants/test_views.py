"""Pages of applications: the applicant's, the instruction's and the committee's."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.models import Role
from grants import services
from grants.models import (
    Application,
    ApplicationAttachment,
    CommitteeSession,
    CompletionRequest,
    InstructorNote,
)
from grants.models import ApplicationState as S
from tests import factories as f

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def login(client, user):
    client.force_login(user)
    return client


def fresh(app):
    """Re-read a file (refresh_from_db cannot reset a protected FSM field)."""
    return Application.objects.get(pk=app.pk)


def detail_url(app):
    return reverse("grants:application_detail", args=[app.pk])


def action_url(app, name):
    return reverse("grants:application_transition", args=[app.pk, name])


def submitted(draft, applicant):
    return services.application_submit(actor=applicant, application=draft)


def in_review(draft, applicant, instructor):
    app = submitted(draft, applicant)
    app = services.application_declare_eligible(actor=instructor, application=app)
    return services.application_start_review(actor=instructor, application=app)


def management(prefix, total, initial=0):
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def edit_payload(
    *, qpv, pillar, charges, products, title="Ateliers du mercredi", requested="8000,00", **extra
):
    """The edit form as a browser posts it: project fields, one objective, an indicator, the budget."""
    data = {
        "title": title,
        "summary": "Soutien scolaire et sorties culturelles.",
        "start_date": "2026-02-01",
        "end_date": "2026-12-15",
        "qpvs": [str(qpv.pk)],
        "pillar": str(pillar.pk),
        "beneficiaries_count": "40",
        "requested_amount": requested,
        "objectives": "Réduire le décrochage\nOuvrir des horizons culturels",
        **management("indicators", 1),
        "indicators-0-label": "Enfants accompagnés",
        "indicators-0-unit": "enfants",
        "indicators-0-target": "40",
        **management("charges", len(charges)),
        **management("products", len(products)),
        "action": "save",
    }
    for i, (account, label, amount) in enumerate(charges):
        data.update(
            {
                f"charges-{i}-account": account,
                f"charges-{i}-label": label,
                f"charges-{i}-amount": amount,
            }
        )
    for i, (account, source, label, amount) in enumerate(products):
        data.update(
            {
                f"products-{i}-account": account,
                f"products-{i}-subsidy_source": source,
                f"products-{i}-label": label,
                f"products-{i}-amount": amount,
            }
        )
    data.update(extra)
    return data


BALANCED_CHARGES = [("60", "Fournitures", "2 000,00"), ("64", "Animateurs", "10000.00")]
BALANCED_PRODUCTS = [("74", "municipality", "Ville", "8000"), ("75", "", "Cotisations", "4000,00")]


# --------------------------------------------------------------------------- access by role


class TestAccess:
    def test_anonymous_is_sent_to_login(self, client, draft):
        for url in [
            reverse("grants:my_applications"),
            reverse("grants:queue"),
            detail_url(draft),
            reverse("grants:committee_list"),
        ]:
            response = client.get(url)
            assert response.status_code == 302
            assert reverse("core:login") in response["Location"]

    def test_my_applications_lists_the_organisations_files(self, client, applicant, draft):
        response = login(client, applicant).get(reverse("grants:my_applications"))
        assert response.status_code == 200
        assert draft.reference in response.content.decode()
        assert reverse("grants:application_edit", args=[draft.pk]) in response.content.decode()

    def test_my_applications_hides_other_organisations(self, client, other_applicant, draft):
        response = login(client, other_applicant).get(reverse("grants:my_applications"))
        assert response.status_code == 200
        assert draft.reference not in response.content.decode()

    def test_staff_without_organisation_goes_to_the_queue(self, client, instructor):
        response = login(client, instructor).get(reverse("grants:my_applications"))
        assert response.status_code == 302
        assert response["Location"] == reverse("grants:queue")

    def test_other_organisation_gets_404_on_detail_and_edit(self, client, other_applicant, draft):
        login(client, other_applicant)
        assert client.get(detail_url(draft)).status_code == 404
        assert client.get(reverse("grants:application_edit", args=[draft.pk])).status_code == 404
        assert client.post(action_url(draft, "submit")).status_code == 404

    def test_staff_do_not_see_drafts(self, client, instructor, draft):
        assert login(client, instructor).get(detail_url(draft)).status_code == 404

    def test_instructor_cannot_edit_the_applicants_file(self, client, instructor, draft, applicant):
        app = submitted(draft, applicant)
        login(client, instructor)
        assert client.get(detail_url(app)).status_code == 200
        assert client.get(reverse("grants:application_edit", args=[app.pk])).status_code == 404

    def test_queue_is_for_staff_only(self, client, applicant, instructor, auditor):
        assert login(client, applicant).get(reverse("grants:queue")).status_code == 403
        assert login(client, instructor).get(reverse("grants:queue")).status_code == 200
        assert login(client, auditor).get(reverse("grants:queue")).status_code == 200

    def test_committee_pages_by_role(self, client, applicant, committee_member, call):
        session = CommitteeSession.objects.create(
            programme=call.programme,
            call=call,
            title="Comité de mars",
            date=datetime.date(2026, 3, 20),
        )
        login(client, applicant)
        assert client.get(reverse("grants:committee_list")).status_code == 403
        assert client.get(reverse("grants:committee_detail", args=[session.pk])).status_code == 403
        login(client, committee_member)
        assert client.get(reverse("grants:committee_list")).status_code == 200
        assert client.get(reverse("grants:committee_detail", args=[session.pk])).status_code == 200

    def test_bank_details_only_for_finance_and_members(
        self, client, draft, applicant, instructor, finance_officer
    ):
        app = submitted(draft, applicant)
        iban = app.organisation.iban
        assert iban not in login(client, instructor).get(detail_url(app)).content.decode()
        assert iban in login(client, finance_officer).get(detail_url(app)).content.decode()
        assert iban in login(client, applicant).get(detail_url(app)).content.decode()


# --------------------------------------------------------------------------- applicant


class TestApplicantPages:
    def test_create_a_draft_from_a_call(self, client, applicant, organisation, call):
        login(client, applicant)
        page = client.get(reverse("grants:application_create") + f"?call={call.pk}")
        assert page.status_code == 200
        assert organisation.name in page.content.decode()
        response = client.post(
            reverse("grants:application_create"),
            {"organisation": organisation.pk, "call": call.pk, "title": "Jardins partagés"},
        )
        app = Application.objects.get(title="Jardins partagés")
        assert response.status_code == 302
        assert response["Location"] == reverse("grants:application_edit", args=[app.pk])
        assert app.state == S.DRAFT and app.organisation == organisation and app.call == call

    def test_create_needs_an_organisation(self, client, instructor):
        assert (
            login(client, instructor).get(reverse("grants:application_create")).status_code == 403
        )

    def test_create_refuses_another_organisation(self, client, applicant, call):
        stranger = f.OrganisationFactory(name="Association étrangère")
        response = login(client, applicant).post(
            reverse("grants:application_create"),
            {"organisation": stranger.pk, "call": call.pk, "title": "X"},
        )
        assert response.status_code == 400
        assert not Application.objects.filter(title="X").exists()

    def test_edit_saves_a_balanced_budget(self, client, applicant, draft):
        qpv, pillar = f.QPVFactory(), f.PillarFactory()
        response = login(client, applicant).post(
            reverse("grants:application_edit", args=[draft.pk]),
            edit_payload(
                qpv=qpv, pillar=pillar, charges=BALANCED_CHARGES, products=BALANCED_PRODUCTS
            ),
        )
        assert response.status_code == 302
        draft = fresh(draft)
        assert draft.title == "Ateliers du mercredi"
        assert draft.requested_amount == Decimal("8000.00")
        assert list(draft.qpvs.all()) == [qpv]
        assert [o.text for o in draft.objectives.all()] == [
            "Réduire le décrochage",
            "Ouvrir des horizons culturels",
        ]
        assert draft.indicators.get().target == Decimal("40")
        amounts = sorted((b.account, b.amount) for b in draft.budget_items.all())
        assert amounts == [
            ("60", Decimal("2000.00")),
            ("64", Decimal("10000.00")),
            ("74", Decimal("8000.00")),
            ("75", Decimal("4000.00")),
        ]
        page = client.get(reverse("grants:application_edit", args=[draft.pk])).content.decode()
        assert "Le budget est équilibré." in page

    def test_invalid_budget_shows_errors_and_keeps_every_input(self, client, applicant, draft):
        qpv, pillar = f.QPVFactory(), f.PillarFactory()
        payload = edit_payload(
            qpv=qpv,
            pillar=pillar,
            title="Titre corrigé",
            charges=[("60", "Fournitures", "deux mille"), ("64", "Animateurs", "-5")],
            products=BALANCED_PRODUCTS,
        )
        response = login(client, applicant).post(
            reverse("grants:application_edit", args=[draft.pk]), payload
        )
        html = response.content.decode()
        assert response.status_code == 400
        assert 'value="deux mille"' in html  # the typed input is shown again
        assert 'aria-invalid="true"' in html
        assert "Certaines informations sont à corriger" in html
        draft = fresh(draft)
        assert draft.title == "Titre corrigé"  # the valid part is saved
        assert draft.budget_items.filter(
            account="60", amount=Decimal("5000.00")
        ).exists()  # old budget intact

    def test_budget_rule_of_the_service_is_shown_and_the_rest_saved(self, client, applicant, draft):
        products = [
            ("74", "", "Subvention sans financeur", "8000"),
            ("75", "", "Cotisations", "4000"),
        ]
        payload = edit_payload(
            qpv=f.QPVFactory(),
            pillar=f.PillarFactory(),
            title="Nouveau titre",
            charges=BALANCED_CHARGES,
            products=products,
        )
        response = login(client, applicant).post(
            reverse("grants:application_edit", args=[draft.pk]), payload
        )
        assert response.status_code == 400
        assert "précisez le financeur de la subvention" in response.content.decode()
        assert 'value="Subvention sans financeur"' in response.content.decode()
        draft = fresh(draft)
        assert draft.title == "Nouveau titre"

    def test_eligibility_check_is_shown_before_submitting(
        self, client, applicant, call, organisation
    ):
        app = services.application_create(
            actor=applicant, organisation=organisation, call=call, data={"title": "Brouillon vide"}
        )
        html = (
            login(client, applicant)
            .get(reverse("grants:application_edit", args=[app.pk]))
            .content.decode()
        )
        assert "Vérification avant dépôt" in html
        assert "Le budget prévisionnel est vide." in html
        assert "Indiquez au moins un objectif." in html

    def test_submit_from_the_edit_form(self, client, applicant, draft):
        payload = edit_payload(
            qpv=f.QPVFactory(),
            pillar=f.PillarFactory(),
            charges=BALANCED_CHARGES,
            products=BALANCED_PRODUCTS,
            action="submit",
        )
        response = login(client, applicant).post(
            reverse("grants:application_edit", args=[draft.pk]), payload
        )
        assert response.status_code == 302
        assert response["Location"] == detail_url(draft)
        draft = fresh(draft)
        assert draft.state == S.SUBMITTED

    def test_submit_of_an_unbalanced_budget_is_refused_with_the_reason(
        self, client, applicant, draft
    ):
        charges = [("60", "Fournitures", "3000"), ("64", "Animateurs", "10000")]
        payload = edit_payload(
            qpv=f.QPVFactory(),
            pillar=f.PillarFactory(),
            charges=charges,
            products=BALANCED_PRODUCTS,
            action="submit",
        )
        response = login(client, applicant).post(
            reverse("grants:application_edit", args=[draft.pk]), payload
        )
        assert response.status_code == 400
        assert "Le budget n&#x27;est pas équilibré" in response.content.decode()
        draft = fresh(draft)
        assert draft.state == S.DRAFT
        assert draft.budget_items.filter(
            account="60", amount=Decimal("3000")
        ).exists()  # saved anyway

    def test_submit_from_the_detail_page(self, client, applicant, draft):
        response = login(client, applicant).post(action_url(draft, "submit"))
        assert response.status_code == 302
        draft = fresh(draft)
        assert draft.state == S.SUBMITTED
        page = client.get(detail_url(draft)).content.decode()
        assert "Dossier déposé" in page  # history

    def test_withdraw(self, client, applicant, draft):
        app = submitted(draft, applicant)
        login(client, applicant).post(
            action_url(app, "withdraw"), {"withdraw-reason": "Projet abandonné"}
        )
        app = fresh(app)
        assert app.state == S.WITHDRAWN

    def test_renew_a_past_file_into_an_open_call(self, client, applicant, draft, instructor):
        app = submitted(draft, applicant)
        services.application_dismiss(actor=instructor, application=app, reason="Doublon")
        new_call = f.CallFactory(title="Appel 2027")
        login(client, applicant)
        listing = client.get(reverse("grants:my_applications")).content.decode()
        assert reverse("grants:application_renew", args=[app.pk]) in listing
        response = client.post(
            reverse("grants:application_renew", args=[app.pk]), {"call": new_call.pk}
        )
        renewed = Application.objects.get(previous=app)
        assert response.status_code == 302
        assert renewed.call == new_call and renewed.title == app.title
        assert renewed.budget_items.count() == app.budget_items.count()

    def test_similar_files_warning(self, client, applicant, draft):
        submitted(draft, applicant)
        other = f.ApplicationFactory(
            call=f.CallFactory(programme=draft.programme), organisation=draft.organisation
        )
        html = (
            login(client, applicant)
            .get(reverse("grants:application_edit", args=[other.pk]))
            .content.decode()
        )
        assert 'id="similar-warning"' in html
        assert draft.reference in html


# --------------------------------------------------------------------------- the whole path


def test_completion_committee_and_approval_through_the_pages(
    client, applicant, draft, instructor, committee_member, manager
):
    app = submitted(draft, applicant)
    # Instruction asks for completion.
    login(client, instructor)
    page = client.get(detail_url(app)).content.decode()
    assert "Demander des compléments" in page and "Déclarer recevable" in page
    deadline = (datetime.date.today() + datetime.timedelta(days=15)).isoformat()
    response = client.post(
        action_url(app, "request_completion"),
        {
            "request_completion-message": "Joignez le devis du traiteur.",
            "request_completion-deadline": deadline,
        },
    )
    assert response.status_code == 302
    app = fresh(app)
    assert app.state == S.RETURNED

    # The applicant answers with an attachment.
    login(client, applicant)
    page = client.get(detail_url(app)).content.decode()
    assert "Joignez le devis du traiteur." in page and "Renvoyer le dossier complété" in page
    upload = SimpleUploadedFile("devis.pdf", PDF, content_type="application/pdf")
    response = client.post(
        action_url(app, "resubmit"),
        {
            "resubmit-answer": "Voici le devis.",
            "resubmit-attachment": upload,
            "resubmit-attachment_title": "Devis traiteur",
        },
    )
    assert response.status_code == 302
    app = fresh(app)
    assert app.state == S.SUBMITTED
    assert CompletionRequest.objects.get(application=app).answer == "Voici le devis."
    attachment = ApplicationAttachment.objects.get(application=app)
    assert attachment.title == "Devis traiteur"
    download = client.get(reverse("grants:attachment_download", args=[app.pk, attachment.pk]))
    assert download.status_code == 200

    # Instruction: eligible, review, committee with a proposal and a session.
    session = CommitteeSession.objects.create(
        programme=app.programme,
        call=app.call,
        title="Comité d'avril",
        date=datetime.date(2026, 4, 10),
        chair=committee_member,
    )
    login(client, instructor)
    assert client.post(action_url(app, "declare_eligible")).status_code == 302
    assert client.post(action_url(app, "start_review")).status_code == 302
    response = client.post(
        action_url(app, "send_to_committee"),
        {
            "send_to_committee-proposed_amount": "9 000,00",
            "send_to_committee-session": session.pk,
            "send_to_committee-note": "Projet solide.",
        },
    )
    assert response.status_code == 302
    app = fresh(app)
    assert app.state == S.IN_COMMITTEE and app.proposed_amount == Decimal("9000.00")

    # The chair opens the session with the members present, then the committee decides through
    # the session's single form, and the chair closes it with the minutes.
    login(client, committee_member)
    url = reverse("grants:committee_detail", args=[session.pk])
    page = client.get(url).content.decode()
    assert "Ouvrir la séance" in page and "Enregistrer les décisions" not in page
    response = client.post(
        url,
        {
            "action": "open",
            "open-chair": committee_member.pk,
            "open-present": [committee_member.pk],
        },
    )
    assert response.status_code == 302
    page = client.get(url).content.decode()
    assert app.reference in page and "Enregistrer les décisions" in page
    assert 'id="envelope-proposed">9' in page
    response = client.post(
        reverse("grants:committee_detail", args=[session.pk]),
        {
            f"app-{app.pk}-decision": "approve",
            f"app-{app.pk}-amount": "9000",
            f"app-{app.pk}-conditions": "Bilan intermédiaire en juin",
        },
    )
    assert response.status_code == 302
    app = fresh(app)
    assert app.state == S.APPROVED and app.approved_amount == Decimal("9000.00")
    assert app.decision_conditions == "Bilan intermédiaire en juin"
    response = client.post(url, {"action": "close", "session-minutes": "Quorum atteint."})
    assert response.status_code == 302
    session = CommitteeSession.objects.get(pk=session.pk)
    assert session.state == CommitteeSession.State.CLOSED and session.minutes == "Quorum atteint."

    # The applicant sees the decision.
    login(client, applicant)
    page = client.get(detail_url(app)).content.decode()
    assert 'id="approved-amount"' in page and "Bilan intermédiaire en juin" in page


# --------------------------------------------------------------------------- errors and privacy


class TestInstructionPage:
    def test_a_transition_not_allowed_now_answers_409_in_french(
        self, client, applicant, draft, instructor
    ):
        app = submitted(draft, applicant)
        response = login(client, instructor).post(action_url(app, "start_review"))
        html = response.content.decode()
        assert response.status_code == 409
        assert "« Commencer l&#x27;instruction » impossible dans l&#x27;état « Déposé »" in html
        assert "Actions possibles maintenant" in html
        app = fresh(app)
        assert app.state == S.SUBMITTED

    def test_missing_input_is_shown_next_to_the_field_and_kept(
        self, client, applicant, draft, instructor
    ):
        app = submitted(draft, applicant)
        response = login(client, instructor).post(
            action_url(app, "request_completion"),
            {
                "request_completion-message": "Il manque le bilan.",
                "request_completion-deadline": "2020-01-01",
            },
        )
        html = response.content.decode()
        assert response.status_code == 400
        assert "La date limite doit être dans le futur." in html
        assert "Il manque le bilan." in html
        assert 'id="id_request_completion-deadline_error"' in html

    def test_applicant_cannot_run_an_instruction_transition(self, client, applicant, draft):
        app = submitted(draft, applicant)
        response = login(client, applicant).post(action_url(app, "declare_eligible"))
        assert response.status_code == 403
        app = fresh(app)
        assert app.state == S.SUBMITTED

    def test_only_the_allowed_transitions_are_offered(self, client, applicant, draft, instructor):
        app = submitted(draft, applicant)
        html = login(client, instructor).get(detail_url(app)).content.decode()
        assert 'id="transition-declare_eligible"' in html
        assert 'id="transition-start_review"' not in html
        assert 'id="transition-approve"' not in html

    def test_private_notes_never_reach_the_applicant(self, client, applicant, draft, instructor):
        app = submitted(draft, applicant)
        login(client, instructor)
        response = client.post(
            reverse("grants:application_note", args=[app.pk]),
            {"note-text": "Président en conflit d'intérêts"},
        )
        assert response.status_code == 302
        assert InstructorNote.objects.filter(application=app).count() == 1
        assert "Président en conflit" in client.get(detail_url(app)).content.decode()
        html = login(client, applicant).get(detail_url(app)).content.decode()
        assert "Président en conflit" not in html
        assert "Notes internes" not in html
        assert "Note interne ajoutée" not in html  # not even in the history

    def test_manual_assignment(self, client, applicant, draft, instructor):
        app = submitted(draft, applicant)
        colleague = f.UserFactory(
            email="collegue@ville.example.org", first_name="Awa", last_name="Diallo"
        )
        f.give_role(colleague, Role.INSTRUCTOR)
        response = login(client, instructor).post(
            reverse("grants:application_assign", args=[app.pk]),
            {"assign-assigned_to": colleague.pk},
        )
        assert response.status_code == 302
        app = fresh(app)
        assert app.assigned_to == colleague

    def test_scoring_against_the_grid(self, client, applicant, draft, instructor):
        criterion = f.CriterionFactory(call=draft.call, label="Ancrage local", max_score=5)
        app = in_review(draft, applicant, instructor)
        login(client, instructor)
        response = client.post(
            reverse("grants:application_score", args=[app.pk]), {f"score-score_{criterion.pk}": "7"}
        )
        assert response.status_code == 400
        assert "La note doit être comprise entre 0 et 5." in response.content.decode()
        response = client.post(
            reverse("grants:application_score", args=[app.pk]), {f"score-score_{criterion.pk}": "4"}
        )
        assert response.status_code == 302
        assert app.scores.get().value == 4

    def test_partner_opinion(self, client, applicant, draft, instructor, committee_member):
        app = in_review(draft, applicant, instructor)
        response = login(client, committee_member).post(
            reverse("grants:application_opinion", args=[app.pk]),
            {"opinion-opinion": "favourable", "opinion-comment": "Utile"},
        )
        assert response.status_code == 302
        assert app.opinions.get().opinion == "favourable"


# --------------------------------------------------------------------------- committee


class TestCommittee:
    def test_create_a_session(self, client, manager, call):
        response = login(client, manager).post(
            reverse("grants:committee_list"),
            {
                "programme": call.programme.pk,
                "call": call.pk,
                "title": "Comité de juin",
                "date": "2026-06-12",
            },
        )
        session = CommitteeSession.objects.get(title="Comité de juin")
        assert response.status_code == 302
        assert session.call == call

    def test_amount_above_request_is_shown_on_its_row(
        self, client, applicant, draft, instructor, committee_member
    ):
        app = in_review(draft, applicant, instructor)
        # On the programme's agenda without a session yet.
        app = services.application_send_to_committee(
            actor=instructor, application=app, proposed_amount=Decimal("10000.00")
        )
        session = CommitteeSession.objects.create(
            programme=app.programme,
            title="Comité",
            date=datetime.date(2026, 5, 1),
            chair=committee_member,
        )
        services.committee_session_open(
            actor=committee_member, session=session, present=[committee_member]
        )
        response = login(client, committee_member).post(
            reverse("grants:committee_detail", args=[session.pk]),
            {f"app-{app.pk}-decision": "approve", f"app-{app.pk}-amount": "12000"},
        )
        html = response.content.decode()
        assert response.status_code == 400
        assert "ne peut pas dépasser le montant demandé" in html
        assert 'value="12000"' in html
        app = fresh(app)
        assert app.state == S.IN_COMMITTEE and app.committee_session is None  # all or nothing

    def test_defer_leaves_the_file_on_the_agenda(
        self, client, applicant, draft, instructor, manager
    ):
        app = in_review(draft, applicant, instructor)
        session = CommitteeSession.objects.create(
            programme=app.programme, title="Comité", date=datetime.date(2026, 5, 1)
        )
        services.application_send_to_committee(
            actor=instructor, application=app, proposed_amount=Decimal("5000"), session=session
        )
        response = login(client, manager).post(
            reverse("grants:committee_detail", args=[session.pk]),
            {f"app-{app.pk}-decision": "defer"},
        )
        assert response.status_code == 302
        app = fresh(app)
        assert app.state == S.IN_COMMITTEE

    def test_readers_cannot_post_decisions(self, client, auditor, call):
        session = CommitteeSession.objects.create(
            programme=call.programme, title="Comité", date=datetime.date(2026, 5, 1)
        )
        assert (
            login(client, auditor)
            .post(reverse("grants:committee_detail", args=[session.pk]), {})
            .status_code
            == 403
        )


# --------------------------------------------------------------------------- queue


def _filed(n, call, applicant_user=None):
    apps = []
    for _ in range(n):
        app = f.ApplicationFactory(call=call, state=S.SUBMITTED)
        Application.objects.filter(pk=app.pk).update(
            submitted_at=datetime.datetime.now(datetime.UTC)
        )
        apps.append(app)
    return apps


class TestQueue:
    def _count(self, client, url):
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url)
        assert response.status_code == 200
        return len(ctx.captured_queries)

    def test_same_number_of_queries_for_5_and_30_files(
        self, client, instructor, call, django_assert_max_num_queries
    ):
        login(client, instructor)
        plain = reverse("grants:queue")
        filtered = plain + f"?state=submitted&call={call.pk}&q=Projet"
        _filed(5, call)
        few, few_filtered = self._count(client, plain), self._count(client, filtered)
        _filed(25, call)
        with django_assert_max_num_queries(few):
            response = client.get(plain)
        assert response.content.decode().count("<tr>") == 31  # header + 30 rows
        with django_assert_max_num_queries(few_filtered):
            response = client.get(filtered)
        assert response.content.decode().count("<tr>") == 31

    def test_cached_filter_and_bulk_forms_follow_their_choices(self, client, instructor, call):
        """The forms are a cached fragment (issue 17), keyed on their choices: a new instructor,
        call or committee session shows at once, and the bound query is shown back."""
        _filed(1, call)
        login(client, instructor)
        first = client.get(reverse("grants:queue")).content.decode()
        assert "Nouvelle Instructrice" not in first
        newcomer = f.UserFactory(first_name="Nouvelle", last_name="Instructrice")
        f.give_role(newcomer, Role.INSTRUCTOR)
        other = f.CallFactory(title="Appel tout neuf", state=call.state)
        page = client.get(reverse("grants:queue")).content.decode()
        assert page.count("Nouvelle Instructrice") == 2  # filter and bulk assignment
        assert "Appel tout neuf" in page
        searched = client.get(reverse("grants:queue") + "?q=introuvable").content.decode()
        assert 'value="introuvable"' in searched
        assert f'<option value="{other.pk}">Appel tout neuf</option>' in page
        assert "Instructeur·rice (attribution)" in page
        client.cookies["django_language"] = "en"
        english = client.get(reverse("grants:queue")).content.decode()
        assert "Instructor (assignment)" in english and "Search" in english
        assert "Instructeur·rice (attribution)" not in english

    def test_my_applications_paginated_by_50(self, client, applicant, organisation, call):
        for _ in range(52):
            f.ApplicationFactory(call=call, organisation=organisation)
        login(client, applicant)
        first = client.get(reverse("grants:my_applications")).content.decode()
        assert "Page 1 sur 2" in first and first.count('<tr id="application-') == 50
        second = client.get(reverse("grants:my_applications") + "?page=2").content.decode()
        assert second.count('<tr id="application-') == 2

    def test_paginated_by_50(self, client, instructor, call):
        _filed(52, call)
        login(client, instructor)
        first = client.get(reverse("grants:queue")).content.decode()
        assert "Page 1 sur 2" in first
        second = client.get(reverse("grants:queue") + "?page=2").content.decode()
        assert second.count("<tr>") == 3

    def test_counts_per_state(self, client, instructor, call, applicant, draft):
        _filed(3, call)
        in_review(draft, applicant, instructor)
        html = login(client, instructor).get(reverse("grants:queue")).content.decode()
        assert 'id="tab-submitted"' in html
        assert '<span class="count">3</span>' in html
        assert '<span class="count">1</span>' in html

    def test_search_by_siret_and_by_reference(self, client, instructor, call):
        first, second = _filed(2, call)
        login(client, instructor)
        html = client.get(reverse("grants:queue"), {"q": first.organisation.siret}).content.decode()
        assert first.reference in html and second.reference not in html
        html = client.get(reverse("grants:queue"), {"q": second.reference}).content.decode()
        assert second.reference in html and first.reference not in html

    def test_filter_by_state(self, client, instructor, call, applicant, draft):
        _filed(2, call)
        reviewed = in_review(draft, applicant, instructor)
        html = (
            login(client, instructor)
            .get(reverse("grants:queue"), {"state": "under_review"})
            .content.decode()
        )
        assert reviewed.reference in html
        assert html.count("<tr>") == 2


# --------------------------------------------------------------------------- admin


def test_admin_pages_render_and_applications_stay_read_only(client, draft, call):
    from core.models import User

    client.force_login(User.objects.create_superuser("root@example.org", "secret-pass-123"))
    f.CriterionFactory(call=call)
    for url in [
        reverse("admin:grants_application_changelist"),
        reverse("admin:grants_application_change", args=[draft.pk]),
        reverse("admin:calls_call_change", args=[call.pk]),
        reverse("admin:calls_programme_changelist"),
        reverse("admin:calls_scoringcriterion_changelist"),
        reverse("admin:grants_committeesession_add"),
        reverse("admin:grants_assignmentrule_add"),
    ]:
        assert client.get(url).status_code == 200, url
    assert client.get(reverse("admin:grants_application_add")).status_code == 403
    change = client.get(
        reverse("admin:grants_application_change", args=[draft.pk])
    ).content.decode()
    assert 'name="state"' not in change and 'name="requested_amount"' not in change
    assert (
        'name="state"'
        not in client.get(reverse("admin:calls_call_change", args=[call.pk])).content.decode()
    )


def test_file_page_reads_its_funder_parts_once(client, applicant, draft):
    """The parts table and the history's part rows share one read (issue 17)."""
    client.force_login(applicant)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("grants:application_detail", args=[draft.pk]))
    assert response.status_code == 200
    reads = [q for q in ctx.captured_queries if 'FROM "grants_funderpart"' in q["sql"]]
    assert len(reads) == 1
