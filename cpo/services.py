"""Writes for agreements: creation from an approved application, signature and life cycle, the
daily job that makes instalments due (or holds them), and the annual evaluation that releases or
blocks the next payments (docs/domain.md §4)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from core.audit import audit_log, audit_log_many
from core.bulk import copy_insert
from core.clock import now, today
from core.errors import DomainError, PermissionDenied, TransitionNotAllowed
from core.fsm import apply_transition, lock
from core.models import Funder, Role, User
from core.notifications import notify
from core.permissions import has_role, is_member
from core.references import next_references
from grants.budget import CHARGE_ACCOUNTS, PRODUCT_ACCOUNTS
from grants.models import Application, ApplicationState

from . import schedules
from .hooks import agreement_stopped
from .models import (
    OWED_STATES,
    Agreement,
    AgreementFunder,
    AgreementState,
    AgreementYear,
    Evaluation,
    EvaluationBudgetLine,
    EvaluationIndicator,
    EvaluationState,
    Instalment,
    InstalmentState,
)
from .transitions import instalments_transition

A, E, I = AgreementState, EvaluationState, InstalmentState  # noqa: E741
ACCEPTED_EVALUATIONS = (E.ACCEPTED, E.ACCEPTED_WITH_RESERVATIONS)
LATE_AFTER_DAYS = 60  # loi n° 2021-875 art. 2: paid within 60 days of the notified decision
REMINDER_DAYS = (30, 7)


def _staff(actor: User) -> None:
    if not has_role(actor, Role.INSTRUCTOR, Role.PROGRAMME_MANAGER):
        raise PermissionDenied(_("Réservé à l'instruction et aux responsables de programme."))


def _threshold() -> Decimal:
    return Decimal(str(settings.AGREEMENT_THRESHOLD))


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
        .prefetch_related("years", "programme__funders")
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
        specs.append(agreement_spec(application, **params))
    with transaction.atomic():
        return _persist(actor, specs)


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
            custom = [y.approved_amount for y in approved_years]
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
        "application": application,
        "amounts": amounts,
        "funders": _funder_rows(application, funders),
        "kind": kind,
        "prefix": "CPO"
        if duration_years > 1
        else ("CONV" if kind == Agreement.Kind.AGREEMENT else "DEC"),
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
                organisation_id=application.organisation_id,
                programme_id=application.programme_id,
                kind=spec["kind"],
                title=application.title,
                first_year=spec["first_year"],
                duration_years=spec["duration_years"],
                total_amount=application.approved_amount,
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
        INSTALMENT_COLUMNS,
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


def _funder_rows(
    application: Application, funders: list[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    """Funders and shares: given, or the programme's funder (or the application's co-funder)."""
    if funders:
        shares = [Decimal(str(r["share"])) for r in funders]
        if any(s <= 0 for s in shares) or sum(shares) != 1:
            raise DomainError(
                _("Les parts des financeurs doivent être positives et totaliser 1."),
                field="funders",
            )
        return funders
    if application.cofunder_id:
        return [{"funder": application.cofunder, "share": Decimal("1")}]
    programme = application.programme
    main = (programme.budget_line.funder if programme.budget_line_id else None) or next(
        iter(programme.funders.all()), None
    )
    if main is None:
        raise DomainError(_("Le programme n'a pas de financeur : indiquez-en un."), field="funders")
    return [{"funder": main, "share": Decimal("1")}]


def _custom_instalments(template: str, rows: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """A custom plan: the same rows every year (percent of the year, month, day), validated."""
    if template != "custom":
        return []
    if not rows:
        raise DomainError(
            _("Indiquez les versements de l'échéancier personnalisé."), field="instalment_custom"
        )
    cleaned = []
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
) -> list[tuple[Decimal, datetime.date]] | None:
    if agreement.instalment_template != "custom":
        return None
    rows = []
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
) -> list[tuple]:
    """One year's instalments (INSTALMENT_COLUMNS tuples), per funder — each with its own legal
    commitment —, summing exactly to `amount` (the year's amount unless part of it is already due:
    see amendments)."""
    amount = year.amount if amount is None else amount
    parts = schedules.split_between_funders(
        amount, [(str(i), link.share) for i, link in enumerate(links)]
    )
    rows = []
    for (_key, part), link in zip(parts, links, strict=True):
        for planned in schedules.instalment_plan(
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
        ):
            rows.append(
                (
                    agreement.pk,
                    year.pk,
                    link.pk,
                    planned.number,
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
                )
            )
    return rows


def _year_instalments(
    agreement: Agreement, year: AgreementYear, links: list[AgreementFunder], **kwargs: Any
):
    """The same instalments as unsaved model objects (re-planning after an amendment)."""
    return [
        Instalment(**dict(zip(INSTALMENT_COLUMNS, row, strict=True)))
        for row in _year_instalment_rows(agreement, year, links, **kwargs)
    ]


def evaluation_due_on(fiscal_year: int, delay_months: int) -> datetime.date:
    """Due `delay_months` after the end of the fiscal year (6 by default: 30 June)."""
    return datetime.date(fiscal_year, 12, 31) + relativedelta(months=delay_months)


# --------------------------------------------------------------------------- life cycle

AGREEMENT_ACTIONS = {
    "send_for_signature": "cpo.agreement.sent_for_signature",
    "sign": "cpo.agreement.signed",
    "activate": "cpo.agreement.activated",
    "suspend": "cpo.agreement.suspended",
    "resume": "cpo.agreement.resumed",
    "complete": "cpo.agreement.completed",
    "terminate": "cpo.agreement.terminated",
}


def agreement_send_for_signature(*, actor: User, agreement: Agreement) -> Agreement:
    _staff(actor)
    with transaction.atomic():
        agreement = lock(agreement)
        if agreement.state == A.SENT_FOR_SIGNATURE:
            return agreement
        agreement = apply_transition(
            agreement,
            "send_for_signature",
            actor=actor,
            action=AGREEMENT_ACTIONS["send_for_signature"],
        )
        notify(
            users=agreement.organisation.members.all(),
            title=_("Convention %(ref)s à signer") % {"ref": agreement.reference},
        )
    return agreement


def agreement_sign(*, actor: User, agreement: Agreement, signed_on: datetime.date) -> Agreement:
    """Record the signature (or the notification of a decision): the payment clock starts. The
    first instalments' earliest date cannot precede it."""
    _staff(actor)
    if signed_on is None or signed_on > today():
        raise DomainError(
            _("La date de signature ne peut pas être dans le futur."), field="signed_on"
        )
    with transaction.atomic():
        agreement = lock(agreement)
        if agreement.state == A.SIGNED:
            return agreement
        agreement.signed_on = signed_on
        agreement.notified_on = agreement.notified_on or signed_on
        agreement = apply_transition(
            agreement,
            "sign",
            actor=actor,
            action=AGREEMENT_ACTIONS["sign"],
            payload={"signed_on": signed_on},
            update_fields=["signed_on", "notified_on"],
        )
        agreement.instalments.filter(
            state=I.PLANNED, earliest_date__lt=signed_on, requires_signature=True
        ).update(earliest_date=signed_on)
    return agreement


