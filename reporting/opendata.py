"""Open data (docs/domain.md §6): the SCDL « Subventions » 2.1.1 file of signed agreements, its
multi-year extension (their rows; the files themselves are written and read back in
`reporting.scdl_files`), and the tracking of the publication deadline. Reads only: nothing here writes.

Which agreements are published
    Signed agreements (signed, active, suspended, completed or terminated, with a signature date),
    imported (historical) ones included, whose yearly amount exceeds the threshold: 23 000 € a year
    (loi n° 2000-321 art. 10, décret n° 2001-495; `settings.SCDL_THRESHOLD`), or every signed
    agreement when `settings.SCDL_PUBLISH_ALL` is true. An agreement whose required data is
    incomplete (`publication_problems`: a funder without SIRET, a beneficiary with neither SIRET nor
    RNA in the schema's format…) is held back whole, so a file never shows part of a grant.

The SCDL file (schema 2.1.1, copied to reporting/data/scdl-subventions-2.1.1.json)
    Columns in the schema's order, UTF-8, comma-separated, one line per row (as the schema's
    example). One row per beneficiary and per funder: the attribuant of a row is one funder of the
    agreement (its SIRET is idAttribuant); pourcentageSubvention is that funder's share, so the rows
    of one agreement add up to 1; montant is the grant's total before the split, the same on each
    row, as the schema asks of a split grant ("calculé avant répartition"): the funder's part is
    montant × pourcentageSubvention. An agreement with no funder row is funded by its programme's
    funder (the budget line's, else the programme's first), share 1.
    - dateConvention: the signature date; referenceDecision: the agreement's reference.
    - idBeneficiaire: the organisation's SIRET; rnaBeneficiaire: its RNA when it has the schema's
      form (W + 9 digits; RNAs with a letter in third position are left out, the SIRET suffices).
    - nature: « aide en numéraire »; notificationUE: « non »; idRAE: empty; dispositifAide: the
      programme's name.
    - conditionsVersement: « unique » when the funder's part is paid in one instalment, else
      « échelonné » (instalments not cancelled; an agreement without instalments, e.g. imported:
      « unique » when paid at signature over a single year).
    - datesPeriodeVersement: the payment date of a single paid instalment; else the period from the
      first to the last instalment (payment date once paid, earliest date before); a single unpaid
      instalment: its earliest date to the end of that year; no instalment: 1 January of the first
      fiscal year to 31 December of the last.

The multi-year extension (Data.Subvention draft, one row per agreement and fiscal year)
    ==================  ======================================================================
    idSubvention        the agreement's reference
    exerciceBudgetaire  the fiscal year (integer)
    pluriannualite      « oui » when the agreement spans more than one fiscal year, else « non »
    dateConvention      the signature date (AAAA-MM-JJ)
    nomAttribuant       the funders' names, separated by « ; »
    idAttribuant        the funders' SIRETs, same order
    ej                  the funders' legal commitment numbers (EJ, 10 digits), same order, empty
                        where none is known yet
    nomBeneficiaire     the organisation's name
    idBeneficiaire      its SIRET
    rnaBeneficiaire     its RNA (schema form only, as above)
    objet               the agreement's title
    montantDemande      the amount the application asked for that year (empty when unknown:
                        imported agreements, multi-year requests without yearly figures)
    montantAttribue     the agreement's amount for that year (empty when unknown)
    dispositifAide      the programme's name
    ==================  ======================================================================

Publication deadline (décret n° 2017-779: within 3 months of signature)
    The public dataset is served live: an agreement above the threshold is published as soon as it
    is signed, if its required data is complete. Otherwise it is « à compléter » until its deadline
    (signature + 3 months), then « en retard ». Status is as of today: an agreement completed after
    its deadline shows as published (no history is kept).
"""

from __future__ import annotations

import datetime
import functools
import itertools
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from stdnum.fr import siret as stdnum_siret

