"""Co-funded files (issue 15, docs/domain.md §9): each asks the State and the Métropole
(account-74 lines naming them), and each funder decides its own part — the State's committee
member (`comite@`) and the Métropole's (`comite.metropole@`). One file per stage: asked, under
instruction, proposed, one part decided, both granted, one refused (the applicant asked to
confirm or revise its budget), one cut with the budget confirmed, both refused, and one granted by
both where the Métropole insists on its own agreement (`load_cofunded_agreements`: the State's
joint agreement, a draft, and the Métropole's own, signed). Built through the services, as their
actors would."""

from __future__ import annotations

import datetime
from decimal import Decimal as D

from django.db import transaction

from demo.context import Context
from demo.data import FISCAL_YEAR, METROPOLIS, SESSION_PLANNED, STATE
from grants import services
from grants.models import Application, FunderPart

PREFIX = "Cofinancé — "
#: (title, stage, State asked, Métropole asked)
FILES = [
    ("Jardins partagés du Mail", "asked", 9000, 6000),
    ("Fête de quartier de Frais Vallon", "under_review", 7000, 5000),
    ("Permanences d'accès aux droits", "proposed", 12000, 8000),
    ("Ateliers numériques seniors", "one_decided", 8000, 4000),
    ("Chantiers éducatifs d'été", "granted", 15000, 10000),
    ("Médiation de nuit au Mail", "one_refused", 10000, 6000),
    ("Cinéma en plein air", "cut_confirmed", 6000, 6000),
    ("Radio des jeunes du Centre-Nord", "refused", 5000, 5000),
    ("Maison des projets de la Busserine", "separate", 20000, 12000),
]
#: The file whose Métropole part has its own agreement.
SEPARATE_TITLE = PREFIX + "Maison des projets de la Busserine"


def _budget(ctx: Context, state: int, metropolis: int) -> list[dict]:
    charges = (state + metropolis) * 2
    return [
        {"account": "60", "label": "Fournitures", "amount": D(f"{charges // 4}.00")},
        {"account": "64", "label": "Salaires", "amount": D(f"{charges - charges // 4}.00")},
        {
            "account": "74",
            "subsidy_source": "state",
            "funder": ctx.funders[STATE].pk,
            "label": "État — crédits politique de la ville (BOP 147)",
            "amount": D(f"{state}.00"),
        },
        {
            "account": "74",
            "subsidy_source": "municipality",
            "funder": ctx.funders[METROPOLIS].pk,
            "label": "Métropole Aix-Marseille-Provence",
            "amount": D(f"{metropolis}.00"),
        },
        {
            "account": "75",
            "label": "Fonds propres",
            "amount": D(f"{charges - state - metropolis}.00"),
        },
    ]


