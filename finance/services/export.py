"""The export of an approved run to the accounting system: the CSV and XLSX files, written once
and kept."""

from __future__ import annotations

import hashlib
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core.audit import audit_log
from core.clock import now
from core.errors import DomainError, TransitionNotAllowed
from core.fsm import apply_transition, lock
from core.models import Organisation, User
from cpo.models import Instalment
from cpo.models import InstalmentState as I  # noqa: N817
from cpo.transitions import instalments_transition
from finance.models import PaymentRun, PaymentRunItem

from .common import ROW, RS, ItemStatus, _entry, _finance
from .runs import _invalidate_approvals


class MissingLegalCommitments(DomainError):
    """Payments of the run have no legal commitment number (EJ): exporting them needs an explicit
    confirmation (HTTP 409 with the list). `items` are the payments concerned, as dictionaries."""

    status_code = 409

    def __init__(self, message: Any, *, items: list[dict[str, Any]]) -> None:
        super().__init__(message, code="missing_ej")
        self.items = items


MISSING_EJ_FIELDS = (
    "pk",
    "beneficiary_name",
    "amount",
    "agreement_reference",
    "instalment_reference",
    "instalment__agreement_id",
)


def missing_ej_items(run: PaymentRun) -> list[dict[str, Any]]:
    """The payments still to be sent of a run that carry no EJ number, in the run's order."""
    rows = (
        run.items.filter(status=ItemStatus.PENDING, ej_number="")
        .order_by("pk")
        .values(*MISSING_EJ_FIELDS)
    )
    return [
        {
            "id": r["pk"],
            "beneficiary_name": r["beneficiary_name"],
            "amount": r["amount"],
            "agreement_reference": r["agreement_reference"],
            "agreement_id": r["instalment__agreement_id"],
            "instalment_reference": r["instalment_reference"],
        }
        for r in rows
    ]


def _fill_ej_from_agreements(run: PaymentRun) -> int:
    """Payments without an EJ take the number entered since on their agreement's funder (the
    warning's « fill them » link leads there). Returns how many were filled."""
    filled = 0
    for item in run.items.filter(status=ItemStatus.PENDING, ej_number="").select_related(
        "instalment__funder"
    ):
        number = item.instalment.funder.ej_number if item.instalment.funder_id else ""
        if number:
            PaymentRunItem.objects.filter(pk=item.pk).update(ej_number=number)
            filled += 1
    return filled


def payment_run_export(
    *, actor: User, run: PaymentRun, allow_missing_ej: bool = False
) -> PaymentRun:
    """Hand an approved run to the accounting system: the CSV and XLSX files are written once and
    kept, so every later download is the same file. Refused if the bank details of an account it
    pays changed since approval (the run then goes back for approval).

    A payment without a legal commitment number (EJ) is refused by the accounting system (three
    went out with an empty EJ, issue 16): the export stops with MissingLegalCommitments (409, the
    list) unless `allow_missing_ej` says the person confirmed — then an audit row
    `cpo.payment_run.missing_ej_confirmed` names every payment concerned."""
    _finance(actor)
    from finance.resources import payment_run_files

    blocked = None
    with transaction.atomic():
        run = lock(run)
        if run.state != RS.APPROVED:
            raise TransitionNotAllowed(
                _("Le lot %(ref)s est « %(state)s » : seul un lot validé peut être transmis.")
                % {"ref": run.reference, "state": run.get_state_display()},
                allowed=[],
            )
        stale = list(
            run.items.filter(status=ItemStatus.PENDING)
            .exclude(iban=F("organisation__iban"), bic=F("organisation__bic"))
            .values_list("beneficiary_name", flat=True)[:5]
        ) + list(
            run.items.filter(
                status=ItemStatus.PENDING, organisation__bank_details_changed_at__gt=run.approved_at
            ).values_list("beneficiary_name", flat=True)[:5]
        )
        if stale:
            blocked = _(
                "Coordonnées bancaires modifiées depuis la validation (%(orgs)s) : le lot doit être "
                "validé à nouveau."
            ) % {"orgs": ", ".join(sorted(set(stale)))}
            for organisation in Organisation.objects.filter(
                pk__in=run.items.filter(status=ItemStatus.PENDING).values("organisation_id")
            ):
                run.items.filter(status=ItemStatus.PENDING, organisation=organisation).update(
                    iban=organisation.iban, bic=organisation.bic
                )
            _invalidate_approvals(run, actor=actor, reason=blocked)
        else:
            filled = _fill_ej_from_agreements(run)
            missing = missing_ej_items(run)
            if missing and not allow_missing_ej:
                raise MissingLegalCommitments(
                    ngettext(
                        "%(n)d paiement du lot %(ref)s n'a pas de numéro d'engagement juridique "
                        "(EJ) : complétez-le ou confirmez l'export.",
                        "%(n)d paiements du lot %(ref)s n'ont pas de numéro d'engagement "
                        "juridique (EJ) : complétez-les ou confirmez l'export.",
                        len(missing),
                    )
                    % {"n": len(missing), "ref": run.reference},
                    items=missing,
                )
            if missing:
                audit_log(
                    actor=actor,
                    obj=run,
                    action="cpo.payment_run.missing_ej_confirmed",
                    payload={
                        "items": [
                            {
                                "id": m["id"],
                                "instalment": m["instalment_reference"],
                                "amount": str(m["amount"]),
                            }
                            for m in missing
                        ]
                    },
                )
            csv_bytes, xlsx_bytes = payment_run_files(run)
            run.export_sha256 = hashlib.sha256(csv_bytes).hexdigest()
            run.export_csv.save(f"{run.reference}.csv", ContentFile(csv_bytes), save=False)
            run.export_xlsx.save(f"{run.reference}.xlsx", ContentFile(xlsx_bytes), save=False)
            run.exported_at, run.exported_by = now(), actor
            pending = run.items.filter(status=ItemStatus.PENDING)
            rows = list(
                Instalment.objects.filter(pk__in=pending.values("instalment_id")).values(*ROW)
            )
            instalments_transition(
                [r["pk"] for r in rows],
                transition="export",
                actor=actor,
                entries=[_entry(r, I.IN_RUN, I.EXPORTED, run.reference) for r in rows],
            )
            run = apply_transition(
                run,
                "export",
                actor=actor,
                action="cpo.payment_run.exported",
                payload={
                    "sha256": run.export_sha256,
                    "items": len(rows),
                    "total": run.total,
                    "missing_ej": len(missing),
                    "ej_filled": filled,
                },
                update_fields=[
                    "export_csv",
                    "export_xlsx",
                    "export_sha256",
                    "exported_at",
                    "exported_by",
                ],
            )
    if blocked:
        raise DomainError(blocked)
    return run
