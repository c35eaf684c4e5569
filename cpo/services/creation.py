"""Agreements created from approved applications (one or in bulk): their funders, years,
instalments (`cpo.schedules`) and expected evaluations."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any, cast

from dateutil.relativedelta import relativedelta
from django.db import transaction
from django.utils.translation import gettext as _

from core.audit import audit_log_many
from core.bulk import copy_insert
from core.errors import DomainError, TransitionNotAllowed
from core.models import BudgetLine, Funder, User
from core.money import split_exact
from core.references import next_references
from grants.models import Application, ApplicationState, FunderPart, PartnerState, PaymentFlow

from .. import schedules
from ..models import (
    Agreement,
    AgreementFunder,
    AgreementState,
    AgreementYear,
    Evaluation,
    EvaluationState,
    Instalment,
    InstalmentState,
)
from .common import (
    _staff,
    _threshold,
)

A, E, I = AgreementState, EvaluationState, InstalmentState  # noqa: E741


# --------------------------------------------------------------------------- creation


def agreement_create_from_application(
    *,
    actor: User,
    application: Application,
    profile: str | None = None,
    instalment_template: str = "advance_balance",
    duration_years: int | None = None,
    first_year: int | None = None,
    rate: Decimal | None = None,
    step: Decimal | None = None,
    custom: list[Decimal] | None = None,
    rounding_unit: Decimal = Decimal("1"),
    funders: list[dict[str, Any]] | None = None,
    advance_percent: Decimal = Decimal("50"),
    interim_percent: Decimal = Decimal("30"),
    advance_cap_percent: Decimal = Decimal("50"),
    instalment_custom: list[dict[str, Any]] | None = None,
) -> Agreement:
    """Build the agreement of an approved application with no re-typing: organisation, title,
    amounts (the approved yearly amounts of a multi-year request, or a profile over the duration),
    funders with their shares and legal commitments, every instalment and every evaluation.

    A written agreement when a year exceeds 23 000 € (loi n° 2000-321 art. 10), a notified decision
    otherwise — the same object downstream."""
    return agreements_create_bulk(
        actor=actor,
        applications=[application],
        profile=profile,
        instalment_template=instalment_template,
        duration_years=duration_years,
        first_year=first_year,
        rate=rate,
        step=step,
        custom=custom,
        rounding_unit=rounding_unit,
        funders=funders,
        advance_percent=advance_percent,
        interim_percent=interim_percent,
        advance_cap_percent=advance_cap_percent,
        instalment_custom=instalment_custom,
    )[0]


def agreements_create_bulk(
    *, actor: User, applications: list[Application], **params: Any
) -> list[Agreement]:
    """The agreements of many approved applications at once, with the same parameters (see
    agreement_create_from_application): every schedule is computed in memory, then written in a
    few bulk INSERTs — the path of the single creation too, so both follow the same rules."""
    _staff(actor)
    existing = set(
        Agreement.objects.filter(application__in=applications).values_list(
            "application_id", flat=True
        )
    )
    # What every spec reads, loaded once: approved years, programmes and their funders.
    applications = list(
        Application.objects.filter(pk__in=[a.pk for a in applications])
        .select_related("programme__budget_line__funder", "cofunder")
        .prefetch_related("years", "programme__funders", "funder_parts__funder")
        .order_by("pk")
    )
    specs = []
    for application in applications:
        if application.state != ApplicationState.APPROVED or application.approved_amount is None:
            raise TransitionNotAllowed(
                _("Seul un dossier accordé donne lieu à une convention (%(ref)s).")
                % {"ref": application.reference},
                allowed=[],
            )
        if application.pk in existing:
            raise DomainError(
                _("Ce dossier a déjà sa convention (%(ref)s).") % {"ref": application.reference},
                code="exists",
            )
        specs += agreement_specs(application, **params)
    with transaction.atomic():
        return _persist(actor, specs)


def agreement_specs(application: Application, **params: Any) -> list[dict[str, Any]]:
    """The agreements of one approved file: one, or for a co-funded file where funders insist on
    their own agreement (`FunderPart.separate_agreement`, issue 15) one joint agreement for the
    other granted parts and one per such funder, each with its own yearly amounts (the file's years
    split exactly between them), instalments and EJ. Funders typed by the user: one agreement."""
    spec = agreement_spec(application, **params)
    groups = [] if params.get("funders") or application.cofunder_id else _part_groups(application)
    if len(groups) < 2:
        return [spec]
    totals = [sum((r["granted"] for r in rows), Decimal("0")) for _f, _p, rows in groups]
    specs = []
    for (funder, programme_id, rows), total, amounts in zip(
        groups, totals, _split_years(spec["amounts"], totals), strict=True
    ):
        kind = Agreement.Kind.AGREEMENT if max(amounts) > _threshold() else Agreement.Kind.DECISION
        specs.append(
            {
                **spec,
                "funder": funder,
                "programme_id": programme_id,
                "total": total,
                "amounts": amounts,
                "funders": rows,
                "kind": kind,
                "prefix": _prefix(spec["duration_years"], kind),
            }
        )
    return specs


def part_agreements(application: Application) -> list[dict[str, Any]]:
    """The agreements a co-funded file's decided parts make (the prepare page shows them in place
    of the funder rows): [{funder: the funder of its own agreement or None for the joint one,
    rows: [{funder, share, granted}], total}]; empty when the file is not co-funded."""
    if application.cofunder_id:
        return []
    return [
        {
            "funder": funder,
            "rows": rows,
            "total": sum((r["granted"] for r in rows), Decimal("0")),
        }
        for funder, _programme, rows in _part_groups(application)
    ]


def _split_years(amounts: list[Decimal], totals: list[Decimal]) -> list[list[Decimal]]:
    """The file's yearly amounts split between agreements of `totals` (summing to the file's
    total), exact both ways: each agreement's years add up to its total, each year's parts to the
    year. Each agreement but the last follows the years' proportions; the last takes the rest."""
    rows = [split_exact(total, amounts) for total in totals[:-1]]
    last = [year - sum((row[i] for row in rows), Decimal("0")) for i, year in enumerate(amounts)]
    if any(amount < 0 for amount in last):
        raise DomainError(
            _(
                "Les montants annuels ne peuvent être répartis entre les conventions des financeurs."
            ),
            field="custom",
        )
    return [*rows, last]


