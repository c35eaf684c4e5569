"""The payment side (docs/domain.md §5): fiscal years, payment runs, their items and approvals,
and the confirmation files returned by the accounting system. The instalments they pay and the
recoveries they offset are agreement-side facts and stay in `cpo` (docs/decisions/2026-12-06-finance-app.md).

The tables keep the names they had when these models lived in `cpo` (`db_table`): the move changed
the code, not the database."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, transition

from core.models import Organisation
from core.uploads import private_upload_path
from cpo.models import MONEY, Instalment


class FiscalYear(models.Model):
    """A fiscal year (the civil year). Once closed, nothing more is paid or charged to it: every
    instalment still unpaid was carried to the next year or cancelled, explicitly."""

    year = models.PositiveIntegerField(_("exercice"), unique=True)
    closed_at = models.DateTimeField(_("clos le"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # As the closing form and API input (finance.forms, finance.serializers).
    closing_note = models.TextField(_("note de clôture"), blank=True, max_length=2000)

    class Meta:
        db_table = "cpo_fiscalyear"
        verbose_name = _("exercice budgétaire")
        verbose_name_plural = _("exercices budgétaires")
        ordering = ["-year"]

    def __str__(self) -> str:
        return str(self.year)

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None


class PaymentRunState(models.TextChoices):
    DRAFT = "draft", _("En préparation")
    APPROVED = "approved", _("Validé")
    EXPORTED = "exported", _("Transmis à la comptabilité")
    CLOSED = "closed", _("Soldé")
    CANCELLED = "cancelled", _("Abandonné")


def run_export_upload_to(instance: PaymentRun, filename: str) -> str:
    return private_upload_path("payment-runs", instance.pk, filename)


class PaymentRun(models.Model):
    """A payment run (lot de paiement): approved instalments sent together to the accounting
    system. Whoever creates it cannot approve it; above a configurable total it needs two
    approvers; a change of bank details of a paid account sends it back for approval."""

    #: Not a column: set by `payment_run_create` on the run it returns (instalments left out for
    #: lack of bank details).
    without_bank_details: int

    reference = models.CharField(_("référence"), max_length=30, unique=True)
    state = FSMField(
        _("état"),
        default=PaymentRunState.DRAFT,
        choices=PaymentRunState.choices,
        protected=True,
        db_index=True,
    )
    fiscal_year = models.PositiveIntegerField(_("exercice"))
    label = models.CharField(_("libellé"), max_length=255, blank=True)
    criteria = models.JSONField(_("critères de sélection"), default=dict, blank=True)
    total = models.DecimalField(_("total (€)"), **MONEY, default=Decimal("0"))
    item_count = models.PositiveIntegerField(_("nombre de paiements"), default=0)
    paid_total = models.DecimalField(_("payé (€)"), **MONEY, default=Decimal("0"))
    rejected_total = models.DecimalField(_("rejeté (€)"), **MONEY, default=Decimal("0"))
    approvals_required = models.PositiveSmallIntegerField(_("validations requises"), default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)
    approved_at = models.DateTimeField(_("validé le"), null=True, blank=True)
    exported_at = models.DateTimeField(_("transmis le"), null=True, blank=True)
    exported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    export_csv = models.FileField(upload_to=run_export_upload_to, blank=True, max_length=255)
    export_xlsx = models.FileField(upload_to=run_export_upload_to, blank=True, max_length=255)
    export_sha256 = models.CharField(max_length=64, blank=True)
    blocked_reason = models.CharField(_("motif de blocage"), max_length=255, blank=True)
    closed_at = models.DateTimeField(_("soldé le"), null=True, blank=True)

    class Meta:
        db_table = "cpo_paymentrun"
        verbose_name = _("lot de paiement")
        verbose_name_plural = _("lots de paiement")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.reference

    @transition(field=state, source=PaymentRunState.DRAFT, target=PaymentRunState.APPROVED)
    def approve(self) -> None:
        """Every approval required is given."""

    @transition(field=state, source=PaymentRunState.APPROVED, target=PaymentRunState.DRAFT)
    def reopen(self) -> None:
        """Back to preparation: bank details changed, or a withdrawn approval."""

    @transition(field=state, source=PaymentRunState.APPROVED, target=PaymentRunState.EXPORTED)
    def export(self) -> None:
        """The file is handed to the accounting system."""

    @transition(field=state, source=PaymentRunState.EXPORTED, target=PaymentRunState.CLOSED)
    def close(self) -> None:
        """Every payment was confirmed paid or rejected."""

    @transition(field=state, source=PaymentRunState.DRAFT, target=PaymentRunState.CANCELLED)
    def cancel(self) -> None:
        """Abandoned before approval: its instalments are free again."""


class PaymentRunItem(models.Model):
    """One payment of a run. Beneficiary, bank details, budget line and EJ are copied when the run
    is approved, so the exported file never changes afterwards."""

    class Status(models.TextChoices):
        PENDING = "pending", _("En cours")
        PAID = "paid", _("Payé")
        REJECTED = "rejected", _("Rejeté")
        REMOVED = "removed", _("Retiré du lot")

    run = models.ForeignKey(PaymentRun, on_delete=models.CASCADE, related_name="items")
    instalment = models.ForeignKey(Instalment, on_delete=models.PROTECT, related_name="run_items")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(_("montant (€)"), **MONEY)
    status = models.CharField(
        _("statut"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    beneficiary_name = models.CharField(_("bénéficiaire"), max_length=255, blank=True)
    siret = models.CharField(_("SIRET"), max_length=14, blank=True)
    iban = models.CharField(_("IBAN"), max_length=34, blank=True)
    bic = models.CharField(_("BIC"), max_length=11, blank=True)
    budget_line = models.CharField(_("ligne budgétaire"), max_length=40, blank=True)
    ej_number = models.CharField(_("n° EJ"), max_length=10, blank=True)
    fiscal_year = models.PositiveIntegerField(_("exercice"))
    agreement_reference = models.CharField(_("convention"), max_length=30)
    instalment_reference = models.CharField(_("échéance"), max_length=50, db_index=True)
    paid_on = models.DateField(_("payé le"), null=True, blank=True)
    reject_reason = models.CharField(_("motif du rejet"), max_length=255, blank=True)
    confirmed_at = models.DateTimeField(_("confirmé le"), null=True, blank=True)

    class Meta:
        db_table = "cpo_paymentrunitem"
        verbose_name = _("paiement du lot")
        verbose_name_plural = _("paiements du lot")
        ordering = ["run", "id"]
        constraints = [
            # An instalment belongs to at most one open run.
            models.UniqueConstraint(
                fields=["instalment"],
                condition=models.Q(status="pending"),
                name="instalment_in_one_open_run",
            ),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="run_item_positive"),
        ]
        indexes = [models.Index(fields=["run", "status"])]

    def __str__(self) -> str:
        return f"{self.run.reference} {self.instalment_reference}"


class PaymentRunApproval(models.Model):
    """One approver's approval of a run, as it stood (total and count) when approved."""

    run = models.ForeignKey(PaymentRun, on_delete=models.CASCADE, related_name="approvals")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    total = models.DecimalField(_("total validé (€)"), **MONEY)
    item_count = models.PositiveIntegerField(_("paiements validés"))
    created_at = models.DateTimeField(auto_now_add=True)
    is_valid = models.BooleanField(_("en vigueur"), default=True)

    class Meta:
        db_table = "cpo_paymentrunapproval"
        verbose_name = _("validation du lot")
        verbose_name_plural = _("validations du lot")
        ordering = ["run", "created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "user"],
                condition=models.Q(is_valid=True),
                name="one_valid_approval_per_person",
            )
        ]

    def __str__(self) -> str:
        return f"{self.run.reference} — {self.user}"


