"""Historical grants imported from other funders' SCDL files or from a previous tool: each becomes
an agreement with no application (source "imported"), so an association's whole funding shows in
one place (docs/domain.md §7, the "global contract") and the open-data and analytics pages count it.

Rules (docs/decisions, "Historical grants import"):
- Identity: a grant is (funder, external_id). The external_id is the file's idSubvention when it
  has one (Data.Subvention extension); otherwise it is built by the importer from the decision
  reference, the beneficiary, the fiscal year and the object. A grant already imported is skipped
  — never updated, never duplicated — so the same file (or a file overlapping an earlier one) can
  be imported again safely.
- Funder: found by its SIRET (idAttribuant), else by name (nomAttribuant, case-insensitive),
  else created with a kind guessed from its name.
- Beneficiary: the organisation with that SIRET (idBeneficiaire), else — without a SIRET — the
  one with that RNA number; an organisation is created only from a SIRET (Organisation.siret is
  its identity), so an RNA-only row whose association is unknown is refused, by row.
- Programme: one "Historique — <funder>" programme per funder and fiscal year, created when
  missing; its envelope is the total of the imported years it holds.
- Agreement: a written agreement when a year exceeds the threshold (23 000 €, loi n° 2000-321
  art. 10), a notified decision otherwise; completed when its last year is over, active
  otherwise; signed and notified on the convention date; no instalment and no evaluation (the
  payments happened elsewhere). References HIST-<first year>-NNNN.

Set-based: funders in one query, organisations and existing grants in one query per chunk of
5 000, every row written with COPY (core.bulk), references reserved by year in one locked update.
"""

from __future__ import annotations

import datetime
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Sum
from django.utils.translation import gettext as _

from calls.models import Programme
from core.audit import audit_log_many
from core.clock import now, today
from core.errors import DomainError, PermissionDenied
from core.models import Funder, Organisation, Role, User
from core.permissions import has_role
from core.references import next_references
from core.services_import import (
    chunks,
    copy_rows,
    organisation_ids_by_rna,
    organisation_ids_by_siret,
    organisations_upsert,
    reserve_ids,
)

from . import audit_actions_import  # noqa: F401 - registers cpo.agreement.imported
from .models import (
    Agreement,
    AgreementFunder,
    AgreementState,
    AgreementYear,
    InstalmentTemplate,
    Profile,
)

A = AgreementState
PROGRAMME_PREFIX = "Historique — "
REFERENCE_PREFIX = "HIST"


@dataclass(slots=True)
class HistoricalGrant:
    """One grant to import, already read and checked (reporting.imports.grants)."""

    rows: tuple[int, ...]  # the file's rows it comes from, for messages
    funder_name: str
    funder_siret: str
    external_id: str
    organisation_name: str
    siret: str  # "" when the file gives only the RNA number
    rna: str
    title: str
    signed_on: datetime.date
    years: dict[int, Decimal]  # fiscal year → amount (2 decimals, > 0)
    ej_number: str = ""

    @property
    def total(self) -> Decimal:
        return sum(self.years.values(), Decimal("0"))


@dataclass
class Problem:
    rows: tuple[int, ...]
    column: str
    value: str
    message: str


@dataclass(eq=False)
class NewFunder:
    """A funder the import will create (one per SIRET, or per name without SIRET)."""

    name: str
    siret: str
    pk: int | None = None


@dataclass
class HistoricalPlan:
    """What an import would do, read from the database without writing."""

    funders: dict[tuple[str, str], Funder | NewFunder] = field(default_factory=dict)
    organisation_by_siret: dict[str, int] = field(default_factory=dict)
    organisation_by_rna: dict[str, int] = field(default_factory=dict)
    to_create: list[HistoricalGrant] = field(default_factory=list)
    already_imported: list[HistoricalGrant] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    new_organisations: dict[str, HistoricalGrant] = field(default_factory=dict)

    @property
    def new_funders(self) -> list[NewFunder]:
        unique = {id(f): f for f in self.funders.values() if isinstance(f, NewFunder)}
        return list(unique.values())

    def summary(self) -> dict[str, int]:
        return {
            "grants_to_create": len(self.to_create),
            "grants_already_imported": len(self.already_imported),
            "organisations_to_create": len(self.new_organisations),
            "funders_to_create": len(self.new_funders),
        }


