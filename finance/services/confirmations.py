"""Applying the confirmations the accounting system returns (parsed and checked by
`finance.confirmations`): instalments become paid or due again, runs settle and close, and the
organisations paid are notified. Only items still pending change, so re-applying a file, or a worker
restarting halfway, pays nothing twice."""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.urls import reverse
from django.utils.translation import gettext_noop

from core.clock import now
from core.fsm import apply_transition
from core.models import Membership, User
from core.notifications import Euros, Msg, notify
from cpo.models import Instalment
from cpo.models import InstalmentState as I  # noqa: N817
from cpo.transitions import instalments_transition
from finance.models import PaymentRun, PaymentRunItem

from .common import ROW, RS, ItemStatus, _entry


def confirmations_apply_rows(
    *, actor: User | None, rows: list[dict[str, Any]], source: str = ""
) -> dict[str, int]:
    """Apply checked confirmation rows ({item: pk, status: paid|rejected, paid_on, reason}) in one
    transaction. Only items still pending change, so a repeated or resumed application changes
    nothing twice. Instalments become paid (charged to the run's year) or due again."""
    counts = {"paid": 0, "rejected": 0, "unchanged": 0}
    if not rows:
        return counts
    with transaction.atomic():
        wanted = {r["item"]: r for r in rows}
        pending = list(
            PaymentRunItem.objects.select_for_update(of=("self",))
            .filter(pk__in=list(wanted), status=ItemStatus.PENDING, run__state=RS.EXPORTED)
            .values("pk", "run_id", "instalment_id", "organisation_id", "amount", "fiscal_year")
        )
        counts["unchanged"] = len(wanted) - len(pending)
        stamp = now()
        paid = [p for p in pending if wanted[p["pk"]]["status"] == ItemStatus.PAID]
        rejected = [p for p in pending if wanted[p["pk"]]["status"] == ItemStatus.REJECTED]
        info = {
            r["pk"]: r
            for r in Instalment.objects.filter(pk__in=[p["instalment_id"] for p in pending]).values(
                *ROW
            )
        }
        run_refs = dict(
            PaymentRun.objects.filter(pk__in={p["run_id"] for p in pending}).values_list(
                "pk", "reference"
            )
        )
        by_date: dict[datetime.date, list[Mapping[str, Any]]] = defaultdict(list)
        for p in paid:
            by_date[wanted[p["pk"]]["paid_on"]].append(p)
        for paid_on, group in by_date.items():
            PaymentRunItem.objects.filter(pk__in=[p["pk"] for p in group]).update(
                status=ItemStatus.PAID, paid_on=paid_on, confirmed_at=stamp
            )
            for year in {p["fiscal_year"] for p in group}:
                of_year = [p for p in group if p["fiscal_year"] == year]
                instalments_transition(
                    [p["instalment_id"] for p in of_year],
                    transition="pay",
                    actor=actor,
                    values={
                        "paid_on": paid_on,
                        "charged_year": year,
                        "is_late": False,
                        "reject_reason": "",
                    },
                    entries=[
                        {
                            **_entry(
                                info[p["instalment_id"]], I.EXPORTED, I.PAID, run_refs[p["run_id"]]
                            ),
                            "payload": {
                                "run": run_refs[p["run_id"]],
                                "paid_on": paid_on,
                                "amount": p["amount"],
                                "source": source,
                            },
                        }
                        for p in of_year
                    ],
                )
        for p in rejected:
            reason = wanted[p["pk"]]["reason"][:255]
            PaymentRunItem.objects.filter(pk=p["pk"]).update(
                status=ItemStatus.REJECTED, reject_reason=reason, confirmed_at=stamp
            )
            instalments_transition(
                [p["instalment_id"]],
                transition="reject",
                actor=actor,
                values={"reject_reason": reason, "certified_at": None, "certified_by": None},
                entries=[
                    _entry(
                        info[p["instalment_id"]],
                        I.EXPORTED,
                        I.DUE,
                        run_refs[p["run_id"]],
                        wanted[p["pk"]]["reason"],
                    )
                ],
            )
        for run in PaymentRun.objects.select_for_update().filter(pk__in=run_refs).order_by("pk"):
            _settle(run, actor=actor)
        counts["paid"], counts["rejected"] = len(paid), len(rejected)
        _notify_paid(paid, wanted)
    return counts


def _settle(run: PaymentRun, *, actor: User | None) -> None:
    sums = dict(
        run.items.filter(status__in=[ItemStatus.PAID, ItemStatus.REJECTED])
        .values_list("status")
        .annotate(s=Sum("amount"))
    )
    run.paid_total = sums.get(ItemStatus.PAID) or Decimal("0")
    run.rejected_total = sums.get(ItemStatus.REJECTED) or Decimal("0")
    run.save(update_fields=["paid_total", "rejected_total"])
    if run.state == RS.EXPORTED and not run.items.filter(status=ItemStatus.PENDING).exists():
        run.closed_at = now()
        apply_transition(
            run,
            "close",
            actor=actor,
            action="cpo.payment_run.closed",
            payload={"paid": run.paid_total, "rejected": run.rejected_total},
            update_fields=["closed_at"],
        )


def _notify_paid(paid: Sequence[Mapping[str, Any]], wanted: dict[int, dict[str, Any]]) -> None:
    """One notification per organisation and payment date, to its members."""
    if not paid:
        return
    groups: dict[tuple[int, datetime.date], Decimal] = defaultdict(Decimal)
    for p in paid:
        groups[(p["organisation_id"], wanted[p["pk"]]["paid_on"])] += p["amount"]
    members: dict[int, list[User]] = defaultdict(list)
    for m in Membership.objects.filter(organisation_id__in={k[0] for k in groups}).select_related(
        "user"
    ):
        members[m.organisation_id].append(m.user)
    url = reverse("cpo:my_payments")
    for (organisation_id, paid_on), amount in groups.items():
        notify(
            users=members[organisation_id],
            title=Msg(
                gettext_noop("Paiement de %(amount)s effectué le %(date)s"),
                amount=Euros(amount),
                date=paid_on.strftime("%d/%m/%Y"),
            ),
            body=Msg(gettext_noop("Le virement a été confirmé par la comptabilité.")),
            url=url,
        )
