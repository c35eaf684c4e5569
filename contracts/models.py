"""The city contract (contrat de ville, « Engagements Quartiers 2030 »): docs/domain.md §8.

The contract sits between `calls` and `grants`: a part (volet) links to the programmes that fund
it through a many-to-many owned here, so `calls` never imports this app. What reads grants, cpo
or finance data (the follow-up, the annual report) lives in `reporting/contracts/`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, transition

from calls.models import Programme
from core.limits import LONG_TEXT, SHORT_TEXT
from core.models import QPV, Funder, Pillar, TransitionTheme

MONEY: dict[str, Any] = {"max_digits": 14, "decimal_places": 2}
YEAR = [MinValueValidator(2000), MaxValueValidator(2100)]


class ContractState(models.TextChoices):
    DRAFT = "draft", _("En préparation")
    SIGNED = "signed", _("Signé")
    AMENDED = "amended", _("Modifié par avenant")
    ENDED = "ended", _("Échu")


S = ContractState


class Contract(models.Model):
    """One territory's contract: the EPCI, its communes and QPVs, over several years."""

    name = models.CharField(_("intitulé"), max_length=200)
    epci_name = models.CharField(_("intercommunalité (EPCI)"), max_length=200)
    epci_siren = models.CharField(_("SIREN de l'EPCI"), max_length=9, blank=True)
    communes = models.TextField(
        _("communes signataires"),
        blank=True,
        help_text=_("Une commune par ligne."),
        max_length=SHORT_TEXT,
    )
    qpvs = models.ManyToManyField(QPV, related_name="contracts", verbose_name=_("quartiers"))
    first_year = models.PositiveIntegerField(_("première année"), validators=YEAR)
    last_year = models.PositiveIntegerField(_("dernière année"), validators=YEAR)
    state = FSMField(_("état"), default=S.DRAFT, choices=S.choices, protected=True, db_index=True)
    version = models.PositiveSmallIntegerField(_("version"), default=1)
    signed_on = models.DateField(_("signé le"), null=True, blank=True)
    summary = models.TextField(_("orientations"), blank=True, max_length=LONG_TEXT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("contrat de ville")
        verbose_name_plural = _("contrats de ville")
        ordering = ["-first_year", "name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(last_year__gte=models.F("first_year")),
                name="contract_period_ordered",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.first_year}–{self.last_year})"

    @property
    def years(self) -> list[int]:
        return list(range(self.first_year, self.last_year + 1))

    def commune_list(self) -> list[str]:
        return [line.strip() for line in self.communes.splitlines() if line.strip()]

    @transition(field=state, source=S.DRAFT, target=S.SIGNED)
    def sign(self) -> None:
        """Every signatory has signed."""

    @transition(field=state, source=[S.SIGNED, S.AMENDED], target=S.AMENDED)
    def amend(self) -> None:
        """An avenant changes the contract; the version goes up."""

    @transition(field=state, source=[S.SIGNED, S.AMENDED], target=S.ENDED)
    def end(self) -> None:
        """The period is over (or the contract is replaced)."""


