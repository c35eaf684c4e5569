"""The export of an approved run to the accounting system: the CSV and XLSX files, written once
and kept."""

from __future__ import annotations

import hashlib

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from core.clock import now
from core.errors import DomainError, TransitionNotAllowed
from core.fsm import apply_transition, lock
from core.models import Organisation, User
from cpo.models import Instalment
from cpo.models import InstalmentState as I  # noqa: N817
from cpo.transitions import instalments_transition
from finance.models import PaymentRun

from .common import ROW, RS, ItemStatus, _entry, _finance
from .runs import _invalidate_approvals


def payment_run_export(*, actor: User, run: PaymentRun) -> PaymentRun:
    """Hand an approved run to the accounting system: the CSV and XLSX files are written once and
    kept, so every later download is the same file. Refused if the bank details of an account it
    pays changed since approval (the run then goes back for approval)."""
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
                payload={"sha256": run.export_sha256, "items": len(rows), "total": run.total},
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
