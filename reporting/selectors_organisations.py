"""Reads for the « contrat global » of an organisation (docs/domain.md §7: one view of an association's
funding across programmes and funders): who may open it, the search, and everything the page shows —
applications, agreements, money per funder and fiscal year, payments, evaluations, documents and
one history of all of them. Nothing here writes.

Who sees what:
- programme managers, finance officers, auditors (and admins) read every organisation; an
  instructor with an unrestricted scope too; an instructor with a limited scope reads the
  organisations that have a filed application in that scope, and only those applications (and their
  agreements) on the page. Committee members and everyone else: 404.
- the organisation's members read their own organisation's page, without the internal notes
  (instructors' notes and the internal instruction events of the history).

Money rules (the same words as the dashboards):
- committed (AE): the yearly amounts of the agreements signed, active, suspended or completed, each
  year split between its funders by their shares (`core.money.split_exact`, the split the
  instalments were planned with, so a funder's part equals its instalments of that year); a
  terminated agreement commits what was paid on it. Keyed by the agreement's fiscal year.
- paid (CP): instalments paid, by the fiscal year they are charged to (`charged_year`, by default the
  year of the instalment).
- remaining to pay (restes à payer): instalments not paid yet and still expected (planned, due, on
  hold, approved, in a run, exported) of committed agreements, by the fiscal year they are charged to.
  A recovery offset against an instalment lowers it: committed − paid − remaining is then the offset.
- recovered: recoveries collected or offset, by their fiscal year, split between the agreement's
  funders by their shares (a recovery order has no funder of its own).
- a collective agreement paid to each partner (docs/domain.md §9): the lead's figures count only
  what the lead receives — the partners' instalments (committed: those not cancelled, by the year
  they belong to) are taken out and shown apart, per partner (`MoneySummary.partners`). A recovery
  names no payee: it stays with the lead, the signatory.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, Prefetch, Q, QuerySet, Sum
from django.utils.translation import gettext as _

from core.audit import action_label
from core.clock import today
from core.models import AuditLog, Organisation, OrganisationDocument, Role, User
from core.money import split_exact
from core.permissions import has_role, organisation_ids_of, scope_of
from core.search import search_organisations_by_name_or_siret
from cpo.models import (
    UNPAID_STATES,
    Agreement,
    AgreementFunder,
    AgreementState,
    Evaluation,
    Instalment,
    InstalmentState,
    Recovery,
    RecoveryState,
)
from cpo.selectors import agreements_visible_to
from grants.models import (
    DECIDED_PART_STATES,
    GRANTED_PART_STATES,
    OPEN_STATES,
    Application,
    ApplicationPartner,
    ApplicationState,
    FunderPart,
    InstructorNote,
    PartnerState,
)
from grants.selectors import (
    ALL_SEEING_ROLES,
    INTERNAL_ACTIONS,
    applications_visible_to,
    staff_visibility,
)

ZERO = Decimal("0.00")
S = ApplicationState
#: Staff roles that open these pages (admins hold every role).
PAGE_ROLES = (Role.INSTRUCTOR, Role.PROGRAMME_MANAGER, Role.FINANCE_OFFICER, Role.AUDITOR)
COMMITTED_STATES = (
    AgreementState.SIGNED,
    AgreementState.ACTIVE,
    AgreementState.SUSPENDED,
    AgreementState.COMPLETED,
)
RECOVERED_STATES = (RecoveryState.COLLECTED, RecoveryState.OFFSET)
HISTORY_LIMIT = 200
_RNA_START = re.compile(r"^W\d", re.IGNORECASE)


# --------------------------------------------------------------------------- access


def is_page_staff(user: User) -> bool:
    """Whether the user opens the organisation pages as staff (the search is staff only)."""
    return user.is_authenticated and has_role(user, *PAGE_ROLES)


def sees_every_organisation(user: User) -> bool:
    """Programme managers, finance, auditors, admins, and instructors without a limited scope."""
    if not is_page_staff(user):
        return False
    if has_role(user, *ALL_SEEING_ROLES):
        return True
    scope = scope_of(user, Role.INSTRUCTOR)
    return scope is not None and scope.everything


def organisations_in_staff_scope(user: User) -> QuerySet[Organisation]:
    """The organisations a staff member may look up; none for anyone else."""
    if not is_page_staff(user):
        return Organisation.objects.none()
    if sees_every_organisation(user):
        return Organisation.objects.all()
    staff = staff_visibility(user)
    if staff is None:
        return Organisation.objects.none()
    return Organisation.objects.filter(
        pk__in=Application.objects.filter(staff).values("organisation_id")
    )


def organisation_for_page(user: User, pk: int) -> tuple[Organisation, bool] | None:
    """The organisation and whether the user reads it as staff (with the internal notes), or None
    when the user may not open it (the view answers 404, existence not leaked)."""
    if not user.is_authenticated:
        return None
    organisation = organisations_in_staff_scope(user).filter(pk=pk).first()
    if organisation is not None:
        return organisation, True
    if pk in organisation_ids_of(user):
        organisation = Organisation.objects.filter(pk=pk).first()
        if organisation is not None:
            return organisation, False
    return None


# --------------------------------------------------------------------------- search


def search_organisations(qs: QuerySet[Organisation], text: str | None) -> QuerySet[Organisation]:
    """By name (contains, accents and case aside), SIRET or SIREN (starts with; spaces ignored) or RNA number (starts
    with)."""
    text = (text or "").strip()
    if not text:
        return qs
    compact = re.sub(r"\s+", "", text)
    if _RNA_START.match(compact):
        return qs.filter(rna__istartswith=compact)
    return search_organisations_by_name_or_siret(qs, text)


def counts_for_page(user: User, organisation_ids: list[int]) -> dict[int, dict[str, int]]:
    """For the organisations of one page of results: the applications and agreements the user
    sees of each (two grouped queries, whatever the number of rows)."""
    counts: dict[int, dict[str, int]] = {
        pk: {"applications": 0, "agreements": 0} for pk in organisation_ids
    }
    if not organisation_ids:
        return counts
    applications = (
        applications_visible_to(user)
        .filter(organisation_id__in=organisation_ids)
        .order_by()
        .values("organisation_id")
        .annotate(n=Count("pk", distinct=True))
    )
    for row in applications:
        counts[row["organisation_id"]]["applications"] = row["n"]
    agreements = (
        agreements_visible_to(user)
        .filter(organisation_id__in=organisation_ids)
        .order_by()
        .values("organisation_id")
        .annotate(n=Count("pk", distinct=True))
    )
    for row in agreements:
        counts[row["organisation_id"]]["agreements"] = row["n"]
    return counts


# --------------------------------------------------------------------------- money


@dataclass
class MoneyRow:
    """Committed, paid, remaining to pay and recovered for one funder and/or one fiscal year."""

    funder: str = ""
    fiscal_year: int | None = None
    committed: Decimal = ZERO
    paid: Decimal = ZERO
    remaining: Decimal = ZERO
    recovered: Decimal = ZERO

    def add(self, other: MoneyRow) -> None:
        self.committed += other.committed
        self.paid += other.paid
        self.remaining += other.remaining
        self.recovered += other.recovered


@dataclass
class FunderMoney:
    funder: str
    years: list[MoneyRow]
    total: MoneyRow


@dataclass
class MoneySummary:
    by_funder: list[FunderMoney] = field(default_factory=list)
    by_year: list[MoneyRow] = field(default_factory=list)
    total: MoneyRow = field(default_factory=MoneyRow)
    #: Agreements paid per partner: each partner's part, not counted above (`funder` holds the
    #: partner's name), and their sum.
    partners: list[MoneyRow] = field(default_factory=list)
    partners_total: MoneyRow = field(default_factory=MoneyRow)


def _split_by_shares(amount: Decimal, links: list[AgreementFunder]) -> list[Decimal]:
    """An amount split between the agreement's funders by their shares, exactly (largest
    remainder, ties to the first funder listed — the split the instalments were planned with)."""
    shares = [link.share for link in links]
    if not any(shares):
        shares = [Decimal(1)] * len(links)
    return split_exact(amount, shares)


def _sort_key(text: str) -> str:
    """Alphabetical order as a French reader expects it (« État » before « Ville »)."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def files_as_partner(user: User, organisation: Organisation) -> list[ApplicationPartner]:
    """The collective files (the user may read) where the organisation is a partner, not the lead
    (docs/domain.md §9), each with its part: asked, approved, and — when the agreement pays each
    partner — paid to it and still to pay. Paid to the lead, the lead redistributes: nothing is
    paid to the partner in Pluriel. Two queries whatever the number of files."""
    partners = list(
        ApplicationPartner.objects.filter(
            organisation=organisation,
            state__in=[PartnerState.INVITED, PartnerState.ACCEPTED, PartnerState.LEFT],
            application_id__in=applications_visible_to(user).values("pk"),
        )
        .select_related("application__organisation", "application__programme")
        .order_by("-application__created_at", "-pk")
    )
    paid: dict[tuple[int, str], Decimal] = {}
    if partners:
        rows = (
            Instalment.objects.filter(
                beneficiary=organisation,
                agreement__application_id__in=[p.application_id for p in partners],
            )
            .exclude(state=InstalmentState.CANCELLED)
            .values("agreement__application_id", "state")
            .annotate(total=Sum("amount"))
            .order_by()
        )
        for row in rows:
            key = "paid" if row["state"] == InstalmentState.PAID else "remaining"
            index = (row["agreement__application_id"], key)
            paid[index] = paid.get(index, ZERO) + row["total"]
    for partner in partners:
        partner.paid_to_it = paid.get((partner.application_id, "paid"), ZERO)  # type: ignore[attr-defined]
        partner.remaining_to_it = paid.get((partner.application_id, "remaining"), ZERO)  # type: ignore[attr-defined]
    return partners


