"""Writes of the directory: an organisation's public profile, and the life of an experience sheet
(draft → submitted → published, or returned; a published sheet may be withdrawn). Each change is
checked and audited here; views, the API and the demo call these services.

Personal data (RGPD art. 5-6): a contact person's name, e-mail or a public phone number are
published only with the explicit consent recorded next to them; without it they are refused, not
stored « just in case »."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from core.audit import audit_log
from core.clock import now
from core.errors import DomainError, PermissionDenied
from core.fsm import apply_transition, lock
from core.models import Organisation, User
from core.permissions import is_organisation_admin, is_staff_member, organisation_ids_of
from cpo.models import AgreementYear, Evaluation
from grants.budget import CHARGE_ACCOUNTS
from grants.models import ApplicationKind

from .models import ActorProfile, ExperienceSheet, SheetState
from .selectors import EVALUATED, FUNDED, can_edit_sheet, can_review_sheets

PROFILE_FIELDS = ("presentation", "website", "public_email", "public_phone")
#: What the organisation or staff may change on a sheet (lists: the many-to-many fields).
SHEET_TEXT_FIELDS = (
    "title",
    "what",
    "place",
    "audience",
    "results",
    "lessons",
    "contact_name",
    "contact_email",
)
SHEET_FIELDS = (
    *SHEET_TEXT_FIELDS,
    "beneficiaries_count",
    "cost",
    "funding_kind",
    "pillar",
    "contact_consent",
    "qpvs",
    "themes",
)
MAX_TEXT = 20_000


# --------------------------------------------------------------------------- profiles


def profile_update(
    *,
    actor: User,
    organisation: Organisation,
    is_listed: bool,
    presentation: str = "",
    website: str = "",
    contact_consent: bool = False,
    public_email: str = "",
    public_phone: str = "",
) -> ActorProfile:
    """The organisation's administrator opts in (or out) of the public directory and writes what
    it shows. Contact details need the consent box; its themes and neighbourhoods are never typed
    here, they come from its funded actions."""
    if not (is_organisation_admin(actor, organisation) or actor.is_superuser):
        raise PermissionDenied(
            _("Seul·e un·e administrateur·rice de l'organisation peut modifier sa fiche publique.")
        )
    errors: dict[str, list[Any]] = {}
    if (public_email.strip() or public_phone.strip()) and not contact_consent:
        errors["contact_consent"] = [
            _("Cochez le consentement pour publier un e-mail ou un téléphone.")
        ]
    if is_listed and not presentation.strip():
        errors["presentation"] = [_("Présentez l'organisation en quelques lignes.")]
    if len(presentation) > MAX_TEXT:
        errors["presentation"] = [_("Texte trop long.")]
    if errors:
        raise DomainError(_("La fiche publique est incomplète."), errors=errors)
    with transaction.atomic():
        profile, _created = ActorProfile.objects.select_for_update().get_or_create(
            organisation=organisation
        )
        was_listed = profile.is_listed
        before = {name: getattr(profile, name) for name in PROFILE_FIELDS}
        profile.is_listed = is_listed
        profile.presentation = presentation.strip()
        profile.website = website.strip()
        profile.contact_consent = contact_consent
        # Without consent nothing personal is kept.
        profile.public_email = public_email.strip() if contact_consent else ""
        profile.public_phone = public_phone.strip() if contact_consent else ""
        if is_listed and not was_listed:
            profile.listed_at = now()
        profile.updated_by = actor
        profile.save()
        after = {name: getattr(profile, name) for name in PROFILE_FIELDS}
        if is_listed != was_listed:
            audit_log(
                actor=actor,
                obj=organisation,
                action="directory.profile.listed" if is_listed else "directory.profile.unlisted",
            )
        changed = {k: [before[k], after[k]] for k in PROFILE_FIELDS if before[k] != after[k]}
        if changed:
            audit_log(
                actor=actor,
                obj=organisation,
                action="directory.profile.updated",
                payload={"changed": sorted(changed), "contact_consent": contact_consent},
            )
    return profile


# --------------------------------------------------------------------------- sheets


def _charges(evaluation: Evaluation) -> Decimal | None:
    lines = [line for line in evaluation.budget_lines.all() if line.account in CHARGE_ACCOUNTS]
    if not lines:
        return None
    return sum((line.actual for line in lines), Decimal("0"))


def sheet_prefill(evaluation: Evaluation) -> dict[str, Any]:
    """What the application and the accepted evaluation already say: what, where (QPVs), for whom
    (beneficiaries), results against the indicators (target / actual), cost (the actual charges
    of the financial report), the year's subsidy and the funding mode. No contact: a person's
    name is published only once they agree."""
    agreement = evaluation.agreement
    application = agreement.application
    if application is None:
        raise DomainError(
            _(
                "Cette convention a été importée sans dossier : rédigez la fiche à partir "
                "d'une action instruite dans Pluriel."
            ),
            field="evaluation",
        )
    year = AgreementYear.objects.filter(agreement=agreement, fiscal_year=evaluation.fiscal_year)
    qpvs = list(application.qpvs.all())
    return {
        "title": application.title,
        "what": application.summary or agreement.title,
        "place": ", ".join(sorted({q.commune_name for q in qpvs if q.commune_name}))
        or agreement.organisation.city,
        "qpvs": qpvs,
        "audience": "",
        "beneficiaries_count": application.beneficiaries_count,
        "results": evaluation.activity_report,
        "indicators": [
            {
                "label": row.label,
                "unit": row.unit,
                "target": str(row.target),
                "actual": None if row.actual is None else str(row.actual),
            }
            for row in evaluation.indicator_values.order_by("pk")
        ],
        "cost": _charges(evaluation),
        "funding_amount": year.values_list("amount", flat=True).first(),
        "funding_kind": application.kind,
        "pillar": application.pillar,
        "themes": list(application.themes.all()),
        "year": evaluation.fiscal_year,
    }


def sheet_draft(*, actor: User, evaluation: Evaluation) -> ExperienceSheet:
    """Draft a sheet from an evaluated action (accepted, with or without reservations): one sheet
    per evaluation. The organisation's members or reviewing staff."""
    organisation = evaluation.agreement.organisation
    if not (organisation.pk in organisation_ids_of(actor) or can_review_sheets(actor)):
        if is_staff_member(actor):
            raise PermissionDenied(_("Seule l'instruction peut rédiger une fiche expérience."))
        raise DomainError(_("Évaluation introuvable."), code="not_found")
    if evaluation.state not in EVALUATED or evaluation.agreement.state not in FUNDED:
        raise DomainError(
            _("Une fiche se rédige à partir d'une évaluation acceptée."), field="evaluation"
        )
    data = sheet_prefill(evaluation)
    qpvs, themes = data.pop("qpvs"), data.pop("themes")
    with transaction.atomic():
        lock(evaluation)
        if ExperienceSheet.objects.filter(evaluation=evaluation).exists():
            raise DomainError(_("Une fiche existe déjà pour cette évaluation."), field="evaluation")
        sheet = ExperienceSheet.objects.create(
            organisation=organisation,
            agreement=evaluation.agreement,
            evaluation=evaluation,
            created_by=actor,
            **data,
        )
        sheet.qpvs.set(qpvs)
        sheet.themes.set(themes)
        audit_log(
            actor=actor,
            obj=sheet,
            action="directory.sheet.drafted",
            payload={"evaluation": evaluation.pk},
        )
    return sheet


