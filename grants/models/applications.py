"""What organisations bring and what is decided: applications, instruction, committee decisions."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, transition

from calls.models import Call, Challenge, Programme, ScoringCriterion
from core.choices import choice_label
from core.clock import now
from core.limits import LONG_TEXT, SHORT_TEXT
from core.models import QPV, Funder, Organisation, OrganisationDocument, Pillar, TransitionTheme
from core.uploads import private_upload_path

from ..budget import Account, SubsidySource

MONEY = {"max_digits": 12, "decimal_places": 2}


class ApplicationState(models.TextChoices):
    DRAFT = "draft", _("Brouillon")
    SUBMITTED = "submitted", _("Déposé")
    RETURNED = "returned", _("À compléter")
    ELIGIBLE = "eligible", _("Recevable")
    INELIGIBLE = "ineligible", _("Irrecevable")
    UNDER_REVIEW = "under_review", _("En instruction")
    IN_COMMITTEE = "in_committee", _("En comité")
    APPROVED = "approved", _("Accordé")
    REJECTED = "rejected", _("Refusé")
    DISMISSED = "dismissed", _("Classé sans suite")
    WITHDRAWN = "withdrawn", _("Retiré")


S = ApplicationState
# The states in which the applicant may still change the file (is_editable_by_applicant).
APPLICANT_EDITABLE_STATES = (S.DRAFT, S.RETURNED)
OPEN_STATES = [S.SUBMITTED, S.RETURNED, S.ELIGIBLE, S.UNDER_REVIEW, S.IN_COMMITTEE]
DECIDED_STATES = [S.APPROVED, S.REJECTED, S.DISMISSED, S.INELIGIBLE]


class ApplicationKind(models.TextChoices):
    PROJECT_CALL = "project_call", _("Appel à projets")
    ANTI_CALL = "anti_call", _("Anti-appel à projets")
    SOLUTIONS_CALL = "solutions_call", _("Appel à solutions")
    STRUCTURAL_SUPPORT = "structural_support", _("Soutien aux actions structurelles")
    DIRECT_AWARD = "direct_award", _("Attribution hors appel")


class PaymentFlow(models.TextChoices):
    """How the money of a collective file flows (docs/domain.md §9)."""

    LEAD = "lead", _("Versée au chef de file, qui reverse aux partenaires")
    PARTNERS = "partners", _("Versée à chaque partenaire pour sa part")


class CommitteeSessionState(models.TextChoices):
    PLANNED = "planned", _("Prévue")
    OPEN = "open", _("Ouverte")
    CLOSED = "closed", _("Close")


class CommitteeSession(models.Model):
    """A committee meeting: an agenda of files with proposals, decisions, minutes.

    planned → open (the chair or a programme manager records who is present; the programme's
    quorum must be reached) → closed. Decisions are recorded only while it is open
    (grants.services.committee)."""

    State = CommitteeSessionState

    programme = models.ForeignKey(
        Programme,
        on_delete=models.PROTECT,
        related_name="committee_sessions",
        verbose_name=_("programme"),
    )
    call = models.ForeignKey(
        Call,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="committee_sessions",
        verbose_name=_("appel"),
    )
    title = models.CharField(_("intitulé"), max_length=200)
    date = models.DateField(_("date"))
    state = FSMField(
        _("état"),
        max_length=10,
        choices=CommitteeSessionState.choices,
        default=CommitteeSessionState.PLANNED,
        protected=True,
    )
    minutes = models.TextField(_("procès-verbal"), blank=True, max_length=LONG_TEXT)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="committee_sessions",
        verbose_name=_("membres"),
    )
    chair = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="chaired_committee_sessions",
        verbose_name=_("président·e de séance"),
    )
    present = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="attended_committee_sessions",
        verbose_name=_("membres présents"),
    )
    opened_at = models.DateTimeField(_("ouverte le"), null=True, blank=True)
    closed_at = models.DateTimeField(_("close le"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("séance de comité")
        verbose_name_plural = _("séances de comité")
        ordering = ["-date"]

    def __str__(self) -> str:
        return f"{self.title} ({self.date:%d/%m/%Y})"

    @transition(
        field=state, source=CommitteeSessionState.PLANNED, target=CommitteeSessionState.OPEN
    )
    def open(self) -> None:
        """Attendance is recorded by the service before; here only the derived field."""
        self.opened_at = now()

    @transition(field=state, source=CommitteeSessionState.OPEN, target=CommitteeSessionState.CLOSED)
    def close(self) -> None:
        self.closed_at = now()


class Application(models.Model):
    """A dossier: an organisation asks a programme (through a call, or directly) for money."""

    reference = models.CharField(_("référence"), max_length=30, unique=True)
    kind = models.CharField(
        _("mode"),
        max_length=30,
        choices=ApplicationKind.choices,
        default=ApplicationKind.PROJECT_CALL,
    )
    programme = models.ForeignKey(
        Programme,
        on_delete=models.PROTECT,
        related_name="applications",
        verbose_name=_("programme"),
    )
    call = models.ForeignKey(
        Call,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="applications",
        verbose_name=_("appel"),
    )
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="applications",
        verbose_name=_("organisation"),
    )
    state = FSMField(_("état"), default=S.DRAFT, choices=S.choices, protected=True, db_index=True)

    title = models.CharField(_("titre du projet"), max_length=255)
    summary = models.TextField(_("résumé"), blank=True, max_length=LONG_TEXT)
    start_date = models.DateField(_("début du projet"), null=True, blank=True)
    end_date = models.DateField(_("fin du projet"), null=True, blank=True)
    qpvs = models.ManyToManyField(
        QPV, blank=True, related_name="applications", verbose_name=_("quartiers ciblés")
    )
    pillar = models.ForeignKey(
        Pillar,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="applications",
        verbose_name=_("pilier"),
    )
    themes = models.ManyToManyField(
        TransitionTheme,
        blank=True,
        related_name="applications",
        verbose_name=_("thèmes de transition"),
    )
    beneficiaries_count = models.PositiveIntegerField(
        _("nombre de bénéficiaires visés"), null=True, blank=True
    )
    requested_amount = models.DecimalField(
        _("montant demandé (€)"),
        **MONEY,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    wants_multi_year = models.BooleanField(_("demande pluriannuelle"), default=False)
    documents = models.ManyToManyField(
        OrganisationDocument,
        blank=True,
        related_name="applications",
        verbose_name=_("pièces jointes"),
    )
    previous = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="renewals",
        verbose_name=_("dossier renouvelé"),
    )
    challenge = models.ForeignKey(
        Challenge,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="applications",
        verbose_name=_("solution attendue"),
    )
    urgency_reason = models.TextField(
        _("motif de l'attribution hors appel"), blank=True, max_length=SHORT_TEXT
    )
    cofunder = models.ForeignKey(
        Funder,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("cofinanceur"),
    )
    duration_years = models.PositiveSmallIntegerField(_("durée (années)"), default=1)
    payment_flow = models.CharField(
        _("versement (dossier collectif)"),
        max_length=10,
        choices=PaymentFlow.choices,
        default=PaymentFlow.LEAD,
    )

    # Instruction
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_applications",
        verbose_name=_("instructeur·rice"),
    )
    proposed_amount = models.DecimalField(_("montant proposé (€)"), **MONEY, null=True, blank=True)
    proposal_note = models.TextField(_("avis de l'instruction"), blank=True, max_length=LONG_TEXT)
    eligibility_note = models.TextField(
        _("motif d'irrecevabilité"), blank=True, max_length=SHORT_TEXT
    )

    # Decision
    committee_session = models.ForeignKey(
        CommitteeSession,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="applications",
        verbose_name=_("séance de comité"),
    )
    approved_amount = models.DecimalField(_("montant accordé (€)"), **MONEY, null=True, blank=True)
    decision_conditions = models.TextField(_("conditions"), blank=True, max_length=SHORT_TEXT)
    decision_reason = models.TextField(
        _("motivation de la décision"), blank=True, max_length=SHORT_TEXT
    )
    is_multi_year = models.BooleanField(_("pluriannuel"), default=False)
    envelope_override_reason = models.TextField(
        _("motif de dépassement d'enveloppe"), blank=True, max_length=SHORT_TEXT
    )
    decided_at = models.DateTimeField(_("décidé le"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("décidé par"),
    )

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("créé par"),
    )
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)
    updated_at = models.DateTimeField(_("modifié le"), auto_now=True)
    submitted_at = models.DateTimeField(_("déposé le"), null=True, blank=True)
    # Kept by database triggers (migration 0007), whoever writes: the search form (core.search.fold)
    # of the reference, title, organisation name and SIRET, trigram-indexed on PostgreSQL.
    search_text = models.TextField(_("texte de recherche"), blank=True, default="", editable=False)

    class Meta:
        verbose_name = _("dossier")
        verbose_name_plural = _("dossiers")
        ordering = ["-created_at", "-id"]
        indexes = [
            # The instruction queue: filed files newest first, overall and per state tab.
            models.Index(
                fields=["-submitted_at", "-id"],
                condition=~models.Q(state="draft"),
                name="application_queue_idx",
            ),
            models.Index(
                fields=["state", "-submitted_at", "-id"], name="application_state_queue_idx"
            ),
            models.Index(fields=["call", "state"]),
            models.Index(fields=["organisation", "-created_at"]),
            models.Index(fields=["-created_at", "-id"]),
            models.Index(fields=["title"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(approved_amount__isnull=True)
                | models.Q(approved_amount__lte=models.F("requested_amount")),
                name="application_approved_le_requested",
            ),
            models.CheckConstraint(
                condition=models.Q(requested_amount__gte=0),
                name="application_requested_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} — {self.title}"

    # Defined here, Django does not add its slower generic ones (core.choices.choice_label).
    def get_state_display(self) -> str:
        return choice_label(ApplicationState, self.state)

    def get_kind_display(self) -> str:
        return choice_label(ApplicationKind, self.kind)

    # --- Transitions. Bodies set derived fields only; grants.services checks, locks and audits.
    @transition(field=state, source=[S.DRAFT], target=S.SUBMITTED)
    def submit(self) -> None:
        """The applicant files the dossier."""

    @transition(field=state, source=[S.SUBMITTED, S.ELIGIBLE, S.UNDER_REVIEW], target=S.RETURNED)
    def request_completion(self) -> None:
        """Instruction sends the file back for completion (repasser en construction)."""

    @transition(field=state, source=[S.RETURNED], target=S.SUBMITTED)
    def resubmit(self) -> None:
        """The applicant answers the completion request."""

    @transition(field=state, source=[S.SUBMITTED], target=S.ELIGIBLE)
    def declare_eligible(self) -> None:
        """Recevable: the file meets the call's rules."""

    @transition(field=state, source=[S.SUBMITTED], target=S.INELIGIBLE)
    def declare_ineligible(self) -> None:
        """Irrecevable, with a reason."""

    @transition(field=state, source=[S.ELIGIBLE], target=S.UNDER_REVIEW)
    def start_review(self) -> None:
        """Instruction on the merits."""

    @transition(field=state, source=[S.UNDER_REVIEW], target=S.IN_COMMITTEE)
    def send_to_committee(self) -> None:
        """Put on a committee agenda with a proposed amount."""

    @transition(field=state, source=[S.IN_COMMITTEE], target=S.APPROVED)
    def approve(self) -> None:
        """Accordé, amount ≤ requested."""

    @transition(field=state, source=[S.IN_COMMITTEE], target=S.REJECTED)
    def reject(self) -> None:
        """Refusé."""

    def is_direct_award(self) -> bool:
        return self.kind == ApplicationKind.DIRECT_AWARD

    @transition(field=state, source=[S.SUBMITTED], target=S.APPROVED, conditions=[is_direct_award])
    def award_directly(self) -> None:
        """Direct award (hors appel): a programme manager decides on the fast path."""

    @transition(field=state, source=[S.SUBMITTED], target=S.REJECTED, conditions=[is_direct_award])
    def refuse_directly(self) -> None:
        """Direct award refused by the programme manager."""

    @transition(field=state, source=OPEN_STATES, target=S.DISMISSED)
    def dismiss(self) -> None:
        """Classé sans suite."""

    @transition(field=state, source=[S.DRAFT, *OPEN_STATES], target=S.WITHDRAWN)
    def withdraw(self) -> None:
        """The applicant withdraws before the decision."""

    @transition(field=state, source=DECIDED_STATES, target=S.UNDER_REVIEW)
    def reopen(self) -> None:
        """A programme manager reopens a decided file, with a reason."""
        self.approved_amount = None
        self.decided_at = None
        self.decided_by = None

    @property
    def is_editable_by_applicant(self) -> bool:
        return self.state in APPLICANT_EDITABLE_STATES

    @property
    def agreement(self) -> Any:
        """« The » agreement of the file: its joint agreement, else (every funder wanted its own)
        the first funder's; None before any. All of them: `agreements` (cpo.Agreement, issue 15),
        read from its prefetch cache when there is one."""
        agreements = sorted(self.agreements.all(), key=lambda a: (a.funder_id is not None, a.pk))
        return agreements[0] if agreements else None


