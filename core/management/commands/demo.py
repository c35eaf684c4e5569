"""`manage.py demo`: a realistic, deterministic data set to try Pluriel (idempotent).

Reference rows (funders, QPVs, pillars, themes, budget lines, organisations, users) are written with
the ORM; every workflow change goes through `calls.services` and `grants.services`, so states,
audit rows and notifications are the real ones. Running it twice adds nothing; `--reset` removes
the demo rows first and rebuilds them identically (same references, titles and amounts).
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import random
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth.hashers import make_password
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import Count
from django.test.utils import override_settings
from stdnum import luhn

from calls import services as call_services
from calls.models import Call, CallMode, CallState, Programme, ScoringCriterion
from core.clock import now, today
from core.models import (
    QPV,
    AuditLog,
    BudgetLine,
    DocumentKind,
    Funder,
    Membership,
    Notification,
    Organisation,
    OrganisationDocument,
    Pillar,
    ReferenceCounter,
    Role,
    RoleAssignment,
    TransitionTheme,
    User,
)
from grants import services
from grants.models import (
    Application,
    ApplicationState,
    AssignmentRule,
    CommitteeSession,
    PartnerOpinion,
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


@dataclass
class Context:
    rng: random.Random
    funders: dict[str, Funder] = field(default_factory=dict)
    qpvs: dict[str, QPV] = field(default_factory=dict)
    pillars: dict[str, Pillar] = field(default_factory=dict)
    themes: dict[str, TransitionTheme] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    organisations: list[Organisation] = field(default_factory=list)
    members: dict[int, User] = field(default_factory=dict)
    programme: Programme | None = None
    call: Call | None = None
    sessions: dict[str, CommitteeSession] = field(default_factory=dict)


class Command(BaseCommand):
    help = (
        "Load a realistic demo data set (idempotent). Every demo login uses the password demo1234."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--reset", action="store_true", help="Remove the demo rows first, then rebuild them."
        )
        parser.add_argument(
            "--send-emails",
            action="store_true",
            help="Send the notification emails (by default they are discarded).",
        )

    def handle(
        self, *args: Any, reset: bool = False, send_emails: bool = False, **options: Any
    ) -> None:
        started = time.monotonic()
        # Eager Celery logs every in-process task; a demo load would print one line per email.
        logging.getLogger("celery").setLevel(logging.WARNING)
        backend = None if send_emails else "django.core.mail.backends.dummy.EmailBackend"
        with override_settings(EMAIL_BACKEND=backend) if backend else contextlib.nullcontext():
            if reset:
                removed = reset_demo()
                self.stdout.write(f"Demo rows removed: {removed} applications.")
            ctx = Context(rng=random.Random(SEED))
            load_reference_data(ctx)
            load_people(ctx)
            load_calls(ctx)
            created = load_applications(ctx)
            decided = record_committee_decisions(ctx)
            built = load_other_modes(ctx)
            built["agreements"] = load_agreements(ctx)
            from cpo.demo_finance import load_finance_demo

            built["finance"] = load_finance_demo(write=self.stdout.write)
            if created:
                spread_dates(ctx)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo ready in {time.monotonic() - started:.1f} s: {created} applications created, "
                f"{decided} committee decisions recorded; other modes built now: "
                f"{', '.join(name for name, done in built.items() if done) or 'none'}."
            )
        )
        counts = dict(
            Application.objects.filter(programme=ctx.programme)
            .values_list("state")
            .annotate(n=Count("pk"))
            .order_by()
        )
        self.stdout.write(
            "  " + ", ".join(f"{label}: {counts.get(code, 0)}" for code, label in S.choices)
        )
        self.stdout.write(f"Logins (password « {PASSWORD} »):")
        self.stdout.write(f"  {APPLICANT_EMAIL:<38} porteur de projet (2 associations)")
        for person in STAFF:
            self.stdout.write(f"  {person.email:<38} {person.note}")


def spread_dates(ctx: Context) -> int:
    """The services stamp submissions and decisions with the current time, so every demo file
    would read as decided in 0 days. Spread them as they happen: submitted after the call opened,
    decided some weeks later, and before the agreement was signed — so the processing-time
    dashboards and the call pages' estimates show something real. Runs once, when the demo's
    files are created (deterministic)."""
    from django.db.models import Q

    from cpo.models import Agreement

    rng = random.Random(SEED + 7)
    moment = now()
    signed = dict(
        Agreement.objects.filter(application__programme=ctx.programme)
        .exclude(signed_on=None)
        .values_list("application_id", "signed_on")
    )
    count = 0
    applications = (
        Application.objects.filter(Q(programme=ctx.programme) | Q(call__programme=ctx.programme))
        .exclude(submitted_at=None)
        .select_related("call")
        .order_by("pk")
    )
    for app in applications:
        if app.pk in signed:
            decided = datetime.datetime.combine(
                signed[app.pk], datetime.time(10), tzinfo=moment.tzinfo
            ) - datetime.timedelta(days=rng.randint(10, 40))
            decided = min(decided, moment - datetime.timedelta(days=1))
            submitted = decided - datetime.timedelta(days=rng.randint(20, 90))
        else:
            opened = (app.call.opens_at if app.call_id else None) or (
                moment - datetime.timedelta(days=120)
            )
            days = max(2, (moment - opened).days)
            submitted = opened + datetime.timedelta(
                days=rng.randint(0, max(0, days // 2)), hours=rng.randint(8, 18)
            )
            decided = min(
                submitted + datetime.timedelta(days=rng.randint(5, 45)),
                moment - datetime.timedelta(hours=2),
            )
        Application.objects.filter(pk=app.pk).update(
            submitted_at=submitted, decided_at=decided if app.decided_at else None
        )
        count += 1
    return count


# --------------------------------------------------------------------------- reset


def reset_demo() -> int:
    """Delete the demo's rows (programme, calls, files, organisations, users, their audit rows)."""
    with transaction.atomic():
        programmes = list(
            Programme.objects.filter(name="Contrat de ville", fiscal_year=FISCAL_YEAR)
        )
        from cpo.demo_finance import reset_finance_demo

        reset_finance_demo(programmes)
        apps = Application.objects.filter(programme__in=programmes)
        ids = {
            Application: [str(pk) for pk in apps.values_list("pk", flat=True)],
            Call: [
                str(pk)
                for pk in Call.objects.filter(programme__in=programmes).values_list("pk", flat=True)
            ],
            CommitteeSession: [
                str(pk)
                for pk in CommitteeSession.objects.filter(programme__in=programmes).values_list(
                    "pk", flat=True
                )
            ],
            Programme: [str(p.pk) for p in programmes],
        }
        count = len(ids[Application])
        ids.update(_other_mode_ids(programmes))
        for model, pks in ids.items():
            AuditLog.objects.filter(
                content_type=ContentType.objects.get_for_model(model), object_id__in=pks
            ).delete()
        _delete_agreements(programmes)
        _delete_other_modes(programmes)
        apps.delete()
        _delete_needs_and_challenges(programmes)
        CommitteeSession.objects.filter(programme__in=programmes).delete()
        AssignmentRule.objects.filter(instructor__email__endswith=f"@{EMAIL_DOMAIN}").delete()
        Call.objects.filter(programme__in=programmes).delete()
        Programme.objects.filter(pk__in=[p.pk for p in programmes]).delete()
        sirets = [siret_for(i) for i in range(len(ASSOCIATIONS))]
        for doc in OrganisationDocument.objects.filter(organisation__siret__in=sirets):
            doc.file.delete(save=False)
        Organisation.objects.filter(siret__in=sirets, applications__isnull=True).delete()
        Notification.objects.filter(user__email__endswith=f"@{EMAIL_DOMAIN}").delete()
        User.objects.filter(email__endswith=f"@{EMAIL_DOMAIN}").delete()
        for prefix in ["AAP", "AAAP", "AAS", "SAS", "HA"]:
            # Counters restart only when no file of that series is left, so rebuilt references match.
            if not Application.objects.filter(
                reference__startswith=f"{prefix}-{FISCAL_YEAR}-"
            ).exists():
                ReferenceCounter.objects.filter(prefix=prefix, year=FISCAL_YEAR).delete()
    return count


