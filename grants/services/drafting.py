"""Drafting an application: creation, the applicant's edits, budget rows, renewal, attachments."""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.base import File
from django.db import transaction
from django.db.models import Model
from django.utils.translation import gettext as _

from calls.models import Call, CallMode, Programme
from core.audit import audit_log
from core.errors import DomainError, PermissionDenied, TransitionNotAllowed
from core.fsm import allowed_transition_names, lock
from core.models import Organisation, Role, User
from core.permissions import has_role, is_member
from core.references import next_reference
from core.uploads import validate_upload

from ..budget import CHARGE_ACCOUNTS, PRODUCT_ACCOUNTS, SUBSIDIES
from ..models import (
    Application,
    ApplicationAttachment,
    ApplicationKind,
    ApplicationPartner,
    BudgetItem,
    Indicator,
    Objective,
)
from .workflow import (
    S,
    applicant_of,
)

EDITABLE_FIELDS = [
    "title",
    "summary",
    "start_date",
    "end_date",
    "pillar",
    "requested_amount",
    "beneficiaries_count",
    "wants_multi_year",
    "challenge",
]


# --------------------------------------------------------------------------- drafting


def application_create(
    *,
    actor: User,
    organisation: Organisation,
    call: Call | None,
    programme: Programme | None = None,
    kind: str | None = None,
    data: dict[str, Any] | None = None,
) -> Application:
    """Start a draft for an organisation, in a call (or directly in a programme for direct awards)."""
    if not is_member(actor, organisation) and not has_role(
        actor, Role.INSTRUCTOR, Role.PROGRAMME_MANAGER
    ):
        raise PermissionDenied(_("Vous n'agissez pas pour cette organisation."))
    if call is None and programme is None:
        raise DomainError(_("Choisissez un appel."), field="call")
    if call is not None and call.mode != CallMode.PROJECT_CALL and kind is None:
        kind = call.mode
    programme = programme or call.programme
    data = data or {}
    with transaction.atomic():
        prefix = call.reference_prefix if call else "HA"
        application = Application(
            reference=next_reference(prefix, programme.fiscal_year),
            kind=kind or ApplicationKind.PROJECT_CALL,
            programme=programme,
            call=call,
            organisation=organisation,
            created_by=actor,
            title=(data.get("title") or "").strip(),
        )
        _apply_fields(application, data)
        # Nothing is approved yet: the check constraints cannot fail (see _validate_update).
        # The reference comes from its locked counter (a duplicate would still be refused by the
        # unique index), and the relations given as objects read from the database exist: their
        # queries are not sent (issue 17).
        application.full_clean(
            exclude=["state", "qpvs", "themes", "documents", "reference", *_loaded(application)],
            validate_constraints=application.approved_amount is not None,
        )
        application.save()
        _apply_relations(application, data)
        audit_log(actor=actor, obj=application, action="grants.application.created", target=S.DRAFT)
    return application


def _loaded(application: Application) -> list[str]:
    """The foreign keys of `application` set to an object read from the database (so existing:
    Django's validation of a relation only asks whether it exists), without a choice limit."""
    return [
        f.name
        for f in Application._meta.concrete_fields
        if f.is_relation
        and f.is_cached(application)
        and isinstance(obj := f.get_cached_value(application), Model)
        and not obj._state.adding
        and obj.pk == getattr(application, f.attname)
        and not f.get_limit_choices_to()
    ]


def _apply_fields(application: Application, data: dict[str, Any]) -> None:
    challenge = data.get("challenge")
    if challenge is not None and challenge.call_id != application.call_id:
        raise DomainError(
            _("Cette solution attendue ne relève pas de l'appel du dossier."), field="challenge"
        )
    for name in EDITABLE_FIELDS:
        if name in data:
            setattr(application, name, data[name])


