"""Shared by the other funding modes (anti-call, calls for solutions, structural support, direct
awards): their fixed values and the helpers that file an application and bring it to a committee."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.hashers import make_password

from calls.models import Call
from core.models import (
    Organisation,
    User,
)
from demo.context import Context
from demo.data import (
    FISCAL_YEAR,
    OTHER_CALLS,
    PASSWORD,
    D,
    S,
)
from demo.people import _user
from grants import services
from grants.models import (
    Application,
)

# --------------------------------------------------------------------------- the other modes
#
# Each mode is built in one transaction, through the services (real states, real audit rows), and
# skipped when its first row is already there, so a second run adds nothing. Nothing here draws
# from ctx.rng: the classic call's figures stay the same whatever is added below.

ANTI_CALL_TITLE = OTHER_CALLS[0][1]
SOLUTIONS_CALL_TITLE = OTHER_CALLS[1][1]
STRUCTURAL_CALL_TITLE = OTHER_CALLS[2][1]
CLOSED_SOLUTIONS_CALL_TITLE = (
    "Appel à solutions — Centre-Nord : « le même accès aux grandes écoles »"
)
HABITANT_EMAIL = "habitant@demo.pluriel.fr"

# Resident panel (the demo resident first): (email, first name, last name, college).
RESIDENTS = [
    (HABITANT_EMAIL, "Yasmine", "Haddad", "citizen_council"),
    ("habitante.parents@demo.pluriel.fr", "Farida", "Mokrani", "parents"),
    ("habitant.parents@demo.pluriel.fr", "Didier", "Lambert", "parents"),
    ("habitante.conseil@demo.pluriel.fr", "Rose", "Ndiaye", "citizen_council"),
    ("habitant.collectif@demo.pluriel.fr", "Mehdi", "Bensaïd", "residents"),
    ("habitante.collectif@demo.pluriel.fr", "Josiane", "Pellegrin", "residents"),
    ("habitant.jeune@demo.pluriel.fr", "Nassim", "Ferhat", "residents"),
]

# Anti-call needs: (QPV, need, description, raised by).
NEEDS = [
    (
        "QN01303M",
        "Aucun lieu d'accueil pour les 16-25 ans après 19 h",
        "Les jeunes du quartier n'ont aucun lieu ouvert le soir ; les halls d'immeubles servent de refuge.",
        "Conseil citoyen Centre-Nord",
    ),
    (
        "QN01303M",
        "Familles allophones perdues dans les démarches scolaires",
        "Des parents arrivés récemment ne comprennent ni les inscriptions ni les échanges avec l'école.",
        "Principal du collège Versailles",
    ),
    (
        "QN01318M",
        "Seniors isolé·es sans accès aux services publics en ligne",
        "Des personnes âgées renoncent à leurs droits faute de pouvoir faire leurs démarches en ligne.",
        "CCAS et bailleur social",
    ),
    (
        "QN01318M",
        "Pas de garde d'enfants pour les parents en horaires décalés",
        "Des mères seules refusent des emplois (nettoyage, logistique) faute de garde tôt le matin.",
        "Travailleuse sociale de la CAF",
    ),
    (
        "QN01341M",
        "Décrochage des collégiennes du Jas de Bouffan",
        "Les absences des collégiennes augmentent à partir de la 4e, sans relais hors de l'école.",
        "Délégué du préfet",
    ),
]

# Solutions calls' expected solutions: (QPV, title, description).
CHALLENGES_OPEN = [
    (
        "QN01318M",
        "Plus de cafards dans les immeubles",
        "Des traitements coordonnés de tous les logements d'une montée, et des locataires formé·es à la prévention.",
    ),
    (
        "QN01318M",
        "Des espaces extérieurs propres et sûrs pour les enfants",
        "Des pieds d'immeubles entretenus avec les habitant·es, où les enfants peuvent jouer.",
    ),
]
CHALLENGE_PROPOSED = (
    "QN01318M",
    "Un chemin éclairé et sûr vers le collège",
    "Le chemin piéton vers le collège n'est pas éclairé l'hiver.",
    "Mme Touati",
)
CHALLENGES_CLOSED = [
    (
        "QN01303M",
        "Le même accès aux grandes écoles pour nos bachelier·es",
        "Que les bachelier·es du quartier aient le même accès aux classes préparatoires et aux grandes écoles.",
    ),
]

# Operators' actions: (organisation index, title, requested, challenge index).
OPERATORS_OPEN = [
    (3, "Brigade de locataires formée contre les nuisibles", D("9000.00"), 0),
    (10, "Traitement coordonné des montées avec le bailleur", D("14000.00"), 0),
    (2, "Jardinières et bancs au pied des tours", D("7500.00"), 1),
    (9, "Terrain de jeux entretenu par les jeunes du quartier", D("11000.00"), 1),
]
OPERATORS_CLOSED = [
    (7, "Tutorat par des étudiant·es de classes préparatoires", D("12000.00"), 0),
    (12, "Visites de grandes écoles et journées d'immersion", D("9000.00"), 0),
    (0, "Préparation aux oraux et aux concours", D("8000.00"), 0),
    (8, "Bourse aux logements étudiants pour les bachelier·es", D("10000.00"), 0),
]
# Ballots of the closed vote: per resident (RESIDENTS order), the operators' actions approved.
CLOSED_BALLOTS = [[0, 1], [0, 2], [0, 1, 2], [1, 3], [0, 2], [2]]
# Ballots already cast in the open vote (the demo resident has not voted yet).
OPEN_BALLOTS = {1: [0, 2], 3: [0, 1], 4: [1, 3]}

# Structural support files: (organisation index, title, requested per year from 2027, approved per
# year or None, target state).
STRUCTURAL_FILES = [
    (
        3,
        "Régie de quartier : entretien et médiation des espaces communs",
        [D("28000.00"), D("28000.00"), D("28000.00")],
        None,
        S.SUBMITTED,
    ),
    (
        1,
        "Centre social : accueil, accès aux droits et animation de la vie sociale",
        [D("35000.00"), D("36000.00"), D("37000.00"), D("38000.00")],
        None,
        S.IN_COMMITTEE,
    ),
    (
        9,
        "Sport et citoyenneté : école multisports à l'année",
        [D("30000.00"), D("31000.00"), D("32000.00"), D("33000.00"), D("34000.00")],
        [D("30000.00"), D("30500.00"), D("31000.00"), D("31500.00"), D("32000.00")],
        S.APPROVED,
    ),
]

# Direct awards: (organisation index, title, amount, urgency reason, decision).
DIRECT_AWARDS = [
    (
        13,
        "Chèques énergie d'urgence après la vague de froid",
        D("15000.00"),
        "Vague de froid de janvier : des familles sans chauffage ; aucun appel ouvert ne permet d'agir à temps.",
        "approve",
    ),
    (
        4,
        "Été solidaire : sorties pour les enfants restés au quartier",
        D("8000.00"),
        "Programme d'été décidé après la fermeture d'un centre de loisirs ; départs début juillet.",
        "refuse",
    ),
    (
        14,
        "Accueil d'urgence des jeunes après l'incendie du local associatif",
        D("12000.00"),
        "Le local de la maison des jeunes a brûlé : relogement provisoire et reprise des activités.",
        None,
    ),
]


def _residents(ctx: Context) -> list[User]:
    password = make_password(PASSWORD)
    users = []
    for email, first, last, _college in RESIDENTS:
        user = ctx.users.get(email) or _user(email, first, last, password)
        ctx.users[email] = user
        users.append(user)
    return users


def _org(ctx: Context, index: int) -> Organisation:
    return ctx.organisations[index]


def _member(ctx: Context, index: int) -> User:
    return ctx.members[ctx.organisations[index].pk]


def _budget(requested: Decimal) -> list[dict[str, Any]]:
    """A balanced CERFA budget whose account 74 holds the request (charges = products)."""
    own = (requested * D("0.25")).quantize(D("1"))
    total = requested + own
    staff = (total * D("0.7")).quantize(D("1"))
    return [
        {"account": "60", "label": "Achats de matériel et fournitures", "amount": total - staff},
        {"account": "64", "label": "Salaires et charges sociales", "amount": staff},
        {
            "account": "74",
            "subsidy_source": "state",
            "label": "État — crédits politique de la ville",
            "amount": requested,
        },
        {"account": "75", "label": "Cotisations, dons et fonds propres", "amount": own},
    ]


def _file_data(
    ctx: Context, title: str, what: str, requested: Decimal, qpv: str, pillar: str, **extra: Any
) -> dict[str, Any]:
    return {
        "title": title,
        "summary": f"{what} L'action s'adresse aux habitant·es du quartier et s'appuie sur les partenaires "
        "de proximité.",
        "start_date": datetime.date(FISCAL_YEAR, 9, 1),
        "end_date": datetime.date(FISCAL_YEAR + 1, 8, 31),
        "pillar": ctx.pillars[pillar],
        "requested_amount": requested,
        "beneficiaries_count": 60,
        "qpvs": [ctx.qpvs[qpv]],
        "objectives": [
            "Répondre au besoin exprimé par les habitant·es",
            "Associer les habitant·es au bilan",
        ],
        "budget": _budget(requested),
        **extra,
    }


def _to_committee(
    ctx: Context, app: Application, *, proposed: Decimal, session=None
) -> Application:
    """Filed by its applicant, then through instruction to a committee (or a vote) agenda."""
    instructor = ctx.users["instructeur@demo.pluriel.fr"]
    applicant = ctx.members[app.organisation_id]
    app = services.application_submit(actor=applicant, application=app)
    app = services.application_declare_eligible(actor=instructor, application=app)
    app = services.application_start_review(actor=instructor, application=app)
    return services.application_send_to_committee(
        actor=instructor,
        application=app,
        proposed_amount=proposed,
        session=session,
        note="Avis favorable de l'instruction.",
    )


def _call(ctx: Context, title: str) -> Call:
    return Call.objects.get(programme=ctx.programme, title=title)