class ApplicationStateCount(models.Model):
    """How many applications each (programme, call, state) holds: the instruction queue's tab counts
    and page totals without counting 100 000 rows on every page view.

    Maintained by database triggers on grants_application (migration 0004), so every write keeps it
    exact — services, bulk loads, imports, the admin. Never written from Python. `call_key` is the
    call id, 0 for files outside any call (direct awards)."""

    programme_id = models.BigIntegerField()
    call_key = models.BigIntegerField()
    state = models.CharField(max_length=20)
    n = models.IntegerField(default=0)

    class Meta:
        verbose_name = _("compteur de dossiers")
        verbose_name_plural = _("compteurs de dossiers")
        constraints = [
            models.UniqueConstraint(
                fields=["programme_id", "call_key", "state"], name="uniq_application_state_count"
            )
        ]

    def __str__(self) -> str:
        return f"{self.programme_id}/{self.call_key}/{self.state}: {self.n}"


class ApplicationYear(models.Model):
    """One fiscal year of a multi-year request (structural support: 3 to 5 years).

    Requested by the applicant, proposed by instruction, approved by the decision; the multi-year
    agreement (CPO) is built from the approved years."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="years")
    fiscal_year = models.PositiveIntegerField(_("exercice"))
    requested_amount = models.DecimalField(
        _("montant demandé (€)"), **MONEY, validators=[MinValueValidator(Decimal("0"))]
    )
    proposed_amount = models.DecimalField(_("montant proposé (€)"), **MONEY, null=True, blank=True)
    approved_amount = models.DecimalField(_("montant accordé (€)"), **MONEY, null=True, blank=True)

    class Meta:
        verbose_name = _("année du dossier")
        verbose_name_plural = _("années du dossier")
        ordering = ["application", "fiscal_year"]
        constraints = [
            models.UniqueConstraint(
                fields=["application", "fiscal_year"], name="one_row_per_fiscal_year"
            ),
            models.CheckConstraint(
                condition=models.Q(requested_amount__gte=0), name="year_requested_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.fiscal_year}: {self.requested_amount}"


class Objective(models.Model):
    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="objectives"
    )
    text = models.CharField(_("objectif"), max_length=500)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("objectif")
        verbose_name_plural = _("objectifs")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.text


class Indicator(models.Model):
    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="indicators"
    )
    label = models.CharField(_("indicateur"), max_length=300)
    unit = models.CharField(_("unité"), max_length=50, blank=True)
    target = models.DecimalField(_("cible"), max_digits=12, decimal_places=2)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("indicateur")
        verbose_name_plural = _("indicateurs")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.label


class BudgetItem(models.Model):
    """One line of the project budget (CERFA 12156*06). Account 74 lines name their source."""

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="budget_items"
    )
    account = models.CharField(_("compte"), max_length=2, choices=Account.choices)
    subsidy_source = models.CharField(
        _("financeur (compte 74)"), max_length=20, choices=SubsidySource.choices, blank=True
    )
    funder = models.ForeignKey(
        Funder,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("financeur sollicité"),
    )
    label = models.CharField(_("libellé"), max_length=200, blank=True)
    amount = models.DecimalField(
        _("montant (€)"), **MONEY, validators=[MinValueValidator(Decimal("0"))]
    )
    # A partner's line of a collective file; empty for the lead's own lines.
    partner = models.ForeignKey(
        "grants.ApplicationPartner",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="budget_items",
        verbose_name=_("partenaire"),
    )

    class Meta:
        verbose_name = _("ligne de budget")
        verbose_name_plural = _("lignes de budget")
        ordering = ["account", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount__gte=0), name="budget_item_non_negative"
            )
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.label} {self.amount}"

    # The file page shows both on every line (core.choices.choice_label, issue 17).
    def get_account_display(self) -> str:
        return choice_label(Account, self.account)

    def get_subsidy_source_display(self) -> str:
        return choice_label(SubsidySource, self.subsidy_source)


class CompletionRequest(models.Model):
    """A request for completion (demande de pièces ou de précisions) with a deadline."""

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="completion_requests"
    )
    message = models.TextField(_("message"), max_length=SHORT_TEXT)
    deadline = models.DateField(_("date limite"))
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    answer = models.TextField(_("réponse"), blank=True, max_length=SHORT_TEXT)
    answered_at = models.DateTimeField(_("répondu le"), null=True, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    is_overdue = models.BooleanField(_("en retard"), default=False)

    class Meta:
        verbose_name = _("demande de complément")
        verbose_name_plural = _("demandes de complément")
        ordering = ["-created_at"]
        constraints = [
            # At most one pending request per file (enforced by the database).
            models.UniqueConstraint(
                fields=["application"],
                condition=models.Q(answered_at__isnull=True),
                name="one_pending_completion_request",
            ),
        ]

    def __str__(self) -> str:
        return self.message[:60]

    @property
    def is_pending(self) -> bool:
        return self.answered_at is None


class InstructorNote(models.Model):
    """A private note: instruction staff only, never the applicant."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    text = models.TextField(_("note"), max_length=LONG_TEXT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("note interne")
        verbose_name_plural = _("notes internes")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.text[:60]


