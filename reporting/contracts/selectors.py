"""The follow-up of a city contract: what each signatory promised, against what Pluriel's grants,
agreements and payments committed and paid, per signatory, part, QPV and year.

It reads grants, cpo and finance data, so it lives in reporting (the top layer) and no lower app
imports it (docs/decisions/2026-12-06-city-contract.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.utils.translation import gettext as _

from calls.models import Programme
from contracts.models import Commitment, Contract, Part
from core.clock import today
from cpo.models import AgreementState, Evaluation, EvaluationState, Instalment, InstalmentState

ZERO = Decimal("0.00")
#: An envelope is under-used when less than this share is committed once its year has started.
UNDER_USED_BELOW = Decimal("0.5")


@dataclass
class Line:
    """One cell of the follow-up: promised (by kind) against committed and paid in Pluriel."""

    promised_specific: Decimal = ZERO
    promised_common: Decimal = ZERO
    declared: Decimal = ZERO
    committed: Decimal = ZERO
    paid: Decimal = ZERO

    @property
    def promised(self) -> Decimal:
        return self.promised_specific + self.promised_common

    @property
    def paid_rate(self) -> Decimal | None:
        """Paid over the specific credits promised (what Pluriel pays), as a percentage."""
        if not self.promised_specific:
            return None
        return (self.paid * 100 / self.promised_specific).quantize(Decimal("0.1"))

    def add(self, other: Line) -> None:
        self.promised_specific += other.promised_specific
        self.promised_common += other.promised_common
        self.declared += other.declared
        self.committed += other.committed
        self.paid += other.paid


@dataclass
class FollowUp:
    contract: Contract
    years: list[int]
    #: (signatory name, part title, year) → line; signatory "" = funders that did not sign.
    cells: dict[tuple[str, str, int], Line] = field(default_factory=dict)
    by_signatory: dict[str, Line] = field(default_factory=dict)
    by_part: dict[str, Line] = field(default_factory=dict)
    by_year: dict[int, Line] = field(default_factory=dict)
    #: (QPV name, year) → committed / paid (an action in two QPVs counts in both).
    by_qpv: dict[tuple[str, int], Line] = field(default_factory=dict)
    total: Line = field(default_factory=Line)

    def rows(self) -> list[tuple[str, str, int, Line]]:
        return [(s, p, y, line) for (s, p, y), line in sorted(self.cells.items(), key=_order)]


def _order(item: tuple[tuple[str, str, int], Line]) -> tuple[int, str, str]:
    (s, p, y), _line = item
    return (y, s or "~", p)


def contract_programme_parts(contract: Contract) -> dict[int, Part]:
    """programme id → the part it feeds."""
    through = Part.programmes.through.objects.filter(part__contract=contract).select_related("part")
    return {row.programme_id: row.part for row in through}


def follow_up(contract: Contract, *, year: int | None = None) -> FollowUp:
    """Four grouped queries whatever the size of the contract (bench/bench_contracts.py)."""
    years = [year] if year else contract.years
    result = FollowUp(contract=contract, years=years)
    signatories = {s.pk: s.name for s in contract.signatories.all()}
    by_funder = {s.funder_id: s.name for s in contract.signatories.all() if s.funder_id}
    parts = contract_programme_parts(contract)
    other = _("Autres financeurs")

    def cell(sig: str, part: str, y: int) -> Line:
        return result.cells.setdefault((sig, part, y), Line())

    promised = (
        Commitment.objects.filter(contract=contract, year__in=years)
        .values("signatory_id", "part__title", "year", "kind")
        .annotate(amount=Sum("amount"), declared=Sum("realised_amount"))
    )
    for row in promised:
        line = cell(signatories[row["signatory_id"]], row["part__title"], row["year"])
        if row["kind"] == Commitment.Kind.SPECIFIC:
            line.promised_specific += row["amount"] or ZERO
        elif row["kind"] == Commitment.Kind.COMMON_LAW:
            line.promised_common += row["amount"] or ZERO
        line.declared += row["declared"] or ZERO

    instalments = (
        Instalment.objects.filter(
            agreement__programme_id__in=parts.keys(), year__fiscal_year__in=years
        )
        .exclude(state=InstalmentState.CANCELLED)
        .exclude(agreement__state=AgreementState.DRAFT)
    )
    money = instalments.values(
        "agreement__programme_id", "funder__funder_id", "year__fiscal_year"
    ).annotate(committed=Sum("amount"), paid=Sum("amount", filter=Q(state=InstalmentState.PAID)))
    for m in money:
        sig = by_funder.get(m["funder__funder_id"], other)
        line = cell(sig, parts[m["agreement__programme_id"]].title, m["year__fiscal_year"])
        line.committed += m["committed"] or ZERO
        line.paid += m["paid"] or ZERO

    per_qpv = instalments.values(
        "agreement__application__qpvs__name", "year__fiscal_year"
    ).annotate(committed=Sum("amount"), paid=Sum("amount", filter=Q(state=InstalmentState.PAID)))
    for q in per_qpv:
        name = q["agreement__application__qpvs__name"] or _("Sans quartier précisé")
        line = result.by_qpv.setdefault((name, q["year__fiscal_year"]), Line())
        line.committed += q["committed"] or ZERO
        line.paid += q["paid"] or ZERO

    for (sig, part, y), line in result.cells.items():
        result.by_signatory.setdefault(sig, Line()).add(line)
        result.by_part.setdefault(part, Line()).add(line)
        result.by_year.setdefault(y, Line()).add(line)
        result.total.add(line)
    return result


@dataclass
class AgendaItem:
    kind: str
    label: str


def steering_agenda(contract: Contract) -> list[AgendaItem]:
    """What a steering meeting should look at: late commitments, under-used envelopes,
    evaluations due — built from the follow-up, never typed."""
    current = today().year
    items: list[AgendaItem] = []
    late_actions = Commitment.objects.filter(
        contract=contract, kind=Commitment.Kind.ACTION, year__lt=current, reported_at__isnull=True
    ).select_related("signatory", "part")
    for c in late_actions:
        items.append(
            AgendaItem(
                "late",
                _("%(s)s : action « %(a)s » (%(p)s, %(y)s) sans réalisation déclarée")
                % {"s": c.signatory, "a": c.action, "p": c.part, "y": c.year},
            )
        )
    past = follow_up(contract)
    for sig, part, y, line in past.rows():
        if y < current and line.promised_specific and line.committed < line.promised_specific:
            items.append(
                AgendaItem(
                    "late",
                    _("%(s)s, %(p)s, %(y)s : %(c)s € engagés sur %(e)s € promis")
                    % {
                        "s": sig,
                        "p": part,
                        "y": y,
                        "c": line.committed,
                        "e": line.promised_specific,
                    },
                )
            )
    parts = contract_programme_parts(contract)
    programmes = Programme.objects.filter(pk__in=parts.keys(), fiscal_year__lte=current).annotate(
        committed=Sum(
            "agreements__total_amount",
            filter=~Q(agreements__state__in=[AgreementState.DRAFT, AgreementState.TERMINATED]),
        )
    )
    for p in programmes:
        committed = p.committed or ZERO
        if p.envelope and committed < p.envelope * UNDER_USED_BELOW:
            items.append(
                AgendaItem(
                    "under_used",
                    _("%(p)s : %(c)s € engagés sur une enveloppe de %(e)s €")
                    % {"p": p, "c": committed, "e": p.envelope},
                )
            )
    due = (
        Evaluation.objects.filter(
            agreement__programme_id__in=parts.keys(),
            state__in=[EvaluationState.EXPECTED, EvaluationState.SUBMITTED],
        )
        .values("state")
        .annotate(n=Count("id"))
    )
    for row in due:
        label = (
            _("%(n)s évaluation(s) attendue(s)")
            if row["state"] == EvaluationState.EXPECTED
            else _("%(n)s évaluation(s) déposée(s) à examiner")
        )
        items.append(AgendaItem("evaluation", label % {"n": row["n"]}))
    return items
