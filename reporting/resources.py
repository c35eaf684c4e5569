"""What can be exported: one django-import-export resource per main model (French headers, readable
values) and the datasets built on them (who may export which rows, with which filters).

Values are readable: a choice shows its label (« Payée », not `paid`), a relation its reference or
name, an amount a plain decimal with two places (« 1234.50 »), a date ISO 8601 (« 2026-03-31 »),
a yes/no « oui »/« non ». Spreadsheets (XLSX, ODS) and JSON get typed values instead (numbers,
dates, booleans): each widget gives both through `renderer(native)`.

Columns are declared with `Column`, which knows the `values_list()` paths it reads, so the streaming
export (reporting.exports) reads rows as tuples and renders them with the same widgets, without
loading model instances (`ModelResource.export()` still works, for small sets and tests).

Restricted columns: bank details (IBAN, BIC) only for finance officers, or for an association's
members whose export holds nothing but their own organisations (core.permissions.can_see_bank_
details); internal instruction columns (proposed amount, assigned instructor) for staff only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import DecimalField, F, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from import_export import fields, resources, widgets

from calls.models import Call, CallMode, CallState
from calls.selectors import calls_readable_by
from core.models import Organisation, Role, User
from core.permissions import has_role, is_staff_member, organisation_ids_of
from core.selectors import organisations_visible_to
from cpo.models import (
    Agreement,
    AgreementState,
    Evaluation,
    EvaluationState,
    Instalment,
    InstalmentState,
    InstalmentTemplate,
    Profile,
    instalment_reference,
)
from cpo.selectors import agreements_visible_to
from cpo.selectors_evaluation import evaluations_visible_to
from grants.models import Application, ApplicationKind, ApplicationState
from grants.selectors import applications_visible_to

CENT = Decimal("0.01")
#: Restriction of a column (Column.restricted).
BANK = "bank"
STAFF = "staff"
# A text cell starting with one of these is a formula for a spreadsheet opening the CSV.
FORMULA_START = "=+-@\t\r"

Renderer = Callable[[Any], Any] | None


# --------------------------------------------------------------------------- widgets


class ExportWidget(widgets.Widget):
    """A widget that renders one value, either as text (CSV, `ModelResource.export()`) or native
    (XLSX, ODS, JSON). `renderer(native)` returns the function once, for a whole column (`None`:
    the value as it is). In text, a renderer may leave None and integers as they are: the CSV
    writer writes them as `render()` does (« » and the digits)."""

    def renderer(self, native: bool) -> Renderer:
        return None

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> Any:
        native = bool(kwargs.get("force_native_type")) or not self.coerce_to_string
        render = self.renderer(native)
        if render is not None:
            value = render(value)
        if native:
            return value
        return "" if value is None else str(value)


class Text(ExportWidget):
    """Free text (a column of strings). In CSV a text that a spreadsheet would run as a formula
    gets a leading « ' » (OWASP « CSV injection »)."""

    def renderer(self, native: bool) -> Renderer:
        if native:
            return None

        def text(value: str | None) -> str | None:
            if value and value[0] in FORMULA_START:
                return "'" + value
            return value

        return text


class Number(ExportWidget):
    """A count, a year, a percentage: the number as it is (« 2026 », « 80.00 »)."""

    def renderer(self, native: bool) -> Renderer:
        return None


class Money(ExportWidget):
    """An amount in euros: a plain decimal with two places (« 1234.50 »), never a float."""

    def renderer(self, native: bool) -> Renderer:
        if native:
            return lambda value: value if value is None else Decimal(value).quantize(CENT)
        return lambda value: value if value is None else f"{value:.2f}"


class Label(ExportWidget):
    """The label of a choice (« Payée » for `paid`), in the language of the export."""

    def __init__(self, choices: Iterable[tuple[str, Any]]) -> None:
        super().__init__()
        self.choices = list(choices)

    def renderer(self, native: bool) -> Renderer:
        labels: dict[Any, Any] = {code: str(label) for code, label in self.choices}
        labels[None] = None
        return lambda value: labels.get(value, value)