def effective_year(instalment: Instalment) -> int:
    """The fiscal year an instalment is charged to."""
    return instalment.charged_year or instalment.year.fiscal_year


def funding_summary(agreements: list[Agreement]) -> MoneySummary:
    """Committed, paid, remaining to pay and recovered per funder and fiscal year (rules in the
    module docstring). Expects the agreements of `global_contract` (funders, years, instalments
    and recoveries prefetched): no query."""
    cells: dict[tuple[int | None, int], MoneyRow] = {}
    names: dict[int | None, str] = {None: _("Financeur non renseigné")}
    partners: dict[int, MoneyRow] = {}

    def cell(funder_id: int | None, fiscal_year: int) -> MoneyRow:
        key = (funder_id, fiscal_year)
        if key not in cells:
            cells[key] = MoneyRow(funder=names[funder_id], fiscal_year=fiscal_year)
        return cells[key]

    for agreement in agreements:
        links = sorted(agreement.funders.all(), key=lambda link: link.pk)
        for link in links:
            names[link.funder_id] = link.funder.name
        committed = agreement.state in COMMITTED_STATES
        if committed:
            for year in agreement.years.all():
                if not links:
                    cell(None, year.fiscal_year).committed += year.amount
                    continue
                for link, part in zip(links, _split_by_shares(year.amount, links), strict=True):
                    cell(link.funder_id, year.fiscal_year).committed += part
        for instalment in agreement.instalments.all():
            funder_id = instalment.funder.funder_id
            names.setdefault(funder_id, instalment.funder.funder.name)
            if _paid_to_a_partner(agreement, instalment):
                _count_partner_part(
                    partners,
                    instalment,
                    committed=committed,
                    terminated=agreement.state == AgreementState.TERMINATED,
                )
                if committed and instalment.state != InstalmentState.CANCELLED:
                    cell(funder_id, instalment.year.fiscal_year).committed -= instalment.amount
                continue
            if instalment.state == InstalmentState.PAID:
                cell(funder_id, effective_year(instalment)).paid += instalment.amount
                if agreement.state == AgreementState.TERMINATED:
                    cell(funder_id, instalment.year.fiscal_year).committed += instalment.amount
            elif committed and instalment.state in UNPAID_STATES:
                cell(funder_id, effective_year(instalment)).remaining += instalment.amount
        for recovery in agreement.recoveries.all():
            if recovery.state not in RECOVERED_STATES:
                continue
            if not links:
                cell(None, recovery.fiscal_year).recovered += recovery.amount
                continue
            for link, part in zip(links, _split_by_shares(recovery.amount, links), strict=True):
                cell(link.funder_id, recovery.fiscal_year).recovered += part

    summary = MoneySummary()
    by_funder: dict[int | None, list[MoneyRow]] = defaultdict(list)
    for (funder_id, _year), row in cells.items():
        by_funder[funder_id].append(row)
    order = sorted(by_funder, key=lambda fid: (fid is None, _sort_key(names[fid]), fid or 0))
    years: dict[int, MoneyRow] = {}
    for funder_id in order:
        rows = sorted(by_funder[funder_id], key=lambda r: r.fiscal_year or 0)
        total = MoneyRow(funder=names[funder_id])
        for row in rows:
            total.add(row)
            years.setdefault(row.fiscal_year or 0, MoneyRow(fiscal_year=row.fiscal_year)).add(row)
        summary.by_funder.append(FunderMoney(funder=names[funder_id], years=rows, total=total))
        summary.total.add(total)
    summary.by_year = [years[y] for y in sorted(years)]
    summary.partners = sorted(partners.values(), key=lambda r: _sort_key(r.funder))
    for row in summary.partners:
        summary.partners_total.add(row)
    return summary


