"""Who and what every app shares: users, roles, organisations, documents, reference data, audit."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from . import identifiers
from .limits import SHORT_TEXT
from .uploads import private_upload_path


class Role(models.TextChoices):
    APPLICANT = "applicant", _("Porteur de projet")
    INSTRUCTOR = "instructor", _("Instructeur·rice")
    COMMITTEE_MEMBER = "committee_member", _("Membre du comité")
    PANEL_MEMBER = "panel_member", _("Membre du panel d'habitant·es")
    FINANCE_OFFICER = "finance_officer", _("Agent·e financier·ère")
    PROGRAMME_MANAGER = "programme_manager", _("Responsable de programme")
    AUDITOR = "auditor", _("Auditeur·rice")
    ADMIN = "admin", _("Administrateur·rice")


STAFF_ROLES = {
    Role.INSTRUCTOR,
    Role.COMMITTEE_MEMBER,
    Role.FINANCE_OFFICER,
    Role.PROGRAMME_MANAGER,
    Role.AUDITOR,
    Role.ADMIN,
}


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra: object) -> User:
        if not email:
            raise ValueError("email is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: object) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: object) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra)


class User(AbstractUser):  # type: ignore[django-manager-missing]  # RecoveryCodeDevice: django-otp untyped
    """A person. Logs in with their email. Roles come from RoleAssignment and Membership."""

    username = None  # type: ignore[assignment]
    email = models.EmailField(_("adresse e-mail"), unique=True)
    email_verified_at = models.DateTimeField(_("e-mail vérifié le"), null=True, blank=True)
    language = models.CharField(
        _("langue préférée"),
        max_length=10,
        choices=settings.LANGUAGES,
        default="fr",
        help_text=_("Langue des notifications et des e-mails."),
    )

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects = UserManager()  # type: ignore[misc,assignment]

    class Meta:
        verbose_name = _("utilisateur·rice")
        verbose_name_plural = _("utilisateur·rices")
        ordering = ["last_name", "first_name", "email"]

    def __str__(self) -> str:
        full = self.get_full_name()
        return f"{full} <{self.email}>" if full else self.email


class Funder(models.Model):
    """A financeur: State, metropolis, commune, département, CAF, foundation…"""

    class Kind(models.TextChoices):
        STATE = "state", pgettext_lazy("funder", "État")
        REGION = "region", _("Région")
        DEPARTEMENT = "departement", _("Département")
        MUNICIPALITY = "municipality", _("Commune ou intercommunalité")
        EU = "eu", _("Fonds européens")
        CAF = "caf", _("CAF")
        FOUNDATION = "foundation", _("Fondation")
        OTHER = "other", _("Autre")

    name = models.CharField(_("nom"), max_length=200, unique=True)
    kind = models.CharField(_("type"), max_length=20, choices=Kind.choices)
    siret = models.CharField(
        _("SIRET"), max_length=14, blank=True, validators=[identifiers.validate_siret]
    )

    class Meta:
        verbose_name = _("financeur")
        verbose_name_plural = _("financeurs")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class QPV(models.Model):
    """A priority neighbourhood (quartier prioritaire de la politique de la ville)."""

    code = models.CharField(
        _("code"), max_length=8, unique=True, validators=[identifiers.validate_qpv_code]
    )
    name = models.CharField(_("nom"), max_length=200)
    commune_insee = models.CharField(
        _("code commune INSEE"), max_length=5, validators=[identifiers.validate_insee_code]
    )
    commune_name = models.CharField(_("commune"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("quartier prioritaire (QPV)")
        verbose_name_plural = _("quartiers prioritaires (QPV)")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Pillar(models.Model):
    """A pillar of the city contract (contrat de ville)."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    label = models.CharField(_("libellé"), max_length=200)

    class Meta:
        verbose_name = _("pilier du contrat de ville")
        verbose_name_plural = _("piliers du contrat de ville")
        ordering = ["label"]

    def __str__(self) -> str:
        return self.label


class TransitionTheme(models.Model):
    code = models.SlugField(_("code"), max_length=40, unique=True)
    label = models.CharField(_("libellé"), max_length=200)

    class Meta:
        verbose_name = _("thème de transition")
        verbose_name_plural = _("thèmes de transition")
        ordering = ["label"]

    def __str__(self) -> str:
        return self.label