class YesNo(ExportWidget):
    """« oui » / « non » in text; a boolean in spreadsheets."""

    def renderer(self, native: bool) -> Renderer:
        if native:
            return None
        return {True: _("oui"), False: _("non")}.get


class Date(ExportWidget):
    """ISO 8601 (« 2026-03-31 »): sorts as text and reads the same in every language."""

    def renderer(self, native: bool) -> Renderer:
        if native:
            return None
        return lambda value: value and value.isoformat()


class DateTime(ExportWidget):
    """Local time (Europe/Paris), to the minute: « 2026-03-31 14:05 »; naive in spreadsheets."""

    def renderer(self, native: bool) -> Renderer:
        zone = timezone.get_current_timezone()
        if native:
            return lambda value: (
                value and timezone.localtime(value, zone).replace(tzinfo=None, microsecond=0)
            )
        return lambda value: value and timezone.localtime(value, zone).strftime("%Y-%m-%d %H:%M")


class Joined(ExportWidget):
    """Several related values in one cell (« QN01301M, QN01302M »)."""

    def renderer(self, native: bool) -> Renderer:
        return lambda values: ", ".join([str(v) for v in values]) if values else None


# --------------------------------------------------------------------------- columns


def _traverse(instance: Any, path: str) -> Any:
    value = instance
    for attr in path.split("__"):
        value = getattr(value, attr, None)
        if value is None:
            return None
    return value


class Column(fields.Field):
    """A read-only export column.

    `attribute` is a `values_list()` path (« agreement__organisation__name »). A computed column
    reads several `paths` and `combine`s them. A `many` column reads a multi-valued relation
    (« qpvs__code »): the streaming export fetches it once per chunk of rows, never per row."""

    def __init__(
        self,
        attribute: str,
        header: Promise | str,
        widget: ExportWidget | None = None,
        *,
        paths: tuple[str, ...] | None = None,
        combine: Callable[..., Any] | None = None,
        many: bool = False,
        restricted: str = "",
    ) -> None:
        super().__init__(
            attribute=attribute,
            column_name=header,
            widget=widget or (Joined() if many else Text()),
            readonly=True,
        )
        self.paths = tuple(paths or (attribute,))
        self.combine = combine
        self.many = many
        self.restricted = restricted

    def get_value(self, instance: Any) -> Any:
        if self.many:
            return related_values(type(instance), [instance.pk], self).get(instance.pk, [])
        values = [_traverse(instance, path) for path in self.paths]
        return self.combine(*values) if self.combine else values[0]


def related_values(model: type, pks: list[int], column: Column) -> dict[int, list[Any]]:
    """The values of a `many` column for these rows, in one query: {pk: [value, …]}."""
    found: dict[int, list[Any]] = {}
    rows = (
        model._default_manager.filter(pk__in=pks)
        .order_by("pk", *column.paths)
        .values_list("pk", *column.paths)
    )
    for pk, *values in rows:
        if values[0] is None:  # LEFT JOIN: no related row
            continue
        value = column.combine(*values) if column.combine else values[0]
        found.setdefault(pk, []).append(value)
    return found


def _person(first_name: str | None, last_name: str | None, email: str | None) -> str | None:
    name = " ".join(part for part in (first_name, last_name) if part)
    return name or email


def _share(name: str, share: Decimal | None) -> str:
    if share is None:
        return name
    percent = (share * 100).quantize(Decimal("0.01")).normalize()
    return f"{name} ({percent:f} %)"


# --------------------------------------------------------------------------- resources


class ExportResource(resources.ModelResource):
    """A resource whose every field is a `Column`, in `Meta.fields` order."""

    def columns(self) -> dict[str, Column]:
        return {name: self.fields[name] for name in self.get_export_order()}