def _paid_to_a_partner(agreement: Agreement, instalment: Instalment) -> bool:
    """An instalment of a collective agreement paid to a partner directly, not to the lead."""
    return (
        instalment.beneficiary_id is not None
        and instalment.beneficiary_id != agreement.organisation_id
    )


def _count_partner_part(
    partners: dict[int, MoneyRow], instalment: Instalment, *, committed: bool, terminated: bool
) -> None:
    """Adds a partner's instalment to its row (same rules as the lead's figures)."""
    beneficiary = instalment.beneficiary
    assert beneficiary is not None
    row = partners.setdefault(beneficiary.pk, MoneyRow(funder=beneficiary.name))
    if committed and instalment.state != InstalmentState.CANCELLED:
        row.committed += instalment.amount
    if instalment.state == InstalmentState.PAID:
        row.paid += instalment.amount
        if terminated:  # a terminated agreement commits what was paid on it
            row.committed += instalment.amount
    elif committed and instalment.state in UNPAID_STATES:
        row.remaining += instalment.amount


# --------------------------------------------------------------------------- history


@dataclass
class HistoryEntry:
    """An audit row as templates/includes/history.html reads it, its label naming the object
    (one history gathers the organisation, its documents, applications and agreements)."""

    label: str
    source_state: str
    target_state: str
    source_label: str
    target_label: str
    created_at: datetime
    actor: User | None
    reason: str
    action: str