def _apply_relations(
    application: Application, data: dict[str, Any], *, before: dict[str, Any] | None = None
) -> dict[str, list[tuple[Any, ...]]]:
    """Write the relations given in `data`. With `before` (the snapshot of the file before an
    update), indicators and budget lines equal to the saved ones are left as they are: saving an
    unchanged form (a save then a submit) does not delete and rewrite them; nor are the objectives,
    and the relations are not set again. Returns the line sets written ("indicators", "budget") and
    their lines as _snapshot reads them (empty: to be read again)."""
    rewritten: dict[str, list[tuple[Any, ...]]] = {}
    for name in SNAPSHOT_M2M:
        if name not in data:
            continue
        if before is None:
            getattr(application, name).set(data[name])
            continue
        # What set() does, from the ids read before under the file's lock (not read again):
        # nothing when the set is the same (a save then a submit).
        new_ids, old_ids = set(_m2m_ids(name, data[name])), set(before[name])
        if old_ids - new_ids:
            getattr(application, name).remove(*sorted(old_ids - new_ids))
        if new_ids - old_ids:
            getattr(application, name).add(*sorted(new_ids - old_ids))
    if "objectives" in data:
        objectives = [(i, t.strip()) for i, t in enumerate(data["objectives"]) if t and t.strip()]
        saved_objectives = (
            None
            if before is None
            else list(
                application.objectives.order_by("position", "id").values_list("position", "text")
            )
        )
        # Equal to the saved ones (a save then a submit): left as they are.
        if objectives != saved_objectives:
            if saved_objectives != []:  # none saved: nothing to delete
                application.objectives.all().delete()
            Objective.objects.bulk_create(
                [Objective(application=application, text=t, position=i) for i, t in objectives]
            )
    if "indicators" in data:
        indicators = [
            Indicator(
                application=application,
                label=row["label"],
                unit=row.get("unit", ""),
                target=Decimal(str(row["target"])),
                position=i,
            )
            for i, row in enumerate(data["indicators"])
            if row.get("label")
        ]
        rows = [(i.label, i.unit, i.target) for i in indicators]
        if before is None or rows != before["indicators"]:
            if before is None or before["indicators"]:  # none saved: nothing to delete
                application.indicators.all().delete()
            Indicator.objects.bulk_create(indicators)
            # As the database keeps them (2 decimals); otherwise _snapshot reads them again.
            rewritten["indicators"] = rows if all(_cents(r[2]) for r in rows) else []
    if "budget" in data:
        saved = None if before is None else before["budget"]
        written = _set_budget_rows(application, data["budget"], saved=saved)
        if written is not None:
            rewritten["budget"] = written
    return rewritten


def _cents(value: Decimal) -> bool:
    """Stored as it is by a column of 2 decimals (not rounded by the database)."""
    return value.is_finite() and value == value.quantize(Decimal("0.01"))


def application_set_budget_rows(
    application: Application,
    rows: list[dict[str, Any]],
    *,
    partner: ApplicationPartner | None = None,
    sync_parts: bool = True,
    saved: list[tuple[Any, ...]] | None = None,
) -> bool:
    """Replace the budget lines of one part: the lead's own (partner=None) or one partner's, never
    another's (docs/domain.md §9). Validates accounts and amounts; balance is checked on submit.
    The funders' parts follow the account-74 lines (grants.services.cofunding.funder_parts_sync),
    except in a budget revision, where the amounts asked stay as decided.

    `saved`: the part's lines as read before (account, subsidy source, funder id, label, amount,
    in their order); equal to the new ones, they are not deleted and rewritten (the parts are
    still synchronised: they follow the amount asked too); empty, nothing is deleted. Returns
    whether the lines were written."""
    written = _set_budget_rows(
        application, rows, partner=partner, sync_parts=sync_parts, saved=saved
    )
    return written is not None


def _set_budget_rows(
    application: Application,
    rows: list[dict[str, Any]],
    *,
    partner: ApplicationPartner | None = None,
    sync_parts: bool = True,
    saved: list[tuple[Any, ...]] | None = None,
) -> list[tuple[Any, ...]] | None:
    """application_set_budget_rows, returning the lines written as _budget_rows reads them (None
    when the saved ones were left as they are)."""
    items = []
    for i, row in enumerate(rows, start=1):
        account = str(row.get("account", "")).strip()
        if account not in CHARGE_ACCOUNTS + PRODUCT_ACCOUNTS:
            raise DomainError(
                _("Ligne %(n)d : compte « %(a)s » inconnu.") % {"n": i, "a": account},
                field="budget",
            )
        try:
            amount = Decimal(str(row.get("amount", "0")).replace(",", ".").replace(" ", ""))
        except Exception:
            raise DomainError(_("Ligne %(n)d : montant invalide.") % {"n": i}, field="budget")
        if amount < 0 or amount != amount.quantize(Decimal("0.01")):
            raise DomainError(
                _("Ligne %(n)d : le montant doit être positif, au centime près.") % {"n": i},
                field="budget",
            )
        source = row.get("subsidy_source") or ""
        if account == SUBSIDIES and not source:
            raise DomainError(
                _("Ligne %(n)d : précisez le financeur de la subvention (compte 74).") % {"n": i},
                field="budget",
            )
        items.append(
            BudgetItem(
                application=application,
                partner=partner,
                account=account,
                subsidy_source=source,
                funder_id=row.get("funder") or None,
                label=(row.get("label") or "")[:200],
                amount=amount,
            )
        )
    rewrite = saved is None or saved != [
        (i.account, i.subsidy_source, i.funder_id, i.label, i.amount) for i in items
    ]
    if rewrite:
        if saved is None or saved:  # none saved: nothing to delete
            application.budget_items.filter(partner=partner).delete()
        BudgetItem.objects.bulk_create(items)
    if sync_parts:
        from .cofunding import funder_parts_sync  # builds on the decision services

        funder_parts_sync(application)
    if not rewrite:
        return None
    # Amounts are whole cents (checked above): stored as they are. Funder ids as the column's.
    to_funder_id = BudgetItem._meta.get_field("funder").to_python
    return [
        (i.account, i.subsidy_source, to_funder_id(i.funder_id), i.label, i.amount) for i in items
    ]