class OrganisationResource(ExportResource):
    name = Column("name", gettext_lazy("Nom"))
    siret = Column("siret", gettext_lazy("SIRET"))
    rna = Column("rna", gettext_lazy("Numéro RNA"))
    legal_form = Column(
        "legal_form", gettext_lazy("Forme juridique"), Label(Organisation.LegalForm.choices)
    )
    email = Column("email", gettext_lazy("E-mail de contact"))
    phone = Column("phone", gettext_lazy("Téléphone"))
    address = Column("address", gettext_lazy("Adresse"))
    postcode = Column("postcode", gettext_lazy("Code postal"))
    city = Column("city", gettext_lazy("Commune"))
    commune_insee = Column("commune_insee", gettext_lazy("Code commune INSEE"))
    legal_rep_name = Column("legal_rep_name", gettext_lazy("Représentant·e légal·e"))
    legal_rep_role = Column("legal_rep_role", gettext_lazy("Qualité du représentant·e"))
    iban = Column("iban", gettext_lazy("IBAN"), restricted=BANK)
    bic = Column("bic", gettext_lazy("BIC"), restricted=BANK)
    bank_details_changed_at = Column(
        "bank_details_changed_at",
        gettext_lazy("Coordonnées bancaires modifiées le"),
        DateTime(),
        restricted=BANK,
    )
    created_at = Column("created_at", gettext_lazy("Créée le"), DateTime())

    class Meta:
        model = Organisation
        fields = (
            "name",
            "siret",
            "rna",
            "legal_form",
            "email",
            "phone",
            "address",
            "postcode",
            "city",
            "commune_insee",
            "legal_rep_name",
            "legal_rep_role",
            "iban",
            "bic",
            "bank_details_changed_at",
            "created_at",
        )
        export_order = fields


class CallResource(ExportResource):
    id = Column("id", gettext_lazy("N°"), Number())
    title = Column("title", gettext_lazy("Titre"))
    mode = Column("mode", gettext_lazy("Mode"), Label(CallMode.choices))
    state = Column("state", gettext_lazy("État"), Label(CallState.choices))
    programme = Column("programme__name", gettext_lazy("Programme"))
    fiscal_year = Column("programme__fiscal_year", gettext_lazy("Exercice"), Number())
    opens_at = Column("opens_at", gettext_lazy("Ouverture des candidatures"), DateTime())
    closes_at = Column("closes_at", gettext_lazy("Clôture des candidatures"), DateTime())
    decision_expected_on = Column(
        "decision_expected_on", gettext_lazy("Décision attendue le"), Date()
    )
    envelope = Column("envelope", gettext_lazy("Enveloppe de l'appel (€)"), Money())
    max_amount = Column("max_amount", gettext_lazy("Montant maximum par dossier (€)"), Money())
    max_share_percent = Column(
        "max_share_percent", gettext_lazy("Part maximale du budget (%)"), Number()
    )
    multi_year_allowed = Column("multi_year_allowed", gettext_lazy("Pluriannuel possible"), YesNo())

    class Meta:
        model = Call
        fields = (
            "id",
            "title",
            "mode",
            "state",
            "programme",
            "fiscal_year",
            "opens_at",
            "closes_at",
            "decision_expected_on",
            "envelope",
            "max_amount",
            "max_share_percent",
            "multi_year_allowed",
        )
        export_order = fields