def organisation_history(
    *,
    organisation: Organisation,
    applications: list[Application],
    agreements: list[Agreement],
    internal: bool,
    limit: int,
) -> tuple[list[HistoryEntry], bool]:
    """The audit rows of the organisation, its documents (deleted ones too), the applications and
    agreements given, and their instalments, evaluations and recoveries — newest first, in one
    query. Without `internal`, instruction-only events are left out. Returns the `limit` newest
    rows and whether there are older ones."""
    types = ContentType.objects.get_for_models(
        Organisation, OrganisationDocument, Application, Agreement, Instalment, Evaluation, Recovery
    )
    names: dict[tuple[int, str], str] = {}
    states: dict[int, dict[str, str]] = {}

    def register(model: type, objects: list[tuple[Any, str]]) -> None:
        ct = types[model]
        try:
            states[ct.pk] = {k: str(v) for k, v in model._meta.get_field("state").choices or []}
        except Exception:
            states[ct.pk] = {}
        for pk, label in objects:
            names[(ct.pk, str(pk))] = label

    register(Application, [(a.pk, a.reference) for a in applications])
    register(Agreement, [(a.pk, a.reference) for a in agreements])
    register(
        Instalment,
        [
            (i.pk, f"{a.reference} {i.year.fiscal_year} n° {i.number} ({i.funder.funder.name})")
            for a in agreements
            for i in a.instalments.all()
        ],
    )
    register(
        Evaluation,
        [(e.pk, f"{a.reference} {e.fiscal_year}") for a in agreements for e in a.evaluations.all()],
    )
    register(Recovery, [(r.pk, a.reference) for a in agreements for r in a.recoveries.all()])
    states[types[Organisation].pk] = {}
    states[types[OrganisationDocument].pk] = {}

    q = Q(content_type=types[Organisation], object_id=str(organisation.pk)) | Q(
        content_type=types[OrganisationDocument], payload__organisation=organisation.pk
    )
    for model in (Application, Agreement, Instalment, Evaluation, Recovery):
        ct = types[model]
        ids = [object_id for (ct_id, object_id) in names if ct_id == ct.pk]
        if ids:
            q |= Q(content_type=ct, object_id__in=ids)
    rows = AuditLog.objects.filter(q).select_related("actor").order_by("-created_at", "-id")
    if not internal:
        rows = rows.exclude(action__in=INTERNAL_ACTIONS)
    fetched = list(rows[: limit + 1])
    entries = []
    for row in fetched[:limit]:
        label = action_label(row.action)
        name = names.get((row.content_type_id, row.object_id))
        if name is None and row.content_type_id == types[OrganisationDocument].pk:
            name = row.object_repr
        if name:
            label = f"{label} — {name}"
        labels = states.get(row.content_type_id, {})
        entries.append(
            HistoryEntry(
                label=label,
                source_state=row.source_state,
                target_state=row.target_state,
                source_label=labels.get(row.source_state, row.source_state),
                target_label=labels.get(row.target_state, row.target_state),
                created_at=row.created_at,
                actor=row.actor,
                reason=row.reason,
                action=row.action,
            )
        )
    return entries, len(fetched) > limit


