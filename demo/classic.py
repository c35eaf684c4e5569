"""The classic call for projects: programme, calls, scoring grid, committee sessions, the
applications in every state, and the committee's decisions."""

from __future__ import annotations

import datetime
from typing import Any

from django.db import transaction

from calls import services as call_services
from calls.models import Call, CallMode, CallState, Programme, ScoringCriterion
from core.clock import now, today
from core.models import (
    BudgetLine,
    DocumentKind,
    Organisation,
)
from demo.context import Context
from demo.data import (
    CRITERIA,
    FISCAL_YEAR,
    MINUTES,
    OTHER_CALLS,
    PLAN,
    PROJECT_CALL_TITLE,
    PROJECTS,
    SESSION_HELD,
    SESSION_PLANNED,
    STATE,
    D,
    S,
)
from grants import services
from grants.models import (
    Application,
    AssignmentRule,
    CommitteeSession,
    PartnerOpinion,
)

# --------------------------------------------------------------------------- programme and calls


def load_calls(ctx: Context) -> None:
    """One programme with its envelope; one call per mode. Workflow changes go through call_transition."""
    manager = ctx.users["responsable@demo.pluriel.fr"]
    programme, _ = Programme.objects.get_or_create(
        name="Contrat de ville",
        fiscal_year=FISCAL_YEAR,
        defaults={
            "envelope": D("2500000.00"),
            "budget_line": BudgetLine.objects.get(code="P147-0101"),
            "description": "Crédits spécifiques de la politique de la ville, État et Métropole.",
            # Two of the committee's members must be present for a session to open.
            "committee_quorum": 2,
        },
    )
    programme.funders.set(ctx.funders.values())
    programme.managers.add(manager)
    ctx.programme = programme
    moment = now()

    call, created = Call.objects.get_or_create(
        programme=programme,
        title=PROJECT_CALL_TITLE,
        defaults={
            "mode": CallMode.PROJECT_CALL,
            "description": "Actions au bénéfice des habitant·es des quartiers prioritaires du territoire "
            "métropolitain, dans les trois piliers du contrat de ville.",
            "opens_at": moment - datetime.timedelta(days=45),
            "closes_at": moment + datetime.timedelta(days=30),
            "decision_expected_on": today() + datetime.timedelta(days=60),
            "envelope": D("600000.00"),
            "max_amount": D("50000.00"),
            "max_share_percent": D("80"),
            "required_documents": [DocumentKind.STATUTES, DocumentKind.BANK_DETAILS],
        },
    )
    if created:
        call.eligible_qpvs.set(ctx.qpvs.values())
        call.eligible_pillars.set(ctx.pillars.values())
        call.instructors.add(ctx.users["instructeur@demo.pluriel.fr"])
        ScoringCriterion.objects.bulk_create(
            [
                ScoringCriterion(call=call, label=label, weight=weight, max_score=top, position=i)
                for i, (label, weight, top) in enumerate(CRITERIA)
            ]
        )
    if call.state == CallState.DRAFT:
        call_services.call_transition(call=call, name="publish", actor=manager)
        call_services.call_transition(call=call, name="open", actor=manager)
    ctx.call = Call.objects.get(pk=call.pk)

    for mode, title, description, target, opens_in, closes_in, multi_year in OTHER_CALLS:
        other, _ = Call.objects.get_or_create(
            programme=programme,
            title=title,
            defaults={
                "mode": mode,
                "description": description,
                "envelope": D("200000.00"),
                "opens_at": moment + datetime.timedelta(days=opens_in),
                "closes_at": moment + datetime.timedelta(days=closes_in),
                "multi_year_allowed": multi_year,
            },
        )
        if other.state == CallState.DRAFT:
            call_services.call_transition(call=other, name="publish", actor=manager)
            if target == CallState.OPEN:
                call_services.call_transition(call=other, name="open", actor=manager)

    # New files are assigned automatically: the Jas de Bouffan to its instructor, the rest to Camille.
    AssignmentRule.objects.get_or_create(
        call=call,
        qpv=ctx.qpvs["QN01341M"],
        pillar=None,
        instructor=ctx.users["instructrice.jas@demo.pluriel.fr"],
        defaults={"priority": 10},
    )
    AssignmentRule.objects.get_or_create(
        call=call,
        qpv=None,
        pillar=None,
        instructor=ctx.users["instructeur@demo.pluriel.fr"],
        defaults={"priority": 100},
    )
    for title, days in [(SESSION_HELD, -2), (SESSION_PLANNED, 21)]:
        session = CommitteeSession.objects.filter(programme=programme, title=title).first()
        if session is None:
            session = services.committee_session_create(
                actor=manager,
                programme=programme,
                call=call,
                title=title,
                date=today() + datetime.timedelta(days=days),
                chair=ctx.users["comite@demo.pluriel.fr"],
            )
            session.members.set(
                [ctx.users["comite@demo.pluriel.fr"], ctx.users["comite.metropole@demo.pluriel.fr"]]
            )
        ctx.sessions[title] = session