# --------------------------------------------------------------------------- reference rows


def load_reference_data(ctx: Context) -> None:
    for i, (name, kind) in enumerate(FUNDERS):
        # Funders publish their grants under their own SIRET (SCDL idAttribuant).
        ctx.funders[name], _ = Funder.objects.update_or_create(
            name=name, defaults={"kind": kind, "siret": siret_for(9001 + i)}
        )
    for code, label, funder in BUDGET_LINES:
        BudgetLine.objects.update_or_create(
            code=code, defaults={"label": label, "funder": ctx.funders[funder]}
        )
    for code, name, insee, commune in QPVS:
        ctx.qpvs[code], _ = QPV.objects.update_or_create(
            code=code, defaults={"name": name, "commune_insee": insee, "commune_name": commune}
        )
    for code, label in PILLARS:
        ctx.pillars[code], _ = Pillar.objects.update_or_create(code=code, defaults={"label": label})
    for code, label in THEMES:
        ctx.themes[code], _ = TransitionTheme.objects.update_or_create(
            code=code, defaults={"label": label}
        )


def load_people(ctx: Context) -> None:
    """Staff with their roles, and the associations with one member each (porteur@ holds two)."""
    password = make_password(PASSWORD)  # hashed once: the slow hasher runs once, not per user
    for person in STAFF:
        user = _user(
            person.email, person.first_name, person.last_name, password, superuser=person.superuser
        )
        assignment, _ = RoleAssignment.objects.get_or_create(
            user=user,
            role=person.role,
            defaults={"funder": ctx.funders.get(person.funder) if person.funder else None},
        )
        if person.territories:
            assignment.territories.set([ctx.qpvs[c] for c in person.territories])
        ctx.users[person.email] = user
    porteur = _user(APPLICANT_EMAIL, "Léa", "Fontaine", password)
    ctx.users[APPLICANT_EMAIL] = porteur
    for i, (name, city, postcode, insee, rep) in enumerate(ASSOCIATIONS):
        org, created = Organisation.objects.get_or_create(
            siret=siret_for(i),
            defaults={
                "name": name,
                "rna": rna_for(i),
                "city": city,
                "postcode": postcode,
                "commune_insee": insee,
                "address": f"{3 + 7 * i} rue {['des Lilas', 'de la République', 'Félix Pyat', 'Jean Jaurès'][i % 4]}",
                "email": f"contact@{_slug(name)}.example.org",
                "phone": f"04 91 {10 + i:02d} {20 + i:02d} {30 + i:02d}",
                "legal_rep_name": rep,
                "legal_rep_role": "Président·e",
                "iban": iban_for(i),
                "bic": BICS[i % len(BICS)],
            },
        )
        if created:
            _documents(org)
        ctx.organisations.append(org)
        member = (
            porteur
            if i < 2
            else _user(
                f"contact.{_slug(name)}@{EMAIL_DOMAIN}",
                rep.split()[0],
                rep.split(None, 1)[1],
                password,
            )
        )
        Membership.objects.get_or_create(user=member, organisation=org, defaults={"is_admin": True})
        ctx.members[org.pk] = member