# --------------------------------------------------------------------------- the page


def document_status(document: OrganisationDocument, day: date) -> str:
    """« valid », « expired » or « undated » (no end of validity given)."""
    if document.valid_until is None:
        return "undated"
    return "valid" if document.valid_until >= day else "expired"


def parts_in_progress(
    applications: list[Application], agreements: list[Agreement], *, staff: bool
) -> list[dict[str, Any]]:
    """Per funder, what the organisation's files in progress (under instruction, or granted but
    without an agreement yet) ask of it, what its instruction proposes (staff only: applicants
    never see a proposal) and what it granted — the parts of co-funded files (issue 15) before any
    agreement splits money by funder. One query."""
    with_agreement = {a.application_id for a in agreements}
    ids = [
        a.pk
        for a in applications
        if a.pk not in with_agreement and (a.state in OPEN_STATES or a.state == S.APPROVED)
    ]
    if not ids:
        return []
    rows = (
        FunderPart.objects.filter(application_id__in=ids)
        .order_by()
        .values("funder_id", "funder__name")
        .annotate(
            files=Count("application_id", distinct=True),
            asked=Sum("requested_amount"),
            proposed=Sum("proposed_amount"),
            granted=Sum("decided_amount", filter=Q(state__in=GRANTED_PART_STATES)),
            decided=Count("pk", filter=Q(state__in=DECIDED_PART_STATES)),
        )
    )
    return [
        {
            "funder": row["funder__name"],
            "files": row["files"],
            "asked": row["asked"] or ZERO,
            "proposed": (row["proposed"] or ZERO) if staff else None,
            "granted": row["granted"] or ZERO,
            "decided": row["decided"],
        }
        for row in sorted(rows, key=lambda r: (_sort_key(r["funder__name"]), r["funder_id"]))
    ]


