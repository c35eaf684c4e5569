"""The amendment's computation, pure of writes: the cleaned input, the re-planned instalments
of each year (settled parts kept, template slots re-used) and the before/after preview."""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, cast

from django.core.exceptions import ValidationError
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from core.errors import DomainError
from core.identifiers import validate_ej
from core.models import Funder
from core.money import CENT, split_exact, to_money
from grants.models import Application

from .. import schedules
from ..models import (
    Agreement,
    AgreementState,
    EvaluationState,
    Instalment,
    InstalmentState,
    Recovery,
    RecoveryState,
)
from .common import (
    HUNDRED,
    NOMINAL,
    NOT_SETTLED,
    REPLANNABLE,
    _eur,
    _money,
    _threshold,
    check_effective_on,
)

A, I, R = AgreementState, InstalmentState, RecoveryState  # noqa: E741


# =========================================================================== amendments


@dataclass
class _NewInstalment:
    fiscal_year: int
    funder_id: int
    number: int
    kind: str
    amount: Decimal
    earliest_date: datetime.date
    requires_signature: bool
    requires_evaluation_of: int | None
    requires_valid_documents: bool


@dataclass
class _Change:
    """An amendment computed from the locked agreement, nothing written."""

    effective_on: datetime.date
    years_before: dict[int, Decimal]
    years_after: dict[int, Decimal]
    settled: dict[int, Decimal]
    added_years: list[int]
    removed_years: list[int]
    replanned_years: list[int]
    funders_before: list[dict[str, Any]]
    funders_after: list[dict[str, Any]]
    funders_changed: bool
    ej_changed: bool
    objectives_before: list[str]
    objectives_after: list[str] | None
    #: A co-funded agreement whose funders keep their shares: each funder's exact amount over the
    #: agreement after the amendment (its yearly parts split on the amounts granted), else None.
    granted_after: dict[int, Decimal] | None = None
    to_cancel: list[Instalment] = field(default_factory=list)
    to_create: list[_NewInstalment] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def kind_after(self) -> str:
        return (
            Agreement.Kind.AGREEMENT
            if max(self.years_after.values()) > _threshold()
            else Agreement.Kind.DECISION
        )

    @property
    def years_changed(self) -> bool:
        return self.years_before != self.years_after

    @property
    def objectives_changed(self) -> bool:
        return self.objectives_after is not None and self.objectives_after != self.objectives_before

    @property
    def is_empty(self) -> bool:
        return not (
            self.years_changed or self.funders_changed or self.ej_changed or self.objectives_changed
        )


def _clean_years(years: dict[int, Any] | None) -> dict[int, Decimal]:
    cleaned: dict[int, Decimal] = {}
    for fiscal_year, value in (years or {}).items():
        if isinstance(fiscal_year, bool) or not isinstance(fiscal_year, int):
            raise DomainError(_("Les exercices sont des années (ex. 2027)."), field="years")
        cleaned[fiscal_year] = _money(
            value, "years", _("Le montant de l'exercice %(year)s") % {"year": fiscal_year}
        )
    return cleaned


def _clean_duration(duration_years: Any, current: int) -> int:
    if duration_years is None:
        return current
    if (
        isinstance(duration_years, bool)
        or not isinstance(duration_years, int)
        or not 1 <= duration_years <= schedules.MAX_YEARS
    ):
        raise DomainError(
            _("La durée doit être comprise entre 1 et %(max)s exercices.")
            % {"max": schedules.MAX_YEARS},
            field="duration_years",
        )
    return duration_years


def _clean_objectives(objectives: list[str] | None) -> list[str] | None:
    if objectives is None:
        return None
    cleaned = [str(text).strip() for text in objectives if str(text or "").strip()]
    if not cleaned:
        raise DomainError(_("Indiquez au moins un objectif."), field="objectives")
    if any(len(text) > 500 for text in cleaned):
        raise DomainError(_("Un objectif ne peut dépasser 500 caractères."), field="objectives")
    return cleaned