def _user(
    email: str, first: str, last: str, password_hash: str, *, superuser: bool = False
) -> User:
    user, _ = User.objects.update_or_create(
        email=email,
        defaults={
            "first_name": first,
            "last_name": last,
            "password": password_hash,
            "is_active": True,
            "is_staff": superuser,
            "is_superuser": superuser,
            "email_verified_at": now(),
        },
    )
    return user


def _slug(name: str) -> str:
    from django.utils.text import slugify

    return slugify(name)[:40]


def _documents(org: Organisation) -> None:
    """The documents kept once on the profile and reused by every application (tell us once)."""
    for kind, title, valid_until in [
        (DocumentKind.STATUTES, "Statuts à jour", None),
        (DocumentKind.BANK_DETAILS, "RIB de l'association", None),
        (
            DocumentKind.APPROVED_ACCOUNTS,
            "Comptes 2025 approuvés en AG",
            # Valid a year ahead whenever the demo is loaded (dates elsewhere follow today).
            max(datetime.date(FISCAL_YEAR + 1, 6, 30), today() + datetime.timedelta(days=365)),
        ),
    ]:
        doc = OrganisationDocument(
            organisation=org,
            kind=kind,
            title=title,
            original_name=f"{kind}.pdf",
            size=len(PDF),
            valid_until=valid_until,
        )
        doc.file.save(f"{kind}.pdf", ContentFile(PDF), save=False)
        doc.save()


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
            "funder": ctx.funders[METROPOLIS].pk,
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
                "funder": ctx.funders[CAF].pk,
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
    """The held session decides its files in one go (committee_record_decisions, all or nothing)."""
    session = ctx.sessions[SESSION_HELD]
    if session.state == CommitteeSession.State.HELD:
        return 0
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
    services.committee_record_decisions(
        actor=ctx.users["comite@demo.pluriel.fr"],
        session=session,
        decisions=decisions,
        minutes=MINUTES,
    )
    return len(decisions)


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