from calls.models import Programme
from core.clock import today
from core.models import Funder, Organisation
from core.money import split_exact, to_money
from cpo.models import (
    Agreement,
    AgreementFunder,
    AgreementState,
    AgreementYear,
    Instalment,
    InstalmentState,
    InstalmentTemplate,
)
from grants.models import Application

A = AgreementState


SCHEMA_VERSION = "2.1.1"
SCHEMA_FILE = Path(__file__).resolve().parent / "data" / f"scdl-subventions-{SCHEMA_VERSION}.json"
SCHEMA_URL = "https://schema.data.gouv.fr/scdl/subventions/2.1.1/"

#: The SCDL columns, in the schema's order (a test checks them against the schema file).
SCDL_FIELDS = (
    "nomAttribuant",
    "idAttribuant",
    "dateConvention",
    "referenceDecision",
    "nomBeneficiaire",
    "idBeneficiaire",
    "rnaBeneficiaire",
    "objet",
    "montant",
    "nature",
    "conditionsVersement",
    "datesPeriodeVersement",
    "idRAE",
    "notificationUE",
    "pourcentageSubvention",
    "dispositifAide",
)
#: The multi-year extension's columns and Table Schema types (documented in the module docstring).
MULTI_YEAR_FIELDS = (
    ("idSubvention", "string"),
    ("exerciceBudgetaire", "integer"),
    ("pluriannualite", "boolean"),
    ("dateConvention", "date"),
    ("nomAttribuant", "string"),
    ("idAttribuant", "string"),
    ("ej", "string"),
    ("nomBeneficiaire", "string"),
    ("idBeneficiaire", "string"),
    ("rnaBeneficiaire", "string"),
    ("objet", "string"),
    ("montantDemande", "number"),
    ("montantAttribue", "number"),
    ("dispositifAide", "string"),
)

SIGNED_STATES = (A.SIGNED, A.ACTIVE, A.SUSPENDED, A.COMPLETED, A.TERMINATED)
NATURE = "aide en numéraire"
SINGLE, STAGGERED = "unique", "échelonné"
#: The schema's forms (SQL regexes: the same rules decide in the database and in Python).
SIRET_REGEX = r"^[0-9]{14}$"
RNA_REGEX = r"^W[0-9]{9}$"
MIN_SHARE = Decimal("0.01")  # pourcentageSubvention's minimum in the schema
DEADLINE_MONTHS = 3  # décret n° 2017-779
CHUNK = 500

PUBLISHED, PENDING, LATE = "published", "pending", "late"
STATUS_LABELS = {
    LATE: gettext_lazy("En retard"),
    PENDING: gettext_lazy("À compléter"),
    PUBLISHED: gettext_lazy("Publiée"),
}


@functools.cache
def scdl_schema() -> dict[str, Any]:
    """The SCDL « Subventions » Table Schema shipped with the product."""
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def threshold() -> Decimal:
    """Yearly amount above which an agreement's data must be published (23 000 € by default)."""
    return Decimal(str(getattr(settings, "SCDL_THRESHOLD", "23000.00")))


def publish_all() -> bool:
    """Publish every signed agreement, whatever its amount."""
    return bool(getattr(settings, "SCDL_PUBLISH_ALL", False))


def status_label(status: str) -> str:
    return str(STATUS_LABELS[status])


# --------------------------------------------------------------------------- which agreements


def signed_agreements() -> QuerySet[Agreement]:
    return Agreement.objects.filter(state__in=SIGNED_STATES, signed_on__isnull=False)


def _above_threshold(limit: Decimal) -> Q:
    """A year above `limit`; an agreement without yearly rows (imported): its yearly average."""
    years = AgreementYear.objects.filter(agreement=OuterRef("pk"))
    return Q(Exists(years.filter(amount__gt=limit))) | Q(
        ~Exists(years), total_amount__gt=F("duration_years") * limit
    )


def obligated_agreements() -> QuerySet[Agreement]:
    """Signed agreements the law obliges to publish (a year above the threshold)."""
    return signed_agreements().filter(_above_threshold(threshold()))