def _check_contact(values: dict[str, Any]) -> dict[str, list[Any]]:
    if (values["contact_name"] or values["contact_email"]) and not values["contact_consent"]:
        return {
            "contact_consent": [
                _("Cochez le consentement de la personne contact pour publier ses coordonnées.")
            ]
        }
    return {}


def sheet_update(*, actor: User, sheet: ExperienceSheet, **changes: Any) -> ExperienceSheet:
    """Edit a sheet (the fields of SHEET_FIELDS). Members edit a draft or a returned sheet;
    reviewing staff any sheet not yet published."""
    unknown = set(changes) - set(SHEET_FIELDS)
    if unknown:
        raise DomainError(
            _("Champs inconnus : %(fields)s.") % {"fields": ", ".join(sorted(unknown))}
        )
    with transaction.atomic():
        sheet = lock(sheet)
        sheet_update_check_permission(actor, sheet)
        values: dict[str, Any] = {
            name: getattr(sheet, name) for name in SHEET_FIELDS if name not in ("qpvs", "themes")
        }
        for name, value in changes.items():
            if name in ("qpvs", "themes"):
                continue
            if name in SHEET_TEXT_FIELDS:
                value = (value or "").strip()
                if len(value) > MAX_TEXT:
                    raise DomainError(_("Texte trop long."), field=name)
            values[name] = value
        # A contact typed without consent is refused; consent withdrawn erases the contact.
        typed: dict[str, Any] = {
            k: values[k] for k in ("contact_name", "contact_email") if k in changes
        }
        errors = _check_contact(
            {
                "contact_name": "",
                "contact_email": "",
                **typed,
                "contact_consent": values["contact_consent"],
            }
        )
        if not values["title"]:
            errors["title"] = [_("Le titre est obligatoire.")]
        if values["funding_kind"] not in ApplicationKind.values:
            errors["funding_kind"] = [_("Mode de financement inconnu.")]
        if values["cost"] is not None and values["cost"] < 0:
            errors["cost"] = [_("Le coût ne peut pas être négatif.")]
        if errors:
            raise DomainError(_("La fiche n'a pas été enregistrée."), errors=errors)
        changed = []
        for name, value in values.items():
            if name in changes and getattr(sheet, name) != value:
                setattr(sheet, name, value)
                changed.append(name)
        if not values["contact_consent"]:
            sheet.contact_name = sheet.contact_email = ""
        sheet.save()
        for name in ("qpvs", "themes"):
            if name in changes:
                related = getattr(sheet, name)
                new = {obj.pk for obj in changes[name]}
                if new != set(related.values_list("pk", flat=True)):
                    related.set(changes[name])
                    changed.append(name)
        if changed:
            audit_log(
                actor=actor,
                obj=sheet,
                action="directory.sheet.updated",
                payload={"changed": sorted(changed)},
            )
    return sheet