def load_other_modes(ctx: Context) -> dict[str, int]:
    """Anti-call, calls for solutions (vote open, and vote closed with published results),
    structural support and direct awards. Returns how many sections were built now."""
    residents = _residents(ctx)
    built = {}
    for name, loader in (
        ("anti_call", load_anti_call),
        ("solutions", load_solutions),
        ("structural", load_structural),
        ("direct", load_direct_awards),
    ):
        with transaction.atomic():
            built[name] = int(bool(loader(ctx, residents)))
    return built


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


# --------------------------------------------------------------------------- calls for solutions


def load_solutions(ctx: Context, residents: list[User]) -> bool:
    """The open call: challenges, a panel of 7 residents voting now. A second call whose vote is
    closed: ballots cast, allocation computed, decided and published."""
    from calls.models import Challenge

    call = _call(ctx, SOLUTIONS_CALL_TITLE)
    if Challenge.objects.filter(call=call).exists():
        return False
    _open_solutions_call(ctx, call, residents)
    _closed_solutions_call(ctx, residents)
    return True


def _seat(ctx: Context, panel, residents: list[User]) -> None:
    manager = ctx.users["responsable@demo.pluriel.fr"]
    for user, (_email, _first, _last, college) in zip(residents, RESIDENTS, strict=False):
        call_services.panel_add_member(actor=manager, panel=panel, user=user, college=college)


def _operators(ctx: Context, call: Call, challenges: list, rows: list) -> list[Application]:
    apps = []
    for org_index, title, requested, challenge in rows:
        data = _file_data(
            ctx,
            title,
            "Une action ciblée qui répond à la solution attendue par les habitant·es.",
            requested,
            challenges[challenge].qpv.code,
            "cadre-de-vie",
            challenge=challenges[challenge],
        )
        app = services.application_create(
            actor=_member(ctx, org_index), organisation=_org(ctx, org_index), call=call, data=data
        )
        apps.append(_to_committee(ctx, app, proposed=requested))
    return apps


def _open_solutions_call(ctx: Context, call: Call, residents: list[User]) -> None:
    from grants.solutions import services as solutions

    manager = ctx.users["responsable@demo.pluriel.fr"]
    moment = now()
    panel = call_services.panel_configure(
        actor=manager,
        call=call,
        quorum=4,
        voting_opens_at=moment - datetime.timedelta(days=2),
        voting_closes_at=moment + datetime.timedelta(days=12),
    )
    _seat(ctx, panel, residents)
    challenges = [
        call_services.challenge_record(
            actor=residents[0], call=call, qpv=ctx.qpvs[qpv], title=title, description=description
        )
        for qpv, title, description in CHALLENGES_OPEN
    ]
    qpv, title, description, name = CHALLENGE_PROPOSED
    call_services.challenge_propose(
        call=call, qpv=ctx.qpvs[qpv], title=title, description=description, name=name, email=""
    )
    apps = _operators(ctx, call, challenges, OPERATORS_OPEN)
    for voter, choices in OPEN_BALLOTS.items():
        solutions.ballot_cast(
            actor=residents[voter], call=call, approvals=[apps[i].pk for i in choices]
        )