def agreements_in_scope() -> QuerySet[Agreement]:
    """Signed agreements the open dataset covers: above the threshold, or all if configured."""
    return signed_agreements() if publish_all() else obligated_agreements()


def with_publication_checks(qs: QuerySet[Agreement]) -> QuerySet[Agreement]:
    """Annotate what `COMPLETE` needs: the funders' SIRETs and shares, the fallback funder."""
    links = AgreementFunder.objects.filter(agreement=OuterRef("pk"), share__gt=0)
    first_funder = Funder.objects.filter(programmes=OuterRef("programme_id")).order_by("name")
    return qs.annotate(
        has_funders=Exists(links),
        funder_without_siret=Exists(links.exclude(funder__siret__regex=SIRET_REGEX)),
        funder_small_share=Exists(links.filter(share__lt=MIN_SHARE)),
        fallback_funder_id=Coalesce(
            F("programme__budget_line__funder_id"), Subquery(first_funder.values("pk")[:1])
        ),
        fallback_siret=Coalesce(
            F("programme__budget_line__funder__siret"), Subquery(first_funder.values("siret")[:1])
        ),
    )


#: Every required SCDL column can be filled (mirrored in Python by `publication_problems`).
COMPLETE = (
    (
        Q(has_funders=True, funder_without_siret=False, funder_small_share=False)
        | Q(has_funders=False, fallback_siret__regex=SIRET_REGEX)
    )
    & ~Q(title="")
    & (Q(organisation__siret__regex=SIRET_REGEX) | Q(organisation__rna__regex=RNA_REGEX))
)


def published_agreements() -> QuerySet[Agreement]:
    """The agreements of the public dataset: in scope and complete."""
    return with_publication_checks(agreements_in_scope()).filter(COMPLETE)


def filter_published(
    qs: QuerySet[Agreement],
    *,
    year: int | None = None,
    programme: Programme | int | None = None,
    funder: Funder | int | None = None,
    qpv: Any = None,
    beneficiary: str = "",
) -> QuerySet[Agreement]:
    """The public page's filters. `qs` comes from `published_agreements` (funder needs its
    annotations). Year: a fiscal year the agreement covers."""
    if year:
        qs = qs.filter(first_year__lte=year, first_year__gt=year - F("duration_years"))
    if programme:
        qs = qs.filter(programme_id=getattr(programme, "pk", programme))
    if funder:
        funder_id = getattr(funder, "pk", funder)
        links = AgreementFunder.objects.filter(
            agreement=OuterRef("pk"), share__gt=0, funder_id=funder_id
        )
        qs = qs.filter(Q(Exists(links)) | Q(has_funders=False, fallback_funder_id=funder_id))
    if qpv:
        targeted = Application.qpvs.through.objects.filter(
            application_id=OuterRef("application_id"), qpv_id=getattr(qpv, "pk", qpv)
        )
        qs = qs.filter(Exists(targeted))
    if text := (beneficiary or "").strip():
        qs = qs.filter(organisation__name__icontains=text)
    return qs


def with_rows_data(
    qs: QuerySet[Agreement], *, years: bool = False, neighbourhoods: bool = False
) -> QuerySet[Agreement]:
    """What a SCDL row or a problem list reads, in a fixed number of queries: organisation,
    programme with its funders (`funder_list`), active funder links (`active_funders`, largest
    share first); with `years` the agreement's and the application's years (`year_list`), with
    `neighbourhoods` the application's QPVs (`qpv_list`). Prefetched into lists (to_attr): no
    queryset built per object, which counts when thousands of rows stream."""
    qs = qs.select_related("organisation", "programme__budget_line__funder").prefetch_related(
        Prefetch(
            "funders",
            queryset=AgreementFunder.objects.filter(share__gt=0)
            .select_related("funder")
            .order_by("-share", "funder__name", "pk"),
            to_attr="active_funders",
        ),
        Prefetch(
            "programme__funders", queryset=Funder.objects.order_by("name"), to_attr="funder_list"
        ),
    )
    if years:
        qs = qs.prefetch_related(
            Prefetch(
                "years", queryset=AgreementYear.objects.order_by("fiscal_year"), to_attr="year_list"
            ),
            Prefetch("application__years", to_attr="year_list"),
        )
    if neighbourhoods:
        qs = qs.prefetch_related(Prefetch("application__qpvs", to_attr="qpv_list"))
    return qs


