"""Retention rules of the payment side (registered with core.privacy in FinanceConfig.ready): the
bank details (IBAN, BIC) of closed agreements, on the organisation's profile and copied into the
payment records (docs/domain.md §1, §5 and §10)."""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import F, Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.audit import audit_log_many
from core.clock import now
from core.models import AuditLog, Organisation, User
from core.privacy.retention import RetentionRule, register_rule
from cpo.models import UNPAID_STATES, Agreement, Instalment
from cpo.privacy import RUNNING_STATES
from grants.models import OPEN_STATES, Application

from .models import PaymentRun, PaymentRunItem, PaymentRunState

PROFILE_RULE = "finance.organisation_bank_details"
PAYMENTS_RULE = "finance.payment_bank_details"
#: Public accounting keeps its supporting records ten years (décret n° 2012-1246; the same term as
#: core.bank_documents).
ACCOUNTING_YEARS = 10


def closed_account_organisations(cutoff: datetime.datetime) -> QuerySet[Organisation]:
    """Organisations with bank details whose agreements are all closed since before `cutoff`: none
    running or whose last fiscal year ended on or after the cutoff's year, no instalment still to
    pay, no payment in an open run, no file under instruction."""
    recent_agreements = Agreement.objects.filter(
        Q(state__in=RUNNING_STATES) | Q(first_year__gt=cutoff.year - F("duration_years"))
    ).values("organisation_id")
    unpaid = Instalment.objects.filter(state__in=UNPAID_STATES).values("agreement__organisation_id")
    pending = PaymentRunItem.objects.filter(status=PaymentRunItem.Status.PENDING).values(
        "organisation_id"
    )
    open_files = Application.objects.filter(state__in=OPEN_STATES).values("organisation_id")
    return (
        Organisation.objects.filter(Q(created_at__lt=cutoff), ~Q(iban="") | ~Q(bic=""))
        .exclude(pk__in=recent_agreements)
        .exclude(pk__in=unpaid)
        .exclude(pk__in=pending)
        .exclude(pk__in=open_files)
    )


def profile_apply(cutoff: datetime.datetime) -> int:
    """Blank the bank details on these organisations' profiles, one audit row each. A direct
    update, not `organisation_set_bank_details`: nothing is to be paid to them, so no run has to
    go back for approval, and the blank IBAN is what the rule wants (that service refuses it)."""
    rows = list(closed_account_organisations(cutoff).values("pk", "name"))
    if not rows:
        return 0
    Organisation.objects.filter(pk__in=[r["pk"] for r in rows]).update(iban="", bic="")
    audit_log_many(
        actor=None,
        model=Organisation,
        action="core.retention.deleted",
        entries=[
            {
                "object_id": r["pk"],
                "object_repr": r["name"],
                "reason": str(_("Conventions closes")),
                "payload": {"rule": PROFILE_RULE, "fields": ["iban", "bic"]},
            }
            for r in rows
        ],
    )
    return len(rows)


def payments_apply(cutoff: datetime.datetime) -> int:
    """Blank the IBAN and BIC copied into the payments of runs settled (or abandoned) before the
    cutoff and delete the runs' export files, which hold them; one audit row per run. The
    payment itself (beneficiary, SIRET, amount, dates, references) and the export's SHA-256 stay."""
    runs = PaymentRun.objects.filter(
        Q(state=PaymentRunState.CLOSED, closed_at__lt=cutoff)
        | Q(state=PaymentRunState.CANCELLED, created_at__lt=cutoff)
    ).filter(
        Q(pk__in=PaymentRunItem.objects.filter(~Q(iban="") | ~Q(bic="")).values("run_id"))
        | ~Q(export_csv="")
        | ~Q(export_xlsx="")
    )
    entries: list[dict[str, Any]] = []
    items = deleted_files = 0
    for run in runs.order_by("pk"):
        count = (
            PaymentRunItem.objects.filter(run=run).exclude(iban="", bic="").update(iban="", bic="")
        )
        files: list[str] = []
        for field in (run.export_csv, run.export_xlsx):
            if field:
                files.append((field.name or "").rsplit("/", 1)[-1])
                field.delete(save=False)
        deleted_files += len(files)
        PaymentRun.objects.filter(pk=run.pk).update(export_csv="", export_xlsx="")
        items += count
        entries.append(
            {
                "object_id": run.pk,
                "object_repr": run.reference,
                "reason": str(_("Paiements de plus de 10 ans")),
                "payload": {"rule": PAYMENTS_RULE, "items": count, "files": files},
            }
        )
    audit_log_many(actor=None, model=PaymentRun, action="core.retention.deleted", entries=entries)
    return items + deleted_files


def bank_details_hold(user: User) -> str | None:
    """Who entered an organisation's bank details is part of the spending's internal control (a
    diverted IBAN is the classic fraud): kept while a payment made to that account, or on its
    way, is within the ten years of the accounting records."""
    cutoff = now() - datetime.timedelta(days=ACCOUNTING_YEARS * 365)
    changes = AuditLog.objects.filter(
        action="core.organisation.bank_details_changed", actor=user, created_at__gte=cutoff
    ).values_list("object_id", "created_at")
    names = []
    for object_id, changed_at in changes:
        paid_after = (
            PaymentRunItem.objects.filter(
                organisation_id=int(object_id), run__created_at__gte=changed_at
            )
            .exclude(status=PaymentRunItem.Status.REMOVED)
            .exists()
        )
        if paid_after:
            names.append(
                Organisation.objects.filter(pk=int(object_id)).values_list("name", flat=True)[0]
            )
    if not names:
        return None
    return _(
        "A saisi les coordonnées bancaires de %(orgs)s, utilisées depuis pour des paiements : "
        "qui a saisi un IBAN est une pièce du contrôle interne de la dépense, conservée "
        "10 ans avec les pièces comptables (décret n° 2012-1246 du 7 novembre 2012)."
    ) % {"orgs": ", ".join(sorted(set(names)))}


def register() -> None:
    register_rule(
        RetentionRule(
            code=PROFILE_RULE,
            data=gettext_lazy(
                "Coordonnées bancaires (IBAN, BIC) des organisations aux conventions closes"
            ),
            duration=gettext_lazy(
                "1 an après la fin de la dernière convention, rien ne restant à payer"
            ),
            days=365,
            legal_basis=gettext_lazy(
                "Exécution des conventions (RGPD art. 6-1-e) : verser les subventions"
            ),
            action="delete",
            kept=gettext_lazy(
                "Les copies dans les paiements effectués (règle suivante), les montants et "
                "les décisions ; qui a modifié l'IBAN et quand (journal d'audit, IBAN masqué)"
            ),
            app="finance",
            apply=profile_apply,
            hold=bank_details_hold,
        )
    )
    register_rule(
        RetentionRule(
            code=PAYMENTS_RULE,
            data=gettext_lazy(
                "IBAN et BIC copiés dans les paiements et les fichiers transmis à la comptabilité"
            ),
            duration=gettext_lazy("10 ans après le solde du lot de paiement"),
            days=ACCOUNTING_YEARS * 365,
            legal_basis=gettext_lazy(
                "Obligation légale : pièces justificatives de la comptabilité publique "
                "(décret n° 2012-1246 ; code de commerce art. L123-22)"
            ),
            action="delete",
            kept=gettext_lazy(
                "Chaque paiement (bénéficiaire, SIRET, montant, date, convention, échéance, "
                "n° EJ) et l'empreinte SHA-256 du fichier transmis"
            ),
            app="finance",
            apply=payments_apply,
        )
    )