def _closed_solutions_call(ctx: Context, residents: list[User]) -> None:
    """The demo cannot travel in time: the files are filed while the call is open, then the call's
    dates are set back, the panel is created with past voting dates and the ballots are written the
    way grants.solutions.services.ballot_cast writes them. The allocation then runs through the
    services."""
    import uuid

    from calls.models import Panel
    from core.audit import audit_log
    from grants.models import AllocationRun, Ballot, BallotChoice
    from grants.solutions import services as solutions

    manager = ctx.users["responsable@demo.pluriel.fr"]
    moment = now()
    call, _ = Call.objects.get_or_create(
        programme=ctx.programme,
        title=CLOSED_SOLUTIONS_CALL_TITLE,
        defaults={
            "mode": CallMode.SOLUTIONS_CALL,
            "description": "Les habitant·es du Centre-Nord ont défini la solution attendue ; leur panel a voté, "
            "les résultats sont publiés.",
            "envelope": D("30000.00"),
            "opens_at": moment - datetime.timedelta(days=70),
            "closes_at": moment + datetime.timedelta(days=1),
        },
    )
    call_services.call_transition(call=call, name="publish", actor=manager)
    call_services.call_transition(call=call, name="open", actor=manager)
    challenges = [
        call_services.challenge_record(
            actor=manager, call=call, qpv=ctx.qpvs[qpv], title=title, description=description
        )
        for qpv, title, description in CHALLENGES_CLOSED
    ]
    apps = _operators(ctx, call, challenges, OPERATORS_CLOSED)
    Call.objects.filter(pk=call.pk).update(closes_at=moment - datetime.timedelta(days=40))
    call = Call.objects.get(pk=call.pk)
    call_services.call_transition(call=call, name="close", actor=manager)
    opens, closes = moment - datetime.timedelta(days=30), moment - datetime.timedelta(days=10)
    panel = Panel.objects.create(
        call=call, quorum=4, voting_opens_at=opens, voting_closes_at=closes
    )
    _seat(ctx, panel, residents[: len(CLOSED_BALLOTS)])
    for i, (member, choices) in enumerate(
        zip(panel.members.order_by("id"), CLOSED_BALLOTS, strict=True)
    ):
        ballot = Ballot.objects.create(call=call, member=member)
        Ballot.objects.filter(pk=ballot.pk).update(cast_at=opens + datetime.timedelta(days=1 + i))
        paper = uuid.UUID(int=(call.pk << 32) + i)  # deterministic, and not linked to the voter
        BallotChoice.objects.bulk_create(
            [
                BallotChoice(call=call, paper=paper, ballot=None, application_id=apps[c].pk)
                for c in choices
            ]
        )
        audit_log(actor=member.user, obj=call, action="grants.ballot.cast", payload={})
    call_services.call_transition(call=call, name="deliberate", actor=manager)
    run = solutions.allocation_compute(actor=manager, call=call)
    run = solutions.allocation_decide(
        actor=manager,
        run=run,
        rule=AllocationRun.Rule.EQUAL_SHARES,
        reason="La méthode des parts égales représente chaque collège du panel.",
    )
    solutions.allocation_publish(actor=manager, run=run)
    call_services.call_transition(call=call, name="decide", actor=manager)


# --------------------------------------------------------------------------- structural support


def load_structural(ctx: Context, residents: list[User]) -> bool:
    """Structural support files over 3, 4 and 5 years: filed, in committee, approved year by year."""
    from grants.direct import services as services_direct

    call = _call(ctx, STRUCTURAL_CALL_TITLE)
    if Application.objects.filter(call=call).exists():
        return False
    committee = ctx.users["comite@demo.pluriel.fr"]
    session = services.committee_session_create(
        actor=ctx.users["responsable@demo.pluriel.fr"],
        programme=ctx.programme,
        call=call,
        title="Comité du soutien aux actions structurelles",
        date=today() + datetime.timedelta(days=14),
    )
    for org_index, title, requested, approved, target in STRUCTURAL_FILES:
        total = sum(requested, D("0"))
        data = _file_data(
            ctx,
            title,
            "Une action structurante portée à l'année, qui demande de la visibilité.",
            total,
            "QN01318M" if _org(ctx, org_index).postcode == "13013" else "QN01303M",
            "cohesion-sociale",
        )
        data["start_date"], data["end_date"] = (
            datetime.date(2027, 1, 1),
            datetime.date(2026 + len(requested), 12, 31),
        )
        applicant = _member(ctx, org_index)
        app = services.application_create(
            actor=applicant, organisation=_org(ctx, org_index), call=call, data=data
        )
        services_direct.application_set_years(
            actor=applicant,
            application=app,
            years=[
                {"fiscal_year": 2027 + i, "amount": amount} for i, amount in enumerate(requested)
            ],
        )
        app = Application.objects.get(pk=app.pk)
        if target == S.SUBMITTED:
            services.application_submit(actor=applicant, application=app)
            continue
        granted = sum(approved or requested, D("0"))
        app = _to_committee(ctx, app, proposed=granted, session=session)
        if target == S.APPROVED:
            services.application_approve(
                actor=committee,
                application=app,
                amount=granted,
                conditions="Évaluation annuelle avant le 30 juin de chaque année.",
                reason="Action structurante du quartier : sécurité financière sur cinq ans.",
                yearly_amounts={2027 + i: amount for i, amount in enumerate(approved)},
            )
    return True