def _simple(name: str, *, needs_reason: bool = False):
    def service(*, actor: User, agreement: Agreement, reason: str = "") -> Agreement:
        _staff(actor)
        if needs_reason and not (reason or "").strip():
            raise DomainError(_("Un motif est obligatoire pour cette action."), field="reason")
        with transaction.atomic():
            agreement = lock(agreement)
            agreement = apply_transition(
                agreement, name, actor=actor, action=AGREEMENT_ACTIONS[name], reason=reason
            )
            if name in ("suspend", "terminate"):
                # Payments in runs not yet exported come out; exported ones are with the
                # accountant already, and paid ones are never touched.
                # The payment side subscribes to this hook (finance.apps).
                agreement_stopped(agreement.instalments.all(), actor=actor, reason=reason or name)
            if name == "suspend":
                _hold(
                    agreement.instalments.filter(state__in=[I.PLANNED, I.DUE, I.APPROVED]),
                    _("Convention suspendue"),
                )
            if name == "terminate":
                agreement.end_reason = reason.strip()
                agreement.save(update_fields=["end_reason"])
                _cancel(
                    agreement.instalments.filter(
                        state__in=[I.PLANNED, I.DUE, I.ON_HOLD, I.APPROVED]
                    ),
                    reason.strip(),
                )
        if name in ("resume", "activate"):
            instalments_refresh(agreement_ids=[agreement.pk])
        return agreement

    service.__name__ = f"agreement_{name}"
    return service


agreement_activate = _simple("activate")
agreement_suspend = _simple("suspend", needs_reason=True)
agreement_resume = _simple("resume")
agreement_terminate = _simple("terminate", needs_reason=True)