def _chunks(qs: QuerySet[Agreement], *, years: bool = False) -> Iterator[list[Agreement]]:
    """The agreements by batches of CHUNK, for constant memory: their ids are read once through a
    database cursor (the filter runs once), then each batch is loaded with what its rows need."""
    ids = qs.order_by("pk").values_list("pk", flat=True).iterator(chunk_size=CHUNK)
    while batch := list(itertools.islice(ids, CHUNK)):
        batch_qs = Agreement.objects.filter(pk__in=batch).order_by("pk")
        yield list(with_rows_data(batch_qs, years=years))


# --------------------------------------------------------------------------- one agreement


@dataclass(frozen=True)
class FunderPart:
    """One funder of a published agreement: its share and its part of the total."""

    funder: Funder
    share: Decimal
    part: Decimal
    ej_number: str
    link_id: int | None


def fallback_funder(programme: Programme) -> Funder | None:
    """Who funds an agreement without funder rows: the budget line's funder, else the programme's
    first (the rule of cpo.services when an agreement is created)."""
    if programme.budget_line_id:
        return programme.budget_line.funder
    funders = getattr(programme, "funder_list", None)
    if funders is None:
        funders = list(programme.funders.order_by("name"))
    return funders[0] if funders else None


def funder_parts(agreement: Agreement) -> list[FunderPart]:
    """The funders with a share, largest first, and their exact parts of the total (largest
    remainder, cpo's rule). Expects `with_rows_data`."""
    links = agreement.active_funders
    if not links:
        funder = fallback_funder(agreement.programme)
        if funder is None:
            return []
        return [FunderPart(funder, Decimal("1"), agreement.total_amount, "", None)]
    parts = split_exact(agreement.total_amount, [link.share for link in links])
    return [
        FunderPart(link.funder, link.share, part, link.ej_number, link.pk)
        for link, part in zip(links, parts, strict=True)
    ]


def _siret(value: str) -> str:
    return value if value and re.fullmatch(SIRET_REGEX, value) else ""


def _rna(value: str) -> str:
    return value if value and re.fullmatch(RNA_REGEX, value) else ""


def publication_problems(agreement: Agreement) -> list[str]:
    """Why the agreement cannot be published (the same rules as `COMPLETE`). Expects
    `with_rows_data`."""
    problems = []
    links = agreement.active_funders
    if not links:
        funder = fallback_funder(agreement.programme)
        if funder is None:
            problems.append(_("Aucun financeur : ni sur la convention, ni sur le programme."))
        elif not _siret(funder.siret):
            problems.append(
                _("Le financeur « %(name)s » n'a pas de SIRET (idAttribuant).")
                % {"name": funder.name}
            )
    for link in links:
        if not _siret(link.funder.siret):
            problems.append(
                _("Le financeur « %(name)s » n'a pas de SIRET (idAttribuant).")
                % {"name": link.funder.name}
            )
        if link.share < MIN_SHARE:
            problems.append(
                _("La part du financeur « %(name)s » est inférieure à 1 %% (minimum du schéma).")
                % {"name": link.funder.name}
            )
    if not agreement.title:
        problems.append(_("L'objet de la convention est vide."))
    organisation = agreement.organisation
    if not _siret(organisation.siret) and not _rna(organisation.rna):
        problems.append(
            _("Le bénéficiaire n'a ni SIRET ni numéro RNA au format du schéma (W et 9 chiffres).")
        )
    return problems