# --------------------------------------------------------------------------- applications


def load_applications(ctx: Context) -> int:
    """Build the 40 files, each in its own transaction, skipping those already there."""
    existing = set(
        Application.objects.filter(programme=ctx.programme).values_list("organisation_id", "title")
    )
    created = 0
    for index, target in enumerate(PLAN):
        # Draw the file's figures before deciding to skip, so a rerun draws the same numbers.
        title, pillar, themes, what = PROJECTS[index]
        org = ctx.organisations[index % len(ctx.organisations)]
        data = _application_data(ctx, index, org, title, pillar, themes, what)
        if (org.pk, title) in existing:
            continue
        with transaction.atomic():
            _build(ctx, index, target, org, data)
        created += 1
    return created


def _application_data(
    ctx: Context,
    index: int,
    org: Organisation,
    title: str,
    pillar: str,
    themes: list[str],
    what: str,
) -> dict[str, Any]:
    rng = ctx.rng
    if org.city == "Aix-en-Provence":
        qpv_codes = ["QN01341M"]
    else:
        qpv_codes = ["QN01318M"] if org.postcode == "13013" else ["QN01303M"]
    if rng.random() < 0.2 and org.city == "Marseille":
        qpv_codes = ["QN01303M", "QN01318M"]
    charges = rng.randrange(15_000, 110_001, 500)  # without in-kind
    requested = min(50_000, round(charges * rng.uniform(0.3, 0.6) / 100) * 100)
    metropolis = round(charges * rng.uniform(0.08, 0.18) / 100) * 100
    caf = round(charges * rng.uniform(0.0, 0.1) / 100) * 100 if pillar == "cohesion-sociale" else 0
    sales = round(charges * rng.uniform(0.0, 0.05) / 10) * 10
    in_kind = rng.choice([0, 0, 1_500, 2_400, 4_000])
    purchases = round(charges * rng.uniform(0.08, 0.2) / 10) * 10
    services_ext = round(charges * rng.uniform(0.04, 0.1) / 10) * 10
    other_services = round(charges * rng.uniform(0.03, 0.08) / 10) * 10
    staff = charges - purchases - services_ext - other_services
    own = charges - requested - metropolis - caf - sales
    euros = lambda n: D(f"{n}.00")  # noqa: E731
    # Only the State's line names its funder: these files are decided by the programme's committee,
    # one part each; the other account-74 lines are co-financing decided outside Pluriel. The
    # co-funded files, each funder deciding in Pluriel, are built in demo/cofunded.py.
    budget = [
        {"account": "60", "label": "Achats de matériel et fournitures", "amount": euros(purchases)},
        {"account": "61", "label": "Locations et assurances", "amount": euros(services_ext)},
        {
            "account": "62",
            "label": "Intervenant·es, déplacements, communication",
            "amount": euros(other_services),
        },
        {"account": "64", "label": "Salaires et charges sociales", "amount": euros(staff)},
        {
            "account": "74",
            "subsidy_source": "state",
            "funder": ctx.funders[STATE].pk,
            "label": "État — crédits politique de la ville (BOP 147)",
            "amount": euros(requested),
        },
        {
            "account": "74",
            "subsidy_source": "municipality",
            "label": "Métropole Aix-Marseille-Provence",
            "amount": euros(metropolis),
        },
        {"account": "75", "label": "Cotisations, dons et fonds propres", "amount": euros(own)},
    ]
    if caf:
        budget.append(
            {
                "account": "74",
                "subsidy_source": "social",
                "label": "CAF des Bouches-du-Rhône",
                "amount": euros(caf),
            }
        )
    if sales:
        budget.append(
            {"account": "70", "label": "Participation des familles", "amount": euros(sales)}
        )
    if in_kind:
        budget += [
            {"account": "86", "label": "Bénévolat valorisé", "amount": euros(in_kind)},
            {"account": "87", "label": "Bénévolat valorisé", "amount": euros(in_kind)},
        ]
    start = datetime.date(FISCAL_YEAR, rng.choice([1, 3, 4, 9]), 1)
    beneficiaries = rng.randrange(20, 401, 10)
    return {
        "title": title,
        "summary": f"L'association propose {what}. L'action s'adresse en priorité aux habitant·es du quartier "
        f"et s'appuie sur les partenaires de proximité (écoles, bailleurs, centres sociaux).",
        "start_date": start,
        "end_date": start.replace(year=start.year + 1) - datetime.timedelta(days=1),
        "pillar": ctx.pillars[pillar],
        "requested_amount": euros(requested),
        "beneficiaries_count": beneficiaries,
        "qpvs": [ctx.qpvs[c] for c in qpv_codes],
        "themes": [ctx.themes[c] for c in themes],
        "objectives": [
            f"Toucher {beneficiaries} habitant·es des quartiers prioritaires",
            "Impliquer les habitant·es dans la conception et le bilan de l'action",
        ],
        "indicators": [
            {
                "label": "Participant·es résidant en QPV",
                "unit": "personnes",
                "target": beneficiaries,
            },
            {"label": "Séances réalisées", "unit": "séances", "target": rng.randrange(10, 61)},
        ],
        "budget": budget,
        # Decisions drawn now so every file consumes the same random numbers whatever its state.
        "_proposed_share": D(rng.choice(["1", "1", "0.9", "0.8"])),
        "_scores": [rng.randrange(2, 6) for _ in CRITERIA],
        "_opinion": rng.choice(list(PartnerOpinion.Opinion.values)),
        "_complete": rng.random() < 0.7,
    }