def _may_import(actor: User) -> None:
    if not has_role(actor, Role.PROGRAMME_MANAGER):
        raise PermissionDenied(_("Réservé aux responsables de programme et aux administrateurs."))


def funder_kind_for(name: str) -> str:
    """The kind of a funder created by an import, guessed from its name."""
    words = name.casefold()
    rules = [
        (("région", "region", "conseil régional"), Funder.Kind.REGION),
        (("département", "departement", "conseil départemental", "conseil general"),
         Funder.Kind.DEPARTEMENT),
        (("caf", "caisse d'allocations"), Funder.Kind.CAF),
        (("fondation",), Funder.Kind.FOUNDATION),
        (("préfecture", "prefecture", "état", "etat", "ministère", "ministere", "anct"),
         Funder.Kind.STATE),
        (("ville", "commune", "métropole", "metropole", "communauté", "communaute",
          "agglomération", "agglomeration", "mairie"), Funder.Kind.MUNICIPALITY),
        (("europe", "feder", "fse"), Funder.Kind.EU),
    ]  # fmt: skip
    padded = f" {words} "
    for needles, kind in rules:
        if any(f" {n} " in padded or padded.strip().startswith(n) for n in needles):
            return kind
    return Funder.Kind.OTHER


def historical_import_plan(grants: Sequence[HistoricalGrant]) -> HistoricalPlan:
    """Match funders, beneficiaries and grants already imported; list the rows that cannot be
    imported. Reads only (one query for the funders, one per chunk for the rest)."""
    plan = HistoricalPlan()
    # Funders are few: all of them in one query.
    funders = list(Funder.objects.only("id", "name", "siret"))
    by_siret: dict[str, Funder | NewFunder] = {f.siret: f for f in funders if f.siret}
    by_name: dict[str, Funder | NewFunder] = {f.name.casefold(): f for f in funders}
    for grant in grants:
        key = _funder_key(grant)
        if key in plan.funders:
            continue
        funder = by_siret.get(grant.funder_siret) or by_name.get(key[1])
        if funder is None:
            funder = NewFunder(name=grant.funder_name[:200], siret=grant.funder_siret)
            by_name[funder.name.casefold()] = funder
            if funder.siret:
                by_siret[funder.siret] = funder
        plan.funders[key] = funder
    plan.organisation_by_siret = organisation_ids_by_siret(g.siret for g in grants)
    plan.organisation_by_rna = organisation_ids_by_rna(g.rna for g in grants if not g.siret)
    existing = _existing_keys(
        {f.pk for f in plan.funders.values() if isinstance(f, Funder)},
        [g.external_id for g in grants],
    )
    for grant in grants:
        funder = plan.funders[_funder_key(grant)]
        if isinstance(funder, Funder) and (funder.pk, grant.external_id) in existing:
            plan.already_imported.append(grant)
            continue
        if grant.siret:
            if grant.siret not in plan.organisation_by_siret:
                plan.new_organisations.setdefault(grant.siret, grant)
        elif grant.rna not in plan.organisation_by_rna:
            plan.problems.append(
                Problem(
                    grant.rows,
                    "rnaBeneficiaire",
                    grant.rna,
                    _(
                        "Aucune organisation connue avec le numéro RNA %(rna)s : renseignez son "
                        "SIRET (idBeneficiaire) pour la créer, ou importez d'abord l'organisation."
                    )
                    % {"rna": grant.rna},
                )
            )
            continue
        plan.to_create.append(grant)
    return plan