def publication_warnings(agreement: Agreement) -> list[str]:
    """What is published but worth a look: identifiers that fail their check digit, an RNA the
    schema's form cannot hold."""
    warnings = []
    organisation = agreement.organisation
    if _siret(organisation.siret) and not stdnum_siret.is_valid(organisation.siret):
        warnings.append(_("Le SIRET du bénéficiaire ne passe pas la clé de contrôle."))
    if organisation.rna and not _rna(organisation.rna):
        warnings.append(
            _("Le numéro RNA « %(rna)s » n'a pas le format du schéma (W et 9 chiffres) : omis.")
            % {"rna": organisation.rna}
        )
    for part in funder_parts(agreement):
        if _siret(part.funder.siret) and not stdnum_siret.is_valid(part.funder.siret):
            warnings.append(
                _("Le SIRET du financeur « %(name)s » ne passe pas la clé de contrôle.")
                % {"name": part.funder.name}
            )
    return warnings


def publication_deadline(signed_on: datetime.date) -> datetime.date:
    """Signature + 3 months (décret n° 2017-779)."""
    return signed_on + relativedelta(months=DEADLINE_MONTHS)


def late_cutoff(day: datetime.date) -> datetime.date:
    """The last signature date whose deadline is before `day` (month ends make a plain
    subtraction wrong: 28 February + 3 months is 28 May, but 31 May − 3 months is 28 February)."""
    candidate = day - relativedelta(months=DEADLINE_MONTHS) + datetime.timedelta(days=4)
    while publication_deadline(candidate) >= day:
        candidate -= datetime.timedelta(days=1)
    return candidate


# --------------------------------------------------------------------------- SCDL rows


@dataclass(frozen=True)
class Payments:
    count: int
    first: datetime.date
    last: datetime.date
    paid: int


def _payments(agreement_ids: Sequence[int]) -> dict[int, Payments]:
    """Instalments not cancelled, per funder link: how many, first and last date (paid date once
    paid, else earliest date), how many paid. One query."""
    when = Coalesce(F("paid_on"), F("earliest_date"))
    rows = (
        Instalment.objects.filter(agreement_id__in=agreement_ids)
        .exclude(state=InstalmentState.CANCELLED)
        .order_by()
        .values("funder_id")
        .annotate(n=Count("pk"), first=Min(when), last=Max(when), paid=Count("paid_on"))
    )
    return {r["funder_id"]: Payments(r["n"], r["first"], r["last"], r["paid"]) for r in rows}


def _payment_terms(agreement: Agreement, payments: Payments | None) -> tuple[str, str]:
    """(conditionsVersement, datesPeriodeVersement) of one funder's part."""
    if payments and payments.count:
        if payments.count > 1:
            return STAGGERED, f"{payments.first.isoformat()}/{payments.last.isoformat()}"
        if payments.paid:
            return SINGLE, payments.first.isoformat()
        end = datetime.date(payments.first.year, 12, 31)
        return SINGLE, f"{payments.first.isoformat()}/{end.isoformat()}"
    single = (
        agreement.instalment_template == InstalmentTemplate.AT_SIGNATURE
        and agreement.duration_years == 1
    )
    period = f"{agreement.first_year:04d}-01-01/{agreement.last_year:04d}-12-31"
    return (SINGLE if single else STAGGERED), period


def _ratio(share: Decimal) -> Decimal:
    """A share as the schema writes it: '1.00', '0.45', '0.333333'."""
    share = share.normalize()
    return share.quantize(Decimal("0.01")) if -share.as_tuple().exponent < 2 else share