def application_update(
    *, actor: User, application: Application, data: dict[str, Any]
) -> Application:
    """Edit a draft or a file returned for completion (the applicant's side only)."""
    with transaction.atomic():
        application = lock(application)
        if not applicant_of(actor, application):
            raise PermissionDenied(_("Vous n'agissez pas pour cette organisation."))
        if not application.is_editable_by_applicant:
            raise TransitionNotAllowed(
                _("Le dossier n'est plus modifiable dans l'état « %(state)s ».")
                % {"state": application.get_state_display()},
                allowed=allowed_transition_names(application),
            )
        before = _snapshot(application)
        _apply_fields(application, data)
        try:
            _validate_update(application, data)
        except ValidationError as exc:
            raise DomainError(_("Le dossier contient des erreurs."), errors=exc.message_dict)
        application.save()
        rewritten = _apply_relations(application, data, before=before)
        after = _snapshot(application, unchanged=before, rewritten=rewritten, data=data)
        changed = sorted(k for k in after if after[k] != before.get(k))
        if changed:  # saving an unchanged form (e.g. a failed submit) writes no history row
            audit_log(
                actor=actor,
                obj=application,
                action="grants.application.updated",
                payload={"fields": changed},
            )
    return application


# Validated by application_update besides the fields it was given: approved_amount shares a check
# constraint with requested_amount (the other fields were validated when they were written).
_VALIDATED_WITH_AMOUNT = ("requested_amount", "approved_amount")


def _validate_update(application: Application, data: dict[str, Any]) -> None:
    """Model validation of what an update may change (EDITABLE_FIELDS given in `data`), not of
    the fields only other services write: re-checking them cost a query per foreign key and one
    for the reference's uniqueness, on every save (issue 17).

    The check constraints are evaluated by a database query each; they are only asked when one
    can fail: requested_amount ≥ 0 is also the field's own validator (same rule, same error), and
    approved_amount ≤ requested_amount holds while nothing is approved."""
    checked = {name for name in EDITABLE_FIELDS if name in data}
    with_constraints = application.approved_amount is not None and "requested_amount" in checked
    if with_constraints:
        checked.update(_VALIDATED_WITH_AMOUNT)
    # A relation given as an object read from the database (the edit form's choice) exists: its
    # existence query is not sent again (the only check Django makes of a relation given).
    checked -= {
        name
        for name in checked
        if isinstance(data.get(name), Model)
        and not data[name]._state.adding
        and not Application._meta.get_field(name).get_limit_choices_to()
    }
    application.full_clean(
        exclude=[
            f.name for f in Application._meta.get_fields() if f.concrete and f.name not in checked
        ],
        validate_constraints=with_constraints,
    )


def _budget_rows(application: Application) -> list[tuple[Any, ...]]:
    return list(
        application.budget_items.filter(partner=None)
        .order_by("pk")
        .values_list("account", "subsidy_source", "funder_id", "label", "amount")
    )


def _indicator_rows(application: Application) -> list[tuple[Any, ...]]:
    return list(application.indicators.order_by("position").values_list("label", "unit", "target"))


# The many-to-many relations the applicant edits, compared by their ids (sorted).
SNAPSHOT_M2M = ("qpvs", "themes")


def _m2m_ids(name: str, values: Any) -> list[Any]:
    """The sorted ids of `values` (objects or ids) for the relation `name`, as _snapshot has them."""
    to_python = Application._meta.get_field(name).target_field.to_python
    return sorted({to_python(getattr(v, "pk", v)) for v in values})


