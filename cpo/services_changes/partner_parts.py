"""Amendments of an agreement paid to each partner of a collective file (docs/domain.md §9): the
amendment changes a payee's yearly amounts — the lead's own part or a partner's —; the unpaid
instalments of each changed part are cancelled and planned again for that payee, the year's
amount and the agreement's total follow (the parts always add up to them).

Rules, as for any amendment (`amendments.py`): staff only, a reason, an agreement signed, running
or suspended; a year before the effective date never changes; what is already due, paid or offset
is never rewritten, so a part cannot fall below what its payee already has. The funders' shares
do not change here (a co-funding amendment of such an agreement stays refused). The new
instalments of a part take the slots (kind, date, conditions) of the ones they replace, the rest
split in proportion to them to the cent; with no slot left, one instalment from the effective
date. One audit row `cpo.agreement.amended`, plus one per instalment cancelled or planned."""

from __future__ import annotations

import datetime
from collections import defaultdict
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from core.audit import audit_log_many
from core.errors import DomainError
from core.models import Organisation, User
from core.money import split_exact, to_money

from .. import schedules
from ..models import (
    Agreement,
    AgreementState,
    AgreementYear,
    Amendment,
    Instalment,
    InstalmentState,
    Recovery,
    RecoveryState,
)
from ..transitions import instalments_transition
from .common import (
    REPLANNABLE,
    _eur,
    _staff,
    _threshold,
    amendment_reason,
    check_effective_on,
    lock_amendable,
    record_amendment,
)

A, I = AgreementState, InstalmentState  # noqa: E741
Payee = int | None  # an organisation id; None: the lead (the agreement's organisation)


def _amount(value: Any, label: str) -> Decimal:
    try:
        amount = Decimal(str(value).replace(",", ".").replace(" ", "").replace("\u202f", ""))
    except (InvalidOperation, ValueError):
        raise DomainError(_("%(part)s : montant invalide.") % {"part": label}, field="parts")
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise DomainError(
            _("%(part)s : le montant doit être positif, au centime près.") % {"part": label},
            field="parts",
        )
    return to_money(amount)