def _build(ctx: Context, index: int, target: str, org: Organisation, data: dict[str, Any]) -> None:
    """Create one file and move it to `target` through the services, as its actors would."""
    applicant = ctx.members[org.pk]
    instructor = ctx.users["instructeur@demo.pluriel.fr"]
    state_rep = ctx.users["comite@demo.pluriel.fr"]
    metro_rep = ctx.users["comite.metropole@demo.pluriel.fr"]
    fields = {k: v for k, v in data.items() if not k.startswith("_")}
    if target == S.DRAFT and not data["_complete"]:
        # An unfinished draft: the applicant has only typed the title and the summary so far.
        fields = {k: fields[k] for k in ("title", "summary", "pillar", "qpvs")}
    app = services.application_create(actor=applicant, organisation=org, call=ctx.call, data=fields)
    if target == S.DRAFT:
        return
    if target == S.WITHDRAWN and index % 2 == 0:
        services.application_withdraw(
            actor=applicant,
            application=app,
            reason="L'action sera finalement portée par le centre social voisin.",
        )
        return
    app = services.application_submit(actor=applicant, application=app)
    if app.assigned_to_id:
        instructor = app.assigned_to
    deadline = today() + datetime.timedelta(days=15)
    if target == S.SUBMITTED:
        if index % 5 == 0:  # one file went back and forth once already
            app = services.application_request_completion(
                actor=instructor,
                application=app,
                deadline=deadline,
                message="Merci de préciser le nombre de séances prévues et le lieu des ateliers.",
            )
            app = services.application_resubmit(
                actor=applicant,
                application=app,
                answer="Deux séances par semaine, au local du centre social et dans le square voisin.",
            )
        return
    if target == S.RETURNED:
        services.application_request_completion(
            actor=instructor,
            application=app,
            deadline=deadline,
            message="Merci de joindre le devis de l'intervenant et de détailler la ligne 62 du budget.",
        )
        return
    if target == S.WITHDRAWN:
        services.application_withdraw(
            actor=applicant,
            application=app,
            reason="Le local prévu n'est plus disponible cette année.",
        )
        return
    if target == S.DISMISSED and index % 2 == 0:
        services.application_dismiss(
            actor=instructor,
            application=app,
            reason="Action déjà financée au titre du programme de réussite éducative.",
        )
        return
    if target == S.INELIGIBLE:
        services.application_declare_ineligible(
            actor=instructor,
            application=app,
            reason="Le public visé ne réside pas majoritairement dans un quartier prioritaire.",
        )
        return
    app = services.application_declare_eligible(actor=instructor, application=app)
    if target == S.ELIGIBLE:
        return
    app = services.application_start_review(actor=instructor, application=app)
    criteria = list(ctx.call.criteria.order_by("position"))
    services.application_score(
        actor=instructor,
        application=app,
        scores={c.pk: v for c, v in zip(criteria, data["_scores"], strict=True)},
    )
    services.application_add_note(
        actor=instructor,
        application=app,
        text="Porteur connu, bilans précédents sérieux. Vérifier la part de bénévolat valorisé.",
    )
    services.application_give_opinion(
        actor=state_rep,
        application=app,
        opinion=data["_opinion"],
        comment="Action cohérente avec les priorités du contrat de ville.",
    )
    if target == S.DISMISSED:
        services.application_dismiss(
            actor=instructor,
            application=app,
            reason="Le porteur a informé l'instruction que l'action ne pourra pas avoir lieu.",
        )
        return
    if target == S.UNDER_REVIEW:
        return
    services.application_give_opinion(
        actor=metro_rep, application=app, opinion=PartnerOpinion.Opinion.FAVOURABLE
    )
    # The instruction proposes the request, or a little less, rounded to the hundred euros.
    proposed = ((app.requested_amount * data["_proposed_share"]) / 100).to_integral_value() * 100
    proposed = min(proposed, app.requested_amount).quantize(D("0.01"))
    session = ctx.sessions[SESSION_PLANNED if target == S.IN_COMMITTEE else SESSION_HELD]
    services.application_send_to_committee(
        actor=instructor,
        application=app,
        proposed_amount=proposed,
        session=session,
        note="Avis favorable de l'instruction."
        if target != S.REJECTED
        else "Avis réservé : ancrage dans le quartier à démontrer.",
    )