# --------------------------------------------------------------------------- direct awards


def load_direct_awards(ctx: Context, residents: list[User]) -> bool:
    """Three direct awards opened by the instructor: one approved, one refused, one pending."""
    from grants.direct import services as services_direct
    from grants.models import ApplicationKind

    if Application.objects.filter(
        programme=ctx.programme, kind=ApplicationKind.DIRECT_AWARD
    ).exists():
        return False
    instructor, manager = (
        ctx.users["instructeur@demo.pluriel.fr"],
        ctx.users["responsable@demo.pluriel.fr"],
    )
    for org_index, title, amount, reason, decision in DIRECT_AWARDS:
        org = _org(ctx, org_index)
        qpv = "QN01341M" if org.city == "Aix-en-Provence" else "QN01303M"
        app = services_direct.direct_award_open(
            actor=instructor,
            organisation=org,
            programme=ctx.programme,
            title=title,
            summary=f"{title}. Action d'urgence, hors de tout appel.",
            requested_amount=amount,
            urgency_reason=reason,
            data={
                "qpvs": [ctx.qpvs[qpv]],
                "pillar": ctx.pillars["cohesion-sociale"],
                "budget": _budget(amount),
            },
        )
        if decision == "approve":
            services_direct.direct_award_decide(
                actor=manager,
                application=app,
                approve=True,
                amount=amount,
                reason="Urgence avérée ; crédits disponibles sur l'enveloppe.",
            )
        elif decision == "refuse":
            services_direct.direct_award_decide(
                actor=manager,
                application=app,
                approve=False,
                reason="L'action relève de l'appel à projets d'été, encore ouvert.",
            )
    return True


# --------------------------------------------------------------------------- reset of the other modes


def _other_mode_ids(programmes: list[Programme]) -> dict[Any, list[str]]:
    """The ids whose audit rows the reset removes: candidacies, needs, challenges."""
    from calls.models import Challenge, Need
    from grants.models import Candidacy

    return {
        Candidacy: [
            str(pk)
            for pk in Candidacy.objects.filter(need__call__programme__in=programmes).values_list(
                "pk", flat=True
            )
        ],
        Need: [
            str(pk)
            for pk in Need.objects.filter(call__programme__in=programmes).values_list(
                "pk", flat=True
            )
        ],
        Challenge: [
            str(pk)
            for pk in Challenge.objects.filter(call__programme__in=programmes).values_list(
                "pk", flat=True
            )
        ],
    }


def _delete_other_modes(programmes: list[Programme]) -> None:
    """What protects the demo's files from deletion: ballots, allocation runs, candidacies."""
    from grants.models import AllocationRun, Ballot, BallotChoice, Candidacy, PanelAssessment

    BallotChoice.objects.filter(call__programme__in=programmes).delete()
    Ballot.objects.filter(call__programme__in=programmes).delete()
    AllocationRun.objects.filter(call__programme__in=programmes).delete()
    PanelAssessment.objects.filter(application__programme__in=programmes).delete()
    Candidacy.objects.filter(need__call__programme__in=programmes).delete()


def _delete_needs_and_challenges(programmes: list[Programme]) -> None:
    from calls.models import Challenge, Need, Panel

    Need.objects.filter(call__programme__in=programmes).delete()
    Challenge.objects.filter(call__programme__in=programmes).delete()
    Panel.objects.filter(call__programme__in=programmes).delete()


# --------------------------------------------------------------------------- agreements (CPO)