class ContractVersion(models.Model):
    """What the contract said at each version: the signature is version 1, each avenant the next."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveSmallIntegerField(_("version"))
    reason = models.TextField(_("objet"), blank=True, max_length=SHORT_TEXT)
    effective_on = models.DateField(_("prend effet le"))
    before = models.JSONField(_("avant"), default=dict)
    after = models.JSONField(_("après"), default=dict)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("version du contrat")
        verbose_name_plural = _("versions du contrat")
        ordering = ["contract", "number"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "number"], name="one_contract_version")
        ]

    def __str__(self) -> str:
        return f"{self.contract} v{self.number}"


class Part(models.Model):
    """A thematic part (volet): a pillar, a transition theme or a local priority."""

    class Kind(models.TextChoices):
        PILLAR = "pillar", _("Pilier")
        TRANSITION = "transition", _("Transition")
        LOCAL = "local", _("Priorité locale")

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="parts")
    kind = models.CharField(_("nature"), max_length=12, choices=Kind.choices)
    title = models.CharField(_("intitulé"), max_length=200)
    pillar = models.ForeignKey(
        Pillar, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("pilier")
    )
    theme = models.ForeignKey(
        TransitionTheme, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("thème")
    )
    position = models.PositiveSmallIntegerField(_("ordre"), default=0)
    programmes = models.ManyToManyField(
        Programme, blank=True, related_name="+", verbose_name=_("programmes rattachés")
    )

    class Meta:
        verbose_name = _("volet")
        verbose_name_plural = _("volets")
        ordering = ["contract", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "title"], name="uniq_part_title")
        ]

    def __str__(self) -> str:
        return self.title


class Signatory(models.Model):
    """A party to the contract, with its role; `funder` links it to what Pluriel pays."""

    class Role(models.TextChoices):
        STATE = "state", _("État")
        EPCI = "epci", _("Intercommunalité")
        COMMUNE = "commune", _("Commune")
        DEPARTEMENT = "departement", _("Département")
        REGION = "region", _("Région")
        CAF = "caf", _("CAF")
        LANDLORD = "landlord", _("Bailleur social")
        EMPLOYMENT = "employment", _("France Travail")
        OTHER = "other", _("Autre partenaire")

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="signatories")
    name = models.CharField(_("nom"), max_length=200)
    role = models.CharField(_("rôle"), max_length=12, choices=Role.choices)
    funder = models.ForeignKey(
        Funder,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("financeur dans Pluriel"),
    )
    signed_by = models.CharField(_("signé par"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("signataire")
        verbose_name_plural = _("signataires")
        ordering = ["contract", "id"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "name"], name="uniq_signatory_name"),
        ]

    def __str__(self) -> str:
        return self.name


class MemberRole(models.TextChoices):
    SIGNATORY_REP = "signatory_rep", _("Représentant·e d'un signataire")
    STEERING = "steering", _("Membre du comité de pilotage")
    CITIZEN = "citizen", _("Membre du conseil citoyen")


class ContractMember(models.Model):
    """A role held on one contract, scoped like core's RoleAssignment: a representative speaks
    for one signatory, a conseil citoyen member for one QPV."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="contract_roles"
    )
    role = models.CharField(_("rôle"), max_length=20, choices=MemberRole.choices)
    signatory = models.ForeignKey(
        Signatory, on_delete=models.CASCADE, null=True, blank=True, verbose_name=_("signataire")
    )
    qpv = models.ForeignKey(
        QPV, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("quartier")
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("rôle sur un contrat")
        verbose_name_plural = _("rôles sur les contrats")
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "user", "role"], name="uniq_contract_member_role"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()}"