class PartnerOpinion(models.Model):
    class Opinion(models.TextChoices):
        FAVOURABLE = "favourable", _("Favorable")
        RESERVED = "reserved", _("Réservé")
        UNFAVOURABLE = "unfavourable", _("Défavorable")

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="opinions")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    funder = models.ForeignKey(
        Funder,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("financeur"),
    )
    opinion = models.CharField(_("avis"), max_length=15, choices=Opinion.choices)
    comment = models.TextField(_("commentaire"), blank=True, max_length=SHORT_TEXT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("avis de partenaire")
        verbose_name_plural = _("avis de partenaires")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["application", "author"], name="one_opinion_per_partner"
            )
        ]

    def __str__(self) -> str:
        return self.get_opinion_display()


class Score(models.Model):
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="scores")
    criterion = models.ForeignKey(ScoringCriterion, on_delete=models.PROTECT, related_name="+")
    scorer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    value = models.PositiveSmallIntegerField(_("note"))
    comment = models.TextField(_("commentaire"), blank=True, max_length=SHORT_TEXT)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("note")
        verbose_name_plural = _("notes")
        constraints = [
            models.UniqueConstraint(
                fields=["application", "criterion", "scorer"], name="one_score_per_criterion"
            )
        ]

    def __str__(self) -> str:
        return f"{self.criterion_id}: {self.value}"