def _require_complete(sheet: ExperienceSheet) -> None:
    errors: dict[str, list[Any]] = {}
    for name, message in (
        ("title", _("Le titre est obligatoire.")),
        ("what", _("Décrivez ce qui a été fait.")),
        ("results", _("Décrivez les résultats.")),
    ):
        if not getattr(sheet, name).strip():
            errors[name] = [message]
    if not sheet.qpvs.exists() and not sheet.place.strip():
        errors["qpvs"] = [_("Indiquez où l'action a eu lieu (quartier ou lieu).")]
    errors.update(
        _check_contact(
            {
                "contact_name": sheet.contact_name,
                "contact_email": sheet.contact_email,
                "contact_consent": sheet.contact_consent,
            }
        )
    )
    if errors:
        raise DomainError(_("La fiche est incomplète."), errors=errors)


def sheet_submit(*, actor: User, sheet: ExperienceSheet) -> ExperienceSheet:
    """Ask for publication (members or staff who may edit it)."""
    with transaction.atomic():
        sheet = lock(sheet)
        if sheet.state == SheetState.SUBMITTED:
            return sheet
        if not can_edit_sheet(actor, sheet):
            raise PermissionDenied(_("Vous ne pouvez pas soumettre cette fiche."))
        _require_complete(sheet)
        apply_transition(sheet, "submit", actor=actor, action="directory.sheet.submitted")
    return sheet


def sheet_review_check_permission(actor: User) -> None:
    """Reviewing staff publish and return sheets; the API calls it before the body (issue 11)."""
    if not can_review_sheets(actor):
        raise PermissionDenied(_("Seule l'instruction publie les fiches expérience."))


def sheet_update_check_permission(actor: User, sheet: ExperienceSheet) -> None:
    """Who may edit the sheet now (selectors.can_edit_sheet), with the reason when not; the API
    calls it before the body (issue 11)."""
    if not can_edit_sheet(actor, sheet):
        if sheet.state == SheetState.PUBLISHED or sheet.organisation_id in organisation_ids_of(
            actor
        ):
            raise PermissionDenied(_("Cette fiche ne peut plus être modifiée dans cet état."))
        raise PermissionDenied(_("Vous ne pouvez pas modifier cette fiche."))


def sheet_publish(*, actor: User, sheet: ExperienceSheet) -> ExperienceSheet:
    """Staff reviewed the sheet: it becomes public."""
    sheet_review_check_permission(actor)
    with transaction.atomic():
        sheet = lock(sheet)
        if sheet.state == SheetState.PUBLISHED:
            return sheet
        _require_complete(sheet)
        sheet.published_at = now()
        sheet.return_reason = ""
        apply_transition(
            sheet,
            "publish",
            actor=actor,
            action="directory.sheet.published",
            update_fields=["published_at", "return_reason"],
        )
    return sheet


def sheet_return(*, actor: User, sheet: ExperienceSheet, reason: str) -> ExperienceSheet:
    """Staff send a submitted sheet back to the organisation, or withdraw a published one; the
    reason is shown to the organisation."""
    sheet_review_check_permission(actor)
    if not (reason or "").strip():
        raise DomainError(_("Indiquez le motif."), field="reason")
    with transaction.atomic():
        sheet = lock(sheet)
        published = sheet.state == SheetState.PUBLISHED
        sheet.return_reason = reason.strip()
        sheet.published_at = None if published else sheet.published_at
        apply_transition(
            sheet,
            "withdraw" if published else "return_for_changes",
            actor=actor,
            action="directory.sheet.withdrawn" if published else "directory.sheet.returned",
            reason=reason.strip(),
            update_fields=["return_reason", "published_at"],
        )
    return sheet
