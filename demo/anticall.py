"""The anti-call: needs raised by residents, accepted by associations, prototyped and presented."""

from __future__ import annotations

import datetime

from calls import services as call_services
from core.clock import today
from core.models import (
    User,
)
from demo.context import Context
from demo.data import (
    FOUNDATION,
    D,
)
from demo.modes import (
    ANTI_CALL_TITLE,
    NEEDS,
    _call,
    _member,
    _org,
)

# --------------------------------------------------------------------------- anti-call


def load_anti_call(ctx: Context, residents: list[User]) -> bool:
    """Needs published in the 3 neighbourhoods and structures in every state of the anti-call."""
    from calls.models import Need
    from grants.anticall import services as anticall
    from grants.models import CoachingEntry

    call = _call(ctx, ANTI_CALL_TITLE)
    if Need.objects.filter(call=call).exists():
        return False
    partner, manager = ctx.users["comite@demo.pluriel.fr"], ctx.users["responsable@demo.pluriel.fr"]
    coach = ctx.users["instructeur@demo.pluriel.fr"]
    needs = []
    for qpv, title, description, raised_by in NEEDS:
        need = call_services.need_record(
            actor=partner,
            call=call,
            qpv=ctx.qpvs[qpv],
            title=title,
            description=description,
            raised_by=raised_by,
        )
        needs.append(call_services.need_publish(actor=manager, need=need))

    def source(need: int, org: int | None = None, **prospect: str):
        return anticall.candidacy_source(
            actor=coach,
            need=needs[need],
            organisation=_org(ctx, org) if org is not None else None,
            why="Structure ancrée dans le quartier, déjà au contact du public concerné.",
            **prospect,
        )

    def accepted(need: int, org: int):
        candidacy = anticall.candidacy_invite(
            actor=coach,
            candidacy=source(need, org),
            message="Nous aimerions vous accompagner sur ce besoin.",
        )
        return anticall.candidacy_accept(
            actor=_member(ctx, org), candidacy=candidacy, organisation=_org(ctx, org)
        )

    def prototyping(need: int, org: int, *, started_days_ago: int):
        candidacy = anticall.candidacy_start_prototyping(
            actor=coach,
            candidacy=accepted(need, org),
            start=today() - datetime.timedelta(days=started_days_ago),
            days=15,
        )
        start = candidacy.prototype_start
        for offset, kind, support, notes, cost in [
            (
                1,
                CoachingEntry.Kind.SESSION,
                "",
                "Séance de lancement : public visé, lieux, calendrier.",
                D("0"),
            ),
            (
                4,
                CoachingEntry.Kind.SUPPORT,
                CoachingEntry.Support.ENGINEERING,
                "Appui d'une ingénieure de projet pour le budget et le modèle économique.",
                D("1200.00"),
            ),
            (
                8,
                CoachingEntry.Kind.SUPPORT,
                CoachingEntry.Support.NETWORKING,
                "Mise en relation avec le bailleur et le centre social.",
                D("300.00"),
            ),
        ]:
            anticall.coaching_log(
                actor=coach,
                candidacy=candidacy,
                date=start + datetime.timedelta(days=offset),
                kind=kind,
                support=support,
                notes=notes,
                cost=cost,
            )
        anticall.deliverable_add(
            actor=_member(ctx, org),
            candidacy=candidacy,
            title="Note de cadrage du prototype",
            description="Objectifs, public, partenaires et budget prévisionnel.",
        )
        anticall.deliverable_add(
            actor=_member(ctx, org),
            candidacy=candidacy,
            title="Bilan de la première séance test",
            description="Participation, retours des habitant·es, ajustements.",
        )
        return candidacy

    def presented(need: int, org: int):
        candidacy = prototyping(need, org, started_days_ago=30)
        return anticall.candidacy_present(
            actor=coach,
            candidacy=candidacy,
            summary="Prototype présenté au comité technique avec les habitant·es.",
        )

    # Sourced, then invited: structures not yet on Pluriel, known by name and email.
    source(0, name="Collectif Jeunes du 3e")
    anticall.candidacy_invite(
        actor=coach,
        candidacy=source(
            0, name="Radio des quartiers nord", email="contact@radio-quartiers.example.org"
        ),
        message="Votre radio pourrait ouvrir un studio le soir pour les jeunes.",
    )
    accepted(1, 7)
    declined = anticall.candidacy_invite(actor=coach, candidacy=source(1, 8))
    anticall.candidacy_decline(
        actor=_member(ctx, 8),
        candidacy=declined,
        reason="Notre équipe est déjà mobilisée sur un autre projet cette année.",
    )
    prototyping(2, 12, started_days_ago=13)  # deadline in 2 days
    prototyping(3, 1, started_days_ago=20)  # deadline passed 5 days ago: overdue
    presented(4, 14)
    anticall.candidacy_fund(
        actor=manager,
        candidacy=presented(0, 6),
        amount=D("18000.00"),
        reason="Financé par la Métropole sur l'enveloppe de l'anti-appel.",
    )
    anticall.candidacy_fund(
        actor=manager,
        candidacy=presented(1, 0),
        amount=D("25000.00"),
        cofunder=ctx.funders[FOUNDATION],
        reason="Cofinancé par la Fondation Quartiers Solidaires sur son fonds dédié.",
    )
    anticall.candidacy_not_fund(
        actor=manager,
        candidacy=presented(4, 5),
        reason="Le prototype ne touche pas les collégiennes visées.",
    )
    anticall.candidacy_abandon(
        actor=coach,
        candidacy=source(3, name="Crèche parentale Les Petits Pas"),
        reason="La structure a cessé son activité.",
    )
    # The daily job: a reminder before the near deadline, the overdue one flagged.
    anticall.candidacies_prototyping_deadlines()
    return True