class ApplicationResource(ExportResource):
    reference = Column("reference", gettext_lazy("Référence"))
    kind = Column("kind", gettext_lazy("Mode"), Label(ApplicationKind.choices))
    title = Column("title", gettext_lazy("Titre du projet"))
    organisation = Column("organisation__name", gettext_lazy("Organisation"))
    siret = Column("organisation__siret", gettext_lazy("SIRET"))
    programme = Column("programme__name", gettext_lazy("Programme"))
    fiscal_year = Column("programme__fiscal_year", gettext_lazy("Exercice"), Number())
    call = Column("call__title", gettext_lazy("Appel"))
    state = Column("state", gettext_lazy("État"), Label(ApplicationState.choices))
    pillar = Column("pillar__label", gettext_lazy("Pilier"))
    qpvs = Column("qpvs__code", gettext_lazy("Quartiers ciblés"), many=True)
    themes = Column("themes__label", gettext_lazy("Thèmes de transition"), many=True)
    requested_amount = Column("requested_amount", gettext_lazy("Montant demandé (€)"), Money())
    proposed_amount = Column(
        "proposed_amount", gettext_lazy("Montant proposé (€)"), Money(), restricted=STAFF
    )
    approved_amount = Column("approved_amount", gettext_lazy("Montant accordé (€)"), Money())
    is_multi_year = Column("is_multi_year", gettext_lazy("Pluriannuel"), YesNo())
    duration_years = Column("duration_years", gettext_lazy("Durée (années)"), Number())
    start_date = Column("start_date", gettext_lazy("Début du projet"), Date())
    end_date = Column("end_date", gettext_lazy("Fin du projet"), Date())
    beneficiaries_count = Column(
        "beneficiaries_count", gettext_lazy("Nombre de bénéficiaires visés"), Number()
    )
    assigned_to = Column(
        "assigned_to__email",
        gettext_lazy("Instructeur·rice"),
        paths=("assigned_to__first_name", "assigned_to__last_name", "assigned_to__email"),
        combine=_person,
        restricted=STAFF,
    )
    submitted_at = Column("submitted_at", gettext_lazy("Déposé le"), DateTime())
    decided_at = Column("decided_at", gettext_lazy("Décidé le"), DateTime())
    created_at = Column("created_at", gettext_lazy("Créé le"), DateTime())

    class Meta:
        model = Application
        fields = (
            "reference",
            "kind",
            "title",
            "organisation",
            "siret",
            "programme",
            "fiscal_year",
            "call",
            "state",
            "pillar",
            "qpvs",
            "themes",
            "requested_amount",
            "proposed_amount",
            "approved_amount",
            "is_multi_year",
            "duration_years",
            "start_date",
            "end_date",
            "beneficiaries_count",
            "assigned_to",
            "submitted_at",
            "decided_at",
            "created_at",
        )
        export_order = fields


class AgreementResource(ExportResource):
    reference = Column("reference", gettext_lazy("Référence"))
    kind = Column("kind", gettext_lazy("Forme"), Label(Agreement.Kind.choices))
    title = Column("title", gettext_lazy("Objet"))
    organisation = Column("organisation__name", gettext_lazy("Organisation"))
    siret = Column("organisation__siret", gettext_lazy("SIRET"))
    programme = Column("programme__name", gettext_lazy("Programme"))
    application = Column("application__reference", gettext_lazy("Dossier"))
    source = Column("source", gettext_lazy("Origine"), Label(Agreement.Source.choices))
    external_id = Column("external_id", gettext_lazy("Identifiant d'origine"))
    state = Column("state", gettext_lazy("État"), Label(AgreementState.choices))
    first_year = Column("first_year", gettext_lazy("Premier exercice"), Number())
    duration_years = Column("duration_years", gettext_lazy("Durée (exercices)"), Number())
    total_amount = Column("total_amount", gettext_lazy("Montant total (€)"), Money())
    paid_amount = Column("paid_amount", gettext_lazy("Payé (€)"), Money())
    funders = Column(
        "funders__funder__name",
        gettext_lazy("Financeurs (part)"),
        paths=("funders__funder__name", "funders__share"),
        combine=_share,
        many=True,
    )
    profile = Column("profile", gettext_lazy("Profil des montants"), Label(Profile.choices))
    instalment_template = Column(
        "instalment_template",
        gettext_lazy("Échéancier type"),
        Label(InstalmentTemplate.choices),
    )
    signed_on = Column("signed_on", gettext_lazy("Signée le"), Date())
    notified_on = Column("notified_on", gettext_lazy("Notifiée le"), Date())
    version = Column("version", gettext_lazy("Version"), Number())

    class Meta:
        model = Agreement
        fields = (
            "reference",
            "kind",
            "title",
            "organisation",
            "siret",
            "programme",
            "application",
            "source",
            "external_id",
            "state",
            "first_year",
            "duration_years",
            "total_amount",
            "paid_amount",
            "funders",
            "profile",
            "instalment_template",
            "signed_on",
            "notified_on",
            "version",
        )
        export_order = fields