def _instalment_entries(
    rows: list[dict], source_key: str, target: str, reason: str = ""
) -> list[dict]:
    return [
        {
            "object_id": r["pk"],
            "object_repr": f"{r['agreement__reference']} {r['year__fiscal_year']} n° {r['number']}",
            "source": r[source_key],
            "target": target,
            "reason": reason or r.get("reason", ""),
        }
        for r in rows
    ]


ROW_FIELDS = ("pk", "state", "number", "agreement__reference", "year__fiscal_year")


def _hold(queryset, reason: str, *, actor: User | None = None) -> int:
    rows = list(queryset.values(*ROW_FIELDS))
    instalments_transition(
        [r["pk"] for r in rows],
        transition="hold",
        actor=actor,
        entries=_instalment_entries(rows, "state", I.ON_HOLD, reason),
        values={"hold_reason": reason[:255]},
    )
    return len(rows)


def _cancel(queryset, reason: str, *, actor: User | None = None) -> int:
    rows = list(queryset.values(*ROW_FIELDS))
    instalments_transition(
        [r["pk"] for r in rows],
        transition="cancel",
        actor=actor,
        entries=_instalment_entries(rows, "state", I.CANCELLED, reason),
        values={"hold_reason": reason[:255]},
    )
    return len(rows)


# --------------------------------------------------------------------------- the daily job


def instalments_refresh(
    *, day: datetime.date | None = None, agreement_ids: list[int] | None = None
) -> dict[str, int]:
    """Make due every instalment whose conditions hold — agreement signed, date reached, the
    required evaluation accepted, bank details known — and hold the ones an evaluation blocks;
    flag due instalments unpaid 60 days after they fell due. Set-based (a few queries whatever the
    number of agreements) and idempotent: a second run changes nothing."""
    day = day or today()
    counts = {"activated": 0, "due": 0, "on_hold": 0, "late": 0}
    with transaction.atomic():
        agreements = Agreement.objects.filter(state=A.SIGNED, first_year__lte=day.year)
        if agreement_ids is not None:
            agreements = agreements.filter(pk__in=agreement_ids)
        activated = list(agreements.values_list("pk", "reference"))
        if activated:
            Agreement.objects.filter(pk__in=[pk for pk, _r in activated], state=A.SIGNED).update(
                state=A.ACTIVE
            )
            audit_log_many(
                actor=None,
                model=Agreement,
                action="cpo.agreement.activated",
                entries=[
                    {"object_id": pk, "object_repr": ref, "source": A.SIGNED, "target": A.ACTIVE}
                    for pk, ref in activated
                ],
            )
            counts["activated"] = len(activated)

        candidates = Instalment.objects.filter(
            state__in=[I.PLANNED, I.ON_HOLD],
            agreement__state__in=[A.SIGNED, A.ACTIVE, A.COMPLETED],
            earliest_date__lte=day,
        )
        if agreement_ids is not None:
            candidates = candidates.filter(agreement_id__in=agreement_ids)
        rows = list(
            candidates.values(
                *ROW_FIELDS,
                "agreement_id",
                "requires_evaluation_of",
                "requires_valid_documents",
                "hold_reason",
                "agreement__organisation__iban",
            )
        )
        accepted = set(
            Evaluation.objects.filter(
                agreement_id__in={r["agreement_id"] for r in rows}, state__in=ACCEPTED_EVALUATIONS
            ).values_list("agreement_id", "fiscal_year")
        )
        to_due, to_hold = [], []
        for r in rows:
            reason = ""
            if (
                r["requires_evaluation_of"]
                and (r["agreement_id"], r["requires_evaluation_of"]) not in accepted
            ):
                reason = _("En attente de l'évaluation %(year)d acceptée") % {
                    "year": r["requires_evaluation_of"]
                }
            elif r["requires_valid_documents"] and not r["agreement__organisation__iban"]:
                reason = _("Coordonnées bancaires manquantes")
            if reason:
                if r["state"] != I.ON_HOLD or r["hold_reason"] != reason:
                    to_hold.append({**r, "reason": reason})
            else:
                to_due.append(r)
        for reason in {r["reason"] for r in to_hold}:
            group = [r for r in to_hold if r["reason"] == reason]
            instalments_transition(
                [r["pk"] for r in group],
                transition="hold",
                actor=None,
                entries=_instalment_entries(group, "state", I.ON_HOLD),
                values={"hold_reason": reason},
            )
        if to_due:
            instalments_transition(
                [r["pk"] for r in to_due],
                transition="make_due",
                actor=None,
                entries=_instalment_entries(to_due, "state", I.DUE),
                values={"hold_reason": "", "due_since": day},
            )
        counts["due"], counts["on_hold"] = len(to_due), len(to_hold)

        late = Instalment.objects.filter(
            state__in=OWED_STATES,
            is_late=False,
            due_since__lt=day - datetime.timedelta(days=LATE_AFTER_DAYS),
        )
        if agreement_ids is not None:
            late = late.filter(agreement_id__in=agreement_ids)
        late_rows = list(late.values(*ROW_FIELDS))
        if late_rows:
            Instalment.objects.filter(pk__in=[r["pk"] for r in late_rows]).update(is_late=True)
            audit_log_many(
                actor=None,
                model=Instalment,
                action="cpo.instalment.late",
                entries=_instalment_entries(late_rows, "state", I.DUE),
            )
        counts["late"] = len(late_rows)
    return counts


