"""The demo's fixed values: funders, QPVs, pillars, staff, associations, classic projects,
calls, and the identifiers (SIRET, RNA, IBAN) derived from an index — the same on every run."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from stdnum import luhn

from calls.models import CallMode, CallState
from core.models import (
    Funder,
    Role,
)
from grants.models import (
    ApplicationState,
)

S = ApplicationState
SEED = 2026
PASSWORD = "demo1234"
EMAIL_DOMAIN = "demo.pluriel.fr"
FISCAL_YEAR = 2026
D = Decimal

# --------------------------------------------------------------------------- reference data

STATE = "État — ANCT / Préfecture des Bouches-du-Rhône"
METROPOLIS = "Métropole Aix-Marseille-Provence"
CAF = "CAF des Bouches-du-Rhône"
FOUNDATION = "Fondation Quartiers Solidaires"

FUNDERS = [
    (STATE, Funder.Kind.STATE),
    (METROPOLIS, Funder.Kind.MUNICIPALITY),
    (CAF, Funder.Kind.CAF),
    (FOUNDATION, Funder.Kind.FOUNDATION),
]
BUDGET_LINES = [
    ("P147-0101", "Programme 147 « Politique de la ville » — actions territorialisées", STATE),
    ("AMP-65-6574-PV", "Subventions aux associations — politique de la ville", METROPOLIS),
    ("CAF13-AVS", "Animation de la vie sociale et parentalité", CAF),
    ("FQS-FONDS-QUARTIERS", "Fonds Quartiers Solidaires", FOUNDATION),
]
# 2024-format codes (QN + 5 digits + letter); names of real neighbourhoods, codes illustrative.
QPVS = [
    ("QN01303M", "Centre-Nord", "13055", "Marseille (1er, 2e, 3e)"),
    ("QN01318M", "Frais Vallon – Le Mail – Petit Séminaire", "13055", "Marseille (13e)"),
    ("QN01341M", "Jas de Bouffan", "13001", "Aix-en-Provence"),
]
PILLARS = [
    ("cohesion-sociale", "Cohésion sociale"),
    ("cadre-de-vie", "Cadre de vie et renouvellement urbain"),
    ("emploi", "Emploi et développement économique"),
]
THEMES = [
    ("alimentation", "Alimentation"),
    ("nature-en-ville", "Nature en ville"),
    ("mobilite", "Mobilité"),
    ("energie", "Énergie"),
    ("economie-circulaire", "Économie circulaire"),
]


@dataclass(frozen=True)
class Person:
    email: str
    first_name: str
    last_name: str
    role: str | None = None
    funder: str | None = None
    territories: tuple[str, ...] = ()
    superuser: bool = False
    note: str = ""


STAFF = [
    Person(
        "instructeur@demo.pluriel.fr",
        "Camille",
        "Roux",
        Role.INSTRUCTOR,
        note="instructeur·rice, tous les dossiers",
    ),
    Person(
        "instructrice.jas@demo.pluriel.fr",
        "Nadia",
        "Benali",
        Role.INSTRUCTOR,
        territories=("QN01341M",),
        note="instructrice limitée au Jas de Bouffan",
    ),
    Person(
        "comite@demo.pluriel.fr",
        "Henri",
        "Castel",
        Role.COMMITTEE_MEMBER,
        funder=STATE,
        note="membre du comité (État)",
    ),
    Person(
        "comite.metropole@demo.pluriel.fr",
        "Sophie",
        "Martinez",
        Role.COMMITTEE_MEMBER,
        funder=METROPOLIS,
        note="membre du comité (Métropole)",
    ),
    Person(
        "habitant@demo.pluriel.fr",
        "Yasmine",
        "Haddad",
        Role.PANEL_MEMBER,
        note="membre du panel d'habitants (conseil citoyen)",
    ),
    Person(
        "finances@demo.pluriel.fr", "Marc", "Olivier", Role.FINANCE_OFFICER, note="agent financier"
    ),
    Person(
        "responsable@demo.pluriel.fr",
        "Isabelle",
        "Fabre",
        Role.PROGRAMME_MANAGER,
        note="responsable de programme",
    ),
    Person(
        "audit@demo.pluriel.fr", "Paul", "Garnier", Role.AUDITOR, note="auditeur (lecture seule)"
    ),
    Person(
        "admin@demo.pluriel.fr",
        "Alex",
        "Admin",
        Role.ADMIN,
        superuser=True,
        note="administrateur (superuser)",
    ),
]
APPLICANT_EMAIL = "porteur@demo.pluriel.fr"

# (name, city, postcode, INSEE, legal representative)
ASSOCIATIONS = [
    ("Trait d'Union Centre-Nord", "Marseille", "13003", "13055", "Fatima Amrani"),
    ("Centre social Les Lauriers", "Marseille", "13013", "13055", "Jean-Pierre Giraud"),
    ("Jardins partagés du Mail", "Marseille", "13013", "13055", "Lucie Bertrand"),
    ("Régie de quartier Nord Services", "Marseille", "13013", "13055", "Karim Mansouri"),
    ("Ateliers Vélo Solidaires 13", "Marseille", "13001", "13055", "Thomas Lefèvre"),
    ("Cuisines du monde au Jas", "Aix-en-Provence", "13090", "13001", "Aïcha Diallo"),
    ("Compagnie Théâtre des Balcons", "Marseille", "13002", "13055", "Marion Chevalier"),
    ("Réussite éducative pour tous", "Marseille", "13003", "13055", "Samir Belkacem"),
    ("Femmes Relais Méditerranée", "Marseille", "13003", "13055", "Malika Saïdi"),
    ("Sport et citoyenneté Frais Vallon", "Marseille", "13013", "13055", "Olivier Marchetti"),
    ("Ressourcerie La Seconde Main", "Marseille", "13002", "13055", "Claire Dupont"),
    ("École des parents aixoise", "Aix-en-Provence", "13090", "13001", "Hélène Morel"),
    ("Numérique inclusif Marseille", "Marseille", "13001", "13055", "Youssef El Idrissi"),
    ("Énergie solidaire Provence", "Aix-en-Provence", "13090", "13001", "Julien Blanc"),
    ("Maison des jeunes du Jas de Bouffan", "Aix-en-Provence", "13090", "13001", "Inès Moulin"),
]
BICS = ["BNPAFRPP", "AGRIFRPP", "CEPAFRPP", "CCOPFRPP", "PSSTFRPP"]

# (title, pillar code, theme codes, what the project does)
PROJECTS = [
    (
        "Ateliers cuisine anti-gaspillage au pied des tours",
        "cohesion-sociale",
        ["alimentation"],
        "des ateliers de cuisine hebdomadaires avec les invendus des marchés",
    ),
    (
        "Potager partagé et compost collectif du Mail",
        "cadre-de-vie",
        ["nature-en-ville", "economie-circulaire"],
        "un potager partagé et trois composteurs gérés par les habitant·es",
    ),
    (
        "Vélo-école pour les femmes du quartier",
        "cohesion-sociale",
        ["mobilite"],
        "un apprentissage du vélo en ville pour des femmes éloignées de la mobilité",
    ),
    (
        "Chantier d'insertion rénovation énergétique",
        "emploi",
        ["energie"],
        "un chantier d'insertion qui isole les parties communes de deux copropriétés",
    ),
    (
        "Accompagnement scolaire et aide aux devoirs",
        "cohesion-sociale",
        [],
        "un accompagnement à la scolarité quatre soirs par semaine",
    ),
    (
        "Permanences d'accès aux droits numériques",
        "cohesion-sociale",
        [],
        "des permanences pour les démarches en ligne (CAF, France Travail, impôts)",
    ),
    (
        "Repair café mensuel du Centre-Nord",
        "cadre-de-vie",
        ["economie-circulaire"],
        "un repair café mensuel animé par des bénévoles du quartier",
    ),
    (
        "Été au quartier : animations estivales",
        "cohesion-sociale",
        ["nature-en-ville"],
        "des animations sportives et culturelles en juillet et août",
    ),
    (
        "Médiation sociale de proximité en soirée",
        "cadre-de-vie",
        [],
        "une équipe de médiateur·rices présente en soirée dans les espaces communs",
    ),
    (
        "Parrainage vers l'emploi des jeunes diplômé·es",
        "emploi",
        [],
        "un parrainage par des cadres d'entreprises pour des jeunes diplômé·es du quartier",
    ),
    (
        "Ressourcerie éphémère et ateliers de réemploi",
        "cadre-de-vie",
        ["economie-circulaire"],
        "une ressourcerie éphémère un samedi par mois et des ateliers de réparation",
    ),
    (
        "Théâtre forum sur l'égalité filles-garçons",
        "cohesion-sociale",
        [],
        "des représentations de théâtre forum dans les collèges du quartier",
    ),
    (
        "Défi familles à énergie positive",
        "cadre-de-vie",
        ["energie"],
        "un défi collectif de réduction des consommations d'énergie pour 40 familles",
    ),
    (
        "Épicerie solidaire et paniers de légumes locaux",
        "cohesion-sociale",
        ["alimentation"],
        "une épicerie solidaire approvisionnée par des maraîcher·es du Pays d'Aix",
    ),
    (
        "Sorties nature dans les calanques pour les familles",
        "cohesion-sociale",
        ["nature-en-ville", "mobilite"],
        "des sorties nature encadrées pour des familles qui ne quittent jamais le quartier",
    ),
    (
        "Fresque participative et embellissement des halls",
        "cadre-de-vie",
        [],
        "une fresque réalisée avec les enfants dans six halls d'immeubles",
    ),
    (
        "Auto-école sociale",
        "emploi",
        ["mobilite"],
        "un permis de conduire accompagné pour des demandeur·ses d'emploi",
    ),
    (
        "Football féminin et citoyenneté",
        "cohesion-sociale",
        [],
        "une section de football féminin et des temps d'échange sur la citoyenneté",
    ),
    (
        "Français à visée professionnelle",
        "emploi",
        [],
        "des cours de français orientés vers les métiers en tension",
    ),
    (
        "Forum des métiers et stages de 3e",
        "emploi",
        [],
        "un forum des métiers et un réseau d'entreprises pour les stages de 3e",
    ),
    (
        "Ludothèque itinérante",
        "cohesion-sociale",
        [],
        "une ludothèque qui s'installe chaque semaine sur une place différente",
    ),
    (
        "Jardin pédagogique à l'école Saint-Mauront",
        "cadre-de-vie",
        ["nature-en-ville", "alimentation"],
        "un jardin pédagogique cultivé par les classes et leurs parents",
    ),
    (
        "Atelier couture et surcyclage",
        "emploi",
        ["economie-circulaire"],
        "un atelier de couture qui transforme des textiles usagés et forme à la retouche",
    ),
    (
        "Location solidaire de scooters pour l'emploi",
        "emploi",
        ["mobilite"],
        "la location à 1 € par jour de scooters pour se rendre au travail ou en formation",
    ),
    (
        "Formation des membres du conseil citoyen",
        "cohesion-sociale",
        [],
        "un cycle de formation des membres du conseil citoyen",
    ),
    (
        "Café des parents",
        "cohesion-sociale",
        [],
        "un café des parents hebdomadaire à la sortie de l'école",
    ),
    (
        "Prévention santé et nutrition",
        "cohesion-sociale",
        ["alimentation"],
        "des ateliers de prévention santé et nutrition avec une diététicienne",
    ),
    (
        "Végétalisation des pieds d'immeubles",
        "cadre-de-vie",
        ["nature-en-ville"],
        "la végétalisation de pieds d'immeubles avec les locataires",
    ),
    (
        "Médiathèque hors les murs",
        "cohesion-sociale",
        [],
        "des lectures et prêts de livres dans les squares du quartier",
    ),
    (
        "Conciergerie solidaire de quartier",
        "emploi",
        ["economie-circulaire"],
        "une conciergerie qui emploie des habitant·es et rend des services aux résident·es",
    ),
    (
        "Brigade de locataires contre les nuisibles",
        "cadre-de-vie",
        [],
        "une brigade de locataires formée pour prévenir les infestations de cafards",
    ),
    (
        "Échanges de savoirs entre générations",
        "cohesion-sociale",
        [],
        "un réseau d'échanges de savoirs entre jeunes et personnes âgées",
    ),
    (
        "Coopérative jeunesse de services",
        "emploi",
        [],
        "une coopérative d'été où des adolescent·es créent leur entreprise de services",
    ),
    (
        "Ateliers d'autoréhabilitation accompagnée",
        "cadre-de-vie",
        ["energie"],
        "l'accompagnement de locataires qui rénovent eux-mêmes leur logement",
    ),
    (
        "Cantine solidaire du samedi",
        "cohesion-sociale",
        ["alimentation"],
        "un repas solidaire préparé chaque samedi par des habitant·es",
    ),
    (
        "Numérique au féminin",
        "emploi",
        [],
        "des ateliers de découverte des métiers du numérique pour les femmes",
    ),
    (
        "Plan mobilité des seniors",
        "cohesion-sociale",
        ["mobilite"],
        "un transport accompagné des seniors isolé·es vers les services publics",
    ),
    (
        "Fête de quartier zéro déchet",
        "cadre-de-vie",
        ["economie-circulaire"],
        "une fête de quartier sans vaisselle jetable, préparée par les associations",
    ),
    (
        "Atelier radio des collégien·nes",
        "cohesion-sociale",
        [],
        "une webradio animée par des collégien·nes sur la vie du quartier",
    ),
    (
        "Diagnostic en marchant des espaces publics",
        "cadre-de-vie",
        ["nature-en-ville"],
        "des marches exploratoires avec les habitantes pour améliorer les espaces publics",
    ),
]

# The target state of each demo file, in the order they are built (40 files, every state).
PLAN: list[str] = (
    [S.DRAFT] * 5
    + [S.SUBMITTED] * 5
    + [S.RETURNED] * 3
    + [S.ELIGIBLE] * 3
    + [S.INELIGIBLE] * 2
    + [S.UNDER_REVIEW] * 5
    + [S.IN_COMMITTEE] * 5
    + [S.APPROVED] * 6
    + [S.REJECTED] * 2
    + [S.DISMISSED] * 2
    + [S.WITHDRAWN] * 2
)

CRITERIA = [
    ("Réponse aux besoins identifiés dans le quartier", D("3"), 5),
    ("Participation des habitant·es", D("2"), 5),
    ("Partenariats et co-financements", D("1"), 5),
    ("Capacité du porteur à mener l'action", D("1"), 5),
    ("Contribution aux transitions", D("1"), 5),
]
PROJECT_CALL_TITLE = "Appel à projets 2026 — Contrat de ville Aix-Marseille-Provence"
OTHER_CALLS = [
    # (mode, title, description, target state, opens in days, closes in days, multi-year)
    (
        CallMode.ANTI_CALL,
        "Anti-appel à projets — Réussite éducative et accès aux droits",
        "Les partenaires du contrat de ville ont recensé les besoins ; le financeur repère les structures "
        "capables d'y répondre et les accompagne pendant quinze jours de prototypage.",
        CallState.OPEN,
        -30,
        60,
        False,
    ),
    (
        CallMode.SOLUTIONS_CALL,
        "Appel à solutions — Frais Vallon : « plus de cafards dans les immeubles »",
        "Les habitant·es ont défini la solution attendue ; un panel d'habitant·es choisit les opérateurs.",
        CallState.OPEN,
        -10,
        50,
        False,
    ),
    (
        CallMode.STRUCTURAL_SUPPORT,
        "Soutien aux actions structurelles 2027-2031",
        "Sécurité financière sur trois à cinq ans (convention pluriannuelle d'objectifs) pour les "
        "associations qui portent les actions structurantes des quartiers ; évaluation annuelle.",
        CallState.OPEN,
        -20,
        70,
        True,
    ),
]
SESSION_HELD = "Comité de programmation n° 1"
SESSION_PLANNED = "Comité de programmation n° 2"
MINUTES = (
    "Séance co-présidée par la Préfecture et la Métropole. Les dossiers ont été examinés un par un "
    "sur la base de l'avis de l'instruction ; les décisions sont prises à l'unanimité des partenaires."
)
# A very small valid PDF, enough for the documents kept on an organisation's profile.
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>"
    b"endobj 3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


def siret_for(n: int) -> str:
    """A valid SIRET (Luhn on the SIREN and on all 14 digits), first establishment (NIC 0001x)."""
    body = f"{(78_300_000 + 7919 * n) % 100_000_000:08d}"
    siren = body + luhn.calc_check_digit(body)
    head = siren + "0001"
    return head + luhn.calc_check_digit(head)


def rna_for(n: int) -> str:
    """An RNA number of the Bouches-du-Rhône prefecture (W13…)."""
    return f"W13{(2_004_117 + 3571 * n) % 10_000_000:07d}"


def iban_for(n: int) -> str:
    from schwifty import IBAN

    return str(
        IBAN.generate("FR", bank_code="30004", account_code=f"{10_000_000 + 613 * n:011d}")
    ).replace(" ", "")