def _existing_keys(funder_ids: set[int], external_ids: list[str]) -> set[tuple[int, str]]:
    """(funder id, external_id) of the grants already imported among these."""
    if not funder_ids:
        return set()
    if connection.vendor == "postgresql":
        # One query, the identifiers as one array parameter (see core.services_import.
        # rows_where_in): 20 joins of 5 000 placeholders each cost more than the lookup.
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT af.funder_id, a.external_id FROM {AgreementFunder._meta.db_table} af "
                f"JOIN {Agreement._meta.db_table} a ON a.id = af.agreement_id "
                "WHERE af.funder_id = ANY(%s) AND a.source = %s AND a.external_id = ANY(%s)",
                [sorted(funder_ids), Agreement.Source.IMPORTED.value, sorted(set(external_ids))],
            )
            return set(cursor.fetchall())
    found: set[tuple[int, str]] = set()
    for part in chunks(sorted(set(external_ids))):
        found.update(
            AgreementFunder.objects.filter(
                funder_id__in=funder_ids,
                agreement__source=Agreement.Source.IMPORTED,
                agreement__external_id__in=part,
            ).values_list("funder_id", "agreement__external_id")
        )
    return found


@dataclass
class HistoricalImport:
    created: int = 0
    already_imported: int = 0
    organisations_created: int = 0
    funders_created: int = 0
    programmes_created: int = 0
    agreement_ids: list[int] = field(default_factory=list)


def agreements_import_historical(
    *, actor: User, grants: Sequence[HistoricalGrant], source: str = ""
) -> HistoricalImport:
    """Import historical grants as agreements without application, all or nothing.

    Programme managers and administrators only. Grants already imported (same funder and
    external_id) are skipped; any row that cannot be imported (unknown RNA-only beneficiary)
    refuses the whole import with the rows at fault. One audit row per agreement created
    (`cpo.agreement.imported`), plus one per organisation created."""
    _may_import(actor)
    for grant in grants:
        _check_grant(grant)
    with transaction.atomic():
        _serialise_imports()
        plan = historical_import_plan(grants)
        if plan.problems:
            raise DomainError(
                _("%(n)s ligne(s) ne peuvent pas être importées : %(first)s")
                % {"n": len(plan.problems), "first": plan.problems[0].message},
                field="file",
                errors={"file": [p.message for p in plan.problems]},
            )
        result = HistoricalImport(already_imported=len(plan.already_imported))
        if not plan.to_create:
            return result
        funder_ids = _create_funders(plan)
        result.funders_created = len(plan.new_funders)
        organisations = organisations_upsert(
            actor=actor,
            rows=[
                {
                    "siret": siret,
                    "name": grant.organisation_name[:255],
                    "rna": grant.rna,
                    "legal_form": Organisation.LegalForm.ASSOCIATION
                    if grant.rna
                    else Organisation.LegalForm.OTHER,
                }
                for siret, grant in plan.new_organisations.items()
            ],
            update=False,
        )
        result.organisations_created = organisations.created
        organisation_of = {**plan.organisation_by_siret, **organisations.ids}
        programme_of, result.programmes_created = _programmes(plan.to_create, funder_ids)
        result.agreement_ids = _write_agreements(
            actor,
            plan.to_create,
            funder_ids=funder_ids,
            organisation_of=organisation_of,
            organisation_by_rna=plan.organisation_by_rna,
            programme_of=programme_of,
            source=source,
        )
        result.created = len(result.agreement_ids)
        _refresh_envelopes(set(programme_of.values()))
    return result