class AssignmentRule(models.Model):
    """Automatic assignment of new files to an instructor, by territory and/or pillar."""

    call = models.ForeignKey(
        Call,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="assignment_rules",
        verbose_name=_("appel (vide = tous)"),
    )
    qpv = models.ForeignKey(
        QPV,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("quartier"),
    )
    pillar = models.ForeignKey(
        Pillar,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("pilier"),
    )
    instructor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("instructeur·rice"),
    )
    priority = models.PositiveSmallIntegerField(_("priorité"), default=100)

    class Meta:
        verbose_name = _("règle d'attribution")
        verbose_name_plural = _("règles d'attribution")
        ordering = ["priority", "id"]

    def __str__(self) -> str:
        return f"→ {self.instructor_id} (priorité {self.priority})"


def attachment_upload_to(instance: ApplicationAttachment, filename: str) -> str:
    return private_upload_path("applications", instance.application_id, filename)


class ApplicationAttachment(models.Model):
    """A file attached to one application only (a quote, a letter of support, a completion answer)."""

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="attachments"
    )
    title = models.CharField(_("titre"), max_length=200)
    file = models.FileField(_("fichier"), upload_to=attachment_upload_to)
    original_name = models.CharField(max_length=255)
    size = models.PositiveIntegerField(default=0)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("pièce du dossier")
        verbose_name_plural = _("pièces du dossier")
        ordering = ["-uploaded_at"]

    def __str__(self) -> str:
        return self.title


class CommitteeVote(models.Model):
    """One present member's vote on one file in an open committee session (programmes whose
    committee decides by vote; the outcome is the majority, a tie settled by the chair's vote)."""

    class Choice(models.TextChoices):
        APPROVE = "approve", _("Pour")
        REJECT = "reject", _("Contre")
        ABSTAIN = "abstain", _("Abstention")

    session = models.ForeignKey(
        CommitteeSession, on_delete=models.CASCADE, related_name="votes", verbose_name=_("séance")
    )
    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="committee_votes"
    )
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("membre"),
    )
    choice = models.CharField(_("vote"), max_length=10, choices=Choice.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("vote en comité")
        verbose_name_plural = _("votes en comité")
        constraints = [
            models.UniqueConstraint(
                fields=["session", "application", "member"], name="one_committee_vote_per_member"
            )
        ]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.choice}"