class Commitment(models.Model):
    """What one signatory promised for one part and one year."""

    class Kind(models.TextChoices):
        SPECIFIC = "specific", _("Crédits spécifiques politique de la ville")
        COMMON_LAW = "common_law", _("Crédits de droit commun")
        ACTION = "action", _("Action de droit commun (non financière)")

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="commitments")
    # RESTRICT: a part or signatory with commitments is never deleted alone; deleting the whole
    # contract takes them all.
    signatory = models.ForeignKey(Signatory, on_delete=models.RESTRICT, related_name="commitments")
    part = models.ForeignKey(Part, on_delete=models.RESTRICT, related_name="commitments")
    year = models.PositiveIntegerField(_("année"), validators=YEAR)
    kind = models.CharField(_("nature"), max_length=12, choices=Kind.choices)
    amount = models.DecimalField(_("montant promis (€)"), **MONEY, null=True, blank=True)
    action = models.CharField(_("action"), max_length=255, blank=True)
    indicator = models.CharField(_("indicateur"), max_length=200, blank=True)
    target = models.DecimalField(_("cible"), max_digits=14, decimal_places=2, null=True, blank=True)
    realised_amount = models.DecimalField(
        _("montant réalisé déclaré (€)"), **MONEY, null=True, blank=True
    )
    realised_value = models.DecimalField(
        _("valeur atteinte"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    realised_note = models.TextField(_("réalisation"), blank=True, max_length=LONG_TEXT)
    reported_at = models.DateTimeField(_("déclarée le"), null=True, blank=True)

    class Meta:
        verbose_name = _("engagement")
        verbose_name_plural = _("engagements")
        ordering = ["contract", "year", "signatory", "part"]
        indexes = [models.Index(fields=["contract", "year"])]

    def __str__(self) -> str:
        return f"{self.signatory} — {self.part} — {self.year}"

    @property
    def is_financial(self) -> bool:
        return self.kind != self.Kind.ACTION


class Meeting(models.Model):
    """A comité de pilotage or comité technique."""

    class Kind(models.TextChoices):
        STEERING = "steering", _("Comité de pilotage")
        TECHNICAL = "technical", _("Comité technique")

    class State(models.TextChoices):
        PLANNED = "planned", _("Programmé")
        HELD = "held", _("Tenu")

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="meetings")
    kind = models.CharField(_("instance"), max_length=10, choices=Kind.choices)
    held_on = models.DateField(_("date"))
    state = FSMField(_("état"), default=State.PLANNED, choices=State.choices, protected=True)
    agenda = models.TextField(_("ordre du jour"), blank=True, max_length=LONG_TEXT)
    attendees = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="+", verbose_name=_("participant·es")
    )
    other_attendees = models.TextField(
        _("autres participant·es"), blank=True, max_length=SHORT_TEXT
    )
    minutes = models.TextField(_("relevé de décisions"), blank=True, max_length=LONG_TEXT)

    class Meta:
        verbose_name = _("instance de pilotage")
        verbose_name_plural = _("instances de pilotage")
        ordering = ["contract", "-held_on"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} du {self.held_on:%d/%m/%Y}"

    @transition(field=state, source=State.PLANNED, target=State.HELD)
    def hold(self) -> None:
        """The meeting took place; its decisions are recorded."""


class Decision(models.Model):
    """One decision of a meeting; a reorientation moves money between two programmes."""

    class Kind(models.TextChoices):
        GENERAL = "general", _("Décision")
        REORIENTATION = "reorientation", _("Réorientation de crédits")

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="decisions")
    kind = models.CharField(_("nature"), max_length=14, choices=Kind.choices)
    text = models.TextField(_("décision"), max_length=LONG_TEXT)
    part = models.ForeignKey(
        Part, on_delete=models.RESTRICT, null=True, blank=True, verbose_name=_("volet")
    )
    from_programme = models.ForeignKey(
        Programme, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    to_programme = models.ForeignKey(
        Programme, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    amount = models.DecimalField(_("montant (€)"), **MONEY, null=True, blank=True)
    before = models.JSONField(_("avant"), default=dict, blank=True)
    after = models.JSONField(_("après"), default=dict, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("décision")
        verbose_name_plural = _("décisions")
        ordering = ["meeting", "id"]

    def __str__(self) -> str:
        return self.text[:80]


class Indicator(models.Model):
    """An observatory indicator for one part, in one QPV (or the whole EPCI when qpv is empty)."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="indicators")
    part = models.ForeignKey(Part, on_delete=models.RESTRICT, related_name="indicators")
    qpv = models.ForeignKey(
        QPV, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("quartier")
    )
    code = models.SlugField(_("code"), max_length=60)
    label = models.CharField(_("libellé"), max_length=200)
    unit = models.CharField(_("unité"), max_length=20, default="%")
    target = models.DecimalField(_("cible"), max_digits=14, decimal_places=2, null=True)
    target_year = models.PositiveIntegerField(_("année cible"), null=True, validators=YEAR)
    source = models.CharField(_("source"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("indicateur")
        verbose_name_plural = _("indicateurs")
        ordering = ["contract", "part", "code", "qpv"]
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "code", "qpv"], name="uniq_indicator_per_qpv"
            ),
            models.UniqueConstraint(
                fields=["contract", "code"],
                condition=models.Q(qpv__isnull=True),
                name="uniq_indicator_epci",
            ),
        ]

    def __str__(self) -> str:
        where = self.qpv.name if self.qpv_id else _("EPCI")  # type: ignore[union-attr]
        return f"{self.label} — {where}"


class IndicatorValue(models.Model):
    indicator = models.ForeignKey(Indicator, on_delete=models.CASCADE, related_name="values")
    year = models.PositiveIntegerField(_("année"), validators=YEAR)
    value = models.DecimalField(_("valeur"), max_digits=14, decimal_places=2)
    source = models.CharField(_("source"), max_length=200, blank=True)
    measured_on = models.DateField(_("date de la mesure"), null=True, blank=True)

    class Meta:
        verbose_name = _("valeur d'indicateur")
        verbose_name_plural = _("valeurs d'indicateurs")
        ordering = ["indicator", "year"]
        constraints = [
            models.UniqueConstraint(fields=["indicator", "year"], name="one_value_per_year")
        ]

    def __str__(self) -> str:
        return f"{self.indicator.code} {self.year}: {self.value}"


class Opinion(models.Model):
    """The opinion of a QPV's conseil citoyen on one part for one year."""

    class Assessment(models.TextChoices):
        FAVOURABLE = "favourable", _("Favorable")
        RESERVED = "reserved", _("Favorable avec réserves")
        UNFAVOURABLE = "unfavourable", _("Défavorable")

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="opinions")
    qpv = models.ForeignKey(QPV, on_delete=models.PROTECT, verbose_name=_("quartier"))
    part = models.ForeignKey(Part, on_delete=models.RESTRICT, related_name="opinions")
    year = models.PositiveIntegerField(_("année"), validators=YEAR)
    assessment = models.CharField(_("appréciation"), max_length=14, choices=Assessment.choices)
    text = models.TextField(_("avis"), max_length=LONG_TEXT)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    given_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("avis du conseil citoyen")
        verbose_name_plural = _("avis des conseils citoyens")
        ordering = ["contract", "year", "qpv", "part"]
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "qpv", "part", "year"], name="one_opinion_per_part_year"
            )
        ]

    def __str__(self) -> str:
        return f"{self.qpv} — {self.part} — {self.year}"