def _snapshot(
    application: Application,
    *,
    unchanged: dict[str, Any] | None = None,
    rewritten: dict[str, list[tuple[Any, ...]]] | None = None,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What the applicant can edit, comparable before and after an update (a relation as the
    sorted ids of its objects: equal when the sets are). After one (`unchanged`, the snapshot
    before), nothing is read again: the relations given in `data` are what was set, the others
    those of before; the line sets `rewritten` are the lines written (read again when empty of
    lines the database may have rounded), the others those of before."""
    from django.forms.models import model_to_dict

    fields = [
        f.name
        for f in Application._meta.get_fields()
        if f.concrete
        and f.name not in {"state", "updated_at", "documents"}
        and f.name not in SNAPSHOT_M2M
    ]
    values: dict[str, Any] = model_to_dict(application, fields=fields)
    if unchanged is None:
        for name in SNAPSHOT_M2M:
            field = Application._meta.get_field(name)
            # The link table alone: the ids without joining the related table.
            links = field.remote_field.through.objects.filter(
                **{field.m2m_field_name(): application.pk}
            )
            values[name] = sorted(links.values_list(field.m2m_reverse_field_name(), flat=True))
        values["budget"] = _budget_rows(application)
        values["indicators"] = _indicator_rows(application)
        return values
    data = data or {}
    rewritten = rewritten or {}
    for name in SNAPSHOT_M2M:
        values[name] = _m2m_ids(name, data[name]) if name in data else unchanged[name]
    for name, read in (("budget", _budget_rows), ("indicators", _indicator_rows)):
        if name not in rewritten:
            values[name] = unchanged[name]
        else:
            values[name] = rewritten[name] or read(application)
    return values


def application_renew(*, actor: User, previous: Application, call: Call) -> Application:
    """Start a new draft from a previous file: nothing re-typed (tell us once)."""
    if not is_member(actor, previous.organisation):
        raise PermissionDenied(_("Vous n'agissez pas pour cette organisation."))
    with transaction.atomic():
        data = {
            name: getattr(previous, name)
            for name in EDITABLE_FIELDS
            if name not in ("pillar", "challenge")
        }
        data["pillar"] = previous.pillar
        data.update(
            qpvs=list(previous.qpvs.all()),
            themes=list(previous.themes.all()),
            objectives=[o.text for o in previous.objectives.all()],
            indicators=[
                {"label": i.label, "unit": i.unit, "target": i.target}
                for i in previous.indicators.all()
            ],
            budget=[
                {
                    "account": b.account,
                    "subsidy_source": b.subsidy_source,
                    "funder": b.funder_id,
                    "label": b.label,
                    "amount": b.amount,
                }
                for b in previous.budget_items.filter(partner=None)
            ],
        )
        data["start_date"] = data["end_date"] = None
        application = application_create(
            actor=actor, organisation=previous.organisation, call=call, data=data
        )
        application.previous = previous
        application.save(update_fields=["previous"])
        audit_log(
            actor=actor,
            obj=application,
            action="grants.application.renewed",
            payload={"previous": previous.reference},
        )
    return application


def application_attach(
    *, actor: User, application: Application, file: Any, title: str = ""
) -> ApplicationAttachment:
    """Attach a file to one application (a completion answer, a quote, a letter of support).

    The file's applicants only, while they may still change it (draft or returned for completion).
    Same size, type and content checks as every upload (core.uploads)."""
    if not applicant_of(actor, application):
        raise PermissionDenied(_("Vous n'agissez pas pour cette organisation."))
    if not application.is_editable_by_applicant:
        raise TransitionNotAllowed(
            _("On ne peut plus joindre de pièce à ce dossier."),
            allowed=allowed_transition_names(application),
        )
    if file is None:
        raise DomainError(_("Choisissez un fichier."), field="attachment")
    validate_upload(file, field="attachment")
    original_name = os.path.basename(file.name)[:255]
    attachment = ApplicationAttachment(
        application=application,
        title=(title or "").strip()[:200] or original_name,
        original_name=original_name,
        size=file.size,
        uploaded_by=actor,
    )
    with transaction.atomic():
        attachment.file.save(
            original_name, file if isinstance(file, File) else File(file), save=False
        )
        attachment.save()
        audit_log(
            actor=actor,
            obj=application,
            action="grants.application.attachment_added",
            payload={"title": attachment.title, "size": attachment.size},
        )
    return attachment
