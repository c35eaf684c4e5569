"""One collective file (docs/domain.md §9): a social centre leads, a sports club and a parents'
association carry their parts — the study's example of a pooled file (« le dossier est
mutualisé »). Built through the services, as its actors would; submitted, waiting for
instruction."""

from __future__ import annotations

import datetime
from decimal import Decimal as D

from django.db import transaction

from core.clock import today
from core.models import Organisation
from demo.context import Context
from demo.data import FISCAL_YEAR
from grants import services
from grants.models import Application, PaymentFlow

TITLE = "Quartier en forme : sport, parents et centre social ensemble"


def _budget(charges: list[tuple[str, str, int]], subsidy: int, own: int) -> list[dict]:
    rows = [{"account": a, "label": label, "amount": D(f"{n}.00")} for a, label, n in charges]
    rows.append(
        {
            "account": "74",
            "subsidy_source": "state",
            "label": "État — crédits politique de la ville (BOP 147)",
            "amount": D(f"{subsidy}.00"),
        }
    )
    if own:
        rows.append({"account": "75", "label": "Fonds propres", "amount": D(f"{own}.00")})
    return rows


def load_collective(ctx: Context) -> bool:
    """Create the collective file once (skipped when it exists). Returns whether it was built."""
    assert ctx.call is not None
    lead, club, parents = ctx.organisations[0], ctx.organisations[2], ctx.organisations[3]
    if Application.objects.filter(organisation=lead, title=TITLE).exists():
        return False
    with transaction.atomic():
        app = services.application_create(
            actor=ctx.members[lead.pk],
            organisation=lead,
            call=ctx.call,
            data={
                "title": TITLE,
                "summary": "Trois structures du quartier portent un même dossier : le centre "
                "social coordonne, le club anime des séances sportives, l'association des parents "
                "organise les temps familles.",
                "start_date": datetime.date(FISCAL_YEAR, 3, 1),
                "end_date": datetime.date(FISCAL_YEAR, 12, 31),
                "pillar": ctx.pillars["cohesion-sociale"],
                "requested_amount": D("24000.00"),
                "qpvs": [ctx.qpvs["QN01303M"]],
                "objectives": ["Faire se rencontrer familles, jeunes et structures du quartier"],
                "budget": _budget([("64", "Coordination (salaires)", 20000)], 12000, 8000),
            },
        )
        parts = [
            (
                club,
                "Animations sportives",
                "Séances de sport en pied d'immeuble le mercredi et le samedi.",
                _budget(
                    [("60", "Matériel sportif", 3000), ("64", "Éducateur sportif", 6000)],
                    8000,
                    1000,
                ),
                D("8000.00"),
            ),
            (
                parents,
                "Temps familles",
                "Goûters et sorties familles une fois par mois.",
                _budget([("60", "Goûters et sorties", 4500)], 4000, 500),
                D("4000.00"),
            ),
        ]
        _partners_paid_each(ctx, app, lead, parts)
        services.application_submit(actor=ctx.members[lead.pk], application=app)
    return True


# --------------------------------------------------------------------------- funded, paid per partner

FUNDED_TITLE = "Été actif au Centre-Nord : un dossier, trois structures payées chacune"
FUNDED_SESSION = "Comité de programmation — dossiers collectifs"