class BudgetLine(models.Model):
    """A budget line (ligne budgétaire / programme budgétaire) charged by payments."""

    code = models.CharField(_("code"), max_length=40, unique=True)
    label = models.CharField(_("libellé"), max_length=200)
    funder = models.ForeignKey(
        Funder, on_delete=models.PROTECT, related_name="budget_lines", verbose_name=_("financeur")
    )

    class Meta:
        verbose_name = _("ligne budgétaire")
        verbose_name_plural = _("lignes budgétaires")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} — {self.label}"


class Organisation(models.Model):
    """An association (or another non-profit) that applies for funding."""

    class LegalForm(models.TextChoices):
        ASSOCIATION = "association", _("Association loi 1901")
        FOUNDATION = "foundation", _("Fondation")
        COOPERATIVE = "cooperative", _("Coopérative (SCIC, SCOP)")
        PUBLIC = "public", _("Établissement public")
        OTHER = "other", _("Autre")

    name = models.CharField(_("nom"), max_length=255)
    siret = models.CharField(
        _("SIRET"), max_length=14, unique=True, validators=[identifiers.validate_siret]
    )
    rna = models.CharField(
        _("numéro RNA"), max_length=10, blank=True, validators=[identifiers.validate_rna]
    )
    legal_form = models.CharField(
        _("forme juridique"),
        max_length=20,
        choices=LegalForm.choices,
        default=LegalForm.ASSOCIATION,
    )
    email = models.EmailField(_("e-mail de contact"), blank=True)
    phone = models.CharField(_("téléphone"), max_length=30, blank=True)
    address = models.CharField(_("adresse"), max_length=255, blank=True)
    postcode = models.CharField(_("code postal"), max_length=5, blank=True)
    city = models.CharField(_("commune"), max_length=120, blank=True)
    commune_insee = models.CharField(
        _("code commune INSEE"),
        max_length=5,
        blank=True,
        validators=[identifiers.validate_insee_code],
    )
    legal_rep_name = models.CharField(_("représentant·e légal·e"), max_length=200, blank=True)
    legal_rep_role = models.CharField(_("qualité du représentant·e"), max_length=100, blank=True)
    # Bank details: seen only by finance and the organisation's members (core.permissions).
    iban = models.CharField(
        _("IBAN"), max_length=34, blank=True, validators=[identifiers.validate_iban]
    )
    bic = models.CharField(
        _("BIC"), max_length=11, blank=True, validators=[identifiers.validate_bic]
    )
    bank_details_changed_at = models.DateTimeField(
        _("coordonnées bancaires modifiées le"), null=True, blank=True
    )
    bank_details_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("coordonnées bancaires modifiées par"),
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="Membership",
        related_name="organisations",
        verbose_name=_("membres"),
    )
    created_at = models.DateTimeField(_("créée le"), auto_now_add=True)

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        ordering = ["name"]
        indexes = [models.Index(fields=["name"])]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user acting for an organisation. The organisation admin invites the others."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="memberships"
    )
    is_admin = models.BooleanField(_("administrateur·rice de l'organisation"), default=False)
    can_sign = models.BooleanField(
        _("pouvoir de signature"),
        default=False,
        help_text=_(
            "Représentant·e légal·e ou personne ayant reçu délégation : signe les conventions "
            "au nom de l'organisation."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("membre d'organisation")
        verbose_name_plural = _("membres d'organisation")
        constraints = [
            models.UniqueConstraint(fields=["user", "organisation"], name="uniq_membership")
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.organisation}"


class RoleAssignment(models.Model):
    """A staff or resident role held by a user, optionally scoped.

    Scope: an instructor with no territory sees every call unless `calls_only` is set, in which case
    only the calls they are staffed on (calls.Call.instructors). Territories restrict to files
    targeting those QPVs. A committee member may speak for a funder.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="role_assignments"
    )
    role = models.CharField(_("rôle"), max_length=30, choices=Role.choices)
    territories = models.ManyToManyField(QPV, blank=True, verbose_name=_("territoires"))
    calls_only = models.BooleanField(_("limité aux appels assignés"), default=False)
    funder = models.ForeignKey(
        Funder,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        verbose_name=_("financeur représenté"),
    )
    can_sign = models.BooleanField(
        _("signataire habilité·e du financeur"),
        default=False,
        help_text=_("Signe les conventions au nom du financeur représenté, avec son certificat."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("rôle attribué")
        verbose_name_plural = _("rôles attribués")
        constraints = [models.UniqueConstraint(fields=["user", "role"], name="uniq_user_role")]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()}"


def document_upload_to(instance: OrganisationDocument, filename: str) -> str:
    return private_upload_path("documents", instance.organisation_id, filename)


class DocumentKind(models.TextChoices):
    STATUTES = "statutes", _("Statuts")
    BANK_DETAILS = "bank_details", _("Relevé d'identité bancaire (RIB)")
    APPROVED_ACCOUNTS = "approved_accounts", _("Derniers comptes approuvés")
    ACTIVITY_REPORT = "activity_report", _("Rapport d'activité")
    BOARD_LIST = "board_list", _("Liste des dirigeants")
    INSURANCE = "insurance", _("Attestation d'assurance")
    OTHER = "other", _("Autre")


class OrganisationDocument(models.Model):
    """A document kept once on the organisation's profile and reused by every application."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="documents"
    )
    kind = models.CharField(_("type de document"), max_length=30, choices=DocumentKind.choices)
    title = models.CharField(_("titre"), max_length=200, blank=True)
    file = models.FileField(_("fichier"), upload_to=document_upload_to)
    original_name = models.CharField(_("nom du fichier"), max_length=255)
    size = models.PositiveIntegerField(_("taille (octets)"), default=0)
    valid_until = models.DateField(_("valide jusqu'au"), null=True, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(_("déposé le"), auto_now_add=True)

    class Meta:
        verbose_name = _("document")
        verbose_name_plural = _("documents")
        ordering = ["kind", "-uploaded_at"]

    def __str__(self) -> str:
        return self.title or self.get_kind_display()


class AuditLog(models.Model):
    """One row per transition and per money-changing action, written in the same transaction."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("auteur"),
    )
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(_("objet"), max_length=255)
    action = models.CharField(_("action"), max_length=100)
    source_state = models.CharField(_("état de départ"), max_length=40, blank=True)
    target_state = models.CharField(_("état d'arrivée"), max_length=40, blank=True)
    reason = models.TextField(_("motif"), blank=True)
    payload = models.JSONField(_("données"), default=dict, blank=True)
    # A default rather than auto_now_add: the time is hashed before the row is inserted.
    created_at = models.DateTimeField(_("date"), default=timezone.now, db_index=True)
    # Hash chain (core.audit_chain): this row's content hash, the transaction sealing it.
    content_hash = models.CharField(_("empreinte du contenu"), max_length=64, editable=False)
    txid = models.BigIntegerField(_("transaction"), null=True, editable=False, db_index=True)

    class Meta:
        verbose_name = _("entrée du journal")
        verbose_name_plural = _("journal d'audit")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["content_type", "object_id", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} {self.object_repr}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """A new row is chained in the caller's transaction; an existing row is never rewritten."""
        if self.pk is not None and not self._state.adding:
            raise ValueError("audit rows are append-only")
        from django.db import connection, transaction

        from .audit_chain import HASHED_FIELDS, chain_finish, chain_insert, chain_prepare

        # No savepoint: the row and its seal are written together or the transaction fails.
        with transaction.atomic(savepoint=False):
            if self.created_at is None:
                self.created_at = timezone.now()
            values = {f: getattr(self, f) for f in HASHED_FIELDS}
            if connection.vendor == "postgresql":
                # One statement: the row, its transaction's id and the seal opened (no signals
                # are sent for audit rows; nothing listens to them).
                ((self.pk, self.txid),) = chain_insert([values])
                self.content_hash = values["content_hash"]
                self._state.adding, self._state.db = False, connection.alias
                return
            txid = chain_prepare([values])
            self.content_hash, self.txid = values["content_hash"], txid
            super().save(*args, **kwargs)
            chain_finish(txid)

    @property
    def label(self) -> str:
        from .audit import action_label

        return action_label(self.action)


class AuditSeal(models.Model):
    """The audit rows one transaction wrote (ids first_id..last_id with its txid), sealed at its
    commit as one link of the global hash chain (core.audit_chain)."""

    txid = models.BigIntegerField(_("transaction"))
    seq = models.BigIntegerField(_("n° dans la chaîne"), unique=True, null=True)
    first_id = models.BigIntegerField(null=True)
    last_id = models.BigIntegerField(null=True)
    count = models.PositiveIntegerField(default=0)
    digest = models.CharField(max_length=64, blank=True)
    prev_hash = models.CharField(max_length=64, blank=True)
    row_hash = models.CharField(max_length=64, blank=True)
    sealed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("sceau du journal")
        verbose_name_plural = _("sceaux du journal")
        constraints = [
            models.UniqueConstraint(
                fields=["txid"],
                condition=models.Q(seq__isnull=True),
                name="one_open_seal_per_transaction",
            )
        ]
        indexes = [models.Index(fields=["txid"], name="core_auditseal_txid_idx")]

    def __str__(self) -> str:
        return f"{self.seq} {self.row_hash[:12]}"


class AuditAnchor(models.Model):
    """The head of the audit chain recorded at a moment (daily): a later truncation of the chain
    below this point shows, since the anchor is also exported outside the database."""

    seq = models.BigIntegerField(_("n° dans la chaîne"))
    row_hash = models.CharField(_("empreinte"), max_length=64)
    created_at = models.DateTimeField(_("date"), auto_now_add=True)

    class Meta:
        verbose_name = _("ancre du journal")
        verbose_name_plural = _("ancres du journal")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.seq} {self.row_hash[:12]}"


class Notification(models.Model):
    """An in-app notification; the email copy is sent after commit."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    title = models.CharField(_("titre"), max_length=255)
    body = models.TextField(_("message"), blank=True)
    url = models.CharField(_("lien"), max_length=500, blank=True)
    # {"title": [msgid, params], "body": [msgid, params]}: re-rendered in the reader's language.
    message = models.JSONField(_("message traduisible"), default=dict, blank=True)
    read_at = models.DateTimeField(_("lu le"), null=True, blank=True)
    created_at = models.DateTimeField(_("date"), auto_now_add=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "read_at"])]

    def __str__(self) -> str:
        return self.title

    @property
    def display_title(self) -> str:
        from .notifications import render_stored

        return render_stored((self.message or {}).get("title"), self.title)

    @property
    def display_body(self) -> str:
        from .notifications import render_stored

        return render_stored((self.message or {}).get("body"), self.body)


class Invitation(models.Model):
    """An invitation to join as staff (with a role) or as a member of an organisation."""

    token = models.CharField(max_length=64, unique=True)
    email = models.EmailField(_("adresse e-mail"))
    role = models.CharField(_("rôle"), max_length=30, choices=Role.choices, blank=True)
    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.CASCADE, related_name="invitations"
    )
    is_admin = models.BooleanField(_("administrateur·rice de l'organisation"), default=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    expires_at = models.DateTimeField(_("expire le"))
    accepted_at = models.DateTimeField(_("acceptée le"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")

    def __str__(self) -> str:
        return self.email


class ReferenceCounter(models.Model):
    """Gap-free counters for human references such as AAP-2026-0042 (row-locked on use)."""

    prefix = models.CharField(max_length=20)
    year = models.PositiveIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["prefix", "year"], name="uniq_reference_counter")
        ]

    def __str__(self) -> str:
        return f"{self.prefix}-{self.year}: {self.last}"


class BackgroundJob(models.Model):
    """A long task (large export, import, payment-run processing) run by a Celery worker, with its
    progress shown to the person who started it and, when it makes one, a private result file that
    expires."""

    class State(models.TextChoices):
        QUEUED = "queued", _("En attente")
        RUNNING = "running", _("En cours")
        DONE = "done", _("Terminée")
        FAILED = "failed", _("Échouée")

    kind = models.CharField(_("nature"), max_length=60)
    label = models.CharField(_("libellé"), max_length=255)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jobs"
    )
    state = models.CharField(
        _("état"), max_length=10, choices=State.choices, default=State.QUEUED, db_index=True
    )
    params = models.JSONField(_("paramètres"), default=dict, blank=True)
    progress_done = models.PositiveIntegerField(_("fait"), default=0)
    progress_total = models.PositiveIntegerField(_("total"), null=True, blank=True)
    result = models.JSONField(_("résultat"), default=dict, blank=True)
    result_file = models.FileField(_("fichier"), upload_to="jobs/", blank=True, max_length=255)
    result_name = models.CharField(_("nom du fichier"), max_length=255, blank=True)
    error = models.TextField(_("erreur"), blank=True)
    attempts = models.PositiveSmallIntegerField(_("tentatives"), default=0)
    # Claim (core.jobs.job_claim): the worker holding the job, until when; totals of all attempts.
    claim_token = models.CharField(_("jeton de prise en charge"), max_length=32, blank=True)
    lease_until = models.DateTimeField(_("réservée jusqu'au"), null=True, blank=True)
    tally = models.JSONField(_("totaux de toutes les tentatives"), default=dict, blank=True)
    created_at = models.DateTimeField(_("créée le"), auto_now_add=True)
    started_at = models.DateTimeField(_("commencée le"), null=True, blank=True)
    finished_at = models.DateTimeField(_("terminée le"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expire le"), null=True, blank=True)

    class Meta:
        verbose_name = _("tâche de fond")
        verbose_name_plural = _("tâches de fond")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.label} ({self.get_state_display()})"

    @property
    def percent(self) -> int | None:
        if not self.progress_total:
            return 100 if self.state == self.State.DONE else None
        return min(100, self.progress_done * 100 // self.progress_total)


class ExportTemplate(models.Model):
    """The columns a person chose for an export of one kind of data, saved under a name."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="export_templates"
    )
    dataset = models.CharField(_("données"), max_length=60)
    name = models.CharField(_("nom"), max_length=120)
    columns = models.JSONField(_("colonnes"), default=list)
    file_format = models.CharField(_("format"), max_length=10, default="csv")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("modèle d'export")
        verbose_name_plural = _("modèles d'export")
        ordering = ["dataset", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "dataset", "name"], name="one_export_template_name"
            )
        ]

    def __str__(self) -> str:
        return self.name