ZERO = Decimal("0")


class AnnualReportState(models.TextChoices):
    DRAFT = "draft", _("En préparation")
    SUBMITTED = "submitted", _("Soumis pour avis")
    APPROVED = "approved", _("Approuvé")


class AnnualReport(models.Model):
    """The approval cycle of one year's report (CGCT art. L. 1111-2, décret n° 2015-1118;
    docs/domain.md §8): submitted to the steering committee and the conseils citoyens, who have
    at least one month to answer (no answer counts as favourable), then approved by the council
    with its deliberation. The approved version is frozen (`frozen`: the document's blocks) and
    is what every later download gives."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="reports")
    year = models.PositiveIntegerField(_("année"), validators=YEAR)
    state = FSMField(
        _("état"),
        default=AnnualReportState.DRAFT,
        choices=AnnualReportState.choices,
        protected=True,
    )
    meeting = models.ForeignKey(
        Meeting,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("comité de pilotage saisi"),
    )
    submitted_on = models.DateField(_("soumis le"), null=True, blank=True)
    opinions_due_on = models.DateField(_("avis attendus avant le"), null=True, blank=True)
    approved_on = models.DateField(_("approuvé le"), null=True, blank=True)
    deliberation_ref = models.CharField(
        _("référence de la délibération"), max_length=100, blank=True
    )
    frozen = models.JSONField(_("version approuvée"), default=dict, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("rapport annuel")
        verbose_name_plural = _("rapports annuels")
        ordering = ["contract", "year"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "year"], name="one_report_per_year")
        ]

    def __str__(self) -> str:
        return f"{self.contract} — {self.year}"

    @transition(field=state, source=AnnualReportState.DRAFT, target=AnnualReportState.SUBMITTED)
    def submit(self) -> None:
        """Sent for opinions (steering committee, conseils citoyens, municipal councils)."""

    @transition(field=state, source=AnnualReportState.SUBMITTED, target=AnnualReportState.APPROVED)
    def approve(self) -> None:
        """Approved by the community council: frozen from now on."""