def _charged_year(charged_year: int | None, fiscal_year: int | None) -> int | None:
    return charged_year if charged_year is not None else fiscal_year


class InstalmentResource(ExportResource):
    """One line per payment (docs/domain.md §5): beneficiary, SIRET, IBAN/BIC (finance only), amount,
    budget line, EJ number, fiscal year, references of agreement and instalment."""

    reference = Column(
        "agreement__reference",
        gettext_lazy("Référence"),
        paths=("agreement__reference", "pk"),
        combine=lambda reference, pk: instalment_reference(reference, pk),
    )
    agreement = Column("agreement__reference", gettext_lazy("Convention"))
    organisation = Column("agreement__organisation__name", gettext_lazy("Bénéficiaire"))
    siret = Column("agreement__organisation__siret", gettext_lazy("SIRET"))
    iban = Column("agreement__organisation__iban", gettext_lazy("IBAN"), restricted=BANK)
    bic = Column("agreement__organisation__bic", gettext_lazy("BIC"), restricted=BANK)
    programme = Column("agreement__programme__name", gettext_lazy("Programme"))
    budget_line = Column(
        "agreement__programme__budget_line__code", gettext_lazy("Ligne budgétaire")
    )
    funder = Column("funder__funder__name", gettext_lazy("Financeur"))
    ej_number = Column("funder__ej_number", gettext_lazy("N° d'engagement juridique"))
    fiscal_year = Column("year__fiscal_year", gettext_lazy("Exercice"), Number())
    charged_year = Column(
        "charged_year",
        gettext_lazy("Exercice d'imputation"),
        Number(),
        paths=("charged_year", "year__fiscal_year"),
        combine=_charged_year,
    )
    number = Column("number", gettext_lazy("N°"), Number())
    kind = Column("kind", gettext_lazy("Nature"), Label(Instalment.Kind.choices))
    amount = Column("amount", gettext_lazy("Montant (€)"), Money())
    earliest_date = Column("earliest_date", gettext_lazy("Au plus tôt le"), Date())
    state = Column("state", gettext_lazy("État"), Label(InstalmentState.choices))
    due_since = Column("due_since", gettext_lazy("Exigible depuis"), Date())
    is_late = Column("is_late", gettext_lazy("En retard (règle des 60 jours)"), YesNo())
    hold_reason = Column("hold_reason", gettext_lazy("Motif de suspension"))
    paid_on = Column("paid_on", gettext_lazy("Payée le"), Date())
    reject_reason = Column("reject_reason", gettext_lazy("Motif du rejet"))

    class Meta:
        model = Instalment
        fields = (
            "reference",
            "agreement",
            "organisation",
            "siret",
            "iban",
            "bic",
            "programme",
            "budget_line",
            "funder",
            "ej_number",
            "fiscal_year",
            "charged_year",
            "number",
            "kind",
            "amount",
            "earliest_date",
            "state",
            "due_since",
            "is_late",
            "hold_reason",
            "paid_on",
            "reject_reason",
        )
        export_order = fields


class EvaluationResource(ExportResource):
    agreement = Column("agreement__reference", gettext_lazy("Convention"))
    organisation = Column("agreement__organisation__name", gettext_lazy("Organisation"))
    programme = Column("agreement__programme__name", gettext_lazy("Programme"))
    fiscal_year = Column("fiscal_year", gettext_lazy("Exercice évalué"), Number())
    due_on = Column("due_on", gettext_lazy("À déposer avant le"), Date())
    is_final = Column("is_final", gettext_lazy("Évaluation finale"), YesNo())
    state = Column("state", gettext_lazy("État"), Label(EvaluationState.choices))
    is_overdue = Column("is_overdue", gettext_lazy("En retard"), YesNo())
    submitted_at = Column("submitted_at", gettext_lazy("Déposée le"), DateTime())
    reviewed_at = Column("reviewed_at", gettext_lazy("Examinée le"), DateTime())
    review_comment = Column("review_comment", gettext_lazy("Avis de l'instruction"))

    class Meta:
        model = Evaluation
        fields = (
            "agreement",
            "organisation",
            "programme",
            "fiscal_year",
            "due_on",
            "is_final",
            "state",
            "is_overdue",
            "submitted_at",
            "reviewed_at",
            "review_comment",
        )
        export_order = fields


