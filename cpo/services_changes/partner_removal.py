"""An amendment that removes a partner from an agreement paid to each partner (docs/domain.md §9,
issue 18): the partner keeps what is already due, paid or offset; its instalments still planned or
on hold are cancelled; the part it frees, year by year from the effective date, goes to the lead
(`reallocate`) or leaves the agreement (the years and the total are reduced). The amounts are
moved by `amendment_partner_parts` (same checks, same audit, the totals balanced); the partner
then leaves the file (`ApplicationPartner.leave`), audited on the file. Adding a partner after the
decision: `partner_addition.py`."""

from __future__ import annotations

import datetime
from collections import defaultdict
from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext as _

from core.audit import audit_log
from core.errors import DomainError
from core.fsm import lock, transition_step
from core.models import Organisation, User
from grants.models import ApplicationPartner, PartnerState

from ..models import Agreement, Amendment, InstalmentState, Recovery, RecoveryState
from .common import REPLANNABLE, _staff
from .partner_parts import Payee, amendment_partner_parts


def amendment_partner_remove(
    *,
    actor: User,
    agreement: Agreement,
    organisation: Organisation,
    reason: str,
    effective_on: datetime.date,
    reallocate: bool,
) -> Amendment:
    """Remove a partner paid by the agreement; `reallocate`: its freed part goes to the lead."""
    _staff(actor)
    with transaction.atomic():
        agreement = lock(agreement)
        if organisation.pk == agreement.organisation_id:
            raise DomainError(
                _("Le chef de file ne peut pas être retiré de sa propre convention."),
                field="organisation",
            )
        application_id = agreement.application_id or 0  # an agreement without a file: no partner
        partner = (
            ApplicationPartner.objects.filter(
                application_id=application_id,
                organisation=organisation,
                state=PartnerState.ACCEPTED,
            )
            .order_by("pk")
            .first()
        )
        instalments = list(
            agreement.instalments.exclude(state=InstalmentState.CANCELLED).select_related("year")
        )
        own = [i for i in instalments if i.beneficiary_id == organisation.pk]
        if partner is None or not own:
            raise DomainError(
                _("Cette organisation n'est pas un partenaire payé par la convention."),
                field="organisation",
            )
        offsets: dict[int, Decimal] = defaultdict(Decimal)
        for instalment_id, amount in Recovery.objects.filter(
            agreement=agreement, state=RecoveryState.OFFSET, offset_instalment__isnull=False
        ).values_list("offset_instalment_id", "amount"):
            offsets[instalment_id] += amount
        first_year = effective_on.year if isinstance(effective_on, datetime.date) else 0
        current: dict[int, Decimal] = defaultdict(Decimal)
        kept: dict[int, Decimal] = defaultdict(Decimal)
        for i in own:
            amount = i.amount + offsets.get(i.pk, Decimal(0))
            current[i.year.fiscal_year] += amount
            if i.state not in REPLANNABLE or offsets.get(i.pk):
                kept[i.year.fiscal_year] += amount
        lead: dict[int, Decimal] = defaultdict(Decimal)
        for i in instalments:
            if i.beneficiary_id is None:
                lead[i.year.fiscal_year] += i.amount + offsets.get(i.pk, Decimal(0))
        parts: dict[Payee, dict[int, Decimal]] = {organisation.pk: {}, None: {}}
        for year in sorted(current):
            if year < first_year or current[year] == kept[year]:
                continue
            parts[organisation.pk][year] = kept[year]
            if reallocate:
                parts[None][year] = lead[year] + current[year] - kept[year]
        if not parts[organisation.pk]:
            raise DomainError(
                _(
                    "Rien à retirer : tout ce qui revient à ce partenaire à partir de la date "
                    "d'effet est déjà exigible, versé ou compensé."
                ),
                field="organisation",
            )
        amendment = amendment_partner_parts(
            actor=actor,
            agreement=agreement,
            reason=reason,
            effective_on=effective_on,
            parts={payee: years for payee, years in parts.items() if years},
        )
        partner = lock(partner)
        source = transition_step(partner, "leave")
        partner.approved_amount = sum(
            (
                i.amount
                for i in agreement.instalments.filter(beneficiary=organisation).exclude(
                    state=InstalmentState.CANCELLED
                )
            ),
            Decimal(0),
        )
        partner.save(update_fields=["state", "approved_amount"])
        audit_log(
            actor=actor,
            obj=partner.application,
            action="cpo.agreement.partner_removed",
            source=source,
            target=partner.state,
            reason=amendment.reason,
            payload={
                "partner": partner.pk,
                "organisation": organisation.pk,
                "agreement": agreement.pk,
                "amendment_version": amendment.version,
                "reallocated": reallocate,
                "freed": str(sum(current[y] - kept[y] for y in parts[organisation.pk])),
            },
        )
    return amendment