# (profile and options, target state, outcome of the first evaluation) — one agreement per approved
# demo file, in reference order; the structural-support files take the custom profile (their
# approved yearly amounts) and stay signed, their first year being still to come.
AGREEMENT_PLAN: list[tuple[dict[str, Any], str, str]] = [
    ({"profile": "flat", "duration_years": 3, "first_year": FISCAL_YEAR - 1}, "active", "accept"),
    (
        {
            "profile": "progressive_rate",
            "rate": D("0.05"),
            "duration_years": 3,
            "first_year": FISCAL_YEAR - 1,
        },
        "active",
        "reject",
    ),
    (
        {
            "profile": "degressive_step",
            "step": D("1000"),
            "duration_years": 3,
            "first_year": FISCAL_YEAR - 1,
        },
        "suspended",
        "accept_with_reservations",
    ),
    (
        {"profile": "flat", "duration_years": 2, "first_year": FISCAL_YEAR - 2},
        "completed",
        "accept",
    ),
    ({"profile": "flat", "duration_years": 2, "first_year": FISCAL_YEAR}, "terminated", ""),
    ({"profile": "flat", "duration_years": 2, "first_year": FISCAL_YEAR + 1}, "draft", ""),
    (
        {"profile": "flat", "duration_years": 2, "first_year": FISCAL_YEAR + 1},
        "sent_for_signature",
        "",
    ),
]
AGREEMENT_PREFIXES = ("CPO", "CONV", "DEC")


def load_agreements(ctx: Context) -> bool:
    """Agreements built from approved demo files through cpo.services: every profile (flat,
    progressive rate, degressive step, custom from a structural-support file) and every state, with
    evaluations accepted, accepted with reservations and rejected, instalments due, on hold and late,
    one amendment and one recovery (cpo.services_changes)."""
    from cpo import services as cpo
    from cpo import services_changes
    from cpo.models import Agreement, AgreementState

    if Agreement.objects.filter(programme=ctx.programme).exists():
        return False
    instructor = ctx.users["instructeur@demo.pluriel.fr"]
    approved = list(
        Application.objects.filter(programme=ctx.programme, state=S.APPROVED)
        .prefetch_related("years")
        .order_by("reference")
    )
    structural = [a for a in approved if a.years.exclude(approved_amount=None).exists()]
    others = [a for a in approved if a not in structural]
    built: dict[str, Agreement] = {}
    for app, (options, target, outcome) in zip(others, AGREEMENT_PLAN, strict=False):
        agreement = cpo.agreement_create_from_application(
            actor=instructor, application=app, **options
        )
        built.setdefault(target, _drive_agreement(ctx, agreement, target, outcome))
    for app in structural[:1]:
        agreement = cpo.agreement_create_from_application(actor=instructor, application=app)
        built["signed"] = _drive_agreement(ctx, agreement, AgreementState.SIGNED, "")

    if active := built.get("active"):
        services_changes.amendment_create(
            actor=instructor,
            agreement=active,
            reason="Montée en charge de l'action : un atelier de plus par semaine dès 2027.",
            effective_on=datetime.date(FISCAL_YEAR + 1, 1, 1),
            years={
                y.fiscal_year: y.amount + (D("2000") if y.fiscal_year > FISCAL_YEAR else 0)
                for y in active.years.all()
            },
        )
    if completed := built.get("completed"):
        services_changes.recovery_issue(
            actor=instructor,
            agreement=completed,
            fiscal_year=completed.last_year,
            unspent=D("1800.00"),
            reason="Action d'été annulée (canicule) : crédits non consommés.",
        )
    return True


