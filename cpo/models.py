"""Agreements (conventions, CPO) and what happens to them until they close: yearly amounts split
between funders, instalments, annual evaluations, amendments and recoveries (docs/domain.md §4–5)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, TypedDict

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, transition

from calls.models import Programme
from core.choices import choice_label
from core.identifiers import validate_ej
from core.limits import LONG_TEXT, SHORT_TEXT
from core.models import Funder, Organisation, OrganisationDocument
from core.uploads import private_upload_path
from grants.models import Application


class MoneyFieldKwargs(TypedDict):
    """The precision of every amount field (`DecimalField(**MONEY)`), typed so the stubs see it."""

    max_digits: int
    decimal_places: int


MONEY: MoneyFieldKwargs = {"max_digits": 12, "decimal_places": 2}


class AgreementState(models.TextChoices):
    DRAFT = "draft", _("Brouillon")
    SENT_FOR_SIGNATURE = "sent_for_signature", _("Envoyée pour signature")
    SIGNED = "signed", _("Signée")
    ACTIVE = "active", _("En cours")
    SUSPENDED = "suspended", _("Suspendue")
    COMPLETED = "completed", _("Soldée")
    TERMINATED = "terminated", _("Résiliée")


A = AgreementState


class Profile(models.TextChoices):
    FLAT = "flat", _("Constant")
    PROGRESSIVE_RATE = "progressive_rate", _("Progressif (taux annuel)")
    PROGRESSIVE_STEP = "progressive_step", _("Progressif (pas fixe)")
    DEGRESSIVE_RATE = "degressive_rate", _("Dégressif (taux annuel)")
    DEGRESSIVE_STEP = "degressive_step", _("Dégressif (pas fixe)")
    CUSTOM = "custom", _("Personnalisé par année")


class InstalmentTemplate(models.TextChoices):
    AT_SIGNATURE = "at_signature", _("En une fois à la signature")
    ADVANCE_BALANCE = "advance_balance", _("Avance puis solde")
    ADVANCE_INTERIM_BALANCE = "advance_interim_balance", _("Avance, acompte et solde")
    QUARTERLY = "quarterly", _("Trimestriel")
    CUSTOM = "custom", _("Personnalisé")


def signed_upload_to(instance: Agreement, filename: str) -> str:
    return private_upload_path("agreements", instance.pk or "new", filename)


def no_pending_electronic_signature(agreement: Any) -> bool:
    """The guard of « signed »: no electronic signature of the agreement's document is still
    waiting for a signatory (it signs the agreement itself once complete)."""
    if agreement.pk is None:
        return True
    return not agreement.signature_requests.filter(state="pending", amendment__isnull=True).exists()


class Agreement(models.Model):
    """The agreement that follows an approved application, over 1 to 5 fiscal years.

    Above 23 000 € in a year a written agreement is mandatory (loi n° 2000-321 art. 10); below, a
    notified decision is enough and is handled as the same object downstream."""

    class Kind(models.TextChoices):
        AGREEMENT = "agreement", _("Convention")
        DECISION = "decision", _("Arrêté / décision attributive")

    reference = models.CharField(_("référence"), max_length=30, unique=True)

    class Source(models.TextChoices):
        PLURIEL = "pluriel", _("Instruite dans Pluriel")
        IMPORTED = "imported", _("Importée (historique)")

    # A file has one joint agreement (funder empty) and, for each co-funder that insists on its
    # own, one agreement with that funder (issue 15): `Application.agreements`, and
    # `Application.agreement` for « the » agreement (docs/decisions/2026-12-07-agreement-per-funder.md).
    application = models.ForeignKey(
        Application,
        on_delete=models.PROTECT,
        related_name="agreements",
        related_query_name="agreement",
        verbose_name=_("dossier"),
        null=True,
        blank=True,
    )
    funder = models.ForeignKey(
        Funder,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="own_agreements",
        verbose_name=_("convention propre au financeur"),
        help_text=_("Vide : la convention commune du dossier."),
    )
    source = models.CharField(
        _("origine"), max_length=10, choices=Source.choices, default=Source.PLURIEL
    )
    external_id = models.CharField(
        _("identifiant d'origine"),
        max_length=255,
        blank=True,
        db_index=True,
        help_text=_("idSubvention du fichier importé, pour les conventions historiques."),
    )
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="agreements",
        verbose_name=_("organisation"),
    )
    programme = models.ForeignKey(
        Programme, on_delete=models.PROTECT, related_name="agreements", verbose_name=_("programme")
    )
    kind = models.CharField(_("forme"), max_length=10, choices=Kind.choices)
    state = FSMField(_("état"), default=A.DRAFT, choices=A.choices, protected=True, db_index=True)
    title = models.CharField(_("objet"), max_length=255)
    first_year = models.PositiveIntegerField(_("premier exercice"))
    duration_years = models.PositiveSmallIntegerField(
        _("durée (exercices)"), validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    total_amount = models.DecimalField(_("montant total (€)"), **MONEY)
    profile = models.CharField(_("profil des montants"), max_length=20, choices=Profile.choices)
    profile_rate = models.DecimalField(
        _("taux annuel"), max_digits=6, decimal_places=4, null=True, blank=True
    )
    profile_step = models.DecimalField(_("pas annuel (€)"), **MONEY, null=True, blank=True)
    rounding_unit = models.DecimalField(
        _("arrondi (€)"), max_digits=4, decimal_places=2, default=Decimal("1")
    )
    instalment_template = models.CharField(
        _("échéancier type"), max_length=30, choices=InstalmentTemplate.choices
    )
    advance_cap_percent = models.DecimalField(
        _("plafond de l'avance (%)"), max_digits=5, decimal_places=2, default=Decimal("50")
    )
    advance_percent = models.DecimalField(
        _("avance (%)"), max_digits=5, decimal_places=2, default=Decimal("50")
    )
    interim_percent = models.DecimalField(
        _("acompte (%)"), max_digits=5, decimal_places=2, default=Decimal("30")
    )
    instalment_custom = models.JSONField(
        _("échéancier personnalisé"),
        default=list,
        blank=True,
        help_text=_("Versements de chaque année : pourcentage, mois et jour."),
    )
    evaluation_delay_months = models.PositiveSmallIntegerField(
        _("délai de l'évaluation après l'exercice (mois)"), default=6
    )
    surplus_allowance_percent = models.DecimalField(
        _("excédent raisonnable conservé (%)"), max_digits=5, decimal_places=2, default=Decimal("0")
    )
    signed_on = models.DateField(_("signée le"), null=True, blank=True)
    notified_on = models.DateField(_("notifiée le"), null=True, blank=True)
    signed_document = models.FileField(
        _("exemplaire signé"), upload_to=signed_upload_to, blank=True
    )
    end_reason = models.TextField(_("motif de fin"), blank=True, max_length=SHORT_TEXT)
    version = models.PositiveSmallIntegerField(_("version"), default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("convention")
        verbose_name_plural = _("conventions")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(duration_years__gte=1, duration_years__lte=5),
                name="agreement_duration_1_5",
            ),
            models.CheckConstraint(
                condition=models.Q(total_amount__gt=0), name="agreement_total_positive"
            ),
            # One joint agreement per file, and one per funder that insists on its own.
            models.UniqueConstraint(
                fields=["application"],
                condition=models.Q(funder__isnull=True, application__isnull=False),
                name="one_joint_agreement_per_application",
            ),
            models.UniqueConstraint(
                fields=["application", "funder"],
                condition=models.Q(funder__isnull=False),
                name="one_agreement_per_application_funder",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} — {self.organisation}"

    @property
    def last_year(self) -> int:
        return self.first_year + self.duration_years - 1

    @transition(field=state, source=A.DRAFT, target=A.SENT_FOR_SIGNATURE)
    def send_for_signature(self) -> None:
        """Sent to the association for signature."""

    @transition(
        field=state,
        source=[A.DRAFT, A.SENT_FOR_SIGNATURE],
        target=A.SIGNED,
        conditions=[no_pending_electronic_signature],
    )
    def sign(self) -> None:
        """Signed (or the decision notified): the payment clock starts."""

    @transition(field=state, source=A.SIGNED, target=A.ACTIVE)
    def activate(self) -> None:
        """Running: instalments can fall due."""

    @transition(field=state, source=A.ACTIVE, target=A.SUSPENDED)
    def suspend(self) -> None:
        """Suspended: every unpaid instalment is on hold."""

    @transition(field=state, source=A.SUSPENDED, target=A.ACTIVE)
    def resume(self) -> None:
        """Resumed after a suspension."""

    @transition(field=state, source=A.ACTIVE, target=A.COMPLETED)
    def complete(self) -> None:
        """Closed after the final evaluation."""

    @transition(field=state, source=[A.SIGNED, A.ACTIVE, A.SUSPENDED], target=A.TERMINATED)
    def terminate(self) -> None:
        """Terminated: unpaid instalments are cancelled."""


class AgreementFunder(models.Model):
    """A funder of the agreement, with its legal commitment number (EJ) and its share."""

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="funders")
    funder = models.ForeignKey(
        Funder, on_delete=models.PROTECT, related_name="+", verbose_name=_("financeur")
    )
    share = models.DecimalField(
        _("part"),
        max_digits=7,
        decimal_places=6,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
    )
    ej_number = models.CharField(
        _("n° d'engagement juridique"), max_length=10, blank=True, validators=[validate_ej]
    )
    # A co-funded file (issue 15): the exact amount this funder granted (then as amended), on
    # which its yearly parts are split to the cent; empty when the share alone says it.
    granted_amount = models.DecimalField(
        _("montant accordé par ce financeur (€)"), **MONEY, null=True, blank=True
    )

    class Meta:
        verbose_name = _("financeur de la convention")
        verbose_name_plural = _("financeurs de la convention")
        constraints = [
            models.UniqueConstraint(fields=["agreement", "funder"], name="one_row_per_funder")
        ]

    def __str__(self) -> str:
        return f"{self.funder} ({self.share})"


class AgreementYear(models.Model):
    """One fiscal year of the agreement and its amount (the sum of its funders' shares)."""

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="years")
    fiscal_year = models.PositiveIntegerField(_("exercice"))
    amount = models.DecimalField(_("montant (€)"), **MONEY)

    class Meta:
        verbose_name = _("année de convention")
        verbose_name_plural = _("années de convention")
        ordering = ["agreement", "fiscal_year"]
        constraints = [
            models.UniqueConstraint(fields=["agreement", "fiscal_year"], name="one_agreement_year"),
            models.CheckConstraint(
                condition=models.Q(amount__gte=0), name="agreement_year_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.fiscal_year}: {self.amount}"


class InstalmentState(models.TextChoices):
    PLANNED = "planned", _("Prévue")
    DUE = "due", _("Exigible")
    ON_HOLD = "on_hold", _("Suspendue")
    APPROVED = "approved", _("Liquidée (service fait)")
    IN_RUN = "in_run", _("Dans un lot de paiement")
    EXPORTED = "exported", _("Transmise à la comptabilité")
    PAID = "paid", _("Payée")
    CANCELLED = "cancelled", _("Annulée")


I = InstalmentState  # noqa: E741
#: Not paid yet, and still expected to be.
UNPAID_STATES = [I.PLANNED, I.DUE, I.ON_HOLD, I.APPROVED, I.IN_RUN, I.EXPORTED]
#: Money on its way: the 60-day rule still runs until it is paid.
OWED_STATES = [I.DUE, I.APPROVED, I.IN_RUN, I.EXPORTED]


class Instalment(models.Model):
    """One payment of one funder's part of one year, with the conditions that make it due."""

    class Kind(models.TextChoices):
        SINGLE = "single", _("Versement unique")
        ADVANCE = "advance", _("Avance")
        INTERIM = "interim", _("Acompte")
        BALANCE = "balance", _("Solde")
        QUARTER = "quarter", _("Trimestre")
        CUSTOM = "custom", _("Versement")

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="instalments")
    year = models.ForeignKey(AgreementYear, on_delete=models.CASCADE, related_name="instalments")
    funder = models.ForeignKey(
        AgreementFunder, on_delete=models.PROTECT, related_name="instalments"
    )
    # A collective file paid to each partner (docs/domain.md §9): whom this instalment pays, with
    # its own bank details. Empty: the agreement's organisation (the lead).
    beneficiary = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("bénéficiaire (partenaire)"),
    )
    number = models.PositiveSmallIntegerField(_("n°"))
    kind = models.CharField(_("nature"), max_length=10, choices=Kind.choices)
    amount = models.DecimalField(_("montant (€)"), **MONEY)
    earliest_date = models.DateField(_("au plus tôt le"))
    requires_signature = models.BooleanField(_("après signature"), default=True)
    requires_evaluation_of = models.PositiveIntegerField(
        _("après acceptation de l'évaluation de"), null=True, blank=True
    )
    requires_valid_documents = models.BooleanField(_("pièces à jour"), default=False)
    state = FSMField(
        _("état"),
        default=InstalmentState.PLANNED,
        choices=InstalmentState.choices,
        protected=True,
        db_index=True,
    )
    hold_reason = models.CharField(_("motif de suspension"), max_length=255, blank=True)
    due_since = models.DateField(_("exigible depuis"), null=True, blank=True)
    is_late = models.BooleanField(_("en retard (règle des 60 jours)"), default=False)
    amendment_version = models.PositiveSmallIntegerField(_("version de la convention"), default=1)
    charged_year = models.PositiveIntegerField(
        _("exercice d'imputation"),
        null=True,
        blank=True,
        help_text=_("Exercice sur lequel le paiement est imputé ; par défaut celui de l'année."),
    )
    certified_at = models.DateTimeField(_("service fait certifié le"), null=True, blank=True)
    certified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    paid_on = models.DateField(_("payée le"), null=True, blank=True, db_index=True)
    reject_reason = models.CharField(_("motif du rejet"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("échéance")
        verbose_name_plural = _("échéances")
        ordering = ["agreement", "year__fiscal_year", "number"]
        indexes = [
            models.Index(fields=["state", "earliest_date", "id"], name="instalment_state_date_id"),
            models.Index(fields=["state", "due_since"]),
            models.Index(fields=["charged_year", "state"]),
            # The finance lists page by (earliest_date, id): flat at a million instalments.
            models.Index(fields=["earliest_date", "id"], name="instalment_date_id"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="instalment_positive"),
            models.UniqueConstraint(
                fields=["agreement", "year", "funder", "number", "amendment_version"],
                name="one_instalment_number",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agreement.reference} {self.year.fiscal_year} n° {self.number}"

    # Defined here, Django does not add its slower generic ones (core.choices.choice_label); the
    # django-stubs plugin declares the generic ones, hence the no-redef.
    def get_state_display(self) -> str:  # type: ignore[no-redef]
        return choice_label(InstalmentState, self.state)

    def get_kind_display(self) -> str:  # type: ignore[no-redef]
        return choice_label(Instalment.Kind, self.kind)

    @property
    def payee(self) -> Organisation:
        """Who is paid: the partner of a collective file paid per partner, else the agreement's
        organisation."""
        return self.beneficiary or self.agreement.organisation

    @property
    def reference(self) -> str:
        """The instalment's reference in exports and confirmation files."""
        return instalment_reference(self.agreement.reference, self.pk)

    @transition(field=state, source=[I.PLANNED, I.ON_HOLD], target=I.DUE)
    def make_due(self) -> None:
        """Every condition holds: the finance team may pay it."""

    @transition(field=state, source=[I.PLANNED, I.DUE, I.APPROVED], target=I.ON_HOLD)
    def hold(self) -> None:
        """Waiting (evaluation, suspension)."""

    @transition(field=state, source=I.DUE, target=I.APPROVED)
    def approve(self) -> None:
        """Liquidation: the finance team certifies the service done."""

    @transition(field=state, source=I.APPROVED, target=I.DUE)
    def unapprove(self) -> None:
        """The certification is withdrawn (with a reason)."""

    @transition(field=state, source=I.APPROVED, target=I.IN_RUN)
    def add_to_run(self) -> None:
        """Put in a payment run."""

    @transition(field=state, source=I.IN_RUN, target=I.APPROVED)
    def remove_from_run(self) -> None:
        """Taken out of a payment run that is not exported yet."""

    @transition(field=state, source=I.IN_RUN, target=I.EXPORTED)
    def export(self) -> None:
        """Sent to the accounting system with its run."""

    @transition(field=state, source=I.EXPORTED, target=I.PAID)
    def pay(self) -> None:
        """The accounting system confirmed the payment."""

    @transition(field=state, source=I.EXPORTED, target=I.DUE)
    def reject(self) -> None:
        """The accounting system rejected the payment: due again, with the reason."""

    @transition(field=state, source=[I.PLANNED, I.DUE, I.ON_HOLD, I.APPROVED], target=I.CANCELLED)
    def cancel(self) -> None:
        """Cancelled by an amendment, a termination or a fiscal year closing."""


def payee_values() -> dict[str, Any]:
    """`values()` expressions of an instalment's payee (docs/domain.md §9): the partner it pays
    when the agreement pays each partner, else the agreement's organisation. A partner without
    bank details has none — never the lead's."""
    from django.db.models import Case, F, When
    from django.db.models.functions import Coalesce

    def pick(name: str) -> Any:
        return Case(
            When(beneficiary__isnull=False, then=F(f"beneficiary__{name}")),
            default=F(f"agreement__organisation__{name}"),
        )

    return {
        "payee_id": Coalesce("beneficiary_id", "agreement__organisation_id"),
        "payee_name": pick("name"),
        "payee_siret": pick("siret"),
        "payee_iban": pick("iban"),
        "payee_bic": pick("bic"),
    }


def instalment_reference(agreement_reference: str, pk: int) -> str:
    return f"{agreement_reference}/E{pk}"


class EvaluationState(models.TextChoices):
    EXPECTED = "expected", _("Attendue")
    SUBMITTED = "submitted", _("Déposée")
    ACCEPTED = "accepted", _("Acceptée")
    ACCEPTED_WITH_RESERVATIONS = "accepted_with_reservations", _("Acceptée avec réserves")
    REJECTED = "rejected", _("Rejetée")


E = EvaluationState


class Evaluation(models.Model):
    """The annual evaluation of one agreement year: activity report, financial report (CERFA
    n° 15059: planned vs actual), indicator values and approved accounts, due 6 months after the
    end of the fiscal year. Its outcome releases or blocks the next payments."""

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="evaluations")
    fiscal_year = models.PositiveIntegerField(_("exercice évalué"))
    due_on = models.DateField(_("à déposer avant le"))
    is_final = models.BooleanField(_("évaluation finale"), default=False)
    state = FSMField(
        _("état"), default=E.EXPECTED, choices=E.choices, protected=True, db_index=True
    )
    activity_report = models.TextField(_("rapport d'activité"), blank=True, max_length=LONG_TEXT)
    approved_accounts = models.ForeignKey(
        OrganisationDocument,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="evaluations",
        verbose_name=_("comptes approuvés"),
    )
    submitted_at = models.DateTimeField(_("déposée le"), null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    review_comment = models.TextField(_("avis de l'instruction"), blank=True, max_length=SHORT_TEXT)
    reviewed_at = models.DateTimeField(_("examinée le"), null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reminders_sent = models.JSONField(_("relances envoyées"), default=list, blank=True)
    is_overdue = models.BooleanField(_("en retard"), default=False)

    class Meta:
        verbose_name = _("évaluation annuelle")
        verbose_name_plural = _("évaluations annuelles")
        ordering = ["agreement", "fiscal_year"]
        constraints = [
            models.UniqueConstraint(
                fields=["agreement", "fiscal_year"], name="one_evaluation_per_year"
            )
        ]

    def __str__(self) -> str:
        return f"{self.agreement.reference} — {self.fiscal_year}"

    @transition(field=state, source=[E.EXPECTED, E.REJECTED], target=E.SUBMITTED)
    def submit(self) -> None:
        """The association files its reports."""

    @transition(field=state, source=E.SUBMITTED, target=E.ACCEPTED)
    def accept(self) -> None:
        """Accepted: instalments waiting for it are released."""

    @transition(field=state, source=E.SUBMITTED, target=E.ACCEPTED_WITH_RESERVATIONS)
    def accept_with_reservations(self) -> None:
        """Accepted with reservations: released too, the reservations recorded."""

    @transition(field=state, source=E.SUBMITTED, target=E.REJECTED)
    def reject(self) -> None:
        """Rejected: instalments waiting for it stay on hold."""


class EvaluationBudgetLine(models.Model):
    """One account group of the financial report: planned vs actual (CERFA n° 15059)."""

    evaluation = models.ForeignKey(
        Evaluation, on_delete=models.CASCADE, related_name="budget_lines"
    )
    account = models.CharField(_("compte"), max_length=2)
    planned = models.DecimalField(_("prévu (€)"), **MONEY)
    actual = models.DecimalField(_("réalisé (€)"), **MONEY)

    class Meta:
        verbose_name = _("ligne du compte rendu financier")
        verbose_name_plural = _("lignes du compte rendu financier")
        ordering = ["account"]
        constraints = [
            models.UniqueConstraint(fields=["evaluation", "account"], name="one_line_per_account")
        ]

    def __str__(self) -> str:
        return f"{self.account}: {self.planned} / {self.actual}"

    @property
    def gap(self) -> Decimal:
        return self.actual - self.planned

    @property
    def gap_percent(self) -> Decimal | None:
        if not self.planned:
            return None
        return (self.gap * 100 / self.planned).quantize(Decimal("0.1"))


class EvaluationIndicator(models.Model):
    evaluation = models.ForeignKey(
        Evaluation, on_delete=models.CASCADE, related_name="indicator_values"
    )
    label = models.CharField(_("indicateur"), max_length=300)
    unit = models.CharField(_("unité"), max_length=50, blank=True)
    target = models.DecimalField(_("cible"), max_digits=12, decimal_places=2)
    actual = models.DecimalField(
        _("réalisé"), max_digits=12, decimal_places=2, null=True, blank=True
    )

    class Meta:
        verbose_name = _("valeur d'indicateur")
        verbose_name_plural = _("valeurs d'indicateurs")

    def __str__(self) -> str:
        return f"{self.label}: {self.actual} / {self.target}"


class Amendment(models.Model):
    """An amendment (avenant): a new version of the agreement, with what changed, why, by whom and
    from when. Instalments already due or paid never change; future ones are re-planned."""

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="amendments")
    version = models.PositiveSmallIntegerField(_("version"))
    reason = models.TextField(_("motif"), max_length=SHORT_TEXT)
    effective_on = models.DateField(_("prend effet le"))
    before = models.JSONField(_("avant"), default=dict)
    after = models.JSONField(_("après"), default=dict)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("avenant")
        verbose_name_plural = _("avenants")
        ordering = ["agreement", "version"]
        constraints = [
            models.UniqueConstraint(fields=["agreement", "version"], name="one_amendment_version")
        ]

    def __str__(self) -> str:
        return f"{self.agreement.reference} — avenant n° {self.version - 1}"


class RecoveryState(models.TextChoices):
    ISSUED = "issued", _("Émis")
    COLLECTED = "collected", _("Recouvré")
    OFFSET = "offset", _("Compensé sur une échéance")
    CANCELLED = "cancelled", _("Annulé")


class Recovery(models.Model):
    """A recovery order (titre de recette) for unspent or misused money, less the reasonable surplus
    the agreement lets the association keep."""

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="recoveries")
    fiscal_year = models.PositiveIntegerField(_("exercice"))
    reason = models.TextField(_("motif"), max_length=SHORT_TEXT)
    unspent = models.DecimalField(_("non consommé ou mal employé (€)"), **MONEY)
    surplus_kept = models.DecimalField(
        _("excédent raisonnable conservé (€)"), **MONEY, default=Decimal("0")
    )
    amount = models.DecimalField(_("montant à reverser (€)"), **MONEY)
    state = FSMField(
        _("état"), default=RecoveryState.ISSUED, choices=RecoveryState.choices, protected=True
    )
    offset_instalment = models.ForeignKey(
        Instalment, on_delete=models.PROTECT, null=True, blank=True, related_name="offsets"
    )
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("reversement")
        verbose_name_plural = _("reversements")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="recovery_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.agreement.reference} — {self.amount} €"

    @transition(field=state, source=RecoveryState.ISSUED, target=RecoveryState.COLLECTED)
    def collect(self) -> None:
        """The money came back."""

    @transition(field=state, source=RecoveryState.ISSUED, target=RecoveryState.OFFSET)
    def offset(self) -> None:
        """Deducted from a later instalment."""

    @transition(field=state, source=RecoveryState.ISSUED, target=RecoveryState.CANCELLED)
    def cancel(self) -> None:
        """Cancelled, with a reason."""


# The payment side lives in the `finance` app. These two upload paths stay here only because the
# historical migration cpo/0004_finance names them.


def run_export_upload_to(instance: models.Model, filename: str) -> str:
    return private_upload_path("payment-runs", instance.pk, filename)


def confirmation_upload_to(instance: models.Model, filename: str) -> str:
    return private_upload_path("payment-confirmations", "files", filename)


# Sibling modules (so this one stays under 800 lines); importing them registers their models:
# a collective file's partners' reports, and the electronic signature.
from .models_partner_additions import PartnerAddition, PartnerAdditionState  # noqa: E402,F401
from .models_partner_reports import PartnerReport, PartnerReportState  # noqa: E402,F401
from .models_signatures import (  # noqa: E402, F401
    FunderCertificate,
    Signature,
    SignatureCode,
    SignatureRequest,
)