# --------------------------------------------------------------------------- evaluations


def evaluation_prefill(evaluation: Evaluation) -> list[dict[str, Any]]:
    """The planned column of the financial report, from the application's CERFA budget (the same
    accounts, so figures compare), and the indicators with their targets."""
    planned: dict[str, Decimal] = {}
    application = evaluation.agreement.application
    for item in application.budget_items.all() if application else []:
        planned[item.account] = planned.get(item.account, Decimal("0")) + item.amount
    return [
        {"account": a, "planned": planned.get(a, Decimal("0"))}
        for a in CHARGE_ACCOUNTS + PRODUCT_ACCOUNTS
        if a in planned
    ]


def evaluation_submit(
    *,
    actor: User,
    evaluation: Evaluation,
    activity_report: str,
    budget_lines: list[dict[str, Any]],
    indicators: list[dict[str, Any]],
) -> Evaluation:
    """The association files its annual evaluation: activity report, financial report (planned vs
    actual by account group, CERFA n° 15059) and indicator values against their targets."""
    if not is_member(actor, evaluation.agreement.organisation):
        raise PermissionDenied(_("Vous n'agissez pas pour cette organisation."))
    errors: dict[str, list[str]] = {}
    if not (activity_report or "").strip():
        errors["activity_report"] = [_("Le rapport d'activité est obligatoire.")]
    valid_accounts = set(CHARGE_ACCOUNTS + PRODUCT_ACCOUNTS)
    lines = []
    for i, row in enumerate(budget_lines, start=1):
        try:
            planned, actual = Decimal(str(row["planned"])), Decimal(str(row["actual"]))
        except Exception:
            errors.setdefault("budget_lines", []).append(
                _("Ligne %(n)d : montant invalide.") % {"n": i}
            )
            continue
        if row.get("account") not in valid_accounts or planned < 0 or actual < 0:
            errors.setdefault("budget_lines", []).append(
                _("Ligne %(n)d : compte inconnu ou montant négatif.") % {"n": i}
            )
            continue
        lines.append(
            EvaluationBudgetLine(
                evaluation=evaluation, account=row["account"], planned=planned, actual=actual
            )
        )
    if not lines and "budget_lines" not in errors:
        errors["budget_lines"] = [_("Le compte rendu financier est vide.")]
    values = []
    for row in indicators:
        if row.get("actual") in (None, ""):
            errors.setdefault("indicators", []).append(
                _("Indiquez la valeur atteinte pour « %(label)s ».")
                % {"label": row.get("label", "")}
            )
            continue
        values.append(
            EvaluationIndicator(
                evaluation=evaluation,
                label=row["label"],
                unit=row.get("unit", ""),
                target=Decimal(str(row["target"])),
                actual=Decimal(str(row["actual"])),
            )
        )
    if errors:
        raise DomainError(_("L'évaluation est incomplète."), errors=errors)
    with transaction.atomic():
        evaluation = lock(evaluation)
        if evaluation.state == E.SUBMITTED:
            return evaluation
        evaluation.budget_lines.all().delete()
        evaluation.indicator_values.all().delete()
        EvaluationBudgetLine.objects.bulk_create(lines)
        EvaluationIndicator.objects.bulk_create(values)
        evaluation.activity_report = activity_report.strip()
        evaluation.submitted_at, evaluation.submitted_by = now(), actor
        evaluation = apply_transition(
            evaluation,
            "submit",
            actor=actor,
            action="cpo.evaluation.submitted",
            update_fields=["activity_report", "submitted_at", "submitted_by"],
        )
    return evaluation