def global_contract(user: User, organisation: Organisation, *, staff: bool) -> dict[str, Any]:
    """Everything the organisation page shows, in a fixed number of queries whatever the number of
    applications and agreements. `staff`: read as staff (internal notes and events included)."""
    application_qs = (
        applications_visible_to(user)
        .filter(organisation=organisation)
        .select_related("call", "programme")
        .order_by("-created_at", "-id")
    )
    if staff:
        application_qs = application_qs.prefetch_related(
            Prefetch("notes", queryset=InstructorNote.objects.select_related("author"))
        )
    applications = list(application_qs)

    agreements = list(
        agreements_visible_to(user)
        .filter(organisation=organisation)
        .prefetch_related(
            Prefetch(
                "funders",
                queryset=AgreementFunder.objects.select_related("funder").order_by("pk"),
            ),
            "years",
            Prefetch(
                "instalments",
                queryset=Instalment.objects.select_related(
                    "year", "funder__funder", "beneficiary"
                ).order_by("year__fiscal_year", "amendment_version", "funder_id", "number"),
            ),
            Prefetch("evaluations", queryset=Evaluation.objects.order_by("fiscal_year")),
            Prefetch("recoveries", queryset=Recovery.objects.order_by("fiscal_year", "pk")),
        )
        .order_by("-first_year", "reference")
    )

    payments: list[Instalment] = []
    cancelled = 0
    evaluations: list[Evaluation] = []
    recoveries: list[Recovery] = []
    for agreement in agreements:
        for link in agreement.funders.all():
            link.percent = link.share * 100
        for instalment in agreement.instalments.all():
            if instalment.state == InstalmentState.CANCELLED:
                cancelled += 1
                continue
            instalment.effective_year = effective_year(instalment)
            instalment.agreement_ref = agreement.reference
            payments.append(instalment)
        for evaluation in agreement.evaluations.all():
            evaluation.agreement_ref = agreement.reference
            evaluations.append(evaluation)
        for recovery in agreement.recoveries.all():
            recovery.agreement_ref = agreement.reference
            recoveries.append(recovery)
    payments.sort(key=lambda i: (i.effective_year, i.earliest_date, i.agreement_ref, i.number))
    evaluations.sort(key=lambda e: (e.fiscal_year, e.agreement_ref))

    day = today()
    documents = list(organisation.documents.order_by("kind", "-uploaded_at"))
    for document in documents:
        document.status = document_status(document, day)

    notes = []
    if staff:
        notes = sorted(
            (note for a in applications for note in a.notes.all()),
            key=lambda n: n.created_at,
            reverse=True,
        )
        references = {a.pk: a.reference for a in applications}
        for note in notes:
            note.application_ref = references[note.application_id]

    partner_files = files_as_partner(user, organisation)

    history, history_truncated = organisation_history(
        organisation=organisation,
        applications=applications,
        agreements=agreements,
        internal=staff,
        limit=HISTORY_LIMIT,
    )
    return {
        "applications": applications,
        "agreements": agreements,
        "money": funding_summary(agreements),
        "parts_in_progress": parts_in_progress(applications, agreements, staff=staff),
        "payments": payments,
        "cancelled_count": cancelled,
        "evaluations": evaluations,
        "recoveries": recoveries,
        "documents": documents,
        "notes": notes,
        "partner_files": partner_files,
        "history": history,
        "history_truncated": history_truncated,
        "history_limit": HISTORY_LIMIT,
        "partial": staff and not sees_every_organisation(user),
    }