# --------------------------------------------------------------------------- datasets


def _scoped(model: type, visible: QuerySet) -> QuerySet:
    """The visible rows without the DISTINCT some scopes need (joins through calls and territories
    may repeat rows): streamed `values_list()` rows must be one per object."""
    if visible.query.distinct:
        return model._default_manager.filter(pk__in=visible.values("pk"))
    return visible


def _applications(user: User) -> QuerySet:
    return _scoped(Application, applications_visible_to(user))


def _agreements(user: User) -> QuerySet:
    paid = (
        Instalment.objects.filter(agreement=OuterRef("pk"), state=InstalmentState.PAID)
        .order_by()
        .values("agreement")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    money = DecimalField(max_digits=12, decimal_places=2)
    return Agreement.objects.filter(pk__in=agreements_visible_to(user).values("pk")).annotate(
        paid_amount=Coalesce(Subquery(paid, output_field=money), Decimal("0"), output_field=money)
    )


def _instalments(user: User) -> QuerySet:
    return Instalment.objects.filter(agreement_id__in=agreements_visible_to(user).values("pk"))


def _evaluations(user: User) -> QuerySet:
    return Evaluation.objects.filter(pk__in=evaluations_visible_to(user).values("pk"))


def _running_in(qs: QuerySet, year: int) -> QuerySet:
    """Agreements that cover the fiscal year (first_year ≤ year ≤ last year)."""
    return qs.filter(first_year__lte=year, first_year__gt=year - F("duration_years"))


Filter = Callable[[QuerySet, Any], QuerySet]


def _lookup(path: str) -> Filter:
    return lambda qs, value: qs.filter(**{path: value})


@dataclass(frozen=True)
class ExportDataset:
    """One kind of rows that can be exported: its resource, the rows a user may export, the
    order of the rows and the filters it understands (fiscal_year, programme, state)."""

    key: str
    slug: str
    label: Promise
    description: Promise
    file_stem: str
    resource: type[ExportResource]
    visible: Callable[[User], QuerySet]
    ordering: tuple[str, ...]
    filters: dict[str, Filter] = field(default_factory=dict)
    state_choices: tuple[tuple[str, Any], ...] = ()
    for_applicants: bool = False

    def queryset(self, user: User, filters: dict[str, Any] | None = None) -> QuerySet:
        qs = self.visible(user)
        for name, value in (filters or {}).items():
            if value not in (None, "") and name in self.filters:
                qs = self.filters[name](qs, value)
        return qs.order_by(*self.ordering)


DATASETS: dict[str, ExportDataset] = {
    spec.key: spec
    for spec in (
        ExportDataset(
            key="applications",
            slug="dossiers",
            label=gettext_lazy("Dossiers"),
            description=gettext_lazy(
                "Un dossier par ligne : organisation, programme, appel, état, montants demandé "
                "et accordé, quartiers et thèmes."
            ),
            file_stem="dossiers",
            resource=ApplicationResource,
            visible=_applications,
            ordering=("reference", "pk"),
            filters={
                "fiscal_year": _lookup("programme__fiscal_year"),
                "programme": _lookup("programme_id"),
                "state": _lookup("state"),
            },
            state_choices=tuple(ApplicationState.choices),
            for_applicants=True,
        ),
        ExportDataset(
            key="agreements",
            slug="conventions",
            label=gettext_lazy("Conventions"),
            description=gettext_lazy(
                "Une convention ou décision par ligne : organisation, exercices, montant total, "
                "payé, financeurs."
            ),
            file_stem="conventions",
            resource=AgreementResource,
            visible=_agreements,
            ordering=("reference", "pk"),
            filters={
                "fiscal_year": _running_in,
                "programme": _lookup("programme_id"),
                "state": _lookup("state"),
            },
            state_choices=tuple(AgreementState.choices),
            for_applicants=True,
        ),
        ExportDataset(
            key="instalments",
            slug="echeances",
            label=gettext_lazy("Échéances"),
            description=gettext_lazy(
                "Un versement par ligne : bénéficiaire, financeur, n° d'engagement juridique, "
                "exercice, montant, état, date de paiement."
            ),
            file_stem="echeances",
            resource=InstalmentResource,
            visible=_instalments,
            ordering=("agreement__reference", "year__fiscal_year", "number", "pk"),
            filters={
                "fiscal_year": _lookup("year__fiscal_year"),
                "programme": _lookup("agreement__programme_id"),
                "state": _lookup("state"),
            },
            state_choices=tuple(InstalmentState.choices),
            for_applicants=True,
        ),
        ExportDataset(
            key="evaluations",
            slug="evaluations",
            label=gettext_lazy("Évaluations annuelles"),
            description=gettext_lazy(
                "Une évaluation par ligne : convention, exercice évalué, échéance, état, avis."
            ),
            file_stem="evaluations",
            resource=EvaluationResource,
            visible=_evaluations,
            ordering=("agreement__reference", "fiscal_year", "pk"),
            filters={
                "fiscal_year": _lookup("fiscal_year"),
                "programme": _lookup("agreement__programme_id"),
                "state": _lookup("state"),
            },
            state_choices=tuple(EvaluationState.choices),
        ),
        ExportDataset(
            key="organisations",
            slug="organisations",
            label=gettext_lazy("Organisations"),
            description=gettext_lazy(
                "Une organisation par ligne : identité, SIRET, RNA, adresse ; coordonnées "
                "bancaires pour les agent·es financier·ères."
            ),
            file_stem="organisations",
            resource=OrganisationResource,
            visible=organisations_visible_to,
            ordering=("name", "pk"),
        ),
        ExportDataset(
            key="calls",
            slug="appels",
            label=gettext_lazy("Appels"),
            description=gettext_lazy(
                "Un appel par ligne : mode, état, programme, dates, enveloppe, règles."
            ),
            file_stem="appels",
            resource=CallResource,
            visible=calls_readable_by,
            ordering=("-opens_at", "pk"),
            filters={
                "fiscal_year": _lookup("programme__fiscal_year"),
                "programme": _lookup("programme_id"),
                "state": _lookup("state"),
            },
            state_choices=tuple(CallState.choices),
        ),
    )
}


def datasets_for(user: User) -> list[ExportDataset]:
    """What the user may export: staff every dataset (rows of their scope); an association's
    members their own applications, agreements and instalments; anyone else nothing."""
    if not user.is_authenticated:
        return []
    if is_staff_member(user):
        return list(DATASETS.values())
    if organisation_ids_of(user):
        return [spec for spec in DATASETS.values() if spec.for_applicants]
    return []


def bank_details_allowed(user: User) -> bool:
    """Finance officers; or an association's member, whose exports hold nothing but their own
    organisations (can_see_bank_details holds for every row)."""
    return has_role(user, Role.FINANCE_OFFICER) or (
        not is_staff_member(user) and bool(organisation_ids_of(user))
    )


def columns_for(user: User, spec: ExportDataset) -> dict[str, Column]:
    """The columns this user may export from this dataset, in the resource's order."""
    bank = bank_details_allowed(user)
    staff = is_staff_member(user)
    return {
        name: column
        for name, column in spec.resource().columns().items()
        if (column.restricted != BANK or bank) and (column.restricted != STAFF or staff)
    }


def default_columns(user: User, spec: ExportDataset) -> list[str]:
    return list(columns_for(user, spec))