def load_cofunded(ctx: Context) -> bool:
    """Create the co-funded files once (skipped when they exist). Returns whether they were built."""
    assert ctx.call is not None
    if Application.objects.filter(title__startswith=PREFIX).exists():
        return False
    instructor = ctx.users["instructeur@demo.pluriel.fr"]
    state_rep = ctx.users["comite@demo.pluriel.fr"]
    metro_rep = ctx.users["comite.metropole@demo.pluriel.fr"]
    for index, (title, stage, state, metropolis) in enumerate(FILES):
        org = ctx.organisations[(index + 4) % len(ctx.organisations)]
        applicant = ctx.members[org.pk]
        with transaction.atomic():
            app = services.application_create(
                actor=applicant,
                organisation=org,
                call=ctx.call,
                data={
                    "title": PREFIX + title,
                    "summary": "Une action demandée à l'État et à la Métropole : chacun décide sa "
                    "part, dans son propre comité.",
                    "start_date": datetime.date(FISCAL_YEAR, 4, 1),
                    "end_date": datetime.date(FISCAL_YEAR, 12, 31),
                    "pillar": ctx.pillars["cohesion-sociale"],
                    "qpvs": [ctx.qpvs["QN01318M"]],
                    "objectives": ["Faire vivre le quartier avec ses habitant·es"],
                    "budget": _budget(ctx, state, metropolis),
                },
            )
            app = services.application_submit(actor=applicant, application=app)
            if stage == "asked":
                continue
            app = services.application_declare_eligible(actor=instructor, application=app)
            app = services.application_start_review(actor=instructor, application=app)
            criteria = list(ctx.call.criteria.order_by("position"))
            services.application_score(
                actor=instructor, application=app, scores={c.pk: 4 for c in criteria}
            )
            services.application_add_note(
                actor=instructor,
                application=app,
                text="Deux financeurs sollicités : chacun instruit et décide sa part.",
            )
            services.application_give_opinion(
                actor=state_rep,
                application=app,
                opinion="favourable",
                comment="Action cohérente avec les priorités du contrat de ville.",
            )
            parts = {p.funder_id: p for p in FunderPart.objects.filter(application=app)}
            state_part, metro_part = parts[ctx.funders[STATE].pk], parts[ctx.funders[METROPOLIS].pk]
            services.funder_part_start_review(actor=instructor, part=state_part)
            if stage == "under_review":
                continue
            services.funder_part_propose(actor=instructor, part=state_part, amount=D(state))
            services.funder_part_propose(
                actor=instructor,
                part=metro_part,
                amount=D(metropolis) if stage != "cut_confirmed" else D(metropolis // 2),
            )
            services.funder_part_set_note(
                actor=instructor, part=metro_part, text="Vérifier le cofinancement du bailleur."
            )
            app = services.application_send_to_committee(
                actor=instructor,
                application=app,
                proposed_amount=D(state + metropolis),
                session=ctx.sessions[SESSION_PLANNED],
            )
            if stage == "proposed":
                continue
            if stage == "separate":
                services.funder_part_set_separate_agreement(
                    actor=metro_rep, part=metro_part, separate=True
                )
            services.funder_part_decide(
                actor=state_rep,
                part=state_part,
                decision="refuse" if stage == "refused" else "approve",
                reason="Action hors des priorités de l'État pour ce quartier.",
                reference=f"Comité des financeurs de l'État — {FISCAL_YEAR}-03",
            )
            if stage == "one_decided":
                continue
            refuse = stage in ("one_refused", "refused")
            services.funder_part_decide(
                actor=metro_rep,
                part=metro_part,
                decision="refuse" if refuse else "approve",
                reason="Action déjà soutenue par la Métropole au titre d'un autre dispositif.",
                conditions="" if refuse else "Bilan intermédiaire à mi-parcours.",
                reference=f"Délibération du conseil métropolitain n° {FISCAL_YEAR}-{41 + index}",
            )
            if stage == "cut_confirmed":
                revision = app.budget_revisions.get()
                services.budget_revision_confirm(
                    actor=applicant,
                    revision=revision,
                    comment="La fondation complète : l'action est maintenue en entier.",
                )
    return True


def load_cofunded_agreements(ctx: Context) -> bool:
    """The agreements of the file where the Métropole insists on its own (issue 15): the joint
    agreement (the State's part alone), left a draft, and the Métropole's own agreement on its
    part, signed. Runs after `load_agreements` (which builds nothing once the programme has an
    agreement). Returns whether they were built (skipped when they exist)."""
    from cpo import services as cpo
    from cpo.models import Agreement

    app = Application.objects.filter(title=SEPARATE_TITLE).first()
    if app is None or Agreement.objects.filter(application=app).exists():
        return False
    instructor = ctx.users["instructeur@demo.pluriel.fr"]
    with transaction.atomic():
        cpo.agreement_create_from_application(
            actor=instructor,
            application=app,
            profile="flat",
            duration_years=2,
            first_year=FISCAL_YEAR,
        )
        own = Agreement.objects.get(application=app, funder=ctx.funders[METROPOLIS])
        cpo.agreement_sign(
            actor=instructor, agreement=own, signed_on=datetime.date(FISCAL_YEAR, 5, 12)
        )
    return True