def _beneficiaries(agreement_ids: Sequence[int]) -> dict[int, list[tuple[Organisation, Decimal]]]:
    """Agreements of collective files paid to each partner (docs/domain.md §9): each payee and
    the amount its instalments (not cancelled) add up to — the lead's own instalments name no
    beneficiary. Two queries; agreements paid to one organisation are absent."""
    split = set(
        Instalment.objects.filter(agreement_id__in=agreement_ids, beneficiary__isnull=False)
        .values_list("agreement_id", flat=True)
        .distinct()
    )
    if not split:
        return {}
    rows = (
        Instalment.objects.filter(agreement_id__in=split)
        .exclude(state=InstalmentState.CANCELLED)
        .order_by()
        .values("agreement_id", "agreement__organisation_id", "beneficiary_id")
        .annotate(total=Sum("amount"))
    )
    rows = list(rows)
    organisations = Organisation.objects.in_bulk(
        {r["beneficiary_id"] or r["agreement__organisation_id"] for r in rows}
    )
    result: dict[int, list[tuple[Organisation, Decimal]]] = {}
    for r in sorted(rows, key=lambda r: (r["agreement_id"], r["beneficiary_id"] or 0)):
        payee = organisations[r["beneficiary_id"] or r["agreement__organisation_id"]]
        result.setdefault(r["agreement_id"], []).append((payee, to_money(r["total"])))
    return result


def _agreement_rows(
    agreement: Agreement,
    payments: dict[int, Payments],
    beneficiaries: dict[int, list[tuple[Organisation, Decimal]]] | None = None,
) -> Iterator[dict]:
    """One row per funder — and, for a collective file paid to each partner, per partner
    beneficiary with its own part (docs/domain.md §9)."""
    payees = (beneficiaries or {}).get(agreement.pk) or [
        (agreement.organisation, to_money(agreement.total_amount))
    ]
    for part in funder_parts(agreement):
        conditions, period = _payment_terms(
            agreement, payments.get(part.link_id) if part.link_id else None
        )
        for organisation, amount in payees:
            yield _row(agreement, part, organisation, amount, conditions, period)


def _row(
    agreement: Agreement,
    part: FunderPart,
    organisation: Organisation,
    amount: Decimal,
    conditions: str,
    period: str,
) -> dict[str, Any]:
    return {
        "nomAttribuant": part.funder.name,
        "idAttribuant": part.funder.siret,
        "dateConvention": agreement.signed_on,
        "referenceDecision": agreement.reference,
        "nomBeneficiaire": organisation.name.strip(),
        "idBeneficiaire": _siret(organisation.siret) or None,
        "rnaBeneficiaire": _rna(organisation.rna) or None,
        "objet": agreement.title[:256],
        "montant": amount,
        "nature": NATURE,
        "conditionsVersement": conditions,
        "datesPeriodeVersement": period,
        "idRAE": None,
        "notificationUE": False,
        "pourcentageSubvention": _ratio(part.share),
        "dispositifAide": agreement.programme.name,
    }


def scdl_rows(qs: QuerySet[Agreement] | None = None) -> Iterator[dict[str, Any]]:
    """The SCDL rows (typed values: str, date, Decimal, bool, None) of the published agreements,
    or of `qs` (a filtered `published_agreements()`), one chunk of agreements at a time."""
    qs = published_agreements() if qs is None else qs
    for batch in _chunks(qs):
        payments = _payments([a.pk for a in batch])
        beneficiaries = _beneficiaries([a.pk for a in batch])
        for agreement in batch:
            yield from _agreement_rows(agreement, payments, beneficiaries)


def _join(values: Iterable[str]) -> str:
    return ";".join(v.replace(";", ",") for v in values)


def multi_year_rows(qs: QuerySet[Agreement] | None = None) -> Iterator[dict[str, Any]]:
    """The multi-year extension: one row per published agreement and fiscal year."""
    qs = published_agreements() if qs is None else qs
    for batch in _chunks(qs, years=True):
        for agreement in batch:
            yield from _agreement_years(agreement)


