"""Instruction of a filed application: eligibility, assignment, notes, opinions, scores, and
the proposal to the committee."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from core.audit import audit_log
from core.clock import now
from core.errors import DomainError, PermissionDenied, TransitionNotAllowed
from core.fsm import ManyResult, allowed_transition_names, lock, lock_many
from core.models import Role, User
from core.notifications import Msg, notify
from core.permissions import has_role

from ..eligibility import euros
from ..models import (
    Application,
    AssignmentRule,
    CommitteeSession,
    CompletionRequest,
    InstructorNote,
    PartnerOpinion,
    Score,
)
from ..selectors import (
    is_staff_viewer,
)
from .workflow import (
    S,
    _notify_applicants,
    _transition,
    _transition_many,
    _url,
    decider_of,
    instructor_of,
)

# --------------------------------------------------------------------------- instruction


def _simple(name: str, target: str):
    def service(*, actor: User, application: Application, reason: str = "") -> Application:
        with transaction.atomic():
            application = lock(application)
            if application.state == target:
                return application
            return _transition(application, name, actor=actor, reason=reason)

    service.__name__ = f"application_{name}"
    return service


def _simple_many(name: str, target: str):
    def service(
        *, actor: User, applications: Sequence[Application], reason: str = ""
    ) -> ManyResult[Application]:
        """The single-file service for many files (bulk actions): rows locked together, files
        already in the target state left alone (as the single service returns early), then
        _transition_many — the same permission, FSM and audit rules, a few statements in all."""
        with transaction.atomic():
            locked = lock_many(Application, [a.pk for a in applications])
            already = [a for a in locked if a.state == target]
            result = _transition_many(
                [a for a in locked if a.state != target], name, actor=actor, reason=reason
            )
            result.done[:0] = already
            return result

    service.__name__ = f"applications_{name}"
    return service


application_declare_eligible = _simple("declare_eligible", S.ELIGIBLE)
application_start_review = _simple("start_review", S.UNDER_REVIEW)
applications_declare_eligible = _simple_many("declare_eligible", S.ELIGIBLE)
applications_start_review = _simple_many("start_review", S.UNDER_REVIEW)


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
            application,
            Msg(gettext_noop("Dossier %(ref)s irrecevable"), ref=application.reference),
            reason,
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
            Msg(gettext_noop("Dossier %(ref)s classé sans suite"), ref=application.reference),
            reason,
        )
    return application


def application_assign(
    *, actor: User, application: Application, instructor: User | None
) -> Application:
    """Assign the file to an instructor by hand (or unassign with None)."""
    if not instructor_of(actor, application):
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
                title=Msg(gettext_noop("Dossier %(ref)s attribué"), ref=application.reference),
                url=_url(application),
            )
    return application


def assignment_rule(
    application: Application, *, qpv_ids: set[int] | None = None
) -> AssignmentRule | None:
    """The first rule matching the file (call, territory, pillar), if it has no instructor; None
    otherwise. `qpv_ids`: the file's neighbourhoods when the caller has read them."""
    if application.assigned_to_id:
        return None
    if qpv_ids is None:
        qpv_ids = set(application.qpvs.values_list("pk", flat=True))
    rules = AssignmentRule.objects.filter(Q(call_id=application.call_id) | Q(call__isnull=True))
    for rule in rules.order_by("priority", "id"):
        if rule.qpv_id and rule.qpv_id not in qpv_ids:
            continue
        if rule.pillar_id and rule.pillar_id != application.pillar_id:
            continue
        return rule
    return None


def audit_assigned(application: Application, rule: AssignmentRule, *, actor: User | None) -> None:
    """The audit row of an assignment by `rule` (written after the file's row was saved)."""
    audit_log(
        actor=actor,
        obj=application,
        action="grants.application.assigned",
        payload={"after": rule.instructor_id, "rule": rule.pk},
    )


def application_add_note(*, actor: User, application: Application, text: str) -> InstructorNote:
    if not (instructor_of(actor, application) or decider_of(actor, application)):
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
    if not instructor_of(actor, application):
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
