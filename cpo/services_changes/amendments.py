"""Amendments (avenants): preview, then create a new version of the agreement (docs/domain.md §4)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from core.audit import audit_log_many
from core.clock import today
from core.errors import DomainError
from core.models import User
from core.money import to_money

from ..models import (
    Agreement,
    AgreementFunder,
    AgreementState,
    AgreementYear,
    Amendment,
    Evaluation,
    Instalment,
    InstalmentState,
    Profile,
    RecoveryState,
)
from ..transitions import instalments_transition
from .common import (
    _staff,
    amendment_reason,
    lock_amendable,
    record_amendment,
)
from .plan import (
    _compute,
    _funder_json,
    _preview_dict,
)

A, I, R = AgreementState, InstalmentState, RecoveryState  # noqa: E741


def amendment_preview(
    *,
    agreement: Agreement,
    years: dict[int, Decimal] | None = None,
    duration_years: int | None = None,
    funders: list[dict[str, Any]] | None = None,
    effective_on: datetime.date | None = None,
    objectives: list[str] | None = None,
    actor: User | None = None,
) -> dict[str, Any]:
    """Before/after of an amendment, nothing written: each year (before, after, difference, the
    part already settled, status added/removed/changed/replanned/unchanged), totals, duration,
    kind, funders, objectives, the instalments to cancel and to create, evaluations added or
    removed, warnings. Raises the same DomainError as `amendment_create` would. The effective date
    defaults to today; with `actor`, checks that the actor may amend."""
    if actor is not None:
        _staff(actor)
    change = _compute(
        agreement,
        effective_on=effective_on or today(),
        years=years,
        duration_years=duration_years,
        objectives=objectives,
        funders=funders,
    )
    return _preview_dict(agreement, change)


def _years_json(years: dict[int, Decimal]) -> dict[str, str]:
    return {str(y): str(to_money(a)) for y, a in sorted(years.items())}


def amendment_create(
    *,
    actor: User,
    agreement: Agreement,
    reason: str,
    effective_on: datetime.date,
    years: dict[int, Decimal] | None = None,
    duration_years: int | None = None,
    objectives: list[str] | None = None,
    funders: list[dict[str, Any]] | None = None,
) -> Amendment:
    """Amend a signed, running or suspended agreement: a new version with its reason, author,
    effective date and the before/after of what changed (yearly amounts, duration, objectives,
    co-funding). What is already due is never rewritten; the planned instalments of the years
    from the effective date on are cancelled and re-planned (see the module docstring). Total and
    kind (convention above 23 000 € a year, loi n° 2000-321 art. 10) are recomputed. One audit row
    `cpo.agreement.amended`, plus one per instalment cancelled or re-planned."""
    _staff(actor)
    reason = amendment_reason(reason)
    with transaction.atomic():
        agreement = lock_amendable(agreement)
        change = _compute(
            agreement,
            effective_on=effective_on,
            years=years,
            duration_years=duration_years,
            objectives=objectives,
            funders=funders,
        )
        if change.is_empty:
            raise DomainError(
                _(
                    "L'avenant ne modifie ni les montants, ni la durée, ni les objectifs, ni les financeurs."
                )
            )
        version = agreement.version + 1
        label = _("Avenant n° %(n)s") % {"n": version - 1}
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}

        # Co-funding: shares and legal commitments; a funder that leaves keeps its row at 0.
        links = {link.funder_id: link for link in agreement.funders.all()}
        if change.funders_changed or change.ej_changed:
            before["funders"] = _funder_json(change.funders_before)
            after["funders"] = _funder_json(change.funders_after)
            kept = set()
            for row in change.funders_after:
                link = links.get(row["funder"].pk)
                if link is None:
                    link = AgreementFunder.objects.create(
                        agreement=agreement,
                        funder=row["funder"],
                        share=row["share"],
                        ej_number=row["ej_number"],
                    )
                    links[link.funder_id] = link
                else:
                    link.share, link.ej_number = row["share"], row["ej_number"]
                    link.save(update_fields=["share", "ej_number"])
                kept.add(link.funder_id)
            AgreementFunder.objects.filter(agreement=agreement).exclude(funder_id__in=kept).update(
                share=Decimal("0")
            )
        if change.funders_changed:
            # New shares: they, not the amounts first granted, now say each funder's part.
            AgreementFunder.objects.filter(agreement=agreement).update(granted_amount=None)
        elif change.granted_after is not None and change.years_changed:
            before["granted"] = {
                str(link.funder_id): str(link.granted_amount) for link in links.values()
            }
            after["granted"] = {str(k): str(v) for k, v in change.granted_after.items()}
            for funder_id, granted in change.granted_after.items():
                link = links[funder_id]
                link.granted_amount = granted
                link.save(update_fields=["granted_amount"])

        # Cancel what is re-planned or removed, one audit row each.
        instalments_transition(
            [i.pk for i in change.to_cancel],
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
                for i in change.to_cancel
            ],
        )

        # Years: removed ones go (their planned instalments and expected evaluation with them).
        if change.years_changed:
            before["years"] = _years_json(change.years_before)
            after["years"] = _years_json(change.years_after)
        if change.removed_years:
            AgreementYear.objects.filter(
                agreement=agreement, fiscal_year__in=change.removed_years
            ).delete()
            Evaluation.objects.filter(
                agreement=agreement, fiscal_year__in=change.removed_years
            ).delete()
        year_rows = {}
        for fiscal_year, amount in change.years_after.items():
            year_rows[fiscal_year], _created = AgreementYear.objects.update_or_create(
                agreement=agreement, fiscal_year=fiscal_year, defaults={"amount": amount}
            )

        # New instalments: on hold at once if the agreement is suspended.
        suspended = agreement.state == A.SUSPENDED
        created = Instalment.objects.bulk_create(
            [
                Instalment(
                    agreement=agreement,
                    year=year_rows[n.fiscal_year],
                    funder=links[n.funder_id],
                    number=n.number,
                    kind=n.kind,
                    amount=n.amount,
                    earliest_date=n.earliest_date,
                    requires_signature=n.requires_signature,
                    requires_evaluation_of=n.requires_evaluation_of,
                    requires_valid_documents=n.requires_valid_documents,
                    amendment_version=version,
                    state=I.ON_HOLD if suspended else I.PLANNED,
                    hold_reason=_("Convention suspendue") if suspended else "",
                )
                for n in change.to_create
            ]
        )
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
                    "payload": {"amendment_version": version, "amount": i.amount},
                }
                for i in created
            ],
        )

        # Evaluations: one per year, the final one the last year's.
        from ..services import evaluation_due_on

        Evaluation.objects.bulk_create(
            [
                Evaluation(
                    agreement=agreement,
                    fiscal_year=fiscal_year,
                    due_on=evaluation_due_on(fiscal_year, agreement.evaluation_delay_months),
                )
                for fiscal_year in change.added_years
            ]
        )
        last_year = max(change.years_after)
        agreement.evaluations.exclude(fiscal_year=last_year).update(is_final=False)
        agreement.evaluations.filter(fiscal_year=last_year).update(is_final=True)

        # The agreement itself.
        fields = ["version"]
        total = sum(change.years_after.values(), Decimal("0"))
        if len(change.years_after) != agreement.duration_years:
            before["duration_years"] = agreement.duration_years
            after["duration_years"] = len(change.years_after)
            agreement.duration_years = len(change.years_after)
            fields.append("duration_years")
        if total != agreement.total_amount:
            before["total_amount"] = str(agreement.total_amount)
            after["total_amount"] = str(to_money(total))
            agreement.total_amount = total
            fields.append("total_amount")
        if change.kind_after != agreement.kind:
            before["kind"], after["kind"] = agreement.kind, change.kind_after
            agreement.kind = change.kind_after
            fields.append("kind")
        if change.years_changed and agreement.profile != Profile.CUSTOM:
            # The amended years follow no profile any more.
            before["profile"], after["profile"] = agreement.profile, Profile.CUSTOM
            agreement.profile, agreement.profile_rate, agreement.profile_step = (
                Profile.CUSTOM,
                None,
                None,
            )
            fields += ["profile", "profile_rate", "profile_step"]
        if change.objectives_changed:
            before["objectives"] = change.objectives_before
            after["objectives"] = change.objectives_after
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
            cancelled=len(change.to_cancel),
            created=len(created),
        )
    if agreement.state == A.ACTIVE and created:
        from ..services import instalments_refresh

        instalments_refresh(agreement_ids=[agreement.pk])
    return amendment
