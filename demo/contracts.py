"""Demo of the city contract (docs/domain.md §8): « Engagements Quartiers 2030 » of the
metropolis over 2024–2030, five signatories with their commitments for every year, four parts,
the demo programme attached to the social-cohesion part, a second programme (youth employment),
indicators with values 2024–2026, a comité de pilotage held in 2026 that reoriented money, and
the conseils citoyens' opinions. Everything goes through contracts' services (audited)."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.contrib.auth.hashers import make_password

from calls.models import Programme
from contracts import services as cs
from contracts.models import Commitment, Contract, MemberRole
from contracts.services_observatory import indicator_define, indicator_set_value
from demo.context import Context
from demo.data import CAF, EMAIL_DOMAIN, FISCAL_YEAR, METROPOLIS, PASSWORD, STATE
from demo.people import _user

NAME = "Engagements Quartiers 2030 — Métropole Aix-Marseille-Provence"
YOUTH_PROGRAMME = "Emploi des jeunes (contrat de ville)"
D = Decimal

#: (email, first name, last name, role, signatory name or QPV code, what to try)
PEOPLE = [
    (
        "representant.caf@" + EMAIL_DOMAIN,
        "Karim",
        "Mansour",
        MemberRole.SIGNATORY_REP,
        CAF,
        "représentant de la CAF au contrat de ville : déclarer les réalisations",
    ),
    (
        "copil@" + EMAIL_DOMAIN,
        "Claire",
        "Vidal",
        MemberRole.STEERING,
        "",
        "membre du comité de pilotage du contrat de ville",
    ),
    (
        "conseil.citoyen@" + EMAIL_DOMAIN,
        "Fatou",
        "Diallo",
        MemberRole.CITIZEN,
        "QN01341M",
        "conseil citoyen du Jas de Bouffan : avis sur le contrat",
    ),
]

#: signatory → (role, funder name or None, yearly amount per (part code, kind))
SIGNATORIES = [
    (
        "État",
        "state",
        STATE,
        {("cohesion-sociale", "specific"): D("180000"), ("emploi", "specific"): D("90000")},
    ),
    (
        "Métropole Aix-Marseille-Provence",
        "epci",
        METROPOLIS,
        {
            ("cohesion-sociale", "specific"): D("120000"),
            ("cadre-de-vie", "common_law"): D("400000"),
        },
    ),
    ("Ville d'Aix-en-Provence", "commune", None, {("cohesion-sociale", "common_law"): D("75000")}),
    (CAF, "caf", CAF, {("cohesion-sociale", "specific"): D("40000")}),
    (
        "Département des Bouches-du-Rhône",
        "departement",
        None,
        {("emploi", "common_law"): D("60000")},
    ),
]


def load_contract_demo(ctx: Context) -> bool:
    """Build the demo contract once (returns False when it exists already)."""
    if Contract.objects.filter(name=NAME).exists():
        return False
    actor = ctx.users["responsable@" + EMAIL_DOMAIN]
    contract = cs.contract_create(
        actor=actor,
        name=NAME,
        epci_name="Métropole Aix-Marseille-Provence",
        epci_siren="200054807",
        first_year=2024,
        last_year=2030,
        qpvs=list(ctx.qpvs.values()),
        communes="Marseille\nAix-en-Provence",
        summary="Un contrat global : trois piliers, la transition écologique, et des engagements "
        "de droit commun chiffrés pour chaque signataire.",
    )
    parts = {}
    for position, (code, pillar) in enumerate(ctx.pillars.items(), start=1):
        parts[code] = cs.part_add(
            actor=actor,
            contract=contract,
            kind="pillar",
            title=pillar.label,
            pillar=pillar,
            position=position,
        )
    parts["nature"] = cs.part_add(
        actor=actor,
        contract=contract,
        kind="transition",
        title="Nature en ville",
        theme=ctx.themes["nature-en-ville"],
        position=9,
    )
    signatories = {}
    for name, role, funder, _amounts in SIGNATORIES:
        signatories[name] = cs.signatory_add(
            actor=actor,
            contract=contract,
            name=name,
            role=role,
            funder=ctx.funders.get(funder) if funder else None,
        )
    assert ctx.programme is not None
    cs.part_attach_programme(actor=actor, part=parts["cohesion-sociale"], programme=ctx.programme)
    youth, _ = Programme.objects.get_or_create(
        name=YOUTH_PROGRAMME,
        fiscal_year=FISCAL_YEAR,
        defaults={"envelope": D("60000.00"), "budget_line": ctx.programme.budget_line},
    )
    youth.funders.set(ctx.programme.funders.all())
    cs.part_attach_programme(actor=actor, part=parts["emploi"], programme=youth)
    cs.contract_sign(actor=actor, contract=contract, signed_on=datetime.date(2024, 3, 15))
    contract = Contract.objects.get(pk=contract.pk)

    for year in contract.years:
        for name, _role, _funder, amounts in SIGNATORIES:
            for (part_code, kind), amount in amounts.items():
                cs.commitment_record(
                    actor=actor,
                    contract=contract,
                    signatory=signatories[name],
                    part=parts[part_code],
                    year=year,
                    kind=kind,
                    amount=amount,
                )
        cs.commitment_record(
            actor=actor,
            contract=contract,
            signatory=signatories[CAF],
            part=parts["cohesion-sociale"],
            year=year,
            kind=Commitment.Kind.ACTION,
            action="Permanences d'accès aux droits dans les centres sociaux",
            indicator="Permanences tenues",
            target=D("48"),
        )

    password = make_password(PASSWORD)
    for email, first, last, role, scope, _note in PEOPLE:
        user = _user(email, first, last, password)
        ctx.users[email] = user
        cs.member_grant(
            actor=actor,
            contract=contract,
            user=user,
            role=role,
            signatory=signatories.get(scope) if role == MemberRole.SIGNATORY_REP else None,
            qpv=ctx.qpvs.get(scope) if role == MemberRole.CITIZEN else None,
        )
    rep = ctx.users["representant.caf@" + EMAIL_DOMAIN]
    for commitment in contract.commitments.filter(kind="action", year__in=[2024, 2025]):
        cs.commitment_report(
            actor=rep,
            commitment=commitment,
            note="Permanences tenues dans les trois quartiers.",
            realised_value=D("44") if commitment.year == 2024 else D("51"),
        )

    _observatory(ctx, contract, parts, actor)

    meeting = cs.meeting_plan(
        actor=actor,
        contract=contract,
        kind="steering",
        held_on=datetime.date(FISCAL_YEAR, 6, 12),
        agenda="Suivi des engagements 2025\nConsommation des enveloppes",
    )
    cs.decision_record(
        actor=actor,
        meeting=meeting,
        part=parts["cadre-de-vie"],
        text="La Métropole présentera au prochain comité le détail de ses crédits "
        "de droit commun mobilisés dans les quartiers.",
    )
    cs.decision_reorient(
        actor=actor,
        meeting=meeting,
        from_programme=ctx.programme,
        to_programme=youth,
        amount=D("20000"),
        text="Priorité à l'emploi des jeunes décidée en comité de pilotage.",
    )
    cs.meeting_hold(
        actor=actor,
        meeting=meeting,
        attendees=[actor, ctx.users["copil@" + EMAIL_DOMAIN]],
        other_attendees="Sous-préfète à la ville\nDélégué du préfet\nConseils citoyens",
        minutes="Le comité valide la réorientation et demande un bilan à six mois.",
    )

    citizen = ctx.users["conseil.citoyen@" + EMAIL_DOMAIN]
    for year, assessment, text in [
        (2025, "reserved", "Les permanences sont utiles mais trop peu connues des habitant·es."),
        (2026, "favourable", "Le conseil salue l'ouverture des permanences le samedi."),
    ]:
        cs.opinion_give(
            actor=citizen,
            contract=contract,
            qpv=ctx.qpvs["QN01341M"],
            part=parts["cohesion-sociale"],
            year=year,
            assessment=assessment,
            text=text,
        )
    return True


def _observatory(ctx: Context, contract: Contract, parts: dict, actor) -> None:  # type: ignore[no-untyped-def]
    series = {
        None: [D("14.2"), D("13.8"), D("13.1")],
        "QN01303M": [D("31.5"), D("30.2"), D("28.9")],
        "QN01318M": [D("27.0"), D("26.4"), D("26.1")],
        "QN01341M": [D("22.8"), D("21.0"), D("19.7")],
    }
    for code, values in series.items():
        indicator = indicator_define(
            actor=actor,
            contract=contract,
            part=parts["emploi"],
            code="chomage-15-64",
            label="Taux de chômage des 15-64 ans",
            qpv=ctx.qpvs[code] if code else None,
            target=D("20") if code else D("12"),
            target_year=2030,
            source="INSEE — Observatoire national de la politique de la ville",
        )
        for year, value in zip((2024, 2025, 2026), values, strict=True):
            indicator_set_value(
                actor=actor,
                indicator=indicator,
                year=year,
                value=value,
                source="INSEE",
                measured_on=datetime.date(year, 1, 1),
            )


def reset_contract_demo() -> None:
    """`demo --reset`: the contract goes first (its decisions protect the programmes)."""
    Contract.objects.filter(name=NAME).delete()
    Programme.objects.filter(name=YOUTH_PROGRAMME, fiscal_year=FISCAL_YEAR).delete()
