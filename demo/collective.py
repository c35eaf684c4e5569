"""One collective file (docs/domain.md §9): a social centre leads, a sports club and a parents'
association carry their parts — the study's example of a pooled file (« le dossier est
mutualisé »). Built through the services, as its actors would; submitted, waiting for
instruction."""

from __future__ import annotations

import datetime
from decimal import Decimal as D

from django.db import transaction

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
        services.application_submit(actor=ctx.members[lead.pk], application=app)
    return True