def load_collective_agreement(ctx: Context) -> bool:
    """A second collective file taken to the end (docs/domain.md §9): approved in its own
    committee session with each partner paid its part, its agreement signed and running, and the
    first year's evaluation filed by the lead once both partners filed their parts, then accepted.
    Runs after `load_agreements` (whose plan takes the approved files in order). Returns whether
    it was built (skipped when it exists)."""
    from cpo import services as cpo
    from cpo import services_partner_reports
    from cpo.models import Agreement, Evaluation
    from cpo.selectors_partner_reports import partner_parts
    from demo.agreements import _drive_agreement, _evaluate
    from demo.modes import _to_committee

    assert ctx.call is not None and ctx.programme is not None
    lead, club, parents = ctx.organisations[1], ctx.organisations[2], ctx.organisations[3]
    if Application.objects.filter(organisation=lead, title=FUNDED_TITLE).exists():
        return False
    instructor = ctx.users["instructeur@demo.pluriel.fr"]
    committee = ctx.users["comite@demo.pluriel.fr"]
    first_year = FISCAL_YEAR - 1
    with transaction.atomic():
        app = services.application_create(
            actor=ctx.members[lead.pk],
            organisation=lead,
            call=ctx.call,
            data={
                "title": FUNDED_TITLE,
                "summary": "Un été d'activités au pied des immeubles : l'association coordonne, le "
                "club anime le sport, l'association des parents les sorties familles ; chacune "
                "reçoit sa part directement.",
                "start_date": datetime.date(FISCAL_YEAR, 6, 1),
                "end_date": datetime.date(FISCAL_YEAR, 9, 30),
                "pillar": ctx.pillars["cohesion-sociale"],
                "requested_amount": D("18000.00"),
                "qpvs": [ctx.qpvs["QN01303M"]],
                "objectives": ["Proposer des activités tout l'été aux familles du quartier"],
                "budget": _budget([("64", "Coordination (salaires)", 15000)], 10000, 5000),
            },
        )
        parts = [
            (
                club,
                "Animations sportives",
                "Tournois et initiations sportives trois après-midi par semaine.",
                _budget([("60", "Matériel", 2000), ("64", "Éducateur sportif", 4000)], 5000, 1000),
                D("5000.00"),
            ),
            (
                parents,
                "Sorties familles",
                "Une sortie familles par semaine en juillet et en août.",
                _budget([("60", "Transports et entrées", 3500)], 3000, 500),
                D("3000.00"),
            ),
        ]
        _partners_paid_each(ctx, app, lead, parts)
        session = services.committee_session_create(
            actor=ctx.users["responsable@demo.pluriel.fr"],
            programme=ctx.programme,
            call=ctx.call,
            title=FUNDED_SESSION,
            date=today(),
            chair=committee,
        )
        app = _to_committee(
            ctx, Application.objects.get(pk=app.pk), proposed=D("18000.00"), session=session
        )
        session = services.committee_session_open(
            actor=committee,
            session=session,
            chair=committee,
            present=[committee, ctx.users["comite.metropole@demo.pluriel.fr"]],
        )
        services.application_approve(
            actor=committee,
            application=app,
            amount=D("18000.00"),
            reason="Action collective exemplaire : chaque structure reçoit sa part.",
            payment_flow=PaymentFlow.PARTNERS,
        )
        services.committee_session_close(
            actor=committee,
            session=session,
            minutes="Dossier collectif accordé en entier, versé à chaque partenaire pour sa part.",
        )
        agreement = cpo.agreement_create_from_application(
            actor=instructor,
            application=Application.objects.get(pk=app.pk),
            profile="flat",
            duration_years=2,
            first_year=first_year,
        )
        agreement = _drive_agreement(ctx, agreement, "active", "")
        evaluation = Evaluation.objects.get(agreement=agreement, fiscal_year=first_year)
        for part in partner_parts(evaluation):
            organisation = part.organisation
            services_partner_reports.partner_report_file(
                actor=ctx.members[organisation.pk],
                evaluation=evaluation,
                organisation=organisation,
                activity_report=f"{organisation.name} : activités menées comme prévu en "
                f"{first_year}, familles plus nombreuses qu'attendu.",
                figures="12 semaines d'activités, 140 participants",
                spent_amount=part.share,
            )
        _evaluate(ctx, Agreement.objects.get(pk=agreement.pk), first_year, "accept")
    return True


def _partners_paid_each(
    ctx: Context, app: Application, lead: Organisation, parts: list[tuple]
) -> None:
    """Each partner invited by the lead accepts and fills its part (actions, amount asked,
    budget); the file is then paid to each partner."""
    for organisation, role, actions, budget, asked in parts:
        partner = services.application_invite_partner(
            actor=ctx.members[lead.pk], application=app, siret=organisation.siret, role=role
        )
        member = ctx.members[organisation.pk]
        services.partner_accept(actor=member, partner=partner)
        services.partner_update_part(
            actor=member,
            partner=partner,
            data={"actions": actions, "requested_amount": asked, "budget": budget},
        )
    services.application_set_payment_flow(
        actor=ctx.members[lead.pk], application=app, payment_flow=PaymentFlow.PARTNERS
    )