REVIEW_OUTCOMES = {
    "accept": ("cpo.evaluation.accepted", E.ACCEPTED),
    "accept_with_reservations": (
        "cpo.evaluation.accepted_with_reservations",
        E.ACCEPTED_WITH_RESERVATIONS,
    ),
    "reject": ("cpo.evaluation.rejected", E.REJECTED),
}


def evaluation_review(
    *, actor: User, evaluation: Evaluation, outcome: str, comment: str = ""
) -> Evaluation:
    """The instructor accepts, accepts with reservations, or rejects. Wired, not just recorded:
    acceptance releases the instalments that waited for it; rejection keeps them on hold; an
    accepted final evaluation completes the agreement."""
    _staff(actor)
    if outcome not in REVIEW_OUTCOMES:
        raise DomainError(_("Décision inconnue."), field="outcome")
    if outcome != "accept" and not (comment or "").strip():
        raise DomainError(_("Motivez les réserves ou le rejet."), field="comment")
    action, target = REVIEW_OUTCOMES[outcome]
    with transaction.atomic():
        evaluation = lock(evaluation)
        if evaluation.state == target:
            return evaluation
        evaluation.review_comment = (comment or "").strip()
        evaluation.reviewed_at, evaluation.reviewed_by = now(), actor
        evaluation = apply_transition(
            evaluation,
            outcome,
            actor=actor,
            action=action,
            reason=comment,
            update_fields=["review_comment", "reviewed_at", "reviewed_by"],
        )
        agreement = evaluation.agreement
        notify(
            users=agreement.organisation.members.all(),
            title=_("Évaluation %(year)d : %(outcome)s")
            % {"year": evaluation.fiscal_year, "outcome": evaluation.get_state_display()},
            body=evaluation.review_comment,
        )
        if evaluation.is_final and target in ACCEPTED_EVALUATIONS and agreement.state == A.ACTIVE:
            apply_transition(
                lock(agreement), "complete", actor=actor, action=AGREEMENT_ACTIONS["complete"]
            )
    instalments_refresh(agreement_ids=[evaluation.agreement_id])
    return evaluation


def evaluations_remind(*, day: datetime.date | None = None) -> dict[str, int]:
    """Daily: remind the association 30 and 7 days before an evaluation is due; flag it overdue
    after. Each reminder is sent once."""
    day = day or today()
    counts = {"reminded": 0, "overdue": 0}
    pending = Evaluation.objects.filter(
        state__in=[E.EXPECTED, E.REJECTED], agreement__state__in=[A.SIGNED, A.ACTIVE, A.SUSPENDED]
    ).select_related("agreement__organisation")
    for evaluation in pending.filter(
        due_on__gte=day, due_on__lte=day + datetime.timedelta(days=max(REMINDER_DAYS))
    ):
        left = (evaluation.due_on - day).days
        due_marks = [
            d for d in REMINDER_DAYS if left <= d and str(d) not in evaluation.reminders_sent
        ]
        if not due_marks:
            continue
        with transaction.atomic():
            evaluation.reminders_sent = [*evaluation.reminders_sent, *(str(d) for d in due_marks)]
            evaluation.save(update_fields=["reminders_sent"])
            notify(
                users=evaluation.agreement.organisation.members.all(),
                title=_("Évaluation %(year)d à déposer avant le %(date)s")
                % {"year": evaluation.fiscal_year, "date": evaluation.due_on.strftime("%d/%m/%Y")},
            )
            audit_log(
                actor=None,
                obj=evaluation,
                action="cpo.evaluation.reminder_sent",
                payload={"days_left": left},
            )
        counts["reminded"] += 1
    overdue = list(
        pending.filter(due_on__lt=day, is_overdue=False).values_list(
            "pk", "agreement__reference", "fiscal_year"
        )
    )
    if overdue:
        Evaluation.objects.filter(pk__in=[pk for pk, _r, _y in overdue]).update(is_overdue=True)
        audit_log_many(
            actor=None,
            model=Evaluation,
            action="cpo.evaluation.overdue",
            entries=[
                {"object_id": pk, "object_repr": f"{ref} — {year}"} for pk, ref, year in overdue
            ],
        )
    counts["overdue"] = len(overdue)
    return counts


def funder_of(agreement: Agreement) -> Funder | None:
    link = agreement.funders.select_related("funder").first()
    return link.funder if link else None