def amendment_partner_parts(
    *,
    actor: User,
    agreement: Agreement,
    reason: str,
    effective_on: datetime.date,
    parts: dict[Payee, dict[int, Any]],
    new_payees: frozenset[int] = frozenset(),
) -> Amendment:
    """Amend the yearly parts of an agreement paid to each partner: `parts` maps a payee (an
    organisation id, None for the lead) to its new amount for some fiscal years. `new_payees`:
    organisations not paid yet that the amendment adds (`partner_addition.py`)."""
    _staff(actor)
    reason = amendment_reason(reason)
    check_effective_on(effective_on)
    with transaction.atomic():
        agreement = lock_amendable(agreement)
        instalments = list(
            agreement.instalments.exclude(state=I.CANCELLED)
            .select_related("year")
            .order_by("year__fiscal_year", "funder_id", "earliest_date", "number", "pk")
        )
        if not any(i.beneficiary_id for i in instalments):
            raise DomainError(
                _(
                    "Cette convention ne verse pas à chaque partenaire : modifiez ses montants par un avenant ordinaire."
                ),
                field="parts",
            )
        offsets: dict[int, Decimal] = defaultdict(Decimal)
        for instalment_id, amount in Recovery.objects.filter(
            agreement=agreement, state=RecoveryState.OFFSET, offset_instalment__isnull=False
        ).values_list("offset_instalment_id", "amount"):
            offsets[instalment_id] += amount
        payees: set[Payee] = {i.beneficiary_id for i in instalments} | set(new_payees)
        names = {None: agreement.organisation.name} | dict(
            Organisation.objects.filter(pk__in=[p for p in payees if p]).values_list("pk", "name")
        )
        year_rows = {y.fiscal_year: y for y in agreement.years.all()}
        current: dict[tuple[Payee, int], Decimal] = defaultdict(Decimal)
        for i in instalments:
            current[(i.beneficiary_id, i.year.fiscal_year)] += i.amount + offsets.get(i.pk, 0)

        changed: list[tuple[Payee, int, Decimal]] = []
        for payee, years in (parts or {}).items():
            if payee not in payees:
                raise DomainError(
                    _("Cette organisation n'est pas payée par la convention."), field="parts"
                )
            for fiscal_year, value in (years or {}).items():
                fiscal_year = int(fiscal_year)
                if fiscal_year not in year_rows:
                    raise DomainError(
                        _("L'exercice %(year)s est hors de la convention.") % {"year": fiscal_year},
                        field="parts",
                    )
                new = _amount(value, f"{names[payee]} {fiscal_year}")
                if new == current[(payee, fiscal_year)]:
                    continue
                if fiscal_year < effective_on.year:
                    raise DomainError(
                        _(
                            "L'exercice %(year)s précède la date d'effet de l'avenant (%(date)s) : "
                            "son montant ne peut plus changer."
                        )
                        % {"year": fiscal_year, "date": effective_on.strftime("%d/%m/%Y")},
                        field="parts",
                    )
                changed.append((payee, fiscal_year, new))
        if not changed:
            raise DomainError(_("L'avenant ne modifie aucune part."), field="parts")

        links = [link for link in agreement.funders.order_by("pk") if link.share > 0]
        shares = [(str(link.pk), link.share) for link in links]
        version = agreement.version + 1
        label = _("Avenant n° %(n)s") % {"n": version - 1}
        suspended = agreement.state == A.SUSPENDED
        numbers: dict[tuple[int, int], int] = defaultdict(int)
        to_cancel: list[Instalment] = []
        to_create: list[Instalment] = []
        for payee, fiscal_year, new in sorted(changed, key=lambda c: (c[1], c[0] or 0)):
            # A part brought to nothing (a partner removed, `partner_removal.py`): no split.
            fulls = (
                dict(schedules.split_between_funders(new, shares))
                if new > 0
                else {key: Decimal(0) for key, _share in shares}
            )
            for link in links:
                mine = [
                    i
                    for i in instalments
                    if i.beneficiary_id == payee
                    and i.year.fiscal_year == fiscal_year
                    and i.funder_id == link.pk
                ]
                slots = [i for i in mine if i.state in REPLANNABLE and not offsets.get(i.pk)]
                settled = sum(
                    (i.amount + offsets.get(i.pk, 0) for i in mine if i not in slots), Decimal(0)
                )
                rest = fulls[str(link.pk)] - settled
                if rest < 0:
                    raise DomainError(
                        _(
                            "Exercice %(year)s : %(org)s a déjà %(settled)s exigibles, versés ou "
                            "compensés, plus que sa nouvelle part (%(part)s)."
                        )
                        % {
                            "year": fiscal_year,
                            "org": names[payee],
                            "settled": _eur(settled),
                            "part": _eur(fulls[str(link.pk)]),
                        },
                        field="parts",
                    )
                to_cancel += slots
                if rest == 0:
                    continue
                if slots:
                    amounts = split_exact(rest, [i.amount for i in slots])
                    shapes = [
                        (
                            i.kind,
                            i.earliest_date,
                            i.requires_evaluation_of,
                            i.requires_valid_documents,
                        )
                        for i in slots
                    ]
                else:
                    when = max(
                        d
                        for d in (
                            effective_on,
                            datetime.date(fiscal_year, 1, 1),
                            agreement.signed_on,
                        )
                        if d
                    )
                    previous = None if fiscal_year == agreement.first_year else fiscal_year - 1
                    amounts, shapes = [rest], [(Instalment.Kind.CUSTOM, when, previous, True)]
                for amount, (kind, when, evaluation_of, documents) in zip(
                    amounts, shapes, strict=True
                ):
                    if amount <= 0:
                        continue
                    numbers[(fiscal_year, link.pk)] += 1
                    to_create.append(
                        Instalment(
                            agreement=agreement,
                            year=year_rows[fiscal_year],
                            funder=link,
                            beneficiary_id=payee,
                            number=numbers[(fiscal_year, link.pk)],
                            kind=kind,
                            amount=amount,
                            earliest_date=when,
                            requires_signature=True,
                            requires_evaluation_of=evaluation_of,
                            requires_valid_documents=documents,
                            amendment_version=version,
                            state=I.ON_HOLD if suspended else I.PLANNED,
                            hold_reason=_("Convention suspendue") if suspended else "",
                        )
                    )

        instalments_transition(
            [i.pk for i in to_cancel],
            transition="cancel",
            actor=actor,
            values={"hold_reason": str(label)[:255]},
            entries=[
                {
                    "object_id": i.pk,
                    "object_repr": str(i),
                    "source": i.state,
                    "target": I.CANCELLED,
                    "reason": str(label),
                    "payload": {"amendment_version": version, "amount": i.amount},
                }
                for i in to_cancel
            ],
        )
        created = Instalment.objects.bulk_create(to_create)
        audit_log_many(
            actor=actor,
            model=Instalment,
            action="cpo.instalment.replanned",
            entries=[
                {
                    "object_id": i.pk,
                    "object_repr": f"{agreement.reference} {i.year.fiscal_year} n° {i.number}",
                    "target": i.state,
                    "reason": str(label),
                    "payload": {
                        "amendment_version": version,
                        "amount": i.amount,
                        "beneficiary": i.beneficiary_id,
                    },
                }
                for i in created
            ],
        )

        # The years and the total follow the parts.
        years_before = {y: row.amount for y, row in year_rows.items()}
        years_after = dict(years_before)
        for payee, fiscal_year, new in changed:
            years_after[fiscal_year] += new - current[(payee, fiscal_year)]
        for fiscal_year, amount in years_after.items():
            if amount != years_before[fiscal_year]:
                AgreementYear.objects.filter(pk=year_rows[fiscal_year].pk).update(amount=amount)
        before: dict[str, Any] = {
            "partner_parts": [
                {"organisation": names[p], "fiscal_year": y, "amount": str(current[(p, y)])}
                for p, y, _new in changed
            ],
            "years": {str(y): str(a) for y, a in years_before.items()},
            "total_amount": str(agreement.total_amount),
        }
        after: dict[str, Any] = {
            "partner_parts": [
                {"organisation": names[p], "fiscal_year": y, "amount": str(new)}
                for p, y, new in changed
            ],
            "years": {str(y): str(a) for y, a in years_after.items()},
        }
        total = sum(years_after.values(), Decimal(0))
        agreement.total_amount = total
        after["total_amount"] = str(total)
        fields = ["version", "total_amount"]
        kind = (
            Agreement.Kind.AGREEMENT
            if max(years_after.values()) > _threshold()
            else Agreement.Kind.DECISION
        )
        if kind != agreement.kind:
            before["kind"], after["kind"] = agreement.kind, kind
            agreement.kind = kind
            fields.append("kind")
        agreement.version = version
        agreement.save(update_fields=fields)
        amendment = record_amendment(
            agreement=agreement,
            actor=actor,
            version=version,
            reason=reason,
            effective_on=effective_on,
            before=before,
            after=after,
            cancelled=len(to_cancel),
            created=len(created),
        )
        # Each amended part adds up to its new amount (a safety net, in the same transaction).
        for payee, fiscal_year, new in changed:
            rows = agreement.instalments.filter(
                beneficiary_id=payee, year__fiscal_year=fiscal_year
            ).exclude(state=I.CANCELLED)
            total_part = sum((i.amount + offsets.get(i.pk, 0) for i in rows), Decimal(0))
            if total_part != new:
                raise DomainError(
                    _("Les échéances ne correspondent plus aux parts : avenant annulé.")
                )
    if agreement.state == A.ACTIVE and created:
        from ..services import instalments_refresh

        instalments_refresh(agreement_ids=[agreement.pk])
    return amendment