def _prefix(duration_years: int, kind: str) -> str:
    if duration_years > 1:
        return "CPO"
    return "CONV" if kind == Agreement.Kind.AGREEMENT else "DEC"


def agreement_spec(
    application: Application,
    *,
    profile: str | None = None,
    instalment_template: str = "advance_balance",
    duration_years: int | None = None,
    first_year: int | None = None,
    rate: Decimal | None = None,
    step: Decimal | None = None,
    custom: list[Decimal] | None = None,
    rounding_unit: Decimal = Decimal("1"),
    funders: list[dict[str, Any]] | None = None,
    advance_percent: Decimal = Decimal("50"),
    interim_percent: Decimal = Decimal("30"),
    advance_cap_percent: Decimal = Decimal("50"),
    instalment_custom: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Everything an agreement will hold, computed and validated, nothing written."""
    approved_years = sorted(application.years.all(), key=lambda y: y.fiscal_year)
    if approved_years and all(y.approved_amount is not None for y in approved_years):
        profile = profile or "custom"
        if profile == "custom" and custom is None:
            custom = [cast(Decimal, y.approved_amount) for y in approved_years]
        duration_years = duration_years or len(approved_years)
        first_year = first_year or approved_years[0].fiscal_year
    profile = profile or "flat"
    duration_years = duration_years or max(application.duration_years, 1)
    first_year = first_year or application.programme.fiscal_year
    total = application.approved_amount
    amounts = schedules.yearly_amounts(
        profile=profile,
        years=duration_years,
        total=None if profile == "custom" else total,
        rate=rate,
        step=step,
        custom=custom,
        unit=rounding_unit,
    )
    if sum(amounts) != total:
        raise DomainError(
            _(
                "Les montants annuels (%(sum)s €) doivent totaliser le montant accordé (%(total)s €)."
            )
            % {"sum": sum(amounts), "total": total},
            field="custom",
        )
    kind = Agreement.Kind.AGREEMENT if max(amounts) > _threshold() else Agreement.Kind.DECISION
    return {
        "payees": payees_of(application),
        "application": application,
        "funder": None,
        "programme_id": application.programme_id,
        "total": total,
        "amounts": amounts,
        "funders": _funder_rows(application, funders),
        "kind": kind,
        "prefix": _prefix(duration_years, kind),
        "first_year": first_year,
        "duration_years": duration_years,
        "profile": profile,
        "rate": rate,
        "step": step,
        "rounding_unit": rounding_unit,
        "template": instalment_template,
        "advance_percent": advance_percent,
        "interim_percent": interim_percent,
        "advance_cap_percent": advance_cap_percent,
        "instalment_custom": _custom_instalments(instalment_template, instalment_custom),
    }


def _persist(actor: User, specs: list[dict[str, Any]]) -> list[Agreement]:
    references: dict[tuple[str, int], list[str]] = {}
    for key in {(s["prefix"], s["first_year"]) for s in specs}:
        count = sum(1 for s in specs if (s["prefix"], s["first_year"]) == key)
        references[key] = next_references(*key, count)
    agreements = []
    for spec in specs:
        application = spec["application"]
        agreements.append(
            Agreement(
                reference=references[(spec["prefix"], spec["first_year"])].pop(0),
                application=application,
                funder=spec["funder"],
                organisation_id=application.organisation_id,
                programme_id=spec["programme_id"],
                kind=spec["kind"],
                title=application.title,
                first_year=spec["first_year"],
                duration_years=spec["duration_years"],
                total_amount=spec["total"],
                profile=spec["profile"],
                profile_rate=spec["rate"],
                profile_step=spec["step"],
                rounding_unit=spec["rounding_unit"],
                instalment_template=spec["template"],
                advance_cap_percent=spec["advance_cap_percent"],
                advance_percent=spec["advance_percent"],
                interim_percent=spec["interim_percent"],
                instalment_custom=spec["instalment_custom"],
                created_by=actor,
            )
        )
    Agreement.objects.bulk_create(agreements, batch_size=2000)
    links = [
        AgreementFunder(
            agreement=agreement,
            funder=row["funder"],
            share=row["share"],
            ej_number=row.get("ej_number", ""),
            granted_amount=row.get("granted"),
        )
        for agreement, spec in zip(agreements, specs, strict=True)
        for row in spec["funders"]
    ]
    AgreementFunder.objects.bulk_create(links, batch_size=2000)
    links_of: dict[int, list[AgreementFunder]] = {}
    for link in links:
        links_of.setdefault(link.agreement_id, []).append(link)
    years = [
        AgreementYear(agreement=agreement, fiscal_year=spec["first_year"] + i, amount=amount)
        for agreement, spec in zip(agreements, specs, strict=True)
        for i, amount in enumerate(spec["amounts"])
    ]
    AgreementYear.objects.bulk_create(years, batch_size=2000)
    by_agreement: dict[int, list[AgreementYear]] = {}
    for year in years:
        by_agreement.setdefault(year.agreement_id, []).append(year)
    copy_insert(
        Instalment,
        PLANNED_COLUMNS,
        (
            row
            for agreement, spec in zip(agreements, specs, strict=True)
            for index, year in enumerate(by_agreement[agreement.pk])
            for row in _year_instalment_rows(
                agreement,
                year,
                links_of[agreement.pk],
                first=index == 0,
                version=1,
                advance_percent=spec["advance_percent"],
                interim_percent=spec["interim_percent"],
                payees=spec["payees"],
                funder_weights=_granted_weights(spec["funders"]),
            )
        ),
    )
    copy_insert(
        Evaluation,
        EVALUATION_COLUMNS,
        (
            (
                agreement.pk,
                year,
                evaluation_due_on(year, agreement.evaluation_delay_months),
                year == agreement.last_year,
                E.EXPECTED,
                "",
                "",
                [],
                False,
            )
            for agreement in agreements
            for year in range(agreement.first_year, agreement.last_year + 1)
        ),
    )
    audit_log_many(
        actor=actor,
        model=Agreement,
        action="cpo.agreement.created",
        entries=[
            {
                "object_id": agreement.pk,
                "object_repr": str(agreement.reference),
                "target": A.DRAFT,
                "payload": {
                    "application": spec["application"].reference,
                    "funder": str(spec["funder"] or ""),
                    "years": {
                        str(spec["first_year"] + i): a for i, a in enumerate(spec["amounts"])
                    },
                    "kind": spec["kind"],
                    "profile": spec["profile"],
                    "template": spec["template"],
                },
            }
            for agreement, spec in zip(agreements, specs, strict=True)
        ],
    )
    return agreements


def _percent(fraction: Decimal) -> str:
    """A share (fraction of 1) as the percent the user typed, e.g. Decimal("0.9") -> "90"."""
    from django.utils.formats import number_format

    return number_format((fraction * 100).normalize(), use_l10n=True)


def _funder_rows(
    application: Application, funders: list[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    """Funders and shares: given, or the programme's funder (or the application's co-funder)."""
    if funders:
        shares = [Decimal(str(r["share"])) for r in funders]
        if any(s <= 0 for s in shares) or sum(shares) != 1:
            raise DomainError(
                _(
                    "Les parts des financeurs doivent être positives et totaliser 100 %% "
                    "(ici %(total)s %%)."
                )
                % {"total": _percent(sum(shares, Decimal(0)))},
                field="funders",
            )
        return funders
    if application.cofunder_id:
        return [{"funder": application.cofunder, "share": Decimal("1")}]
    decided = _decided_part_rows(application)
    if decided:
        return decided
    programme = application.programme
    main = (
        cast(BudgetLine, programme.budget_line).funder if programme.budget_line_id else None
    ) or next(iter(programme.funders.all()), None)
    if main is None:
        raise DomainError(_("Le programme n'a pas de financeur : indiquez-en un."), field="funders")
    return [{"funder": main, "share": Decimal("1")}]


def _granted_parts(application: Application) -> list[FunderPart]:
    """The granted parts of a co-funded file (several funders' parts, issue 15) when they make up
    the amount approved; empty for a file with one part: its agreement is built as before."""
    parts = sorted(application.funder_parts.all(), key=lambda p: p.pk)  # prefetched
    if len(parts) < 2:
        return []
    granted = [p for p in parts if p.granted_amount > 0]
    total = sum((p.granted_amount for p in granted), Decimal("0"))
    return granted if granted and total == application.approved_amount else []


def _decided_part_rows(application: Application) -> list[dict[str, Any]]:
    """Each funder that granted its part of a co-funded file, with its share of the total
    granted, so each funder's yearly amounts and instalments come from its own decision."""
    return _share_rows(_granted_parts(application))


def _part_groups(application: Application) -> list[tuple[Funder | None, int, list[dict[str, Any]]]]:
    """The agreements a co-funded file's granted parts make: (funder or None for the joint one,
    programme, funder rows). The parts whose funder insists on its own agreement each get one, on
    the funder's programme (else the file's); the others share the joint agreement."""
    granted = _granted_parts(application)
    joint = [p for p in granted if not p.separate_agreement]
    groups: list[tuple[Funder | None, int, list[dict[str, Any]]]] = []
    if joint:
        groups.append((None, application.programme_id, _share_rows(joint)))
    for part in granted:
        if part.separate_agreement:
            programme_id = part.programme_id or application.programme_id
            groups.append((part.funder, programme_id, _share_rows([part])))
    return groups


def _share_rows(parts: list[FunderPart]) -> list[dict[str, Any]]:
    """Funder rows of granted parts: shares of their total to six places summing to exactly 1
    (the last takes the remainder), with the exact amount granted."""
    granted = [(p.funder, p.granted_amount) for p in parts]
    total = sum((amount for _f, amount in granted), Decimal("0"))
    rows: list[dict[str, Any]] = []
    left = Decimal("1")
    for i, (funder, amount) in enumerate(granted):
        share = left if i == len(granted) - 1 else (amount / total).quantize(Decimal("0.000001"))
        left -= share
        # The exact amount granted: instalments are split on it, not on the rounded share.
        rows.append({"funder": funder, "share": share, "granted": amount})
    return rows


def _granted_weights(rows: list[dict[str, Any]]) -> list[Decimal] | None:
    """The funders' exact granted amounts when every row has one (a co-funded file), else None."""
    weights = [row.get("granted") for row in rows]
    return cast(list[Decimal], weights) if rows and all(w for w in weights) else None


def _custom_instalments(template: str, rows: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """A custom plan: the same rows every year (percent of the year, month, day), validated."""
    if template != "custom":
        return []
    if not rows:
        raise DomainError(
            _("Indiquez les versements de l'échéancier personnalisé."), field="instalment_custom"
        )
    cleaned: list[dict[str, Any]] = []
    for i, row in enumerate(rows, start=1):
        try:
            percent = Decimal(str(row["percent"]))
            datetime.date(2024, int(row["month"]), int(row["day"]))  # a leap year accepts 29/02
        except Exception:
            raise DomainError(
                _("Versement %(n)d : pourcentage ou date invalide.") % {"n": i},
                field="instalment_custom",
            )
        cleaned.append(
            {"percent": str(percent), "month": int(row["month"]), "day": int(row["day"])}
        )
    total = sum(Decimal(r["percent"]) for r in cleaned)
    if total != 100:
        raise DomainError(
            _("Les versements doivent totaliser 100 %% (ici %(t)s %%).") % {"t": total},
            field="instalment_custom",
        )
    return cleaned


def _custom_rows_for(
    agreement: Agreement, fiscal_year: int
) -> list[tuple[Decimal, datetime.date | None]] | None:
    if agreement.instalment_template != "custom":
        return None
    rows: list[tuple[Decimal, datetime.date | None]] = []
    for row in agreement.instalment_custom:
        day = min(row["day"], 28) if row["month"] == 2 else row["day"]
        rows.append((Decimal(row["percent"]), datetime.date(fiscal_year, row["month"], day)))
    return rows


INSTALMENT_COLUMNS = (
    "agreement_id",
    "year_id",
    "funder_id",
    "number",
    "kind",
    "amount",
    "earliest_date",
    "requires_signature",
    "requires_evaluation_of",
    "requires_valid_documents",
    "state",
    "hold_reason",
    "is_late",
    "amendment_version",
    "reject_reason",
)
#: What the creation writes: the columns above and, for a collective file paid to each partner,
#: the partner paid (INSTALMENT_COLUMNS stays the bulk loaders' shape, beneficiary empty).
PLANNED_COLUMNS = (*INSTALMENT_COLUMNS, "beneficiary_id")
EVALUATION_COLUMNS = (
    "agreement_id",
    "fiscal_year",
    "due_on",
    "is_final",
    "state",
    "activity_report",
    "review_comment",
    "reminders_sent",
    "is_overdue",
)


def _year_instalment_rows(
    agreement: Agreement,
    year: AgreementYear,
    links: list[AgreementFunder],
    *,
    first: bool,
    version: int,
    advance_percent: Decimal = Decimal("50"),
    interim_percent: Decimal = Decimal("30"),
    amount: Decimal | None = None,
    payees: list[tuple[int | None, Decimal]] | None = None,
    funder_weights: list[Decimal] | None = None,
) -> list[tuple[Any, ...]]:
    """One year's instalments (PLANNED_COLUMNS tuples), per funder — each with its own legal
    commitment —, summing exactly to `amount` (the year's amount unless part of it is already due:
    see amendments).

    A collective file paid to each partner (`payees`: [(organisation id or None for the lead,
    approved part)]): each funder's part is split between the partners in proportion to their
    approved parts, exact to the cent, and each partner gets its own instalments (numbered on
    after the previous partner's) — docs/domain.md §9."""
    amount = year.amount if amount is None else amount
    if funder_weights and len(funder_weights) == len(links):
        # A co-funded file: each funder's yearly part in proportion to its exact decision, so
        # its instalments add up to what it granted (a six-place share would drift by cents).
        parts = list(
            zip(map(str, range(len(links))), split_exact(amount, funder_weights), strict=True)
        )
    else:
        parts = schedules.split_between_funders(
            amount, [(str(i), link.share) for i, link in enumerate(links)]
        )
    rows = []
    for (_key, funder_part), link in zip(parts, links, strict=True):
        number_offset = 0
        for payee, part in _split_between_payees(funder_part, payees):
            plan = (
                schedules.instalment_plan(
                    year_amount=part,
                    template=agreement.instalment_template,
                    fiscal_year=year.fiscal_year,
                    advance_percent=advance_percent,
                    interim_percent=interim_percent,
                    advance_cap_percent=agreement.advance_cap_percent,
                    custom=_custom_rows_for(agreement, year.fiscal_year),
                    custom_as="percent",
                    signature_date=agreement.signed_on,
                    first_year=first,
                )
                if part > 0
                else []
            )
            for planned in plan:
                rows.append(
                    (
                        agreement.pk,
                        year.pk,
                        link.pk,
                        planned.number + number_offset,
                        planned.kind,
                        planned.amount,
                        planned.earliest_date,
                        planned.requires_signature,
                        planned.requires_evaluation_of,
                        planned.requires_valid_documents,
                        I.PLANNED,
                        "",
                        False,
                        version,
                        "",
                        payee,
                    )
                )
            number_offset += max((p.number for p in plan), default=0)
    return rows


def _split_between_payees(
    amount: Decimal, payees: list[tuple[int | None, Decimal]] | None
) -> list[tuple[int | None, Decimal]]:
    if not payees or len(payees) < 2:
        return [(None, amount)]
    return list(
        zip(
            [p for p, _part in payees],
            split_exact(amount, [part for _p, part in payees]),
            strict=True,
        )
    )


def payees_of(application: Application) -> list[tuple[int | None, Decimal]] | None:
    """Who the agreement of a collective file pays (docs/domain.md §9): None when everything goes
    to the lead (no partner, or « paid to the lead who redistributes »); else the lead (None) and
    each accepted partner with its approved part."""
    if application.payment_flow != PaymentFlow.PARTNERS:
        return None
    partners = [
        p
        for p in application.partners.filter(state=PartnerState.ACCEPTED).order_by("pk")
        if p.approved_amount
    ]
    if not partners:
        return None
    lead = cast(Decimal, application.approved_amount) - sum(
        (cast(Decimal, p.approved_amount) for p in partners), Decimal("0")
    )
    payees: list[tuple[int | None, Decimal]] = [(None, lead)] if lead > 0 else []
    return payees + [(p.organisation_id, cast(Decimal, p.approved_amount)) for p in partners]


def _year_instalments(
    agreement: Agreement, year: AgreementYear, links: list[AgreementFunder], **kwargs: Any
) -> list[Instalment]:
    """The same instalments as unsaved model objects (re-planning after an amendment)."""
    return [
        Instalment(**dict(zip(PLANNED_COLUMNS, row, strict=True)))
        for row in _year_instalment_rows(agreement, year, links, **kwargs)
    ]


def evaluation_due_on(fiscal_year: int, delay_months: int) -> datetime.date:
    """Due `delay_months` after the end of the fiscal year (6 by default: 30 June)."""
    due: datetime.date = datetime.date(fiscal_year, 12, 31) + relativedelta(months=delay_months)
    return due