def _clean_funders(funders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """[{funder: Funder or id, share: fraction, ej_number: 10 digits or ""}], shares totalling 1."""
    if not funders:
        raise DomainError(_("Indiquez au moins un financeur."), field="funders")
    rows: list[dict[str, Any]] = []
    seen: set[int] = set()
    for row in funders:
        funder = row.get("funder")
        if not isinstance(funder, Funder):
            funder = Funder.objects.filter(pk=funder).first() if funder else None
        if funder is None:
            raise DomainError(_("Financeur inconnu."), field="funders")
        if funder.pk in seen:
            raise DomainError(
                _("Le financeur « %(name)s » figure deux fois.") % {"name": funder}, field="funders"
            )
        seen.add(funder.pk)
        try:
            share = Decimal(str(row.get("share")))
        except InvalidOperation:
            share = Decimal("NaN")
        if (
            isinstance(row.get("share"), float)
            or not share.is_finite()
            or share <= 0
            or share > 1
            or share != share.quantize(Decimal("0.000001"))
        ):
            raise DomainError(
                _("La part de « %(name)s » doit être une fraction exacte entre 0 et 1.")
                % {"name": funder},
                field="funders",
            )
        ej_number = str(row.get("ej_number") or "").strip()
        try:
            validate_ej(ej_number)
        except ValidationError as error:
            raise DomainError(error.messages[0], field="funders")
        rows.append({"funder": funder, "share": share, "ej_number": ej_number})
    total = sum((r["share"] for r in rows), Decimal(0))
    if total != 1:
        raise DomainError(
            _("Les parts des financeurs doivent totaliser 100 %% (ici %(total)s %%).")
            % {"total": number_format((total * 100).normalize(), use_l10n=True)},
            field="funders",
            code="shares",
        )
    return rows


def _funder_json(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [
        {
            "funder": str(r["funder"]),
            "funder_id": r["funder"].pk,
            "share": str(r["share"].normalize()),
            "ej_number": r["ej_number"],
        }
        for r in rows
    ]


def _current_objectives(agreement: Agreement) -> list[str]:
    """The objectives of the latest amendment that set them, else the application's."""
    for after in (
        agreement.amendments.order_by("-version").values_list("after", flat=True).iterator()
    ):
        if isinstance(after, dict) and "objectives" in after:
            return list(after["objectives"])
    if agreement.application_id is None:
        return []
    return [o.text for o in cast(Application, agreement.application).objectives.all()]


def _template_percents(agreement: Agreement) -> tuple[Decimal, Decimal]:
    """The advance and interim percentages the agreement was planned with.

    The agreement does not store them: they are read back from its original plan (version 1), in
    the funder-year with the largest amount so that the floored cents of the advance do not
    matter, to 0.01 %. Defaults: 50 % and 30 %."""
    advance = getattr(agreement, "advance_percent", None)
    interim = getattr(agreement, "interim_percent", None)
    if advance is not None and interim is not None:
        return Decimal(advance), Decimal(interim)
    groups: dict[tuple[int, int], dict[str, Decimal]] = defaultdict(
        lambda: defaultdict(lambda: Decimal("0"))
    )
    offset_ids = set(
        Recovery.objects.filter(agreement=agreement, offset_instalment__isnull=False).values_list(
            "offset_instalment_id", flat=True
        )
    )
    for row in Instalment.objects.filter(agreement=agreement, amendment_version=1).values(
        "pk", "year_id", "funder_id", "kind", "amount"
    ):
        group = groups[(row["year_id"], row["funder_id"])]
        group["total"] += row["amount"]
        group[row["kind"]] += row["amount"]
        if row["pk"] in offset_ids:
            group["offset"] += 1
    candidates = [g for g in groups.values() if not g["offset"] and g["total"]]
    if not candidates:
        return Decimal(advance or 50), Decimal(interim or 30)
    best = max(candidates, key=lambda g: g["total"])

    def percent(kind: str, default: Decimal) -> Decimal:
        if not best[kind]:
            return default
        return (best[kind] * HUNDRED / best["total"]).quantize(CENT, rounding=ROUND_HALF_UP)

    advance_p = min(percent("advance", Decimal("50")), Decimal(agreement.advance_cap_percent))
    return advance_p, percent("interim", Decimal("30"))


def _template_plan(
    agreement: Agreement,
    fiscal_year: int,
    amount: Decimal,
    percents: tuple[Decimal, Decimal],
    pattern: list[Instalment],
) -> list[schedules.PlannedInstalment]:
    """The template's instalments of one funder's part of a year (`cpo.schedules`)."""
    params: dict[str, Any] = {}
    if agreement.instalment_template == "custom":
        # A custom plan has no parameters to replay: the year's former plan gives the shape.
        rows = sorted(pattern, key=lambda i: (i.earliest_date, i.number))
        if rows:
            shares = split_exact(HUNDRED, [i.amount for i in rows], unit=CENT)
            params["custom"] = [
                (share, i.earliest_date if i.earliest_date.year == fiscal_year else None)
                for share, i in zip(shares, rows, strict=True)
                if share > 0
            ]
        else:
            params["custom"] = [(HUNDRED, None)]
        params["custom_as"] = "percent"
    else:
        params["advance_percent"], params["interim_percent"] = percents
    return schedules.instalment_plan(
        year_amount=amount,
        template=agreement.instalment_template,
        fiscal_year=fiscal_year,
        advance_cap_percent=agreement.advance_cap_percent,
        signature_date=agreement.signed_on,
        first_year=fiscal_year == agreement.first_year,
        **params,
    )


def _replan_part(
    agreement: Agreement,
    *,
    fiscal_year: int,
    funder_id: int,
    full: Decimal,
    rest: Decimal,
    settled_numbers: set[int],
    percents: tuple[Decimal, Decimal],
    pattern: list[Instalment],
    effective_on: datetime.date,
) -> list[_NewInstalment]:
    """One funder's instalments for what is left of a year: `rest` out of a year part `full`.

    Nothing settled: the template's plan of `rest`. Otherwise the template's plan of `full` gives
    the slots; the settled ones are dropped and `rest` is split over the others in proportion to
    their planned amounts, odd cents to the later ones; with no slot left, one extra instalment."""
    if rest <= 0:
        return []
    try:
        plan = _template_plan(
            agreement, fiscal_year, full if settled_numbers else rest, percents, pattern
        )
        nominal = False
    except DomainError:
        # A few cents cannot be split by the template: its slots (from a nominal amount) take
        # them in proportion, the empty ones are dropped.
        plan = _template_plan(agreement, fiscal_year, NOMINAL, percents, pattern)
        nominal = True
    slots = [p for p in plan if p.number not in settled_numbers]
    new = []
    if not settled_numbers and not nominal:
        amounts = [p.amount for p in plan]
    elif slots:
        weights = [p.amount for p in slots]
        amounts = list(reversed(split_exact(rest, list(reversed(weights)), unit=CENT)))
    else:
        when = max(
            d for d in (effective_on, datetime.date(fiscal_year, 1, 1), agreement.signed_on) if d
        )
        return [
            _NewInstalment(
                fiscal_year=fiscal_year,
                funder_id=funder_id,
                number=max(settled_numbers) + 1,
                kind=Instalment.Kind.CUSTOM,
                amount=rest,
                earliest_date=when,
                requires_signature=True,
                requires_evaluation_of=None
                if fiscal_year == agreement.first_year
                else fiscal_year - 1,
                requires_valid_documents=True,
            )
        ]
    for planned, amount in zip(slots, amounts, strict=True):
        if amount > 0:
            new.append(
                _NewInstalment(
                    fiscal_year=fiscal_year,
                    funder_id=funder_id,
                    number=planned.number,
                    kind=planned.kind,
                    amount=amount,
                    earliest_date=planned.earliest_date,
                    requires_signature=planned.requires_signature,
                    requires_evaluation_of=planned.requires_evaluation_of,
                    requires_valid_documents=planned.requires_valid_documents,
                )
            )
    return new


def _compute(
    agreement: Agreement,
    *,
    effective_on: datetime.date,
    years: dict[int, Any] | None,
    duration_years: int | None,
    objectives: list[str] | None,
    funders: list[dict[str, Any]] | None,
) -> _Change:
    """Validate the requested changes and work out every instalment to cancel and to create."""
    check_effective_on(effective_on)
    first = agreement.first_year
    years_before = {y.fiscal_year: y.amount for y in agreement.years.all()}
    duration = _clean_duration(duration_years, agreement.duration_years)
    last = first + duration - 1
    requested = _clean_years(years)
    for fiscal_year in requested:
        if not first <= fiscal_year <= last:
            raise DomainError(
                _("L'exercice %(year)s est hors de la convention (%(first)s à %(last)s).")
                % {"year": fiscal_year, "first": first, "last": last},
                field="years",
            )
    years_after: dict[int, Decimal] = {}
    for fiscal_year in range(first, last + 1):
        amount = requested.get(fiscal_year, years_before.get(fiscal_year))
        if amount is None:
            raise DomainError(
                _("Indiquez le montant de l'exercice %(year)s, ajouté par l'avenant.")
                % {"year": fiscal_year},
                field="years",
            )
        years_after[fiscal_year] = to_money(amount)
    effective_year = effective_on.year
    if effective_year > last:
        raise DomainError(
            _("La date d'effet tombe après le dernier exercice de la convention (%(last)s).")
            % {"last": last},
            field="effective_on",
        )
    added = [y for y in years_after if y not in years_before]
    removed = [y for y in years_before if y not in years_after]
    changed = [y for y in years_after if years_after[y] != years_before.get(y)]
    for fiscal_year in sorted(set(changed) | set(removed)):
        if fiscal_year < effective_year:
            raise DomainError(
                _(
                    "L'exercice %(year)s précède la date d'effet de l'avenant (%(date)s) : son montant ne peut plus changer."
                )
                % {"year": fiscal_year, "date": effective_on.strftime("%d/%m/%Y")},
                field="years" if fiscal_year in changed else "duration_years",
            )

    if (changed or removed or added or funders) and agreement.instalments.filter(
        beneficiary__isnull=False
    ).exists():
        # Re-planning would have to split the new amounts between the partners again.
        raise DomainError(
            _(
                "Cette convention verse à chaque partenaire sa part : modifiez les montants par "
                "l'« avenant sur les parts des partenaires » ; un avenant sur les financeurs "
                "n'est pas encore possible dans Pluriel."
            ),
            field="years",
            code="partners_replan",
        )
    links = list(agreement.funders.select_related("funder").order_by("pk"))
    active_links = [link for link in links if link.share > 0]
    funders_before: list[dict[str, Any]] = [
        {"funder": link.funder, "share": link.share, "ej_number": link.ej_number}
        for link in active_links
    ]
    granted_before = {link.funder_id: link.granted_amount for link in active_links}
    funders_after = _clean_funders(funders) if funders is not None else funders_before
    shares_before = {r["funder"].pk: r["share"] for r in funders_before}
    shares_after = {r["funder"].pk: r["share"] for r in funders_after}
    funders_changed = shares_before != shares_after
    ej_changed = {r["funder"].pk: r["ej_number"] for r in funders_before} != {
        r["funder"].pk: r["ej_number"] for r in funders_after
    }

    # A co-funded agreement (issue 15) splits each year on the funders' exact amounts, as its
    # creation did, not on the six-place shares: each funder's instalments stay cent-exact.
    weights = (
        [cast(Decimal, granted_before.get(r["funder"].pk)) for r in funders_after]
        if not funders_changed and all(granted_before.get(r["funder"].pk) for r in funders_after)
        else None
    )
    objectives_before = _current_objectives(agreement)
    change = _Change(
        effective_on=effective_on,
        years_before=years_before,
        years_after=years_after,
        settled={},
        added_years=added,
        removed_years=removed,
        replanned_years=sorted(
            set(changed)
            | ({y for y in years_after if y >= effective_year} if funders_changed else set())
        ),
        funders_before=funders_before,
        funders_after=funders_after,
        funders_changed=funders_changed,
        ej_changed=ej_changed,
        objectives_before=objectives_before,
        objectives_after=_clean_objectives(objectives),
    )
    if weights:
        change.granted_after = dict.fromkeys(shares_after, Decimal("0"))
        for year_amount in years_after.values():
            for funder_id, year_part in zip(
                shares_after, split_exact(year_amount, weights), strict=True
            ):
                change.granted_after[funder_id] += year_part
    if duration > schedules.RECOMMENDED_MAX_YEARS:
        change.warnings.append(
            _(
                "Au-delà de %(years)s exercices, la circulaire du 29 septembre 2015 recommande une nouvelle convention."
            )
            % {"years": schedules.RECOMMENDED_MAX_YEARS}
        )

    instalments = list(
        Instalment.objects.filter(agreement=agreement)
        .select_related("year", "funder__funder")
        .order_by("year__fiscal_year", "funder_id", "number", "amendment_version")
    )
    offsets: dict[int, Decimal] = defaultdict(lambda: Decimal("0"))
    for instalment_id, amount in Recovery.objects.filter(
        agreement=agreement, state=R.OFFSET, offset_instalment__isnull=False
    ).values_list("offset_instalment_id", "amount"):
        offsets[instalment_id] += amount
    by_year: dict[int, list[Instalment]] = defaultdict(list)
    for instalment in instalments:
        by_year[instalment.year.fiscal_year].append(instalment)
    for fiscal_year, rows in by_year.items():
        change.settled[fiscal_year] = sum(
            (i.amount for i in rows if i.state not in NOT_SETTLED), Decimal("0")
        ) + sum((offsets.get(i.pk, Decimal("0")) for i in rows), Decimal("0"))

    # Shortening: only years with nothing settled go.
    evaluations = {e.fiscal_year: e for e in agreement.evaluations.all()}
    for fiscal_year in removed:
        rows = by_year.get(fiscal_year, [])
        if change.settled.get(fiscal_year) or any(offsets.get(i.pk) for i in rows):
            raise DomainError(
                _(
                    "L'exercice %(year)s a déjà des échéances exigibles, versées ou compensées : la convention ne peut être raccourcie en deçà."
                )
                % {"year": fiscal_year},
                field="duration_years",
            )
        evaluation = evaluations.get(fiscal_year)
        if evaluation is not None and evaluation.state != EvaluationState.EXPECTED:
            raise DomainError(
                _("L'évaluation %(year)s est déjà déposée : l'exercice ne peut être retiré.")
                % {"year": fiscal_year},
                field="duration_years",
            )
        change.to_cancel += [i for i in rows if i.state in REPLANNABLE]

    percents = _template_percents(agreement)
    new_shares = [(str(r["funder"].pk), r["share"]) for r in funders_after]
    for fiscal_year in change.replanned_years:
        amount = years_after[fiscal_year]
        rows = [
            i for i in by_year.get(fiscal_year, []) if i.state != I.CANCELLED or offsets.get(i.pk)
        ]
        settled_total = change.settled.get(fiscal_year, Decimal("0"))
        if amount < settled_total:
            raise DomainError(
                _(
                    "Exercice %(year)s : %(settled)s sont déjà exigibles, versés ou compensés, plus que le nouveau montant (%(amount)s)."
                )
                % {"year": fiscal_year, "settled": _eur(settled_total), "amount": _eur(amount)},
                field="years",
            )
        settled_of: dict[int, Decimal] = defaultdict(lambda: Decimal("0"))
        numbers_of: dict[int, set[int]] = defaultdict(set)
        pattern_of: dict[int, list[Instalment]] = defaultdict(list)
        for i in rows:
            part = (i.amount if i.state not in NOT_SETTLED else 0) + offsets.get(i.pk, 0)
            if i.state not in NOT_SETTLED:
                numbers_of[i.funder.funder_id].add(i.number)
            settled_of[i.funder.funder_id] += part
            if i.state != I.CANCELLED:
                pattern_of[i.funder.funder_id].append(i)
        change.to_cancel += [i for i in rows if i.state in REPLANNABLE]
        if funders_changed:
            # New shares apply to what is still to be paid.
            rest = amount - settled_total
            # core.money.split_exact (ties to the first funder, like split_between_funders) lets a
            # funder get nothing of a rest of a few cents.
            split = split_exact(rest, [share for _k, share in new_shares]) if rest > 0 else []
            rests = {int(k): v for (k, _s), v in zip(new_shares, split, strict=False)}
            fulls = {fid: settled_of[fid] + rests.get(fid, Decimal("0")) for fid in shares_after}
        else:
            fulls = (
                dict(zip(shares_after, split_exact(amount, weights), strict=True))
                if weights
                else {int(k): v for k, v in schedules.split_between_funders(amount, new_shares)}
            )
            rests = {}
            for funder_id, full in fulls.items():
                rests[funder_id] = full - settled_of[funder_id]
                if rests[funder_id] < 0:
                    name = next(r["funder"] for r in funders_after if r["funder"].pk == funder_id)
                    raise DomainError(
                        _(
                            "Exercice %(year)s : « %(funder)s » a déjà %(settled)s exigibles ou versés, plus que sa part du nouveau montant (%(part)s)."
                        )
                        % {
                            "year": fiscal_year,
                            "funder": name,
                            "settled": _eur(settled_of[funder_id]),
                            "part": _eur(full),
                        },
                        field="years",
                    )
        pattern_any = [i for i in by_year.get(fiscal_year, []) if i.state != I.CANCELLED]
        for funder_id in shares_after:
            change.to_create += _replan_part(
                agreement,
                fiscal_year=fiscal_year,
                funder_id=funder_id,
                full=fulls.get(funder_id, Decimal("0")),
                rest=rests.get(funder_id, Decimal("0")),
                settled_numbers=numbers_of[funder_id],
                percents=percents,
                pattern=pattern_of[funder_id] or pattern_any,
                effective_on=effective_on,
            )
    return change


def _instalment_row(i: Instalment) -> dict[str, Any]:
    return {
        "id": i.pk,
        "fiscal_year": i.year.fiscal_year,
        "funder": str(i.funder.funder),
        "number": i.number,
        "kind": i.kind,
        "kind_label": str(i.get_kind_display()),
        "amount": i.amount,
        "earliest_date": i.earliest_date,
        "state": i.state,
        "state_label": str(i.get_state_display()),
    }


def _preview_dict(agreement: Agreement, change: _Change) -> dict[str, Any]:
    names = {r["funder"].pk: str(r["funder"]) for r in change.funders_after}
    kinds = dict(Instalment.Kind.choices)
    years = []
    for fiscal_year in sorted(set(change.years_before) | set(change.years_after)):
        before = change.years_before.get(fiscal_year)
        after = change.years_after.get(fiscal_year)
        status = (
            "added"
            if before is None
            else "removed"
            if after is None
            else "changed"
            if before != after
            else "replanned"
            if fiscal_year in change.replanned_years
            else "unchanged"
        )
        years.append(
            {
                "fiscal_year": fiscal_year,
                "before": before,
                "after": after,
                "difference": (after or Decimal("0")) - (before or Decimal("0")),
                "settled": change.settled.get(fiscal_year, Decimal("0")),
                "status": status,
            }
        )
    total_before = sum(change.years_before.values(), Decimal("0"))
    total_after = sum(change.years_after.values(), Decimal("0"))
    return {
        "version_before": agreement.version,
        "version_after": agreement.version + 1,
        "effective_on": change.effective_on,
        "years": years,
        "total_before": total_before,
        "total_after": total_after,
        "duration_before": len(change.years_before),
        "duration_after": len(change.years_after),
        "kind_before": agreement.kind,
        "kind_after": change.kind_after,
        "funders_before": _funder_json(change.funders_before),
        "funders_after": _funder_json(change.funders_after),
        "funders_changed": change.funders_changed,
        "objectives_before": change.objectives_before,
        "objectives_after": change.objectives_after
        if change.objectives_after is not None
        else change.objectives_before,
        "to_cancel": [_instalment_row(i) for i in change.to_cancel],
        "to_create": [
            {
                "fiscal_year": n.fiscal_year,
                "funder": names.get(n.funder_id, ""),
                "number": n.number,
                "kind": n.kind,
                "kind_label": str(kinds.get(n.kind, n.kind)),
                "amount": n.amount,
                "earliest_date": n.earliest_date,
                "requires_evaluation_of": n.requires_evaluation_of,
            }
            for n in change.to_create
        ],
        "evaluations_added": change.added_years,
        "evaluations_removed": change.removed_years,
        "warnings": change.warnings,
        "is_empty": change.is_empty,
    }