def _serialise_imports() -> None:
    """One historical import at a time: two overlapping files applied together would both find
    a grant missing and both create it (external_id is not unique in the table). A transaction
    lock on PostgreSQL; SQLite serialises writers anyway."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('cpo.historical_import'))")


def _check_grant(grant: HistoricalGrant) -> None:
    """The domain rules the importer checked already, enforced here too (a guard, not a report)."""
    years = sorted(grant.years)
    problem = ""
    if not years or any(a <= 0 for a in grant.years.values()):
        problem = _("le montant doit être positif")
    elif years != list(range(years[0], years[0] + len(years))) or len(years) > 5:
        problem = _("les exercices doivent se suivre, 5 au plus")
    elif not (grant.siret or grant.rna) or not grant.external_id:
        problem = _("le bénéficiaire ou l'identifiant manque")
    if problem:
        raise DomainError(
            _("Ligne %(row)s : %(problem)s.") % {"row": grant.rows[0], "problem": problem},
            field="file",
        )


def _create_funders(plan: HistoricalPlan) -> dict[tuple[str, str], int]:
    """Funder id of every (SIRET, name) key of the file, the missing funders created."""
    new = plan.new_funders
    created = Funder.objects.bulk_create(
        [Funder(name=f.name, kind=funder_kind_for(f.name), siret=f.siret) for f in new]
    )
    for funder, row in zip(new, created, strict=True):
        funder.pk = row.pk
    return {key: funder.pk for key, funder in plan.funders.items()}  # type: ignore[misc]


def _funder_key(grant: HistoricalGrant) -> tuple[str, str]:
    return _funder_key_of(grant.funder_siret, grant.funder_name)


@lru_cache(maxsize=1024)
def _funder_key_of(siret: str, name: str) -> tuple[str, str]:
    """A file names a few funders on every row: each key is built once, not six times a row."""
    return (siret, name.casefold())


def _programmes(
    grants: Sequence[HistoricalGrant], funder_ids: dict[tuple[str, str], int]
) -> tuple[dict[tuple[int, int], int], int]:
    """The "Historique — <funder>" programme of each (funder id, first year), created if missing."""
    wanted = {(funder_ids[_funder_key(g)], min(g.years)) for g in grants}
    funders = dict(Funder.objects.filter(pk__in={f for f, _y in wanted}).values_list("pk", "name"))
    names = {f: f"{PROGRAMME_PREFIX}{name}"[:200] for f, name in funders.items()}
    programme_of: dict[tuple[int, int], int] = {}
    for pk, name, year, funder_id in Programme.objects.filter(
        name__in=set(names.values()),
        fiscal_year__in={y for _f, y in wanted},
        funders__in=list(funders),
    ).values_list("pk", "name", "fiscal_year", "funders"):
        if names.get(funder_id) == name and (funder_id, year) in wanted:
            programme_of.setdefault((funder_id, year), pk)
    missing = sorted(wanted - set(programme_of))
    created = Programme.objects.bulk_create(
        [
            Programme(
                name=names[f],
                fiscal_year=year,
                envelope=Decimal("0"),
                description=_("Subventions historiques importées (fichiers SCDL ou ancien outil)."),
            )
            for f, year in missing
        ]
    )
    Programme.funders.through.objects.bulk_create(
        [
            Programme.funders.through(programme_id=p.pk, funder_id=f)
            for p, (f, _y) in zip(created, missing, strict=True)
        ]
    )
    for p, key in zip(created, missing, strict=True):
        programme_of[key] = p.pk
    return programme_of, len(created)


AGREEMENT_COLUMNS = [
    "id", "reference", "external_id", "organisation_id", "programme_id", "kind", "state", "title",
    "first_year", "duration_years", "total_amount", "profile", "signed_on", "notified_on",
]  # fmt: skip
#: Grants written per round: ids, references, COPY of each table and audit rows, so memory stays
#: bounded whatever the size of the file (all rounds are in the caller's one transaction).
WRITE_CHUNK = 10_000


def _write_agreements(
    actor: User,
    grants: Sequence[HistoricalGrant],
    *,
    funder_ids: dict[tuple[str, str], int],
    organisation_of: dict[str, int],
    organisation_by_rna: dict[str, int],
    programme_of: dict[tuple[int, int], int],
    source: str,
) -> list[int]:
    threshold = Decimal(str(settings.AGREEMENT_THRESHOLD))
    this_year = today().year
    stamp = now()
    written: list[int] = []
    for part in chunks(grants, WRITE_CHUNK):
        ids = reserve_ids(Agreement, len(part))
        references: dict[int, list[str]] = {}
        for year, count in sorted(Counter(min(g.years) for g in part).items()):
            references[year] = next_references(REFERENCE_PREFIX, year, count)[::-1]
        # What each agreement is, computed once: (id, reference, funder id, kind, state).
        heads = []
        for pk, grant in zip(ids, part, strict=True):
            first, last = min(grant.years), max(grant.years)
            kind = (
                Agreement.Kind.AGREEMENT
                if max(grant.years.values()) > threshold
                else Agreement.Kind.DECISION
            )
            state = A.COMPLETED if last < this_year else A.ACTIVE
            heads.append((pk, references[first].pop(), funder_ids[_funder_key(grant)], kind, state))
        copy_rows(
            Agreement,
            AGREEMENT_COLUMNS,
            (
                (
                    pk,
                    reference,
                    grant.external_id,
                    organisation_of[grant.siret] if grant.siret else organisation_by_rna[grant.rna],
                    programme_of[(funder_id, min(grant.years))],
                    kind,
                    state,
                    grant.title[:255],
                    min(grant.years),
                    len(grant.years),
                    grant.total,
                    Profile.FLAT if len(set(grant.years.values())) == 1 else Profile.CUSTOM,
                    grant.signed_on,
                    grant.signed_on,
                )
                for (pk, reference, funder_id, kind, state), grant in zip(heads, part, strict=True)
            ),
            constants={
                "application_id": None,
                "source": Agreement.Source.IMPORTED,
                "instalment_template": InstalmentTemplate.AT_SIGNATURE,
                "created_by_id": actor.pk,
                "created_at": stamp,
            },
        )
        copy_rows(
            AgreementFunder,
            ["agreement_id", "funder_id", "ej_number"],
            ((head[0], head[2], grant.ej_number) for head, grant in zip(heads, part, strict=True)),
            constants={"share": Decimal("1")},
        )
        copy_rows(
            AgreementYear,
            ["agreement_id", "fiscal_year", "amount"],
            (
                (head[0], year, amount)
                for head, grant in zip(heads, part, strict=True)
                for year, amount in sorted(grant.years.items())
            ),
        )
        audit_log_many(
            actor=actor,
            model=Agreement,
            action="cpo.agreement.imported",
            entries=[
                {
                    "object_id": pk,
                    "object_repr": reference,
                    "target": state,
                    "payload": {
                        "external_id": grant.external_id,
                        "funder": funder_id,
                        "years": {str(y): str(a) for y, a in grant.years.items()},
                        "file": source,
                    },
                }
                for (pk, reference, funder_id, _kind, state), grant in zip(heads, part, strict=True)
            ],
            plain=True,  # text and integers only: not walked again
        )
        written.extend(ids)
    return written


def _refresh_envelopes(programme_ids: set[int]) -> None:
    """A historical programme's envelope is what its agreements hold for its fiscal year."""
    totals: dict[int, Decimal] = defaultdict(Decimal)
    for programme_id, amount in (
        AgreementYear.objects.filter(agreement__programme_id__in=programme_ids)
        .filter(fiscal_year=F("agreement__programme__fiscal_year"))
        .values("agreement__programme_id")
        .annotate(total=Sum("amount"))
        .values_list("agreement__programme_id", "total")
    ):
        totals[programme_id] = amount
    programmes = list(Programme.objects.filter(pk__in=programme_ids))
    for programme in programmes:
        programme.envelope = totals.get(programme.pk, Decimal("0"))
    Programme.objects.bulk_update(programmes, ["envelope"])
