"""Writes for applications: drafting, the workflow, instruction and committee decisions.

Every transition service follows docs/style.md: one transaction, the row locked, early return when
already in the target state, permission check, transition, save, one audit row, notifications
after commit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.base import File
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from calls.models import Call, CallMode, Programme
from core.audit import audit_log
from core.clock import now, today
from core.errors import DomainError, PermissionDenied, TransitionNotAllowed
from core.fsm import allowed_transition_names, apply_transition, lock
from core.models import Organisation, Role, User
from core.money import split_exact
from core.notifications import notify
from core.permissions import has_role, is_member, scope_of
from core.references import next_reference
from core.uploads import validate_upload

from .budget import CHARGE_ACCOUNTS, PRODUCT_ACCOUNTS, SUBSIDIES
from .eligibility import eligibility_errors, euros
from .models import (
    Application,
    ApplicationAttachment,
    ApplicationKind,
    ApplicationState,
    ApplicationYear,
    AssignmentRule,
    BudgetItem,
    CommitteeSession,
    CompletionRequest,
    Indicator,
    InstructorNote,
    Objective,
    PartnerOpinion,
    Score,
)
from .selectors import (
    approved_total_for_call,
    approved_total_for_programme,
    is_staff_viewer,
    pending_completion_request,
    valid_documents_by_kind,
)

S = ApplicationState
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


# --------------------------------------------------------------------------- permissions


def _applicant_of(actor: User, application: Application) -> bool:
    return is_member(actor, application.organisation)


def _instructor_of(actor: User, application: Application) -> bool:
    if has_role(actor, Role.PROGRAMME_MANAGER):
        return True
    return scope_of(actor, Role.INSTRUCTOR) is not None and is_staff_viewer(actor, application)


def _decider_of(actor: User, application: Application) -> bool:
    if has_role(actor, Role.PROGRAMME_MANAGER):
        return True
    return scope_of(actor, Role.COMMITTEE_MEMBER) is not None and is_staff_viewer(
        actor, application
    )


def _manager(actor: User, application: Application) -> bool:
    return has_role(actor, Role.PROGRAMME_MANAGER)


def _instructor_or_manager(actor: User, application: Application) -> bool:
    return _instructor_of(actor, application)


@dataclass(frozen=True)
class TransitionSpec:
    """What a transition needs: who may run it and which inputs it takes."""

    name: str
    label: str
    action: str
    who: Any
    needs_reason: bool = False
    style: str = "secondary"


def _specs() -> dict[str, TransitionSpec]:
    return {
        "submit": TransitionSpec(
            "submit",
            _("Déposer le dossier"),
            "grants.application.submitted",
            _applicant_of,
            style="primary",
        ),
        "resubmit": TransitionSpec(
            "resubmit",
            _("Renvoyer le dossier complété"),
            "grants.application.resubmitted",
            _applicant_of,
            style="primary",
        ),
        "withdraw": TransitionSpec(
            "withdraw",
            _("Retirer le dossier"),
            "grants.application.withdrawn",
            _applicant_of,
            style="danger",
        ),
        "request_completion": TransitionSpec(
            "request_completion",
            _("Demander des compléments"),
            "grants.application.completion_requested",
            _instructor_of,
        ),
        "declare_eligible": TransitionSpec(
            "declare_eligible",
            _("Déclarer recevable"),
            "grants.application.declared_eligible",
            _instructor_of,
            style="primary",
        ),
        "declare_ineligible": TransitionSpec(
            "declare_ineligible",
            _("Déclarer irrecevable"),
            "grants.application.declared_ineligible",
            _instructor_of,
            needs_reason=True,
            style="danger",
        ),
        "start_review": TransitionSpec(
            "start_review",
            _("Commencer l'instruction"),
            "grants.application.review_started",
            _instructor_of,
            style="primary",
        ),
        "send_to_committee": TransitionSpec(
            "send_to_committee",
            _("Inscrire en comité"),
            "grants.application.sent_to_committee",
            _instructor_of,
            style="primary",
        ),
        "approve": TransitionSpec(
            "approve", _("Accorder"), "grants.application.approved", _decider_of, style="primary"
        ),
        "reject": TransitionSpec(
            "reject",
            _("Refuser"),
            "grants.application.rejected",
            _decider_of,
            needs_reason=True,
            style="danger",
        ),
        "dismiss": TransitionSpec(
            "dismiss",
            _("Classer sans suite"),
            "grants.application.dismissed",
            _instructor_or_manager,
            needs_reason=True,
            style="danger",
        ),
        "reopen": TransitionSpec(
            "reopen",
            _("Rouvrir la décision"),
            "grants.application.reopened",
            _manager,
            needs_reason=True,
        ),
        "award_directly": TransitionSpec(
            "award_directly",
            _("Accorder hors appel"),
            "grants.application.awarded_directly",
            _manager,
            style="primary",
        ),
        "refuse_directly": TransitionSpec(
            "refuse_directly",
            _("Refuser l'attribution hors appel"),
            "grants.application.refused_directly",
            _manager,
            needs_reason=True,
            style="danger",
        ),
    }


def transition_specs() -> dict[str, TransitionSpec]:
    return _specs()


def available_transitions(*, actor: User, application: Application) -> list[TransitionSpec]:
    """The transitions this actor may run on this file now (the UI shows exactly these)."""
    specs = _specs()
    names = allowed_transition_names(application)
    return [specs[n] for n in names if n in specs and specs[n].who(actor, application)]


def _check(actor: User, application: Application, name: str) -> TransitionSpec:
    spec = _specs()[name]
    if not spec.who(actor, application):
        raise PermissionDenied(
            _("Vous n'avez pas le droit d'effectuer cette action sur ce dossier.")
        )
    return spec


def _require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Un motif est obligatoire pour cette action."), field="reason")
    return reason


def _transition(
    application: Application,
    name: str,
    *,
    actor: User,
    reason: str = "",
    payload: dict | None = None,
    update_fields: list[str] | None = None,
) -> Application:
    spec = _check(actor, application, name)
    if spec.needs_reason:
        reason = _require_reason(reason)
    return apply_transition(
        application,
        name,
        actor=actor,
        action=spec.action,
        reason=reason,
        payload=payload,
        update_fields=[*(update_fields or []), "updated_at"],
    )


def _url(application: Application) -> str:
    return f"/dossiers/{application.pk}/"


def _notify_applicants(application: Application, title: str, body: str = "") -> None:
    notify(
        users=application.organisation.members.all(), title=title, body=body, url=_url(application)
    )


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
        application.full_clean(exclude=["state", "qpvs", "themes", "documents"])
        application.save()
        _apply_relations(application, data)
        audit_log(actor=actor, obj=application, action="grants.application.created", target=S.DRAFT)
    return application


def _apply_fields(application: Application, data: dict[str, Any]) -> None:
    challenge = data.get("challenge")
    if challenge is not None and challenge.call_id != application.call_id:
        raise DomainError(
            _("Cette solution attendue ne relève pas de l'appel du dossier."), field="challenge"
        )
    for name in EDITABLE_FIELDS:
        if name in data:
            setattr(application, name, data[name])


def _apply_relations(application: Application, data: dict[str, Any]) -> None:
    if "qpvs" in data:
        application.qpvs.set(data["qpvs"])
    if "themes" in data:
        application.themes.set(data["themes"])
    if "objectives" in data:
        application.objectives.all().delete()
        Objective.objects.bulk_create(
            [
                Objective(application=application, text=t.strip(), position=i)
                for i, t in enumerate(data["objectives"])
                if t and t.strip()
            ]
        )
    if "indicators" in data:
        application.indicators.all().delete()
        Indicator.objects.bulk_create(
            [
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
        )
    if "budget" in data:
        application_set_budget_rows(application, data["budget"])


def application_set_budget_rows(application: Application, rows: list[dict[str, Any]]) -> None:
    """Replace the budget lines. Validates accounts and amounts; balance is checked on submit."""
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
                account=account,
                subsidy_source=source,
                funder_id=row.get("funder") or None,
                label=(row.get("label") or "")[:200],
                amount=amount,
            )
        )
    application.budget_items.all().delete()
    BudgetItem.objects.bulk_create(items)


def application_update(
    *, actor: User, application: Application, data: dict[str, Any]
) -> Application:
    """Edit a draft or a file returned for completion (the applicant's side only)."""
    with transaction.atomic():
        application = lock(application)
        if not _applicant_of(actor, application):
            raise PermissionDenied(_("Vous n'agissez pas pour cette organisation."))
        if not application.is_editable_by_applicant:
            raise TransitionNotAllowed(
                _("Le dossier n'est plus modifiable dans l'état « %(state)s ».")
                % {"state": application.get_state_display()},
                allowed=allowed_transition_names(application),
            )
        _apply_fields(application, data)
        try:
            application.full_clean(exclude=["state", "qpvs", "themes", "documents"])
        except ValidationError as exc:
            raise DomainError(_("Le dossier contient des erreurs."), errors=exc.message_dict)
        application.save()
        _apply_relations(application, data)
        audit_log(
            actor=actor,
            obj=application,
            action="grants.application.updated",
            payload={
                "fields": sorted(k for k in data if k != "budget")
                + (["budget"] if "budget" in data else [])
            },
        )
    return application


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
                for b in previous.budget_items.all()
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


# --------------------------------------------------------------------------- applicant transitions


def application_submit(*, actor: User, application: Application) -> Application:
    """File the dossier. The call's eligibility rules must hold; the organisation's valid documents
    are attached; the file is assigned by the call's rules."""
    with transaction.atomic():
        application = lock(application)
        if application.state == S.SUBMITTED:
            return application
        _check(actor, application, "submit")
        if application.state != S.DRAFT:
            raise TransitionNotAllowed(
                _("Seul un brouillon peut être déposé."),
                allowed=allowed_transition_names(application),
            )
        errors = eligibility_errors(application)
        if errors:
            raise DomainError(_("Le dossier ne respecte pas les règles de l'appel."), errors=errors)
        application.submitted_at = now()
        application = _transition(
            application, "submit", actor=actor, update_fields=["submitted_at"]
        )
        application.documents.add(*valid_documents_by_kind(application).values())
        _auto_assign(application, actor=actor)
        _notify_applicants(
            application,
            _("Dossier %(ref)s déposé") % {"ref": application.reference},
            _("Votre dossier a bien été déposé. Vous serez informé·e de chaque étape."),
        )
    return application


def application_resubmit(*, actor: User, application: Application, answer: str) -> Application:
    """Answer the pending completion request and send the file back to instruction."""
    answer = (answer or "").strip()
    if not answer:
        raise DomainError(_("Répondez à la demande de compléments."), field="answer")
    with transaction.atomic():
        application = lock(application)
        if application.state == S.SUBMITTED:
            return application
        _check(actor, application, "resubmit")
        request = pending_completion_request(application)
        if request is not None:
            request.answer, request.answered_at, request.answered_by = answer, now(), actor
            request.save(update_fields=["answer", "answered_at", "answered_by"])
        application = _transition(application, "resubmit", actor=actor, payload={"answer": answer})
        if application.assigned_to:
            notify(
                users=[application.assigned_to],
                title=_("Dossier %(ref)s complété") % {"ref": application.reference},
                url=_url(application),
            )
    return application


def application_withdraw(*, actor: User, application: Application, reason: str = "") -> Application:
    with transaction.atomic():
        application = lock(application)
        if application.state == S.WITHDRAWN:
            return application
        application = _transition(application, "withdraw", actor=actor, reason=reason)
        CompletionRequest.objects.filter(application=application, answered_at__isnull=True).update(
            answered_at=now(), answer=_("Dossier retiré")
        )
    return application


# --------------------------------------------------------------------------- instruction


def application_request_completion(
    *, actor: User, application: Application, message: str, deadline: date
) -> Application:
    """Ask the applicant to complete the file by a deadline."""
    message = (message or "").strip()
    if not message:
        raise DomainError(_("Précisez ce qui doit être complété."), field="message")
    if deadline is None or deadline <= today():
        raise DomainError(_("La date limite doit être dans le futur."), field="deadline")
    with transaction.atomic():
        application = lock(application)
        if application.state == S.RETURNED:
            return application
        request_payload = {"message": message, "deadline": deadline}
        application = _transition(
            application, "request_completion", actor=actor, reason=message, payload=request_payload
        )
        CompletionRequest.objects.create(
            application=application, message=message, deadline=deadline, requested_by=actor
        )
        _notify_applicants(
            application,
            _("Compléments demandés sur le dossier %(ref)s") % {"ref": application.reference},
            _("%(message)s\n\nÀ fournir avant le %(deadline)s.")
            % {"message": message, "deadline": deadline.strftime("%d/%m/%Y")},
        )
    return application


def _simple(name: str, target: str):
    def service(*, actor: User, application: Application, reason: str = "") -> Application:
        with transaction.atomic():
            application = lock(application)
            if application.state == target:
                return application
            return _transition(application, name, actor=actor, reason=reason)

    service.__name__ = f"application_{name}"
    return service


application_declare_eligible = _simple("declare_eligible", S.ELIGIBLE)
application_start_review = _simple("start_review", S.UNDER_REVIEW)


def application_declare_ineligible(
    *, actor: User, application: Application, reason: str
) -> Application:
    with transaction.atomic():
        application = lock(application)
        if application.state == S.INELIGIBLE:
            return application
        application.eligibility_note = (reason or "").strip()
        application.decided_at = now()
        application.decided_by = actor
        application = _transition(
            application,
            "declare_ineligible",
            actor=actor,
            reason=reason,
            update_fields=["eligibility_note", "decided_at", "decided_by"],
        )
        _notify_applicants(
            application, _("Dossier %(ref)s irrecevable") % {"ref": application.reference}, reason
        )
    return application


def application_dismiss(*, actor: User, application: Application, reason: str) -> Application:
    with transaction.atomic():
        application = lock(application)
        if application.state == S.DISMISSED:
            return application
        application.decision_reason = (reason or "").strip()
        application.decided_at = now()
        application.decided_by = actor
        application = _transition(
            application,
            "dismiss",
            actor=actor,
            reason=reason,
            update_fields=["decision_reason", "decided_at", "decided_by"],
        )
        CompletionRequest.objects.filter(application=application, answered_at__isnull=True).update(
            answered_at=now(), answer=_("Dossier classé sans suite")
        )
        _notify_applicants(
            application,
            _("Dossier %(ref)s classé sans suite") % {"ref": application.reference},
            reason,
        )
    return application


def application_assign(
    *, actor: User, application: Application, instructor: User | None
) -> Application:
    """Assign the file to an instructor by hand (or unassign with None)."""
    if not _instructor_of(actor, application):
        raise PermissionDenied(_("Vous n'avez pas le droit d'attribuer ce dossier."))
    if instructor is not None and not has_role(instructor, Role.INSTRUCTOR, Role.PROGRAMME_MANAGER):
        raise DomainError(_("Cette personne n'est pas instructeur·rice."), field="assigned_to")
    with transaction.atomic():
        application = lock(application)
        before = application.assigned_to_id
        application.assigned_to = instructor
        application.save(update_fields=["assigned_to", "updated_at"])
        audit_log(
            actor=actor,
            obj=application,
            action="grants.application.assigned",
            payload={
                "before": before,
                "after": instructor.pk if instructor else None,
                "to": str(instructor) if instructor else "",
            },
        )
        if instructor is not None and instructor != actor:
            notify(
                users=[instructor],
                title=_("Dossier %(ref)s attribué") % {"ref": application.reference},
                url=_url(application),
            )
    return application


def _auto_assign(application: Application, *, actor: User | None) -> None:
    """Assign by the first matching rule (call, territory, pillar), if the file has no instructor."""
    if application.assigned_to_id:
        return
    qpv_ids = set(application.qpvs.values_list("pk", flat=True))
    rules = AssignmentRule.objects.filter(Q(call_id=application.call_id) | Q(call__isnull=True))
    for rule in rules.order_by("priority", "id"):
        if rule.qpv_id and rule.qpv_id not in qpv_ids:
            continue
        if rule.pillar_id and rule.pillar_id != application.pillar_id:
            continue
        application.assigned_to_id = rule.instructor_id
        application.save(update_fields=["assigned_to"])
        audit_log(
            actor=actor,
            obj=application,
            action="grants.application.assigned",
            payload={"after": rule.instructor_id, "rule": rule.pk},
        )
        return


def application_add_note(*, actor: User, application: Application, text: str) -> InstructorNote:
    if not (_instructor_of(actor, application) or _decider_of(actor, application)):
        raise PermissionDenied(_("Les notes internes sont réservées à l'instruction."))
    text = (text or "").strip()
    if not text:
        raise DomainError(_("La note est vide."), field="text")
    with transaction.atomic():
        note = InstructorNote.objects.create(application=application, author=actor, text=text)
        audit_log(actor=actor, obj=application, action="grants.application.note_added")
    return note


def application_give_opinion(
    *, actor: User, application: Application, opinion: str, comment: str = ""
) -> PartnerOpinion:
    """A partner of the city contract gives (or updates) their opinion on a file."""
    if not has_role(actor, Role.COMMITTEE_MEMBER) or not is_staff_viewer(actor, application):
        raise PermissionDenied(_("Seuls les partenaires du contrat de ville donnent un avis."))
    if opinion not in PartnerOpinion.Opinion.values:
        raise DomainError(_("Avis inconnu."), field="opinion")
    if application.state not in (S.ELIGIBLE, S.UNDER_REVIEW, S.IN_COMMITTEE):
        raise TransitionNotAllowed(
            _("Les avis se donnent pendant l'instruction."),
            allowed=allowed_transition_names(application),
        )
    funder = next(
        (a.funder for a in actor.role_assignments.all() if a.role == Role.COMMITTEE_MEMBER), None
    )
    with transaction.atomic():
        row, _created = PartnerOpinion.objects.update_or_create(
            application=application,
            author=actor,
            defaults={"opinion": opinion, "comment": (comment or "").strip(), "funder": funder},
        )
        audit_log(
            actor=actor,
            obj=application,
            action="grants.application.opinion_given",
            payload={"opinion": opinion},
        )
    return row


def application_score(
    *,
    actor: User,
    application: Application,
    scores: dict[int, int],
    comments: dict[int, str] | None = None,
) -> list[Score]:
    """Score the file against the call's grid (criterion id → value within 0..max)."""
    if not _instructor_of(actor, application):
        raise PermissionDenied(_("Seule l'instruction note les dossiers."))
    if application.state not in (S.ELIGIBLE, S.UNDER_REVIEW):
        raise TransitionNotAllowed(
            _("La notation se fait pendant l'instruction."),
            allowed=allowed_transition_names(application),
        )
    criteria = {c.pk: c for c in application.call.criteria.all()} if application.call else {}
    errors: dict[str, list[str]] = {}
    for cid, value in scores.items():
        criterion = criteria.get(int(cid))
        if criterion is None:
            errors.setdefault(f"score_{cid}", []).append(_("Critère inconnu pour cet appel."))
        elif value is None or not (0 <= int(value) <= criterion.max_score):
            errors.setdefault(f"score_{cid}", []).append(
                _("La note doit être comprise entre 0 et %(max)d.") % {"max": criterion.max_score}
            )
    if errors:
        raise DomainError(_("La notation contient des erreurs."), errors=errors)
    rows = []
    with transaction.atomic():
        for cid, value in scores.items():
            row, _created = Score.objects.update_or_create(
                application=application,
                criterion_id=int(cid),
                scorer=actor,
                defaults={"value": int(value), "comment": (comments or {}).get(cid, "")},
            )
            rows.append(row)
        audit_log(
            actor=actor,
            obj=application,
            action="grants.application.scored",
            payload={str(k): int(v) for k, v in scores.items()},
        )
    return rows


def application_send_to_committee(
    *,
    actor: User,
    application: Application,
    proposed_amount: Decimal,
    session: CommitteeSession | None = None,
    note: str = "",
) -> Application:
    """Put the file on a committee agenda with the instruction's proposed amount."""
    if proposed_amount is None or proposed_amount < 0:
        raise DomainError(_("Indiquez le montant proposé."), field="proposed_amount")
    with transaction.atomic():
        application = lock(application)
        if application.state == S.IN_COMMITTEE:
            return application
        if proposed_amount > application.requested_amount:
            raise DomainError(
                _("Le montant proposé ne peut pas dépasser le montant demandé (%(r)s).")
                % {"r": euros(application.requested_amount)},
                field="proposed_amount",
            )
        if session is not None and session.programme_id != application.programme_id:
            raise DomainError(
                _("Cette séance ne concerne pas le programme du dossier."), field="session"
            )
        application.proposed_amount = proposed_amount
        application.proposal_note = (note or "").strip()
        application.committee_session = session
        return _transition(
            application,
            "send_to_committee",
            actor=actor,
            payload={
                "proposed_amount": proposed_amount,
                "session": session.pk if session else None,
            },
            update_fields=["proposed_amount", "proposal_note", "committee_session"],
        )


# --------------------------------------------------------------------------- decisions


def application_approve(
    *,
    actor: User,
    application: Application,
    amount: Decimal,
    conditions: str = "",
    is_multi_year: bool = False,
    envelope_override_reason: str = "",
    reason: str = "",
    yearly_amounts: dict[int, Decimal] | None = None,
) -> Application:
    """Grant the subsidy. Amount ≤ requested; no pending completion request; beyond the call's (or the
    programme's) envelope only with an explicit override reason, audited."""
    if amount is None or amount <= 0:
        raise DomainError(_("Le montant accordé doit être supérieur à zéro."), field="amount")
    if amount != amount.quantize(Decimal("0.01")):
        raise DomainError(_("Le montant accordé s'exprime au centime près."), field="amount")
    with transaction.atomic():
        application = lock(application)
        if application.state == S.APPROVED:
            return application
        _check(actor, application, "approve")
        if amount > application.requested_amount:
            raise DomainError(
                _("Le montant accordé ne peut pas dépasser le montant demandé (%(r)s).")
                % {"r": euros(application.requested_amount)},
                field="amount",
            )
        if pending_completion_request(application) is not None:
            raise TransitionNotAllowed(
                _(
                    "Une demande de compléments est en attente : le dossier ne peut pas "
                    "être décidé."
                ),
                allowed=[],
            )
        has_years = application.years.exists()
        if has_years:
            is_multi_year = application.years.count() > 1
        if is_multi_year and application.call and not application.call.multi_year_allowed:
            raise DomainError(
                _("Cet appel ne permet pas de financement pluriannuel."), field="is_multi_year"
            )
        override = (envelope_override_reason or "").strip()
        over = envelope_guard(
            call_id=application.call_id,
            programme_id=application.programme_id,
            amount=amount,
            override=override,
            exclude_pk=application.pk,
        )
        application.approved_amount = amount
        application.decision_conditions = (conditions or "").strip()
        application.decision_reason = (reason or "").strip()
        application.is_multi_year = is_multi_year
        application.decided_at = now()
        application.decided_by = actor
        application.envelope_override_reason = override if over is not None else ""
        if has_years:
            # Multi-year request: each year's approved amount, summing to the total (the CPO's input).
            _approve_years(application, yearly_amounts or _years_pro_rata(application, amount))
        application = _transition(
            application,
            "approve",
            actor=actor,
            reason=reason,
            payload={
                "amount": amount,
                "requested": application.requested_amount,
                "multi_year": is_multi_year,
                "conditions": application.decision_conditions,
                "years": {str(y.fiscal_year): y.approved_amount for y in application.years.all()},
            },
            update_fields=[
                "approved_amount",
                "decision_conditions",
                "decision_reason",
                "is_multi_year",
                "decided_at",
                "decided_by",
                "envelope_override_reason",
            ],
        )
        audit_envelope_override(
            actor=actor, application=application, over=over, override=override, amount=amount
        )
        _notify_applicants(
            application,
            _("Subvention accordée : dossier %(ref)s") % {"ref": application.reference},
            _("Montant accordé : %(amount)s.") % {"amount": euros(amount)},
        )
    return application


def _years_pro_rata(application: Application, amount: Decimal) -> dict[int, Decimal]:
    """Approved amount spread over the requested years in proportion to the request (exact cents)."""
    years = list(application.years.order_by("fiscal_year"))
    parts = split_exact(amount, [y.requested_amount for y in years])
    return {y.fiscal_year: part for y, part in zip(years, parts, strict=True)}


def _approve_years(application: Application, amounts: dict[int, Decimal]) -> None:
    years = {y.fiscal_year: y for y in application.years.all()}
    amounts = {int(k): Decimal(str(v)) for k, v in amounts.items()}
    if set(amounts) != set(years):
        raise DomainError(
            _("Indiquez un montant accordé pour chaque exercice demandé."), field="years"
        )
    if sum(amounts.values(), Decimal("0")) != application.approved_amount:
        raise DomainError(
            _("Les montants annuels doivent totaliser le montant accordé."), field="years"
        )
    for fiscal_year, value in amounts.items():
        if value < 0 or value > years[fiscal_year].requested_amount:
            raise DomainError(
                _(
                    "Exercice %(y)d : le montant accordé doit être compris entre 0 et le montant "
                    "demandé."
                )
                % {"y": fiscal_year},
                field="years",
            )
        years[fiscal_year].approved_amount = value
    ApplicationYear.objects.bulk_update(list(years.values()), ["approved_amount"])


def envelope_guard(
    *,
    call_id: int | None,
    programme_id: int,
    amount: Decimal,
    override: str,
    exclude_pk: int | None = None,
) -> Decimal | None:
    """How far granting `amount` goes beyond the call's envelope (outside any call, the
    programme's), or None. Beyond it, an explicit reason is required (DomainError otherwise).

    The call (or programme) row is locked so two approvals cannot both squeeze under the limit."""
    if call_id:
        call = Call.objects.select_for_update().get(pk=call_id)
        used, limit = approved_total_for_call(call.pk, exclude_pk=exclude_pk), call.envelope
    else:
        programme = Programme.objects.select_for_update().get(pk=programme_id)
        used = approved_total_for_programme(programme.pk, exclude_pk=exclude_pk)
        limit = programme.envelope
    over = used + amount - limit
    if over <= 0:
        return None
    if not override:
        raise DomainError(
            _("Cette décision dépasse l'enveloppe de %(over)s. Un dépassement doit être motivé.")
            % {"over": euros(over)},
            field="envelope_override_reason",
            code="envelope_exceeded",
        )
    return over


def audit_envelope_override(
    *, actor: User, application: Application, over: Decimal | None, override: str, amount: Decimal
) -> None:
    """The audit row of an approval beyond the envelope, with its reason (nothing if within)."""
    if over is not None:
        audit_log(
            actor=actor,
            obj=application,
            action="grants.application.envelope_overridden",
            reason=override,
            payload={"overrun": over, "amount": amount},
        )


def application_reject(*, actor: User, application: Application, reason: str) -> Application:
    with transaction.atomic():
        application = lock(application)
        if application.state == S.REJECTED:
            return application
        _check(actor, application, "reject")
        if pending_completion_request(application) is not None:
            raise TransitionNotAllowed(
                _(
                    "Une demande de compléments est en attente : le dossier ne peut pas "
                    "être décidé."
                ),
                allowed=[],
            )
        application.decision_reason = (reason or "").strip()
        application.decided_at = now()
        application.decided_by = actor
        application = _transition(
            application,
            "reject",
            actor=actor,
            reason=reason,
            update_fields=["decision_reason", "decided_at", "decided_by"],
        )
        _notify_applicants(
            application,
            _("Subvention refusée : dossier %(ref)s") % {"ref": application.reference},
            reason,
        )
    return application


def application_reopen(*, actor: User, application: Application, reason: str) -> Application:
    """A programme manager reopens a decided file (back to instruction), with a reason."""
    with transaction.atomic():
        application = lock(application)
        if application.state == S.UNDER_REVIEW:
            return application
        before = {"approved_amount": application.approved_amount, "state": application.state}
        application = _transition(
            application,
            "reopen",
            actor=actor,
            reason=reason,
            payload=before,
            update_fields=["approved_amount", "decided_at", "decided_by"],
        )
    return application


def committee_session_create(
    *, actor: User, programme: Programme, title: str, date: date, call: Call | None = None
) -> CommitteeSession:
    if not has_role(actor, Role.PROGRAMME_MANAGER, Role.INSTRUCTOR):
        raise PermissionDenied(_("Vous ne pouvez pas créer de séance de comité."))
    if not (title or "").strip():
        raise DomainError(_("Donnez un intitulé à la séance."), field="title")
    with transaction.atomic():
        session = CommitteeSession.objects.create(
            programme=programme, call=call, title=title.strip(), date=date
        )
        audit_log(actor=actor, obj=session, action="grants.committee.created")
    return session


def committee_record_decisions(
    *, actor: User, session: CommitteeSession, decisions: list[dict[str, Any]], minutes: str = ""
) -> list[Application]:
    """Record the session's decisions in one place, all or nothing.

    Each decision: {"application": id, "decision": "approve"|"reject"|"defer", "amount", "conditions",
    "is_multi_year", "reason", "envelope_override_reason"}."""
    done: list[Application] = []
    with transaction.atomic():
        session = lock(session)
        for row in decisions:
            # The agenda: files of this session, or of its programme still waiting for a session.
            application = Application.objects.filter(
                Q(committee_session=session)
                | Q(
                    committee_session__isnull=True,
                    programme_id=session.programme_id,
                    state=S.IN_COMMITTEE,
                )
            ).get(pk=row["application"])
            kind = row.get("decision")
            try:
                if kind in ("approve", "reject") and application.committee_session_id is None:
                    application.committee_session = session
                    application.save(update_fields=["committee_session", "updated_at"])
                if kind == "approve":
                    done.append(
                        application_approve(
                            actor=actor,
                            application=application,
                            amount=row.get("amount"),
                            conditions=row.get("conditions", ""),
                            is_multi_year=bool(row.get("is_multi_year")),
                            envelope_override_reason=row.get("envelope_override_reason", ""),
                            reason=row.get("reason", ""),
                        )
                    )
                elif kind == "reject":
                    done.append(
                        application_reject(
                            actor=actor, application=application, reason=row.get("reason", "")
                        )
                    )
            except DomainError as exc:
                exc.application_id = (
                    application.pk
                )  # lets the session form show the error on its row
                raise
        if minutes.strip():
            session.minutes = minutes.strip()
        session.state = CommitteeSession.State.HELD
        session.save(update_fields=["minutes", "state"])
        audit_log(
            actor=actor,
            obj=session,
            action="grants.committee.held",
            payload={"decisions": len(done)},
        )
    return done


def completion_requests_flag_overdue() -> int:
    """Flag pending completion requests whose deadline has passed. Idempotent."""
    return CompletionRequest.objects.filter(
        answered_at__isnull=True, deadline__lt=today(), is_overdue=False
    ).update(is_overdue=True)


def _direct():
    from . import services_direct  # the direct-award module builds on this one

    return services_direct


# The registry the API and views use to run a transition by name.
def run_transition(
    *, name: str, actor: User, application: Application, data: dict[str, Any]
) -> Application:
    """Dispatch a transition by name with its inputs (API: POST …/transitions/{name}/)."""
    services = {
        "submit": lambda: application_submit(actor=actor, application=application),
        "resubmit": lambda: application_resubmit(
            actor=actor, application=application, answer=data.get("answer", "")
        ),
        "withdraw": lambda: application_withdraw(
            actor=actor, application=application, reason=data.get("reason", "")
        ),
        "request_completion": lambda: application_request_completion(
            actor=actor,
            application=application,
            message=data.get("message", ""),
            deadline=data.get("deadline"),
        ),
        "declare_eligible": lambda: application_declare_eligible(
            actor=actor, application=application, reason=data.get("reason", "")
        ),
        "declare_ineligible": lambda: application_declare_ineligible(
            actor=actor, application=application, reason=data.get("reason", "")
        ),
        "start_review": lambda: application_start_review(
            actor=actor, application=application, reason=data.get("reason", "")
        ),
        "send_to_committee": lambda: application_send_to_committee(
            actor=actor,
            application=application,
            proposed_amount=data.get("proposed_amount"),
            session=data.get("session"),
            note=data.get("note", ""),
        ),
        "approve": lambda: application_approve(
            actor=actor,
            application=application,
            amount=data.get("amount"),
            conditions=data.get("conditions", ""),
            is_multi_year=bool(data.get("is_multi_year")),
            envelope_override_reason=data.get("envelope_override_reason", ""),
            reason=data.get("reason", ""),
            yearly_amounts=data.get("yearly_amounts"),
        ),
        "reject": lambda: application_reject(
            actor=actor, application=application, reason=data.get("reason", "")
        ),
        "dismiss": lambda: application_dismiss(
            actor=actor, application=application, reason=data.get("reason", "")
        ),
        "reopen": lambda: application_reopen(
            actor=actor, application=application, reason=data.get("reason", "")
        ),
        "award_directly": lambda: _direct().direct_award_decide(
            actor=actor,
            application=application,
            approve=True,
            amount=data.get("amount"),
            reason=data.get("reason", ""),
            envelope_override_reason=data.get("envelope_override_reason", ""),
        ),
        "refuse_directly": lambda: _direct().direct_award_decide(
            actor=actor, application=application, approve=False, reason=data.get("reason", "")
        ),
    }
    if name not in services:
        raise TransitionNotAllowed(
            _("Action inconnue : « %(name)s ».") % {"name": name},
            allowed=allowed_transition_names(application),
        )
    return services[name]()


def application_attach(
    *, actor: User, application: Application, file: Any, title: str = ""
) -> ApplicationAttachment:
    """Attach a file to one application (a completion answer, a quote, a letter of support).

    The file's applicants only, while they may still change it (draft or returned for completion).
    Same size, type and content checks as every upload (core.uploads)."""
    if not _applicant_of(actor, application):
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