def _agreement_years(agreement: Agreement) -> Iterator[dict[str, Any]]:
    """Expects `with_rows_data(years=True)`."""
    organisation = agreement.organisation
    parts = funder_parts(agreement)
    amounts = {y.fiscal_year: y.amount for y in agreement.year_list}
    if not amounts:
        known = agreement.total_amount if agreement.duration_years == 1 else None
        amounts = dict.fromkeys(range(agreement.first_year, agreement.last_year + 1), known)
    requested: dict[int, Decimal] = {}
    application = agreement.application
    if application is not None:
        requested = {y.fiscal_year: y.requested_amount for y in application.year_list}
        if not requested and len(amounts) == 1:
            requested = {next(iter(amounts)): application.requested_amount}
    for fiscal_year in sorted(amounts):
        amount, asked = amounts[fiscal_year], requested.get(fiscal_year)
        yield {
            "idSubvention": agreement.reference,
            "exerciceBudgetaire": fiscal_year,
            "pluriannualite": len(amounts) > 1,
            "dateConvention": agreement.signed_on,
            "nomAttribuant": _join(p.funder.name for p in parts),
            "idAttribuant": _join(p.funder.siret for p in parts),
            "ej": _join(p.ej_number for p in parts),
            "nomBeneficiaire": organisation.name.strip(),
            "idBeneficiaire": _siret(organisation.siret) or None,
            "rnaBeneficiaire": _rna(organisation.rna) or None,
            "objet": agreement.title[:256],
            "montantDemande": None if asked is None else to_money(asked),
            "montantAttribue": None if amount is None else to_money(amount),
            "dispositifAide": agreement.programme.name,
        }


def multi_year_schema() -> dict[str, Any]:
    """A Table Schema of the multi-year extension (for checking the file, e.g. with
    frictionless)."""
    fields = []
    for name, kind in MULTI_YEAR_FIELDS:
        spec: dict[str, Any] = {"name": name, "type": kind}
        if kind == "boolean":
            spec |= {"trueValues": ["oui"], "falseValues": ["non"]}
        fields.append(spec)
    return {"fields": fields}


# --------------------------------------------------------------------------- summary, deadlines


def deadline_tracking(*, day: datetime.date | None = None) -> QuerySet[Agreement]:
    """Agreements the law obliges to publish, each with `publication` (published / pending /
    late): late first, then pending, then published; oldest signature first."""
    cutoff = late_cutoff(day or today())
    status = Case(
        When(COMPLETE, then=Value(PUBLISHED)),
        When(signed_on__lte=cutoff, then=Value(LATE)),
        default=Value(PENDING),
        output_field=CharField(),
    )
    rank = Case(
        When(COMPLETE, then=Value(2)),
        When(signed_on__lte=cutoff, then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )
    return (
        with_publication_checks(obligated_agreements())
        .annotate(publication=status, publication_rank=rank)
        .order_by("publication_rank", "signed_on", "pk")
    )


def publication_summary(*, day: datetime.date | None = None) -> dict[str, Any]:
    """Counts and amounts per status of the obligated agreements, and what the public files hold
    (agreements, SCDL rows, total amount)."""
    by_status = {
        row["publication"]: row
        for row in deadline_tracking(day=day)
        .order_by()
        .values("publication")
        .annotate(n=Count("pk"), amount=Sum("total_amount"))
    }
    counts = {
        status: {
            "label": status_label(status),
            "count": by_status.get(status, {}).get("n", 0),
            "amount": by_status.get(status, {}).get("amount") or Decimal("0.00"),
        }
        for status in (LATE, PENDING, PUBLISHED)
    }
    published = published_agreements()
    totals = published.aggregate(n=Count("pk"), amount=Sum("total_amount"))
    funder_rows = AgreementFunder.objects.filter(
        share__gt=0, agreement__in=published.values("pk")
    ).count()
    without_links = published.filter(has_funders=False).count()
    return {
        "threshold": threshold(),
        "publish_all": publish_all(),
        "statuses": counts,
        "obligated": sum(c["count"] for c in counts.values()),
        "published_agreements": totals["n"],
        "published_amount": totals["amount"] or Decimal("0.00"),
        "scdl_rows": funder_rows + without_links,
    }