def _evaluate(ctx: Context, agreement, year: int, outcome: str) -> None:
    """The association files the year's evaluation (planned vs actual: 5 % under plan), the
    instructor reviews it."""
    from cpo import services as cpo
    from cpo import services_evaluation
    from cpo.models import Evaluation

    member = Membership.objects.filter(organisation=agreement.organisation).first().user
    evaluation = Evaluation.objects.get(agreement=agreement, fiscal_year=year)
    # Files of some modes carry no CERFA budget: the report then shows the subsidy alone.
    rows = cpo.evaluation_prefill(evaluation) or [
        {"account": "74", "planned": agreement.years.get(fiscal_year=year).amount}
    ]
    accounts = (
        OrganisationDocument.objects.filter(
            organisation=agreement.organisation, kind=DocumentKind.APPROVED_ACCOUNTS
        )
        .order_by("pk")
        .first()
    )
    services_evaluation.evaluation_file(
        actor=member,
        evaluation=evaluation,
        activity_report=f"Bilan {year} : actions menées comme prévu, fréquentation en hausse.",
        budget_lines=[
            {**r, "actual": (r["planned"] * D("0.95")).quantize(D("0.01"))} for r in rows
        ],
        indicators=[
            {"label": i.label, "unit": i.unit, "target": i.target, "actual": i.target}
            for i in agreement.application.indicators.all()
        ],
        approved_accounts=accounts,
    )
    cpo.evaluation_review(
        actor=ctx.users["instructeur@demo.pluriel.fr"],
        evaluation=Evaluation.objects.get(pk=evaluation.pk),
        outcome=outcome,
        comment=""
        if outcome == "accept"
        else "Compte rendu financier incomplet : joindre le détail des charges de personnel.",
    )


def _drive_agreement(ctx: Context, agreement, target: str, outcome: str):
    """Take a draft agreement to `target` through the services, with realistic dates."""
    from cpo import services as cpo
    from cpo.models import Agreement

    instructor = ctx.users["instructeur@demo.pluriel.fr"]
    manager = ctx.users["responsable@demo.pluriel.fr"]
    fresh = lambda: Agreement.objects.get(pk=agreement.pk)  # noqa: E731
    if target == "draft":
        return fresh()
    cpo.agreement_send_for_signature(actor=instructor, agreement=agreement)
    if target == "sent_for_signature":
        return fresh()
    signed_on = min(datetime.date(max(agreement.first_year, FISCAL_YEAR - 2), 1, 20), today())
    if agreement.first_year > today().year:
        signed_on = min(datetime.date(FISCAL_YEAR, 10, 1), today())
    cpo.agreement_sign(actor=manager, agreement=fresh(), signed_on=signed_on)
    if target == "signed":
        return fresh()
    # The daily job as it ran then (advance due on 1 Feb), then today: unpaid 60 days → late.
    cpo.instalments_refresh(
        day=datetime.date(agreement.first_year, 2, 1), agreement_ids=[agreement.pk]
    )
    cpo.instalments_refresh(agreement_ids=[agreement.pk])
    if target == "terminated":
        return cpo.agreement_terminate(
            actor=manager,
            agreement=fresh(),
            reason="Dissolution de l'association votée en assemblée générale.",
        )
    if outcome:
        _evaluate(ctx, fresh(), agreement.first_year, outcome)
    if target == "completed":
        _evaluate(ctx, fresh(), fresh().last_year, "accept")
    if target == "suspended":
        cpo.agreement_suspend(
            actor=manager,
            agreement=fresh(),
            reason="Réserves de l'évaluation à lever avant tout nouveau versement.",
        )
    return fresh()


def _delete_agreements(programmes: list[Programme]) -> None:
    """The demo's agreements and everything under them, with their audit rows and counters."""
    from cpo.models import (
        Agreement,
        Amendment,
        Evaluation,
        Instalment,
        Recovery,
    )

    agreements = Agreement.objects.filter(programme__in=programmes)
    years = set(agreements.values_list("first_year", flat=True))
    for model, qs in [
        (Recovery, Recovery.objects.filter(agreement__in=agreements)),
        (Amendment, Amendment.objects.filter(agreement__in=agreements)),
        (Evaluation, Evaluation.objects.filter(agreement__in=agreements)),
        (Instalment, Instalment.objects.filter(agreement__in=agreements)),
        (Agreement, agreements),
    ]:
        AuditLog.objects.filter(
            content_type=ContentType.objects.get_for_model(model),
            object_id__in=[str(pk) for pk in qs.values_list("pk", flat=True)],
        ).delete()
    Recovery.objects.filter(agreement__in=agreements).delete()
    Instalment.objects.filter(agreement__in=agreements).delete()
    agreements.delete()
    for prefix in AGREEMENT_PREFIXES:
        for year in years:
            if not Agreement.objects.filter(reference__startswith=f"{prefix}-{year}-").exists():
                ReferenceCounter.objects.filter(prefix=prefix, year=year).delete()