def record_committee_decisions(ctx: Context) -> int:
    """The past session is opened by its chair with both members present, decides its files in one
    go (committee_record_decisions, all or nothing) and is closed with its minutes."""
    session = ctx.sessions[SESSION_HELD]
    if session.state == CommitteeSession.State.CLOSED:
        return 0
    chair = ctx.users["comite@demo.pluriel.fr"]
    session = services.committee_session_open(
        actor=chair,
        session=session,
        chair=chair,
        present=[chair, ctx.users["comite.metropole@demo.pluriel.fr"]],
    )
    plan = {PROJECTS[i][0]: target for i, target in enumerate(PLAN)}
    decisions = []
    for app in session.applications.filter(state=S.IN_COMMITTEE).order_by("reference"):
        if plan.get(app.title) == S.REJECTED:
            decisions.append(
                {
                    "application": app.pk,
                    "decision": "reject",
                    "reason": "Le comité n'a pas retenu l'action : le lien avec les besoins du "
                    "quartier n'est pas démontré.",
                }
            )
        else:
            decisions.append(
                {
                    "application": app.pk,
                    "decision": "approve",
                    "amount": app.proposed_amount,
                    "conditions": "Bilan intermédiaire à transmettre avant le 30 juin."
                    if app.proposed_amount > D("23000")
                    else "",
                    "reason": "Action prioritaire pour le quartier.",
                }
            )
    services.committee_record_decisions(actor=chair, session=session, decisions=decisions)
    services.committee_session_close(actor=chair, session=session, minutes=MINUTES)
    ctx.sessions[SESSION_HELD] = session
    return len(decisions)