def confirmation_upload_to(instance: PaymentConfirmation, filename: str) -> str:
    return private_upload_path("payment-confirmations", "files", filename)


class PaymentConfirmation(models.Model):
    """A confirmation file returned by the accounting system: checked first (dry run, with every
    row's error), then applied. Applying is idempotent: the same file twice changes nothing."""

    class State(models.TextChoices):
        CHECKED = "checked", _("Vérifié")
        INVALID = "invalid", _("Erreurs à corriger")
        APPLYING = "applying", _("En cours d'application")
        APPLIED = "applied", _("Appliqué")

    file = models.FileField(_("fichier"), upload_to=confirmation_upload_to, max_length=255)
    original_name = models.CharField(_("nom du fichier"), max_length=255)
    sha256 = models.CharField(max_length=64, db_index=True)
    state = models.CharField(_("état"), max_length=10, choices=State.choices)
    row_count = models.PositiveIntegerField(_("lignes"), default=0)
    report = models.JSONField(_("compte rendu"), default=dict, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    applied_at = models.DateTimeField(_("appliqué le"), null=True, blank=True)

    class Meta:
        db_table = "cpo_paymentconfirmation"
        verbose_name = _("retour de la comptabilité")
        verbose_name_plural = _("retours de la comptabilité")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.original_name