def payee_parts(agreement: Agreement) -> list[dict[str, Any]]:
    """For the amendment form of an agreement paid to each partner: every payee (the lead first)
    with its current amount per fiscal year (instalments not cancelled, offsets included). Empty
    when the agreement pays its organisation only."""
    rows = list(
        agreement.instalments.exclude(state=I.CANCELLED).values_list(
            "pk", "beneficiary_id", "year__fiscal_year", "amount"
        )
    )
    if not any(beneficiary for _pk, beneficiary, _y, _a in rows):
        return []
    offsets: dict[int, Decimal] = defaultdict(Decimal)
    for instalment_id, amount in Recovery.objects.filter(
        agreement=agreement, state=RecoveryState.OFFSET, offset_instalment__isnull=False
    ).values_list("offset_instalment_id", "amount"):
        offsets[instalment_id] += amount
    years = sorted(agreement.years.values_list("fiscal_year", flat=True))
    amounts: dict[Payee, dict[int, Decimal]] = defaultdict(lambda: dict.fromkeys(years, Decimal(0)))
    for pk, beneficiary, fiscal_year, amount in rows:
        amounts[beneficiary][fiscal_year] += amount + offsets.get(pk, 0)
    names = dict(
        Organisation.objects.filter(pk__in=[p for p in amounts if p]).values_list("pk", "name")
    )
    order = sorted(amounts, key=lambda p: (p is not None, names.get(p or 0, "").casefold()))
    return [
        {
            "key": payee or 0,
            "name": agreement.organisation.name if payee is None else names.get(payee, ""),
            "is_lead": payee is None,
            "years": [{"year": y, "amount": amounts[payee][y]} for y in years],
        }
        for payee in order
    ]