from .models_security import (  # noqa: E402, F401  (models of this app)
    PersonalApiToken,
    RecoveryCode,
    RecoveryCodeDevice,
)


class RetentionRun(models.Model):
    """One application of the retention rules (daily job): what each rule anonymised or deleted."""

    started_at = models.DateTimeField(_("commencée le"), auto_now_add=True)
    results = models.JSONField(_("résultats"), default=dict, blank=True)

    class Meta:
        verbose_name = _("application des durées de conservation")
        verbose_name_plural = _("applications des durées de conservation")
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.started_at:%Y-%m-%d %H:%M}"


class ErasureRequest(models.Model):
    """A person's request to have their personal data erased (RGPD art. 17), with its reason;
    carried out by the retention rules' `erase`, or refused with the legal duty that applies."""

    class State(models.TextChoices):
        RECEIVED = "received", _("Reçue")
        DONE = "done", _("Effectuée")
        REFUSED = "refused", _("Refusée")

    person = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="erasure_requests",
        verbose_name=_("personne"),
    )
    reason = models.TextField(_("motif de la demande"), max_length=SHORT_TEXT)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("enregistrée par"),
    )
    state = models.CharField(
        _("état"), max_length=10, choices=State.choices, default=State.RECEIVED
    )
    refusal_reason = models.TextField(_("motif du refus"), blank=True, max_length=SHORT_TEXT)
    outcome = models.JSONField(_("résultat"), default=dict, blank=True)
    created_at = models.DateTimeField(_("reçue le"), auto_now_add=True)
    processed_at = models.DateTimeField(_("traitée le"), null=True, blank=True)

    class Meta:
        verbose_name = _("demande d'effacement")
        verbose_name_plural = _("demandes d'effacement")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"#{self.pk} ({self.get_state_display()})"


from .models_idempotency import IdempotencyKey  # noqa: E402, F401  (registered with the core app)
from .models_versions import DataVersion  # noqa: E402, F401  (registered with the core app)
