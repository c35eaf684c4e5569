"""Co-funded files (docs/domain.md §9, issue 15): one part per funder asked, each instructed and
decided by its own funder, the file's decision following its parts.

- The parts come from the CERFA budget: one per funder named on an account-74 line, the amount
  asked being the sum of its lines (`funder_parts_sync`, run whenever the budget is saved).
- A part is instructed (`funder_part_start_review`, `funder_part_propose`) and decided
  (`funder_part_decide`: granted in full, cut, or refused with a reason; with the funder's
  committee or deliberation reference, or in a joint committee session) by its funder's agents only:
  a staff member whose role names a funder acts on that funder's part alone; one whose role names
  none keeps today's rights over every part (`may_review_part`, `may_decide_part`).
- Each part draws on its funder's programme's envelope: what is proposed or granted there stays
  within it, under a row lock on the programme (`part_envelope_guard`).
- The file follows its parts: once every part is decided, it is approved through the one decision
  path (`application_grant`, amount = the sum granted) if a part grants money, refused otherwise;
  a part refused or cut asks the applicant to confirm or revise its budget
  (grants.services.budget_revision).
- A file with a single part is decided as it always was (the committee's `application_approve` /
  `application_reject`); its part follows that decision (`part_follow_file`).
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q, Sum
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from calls.models import Programme
from core.audit import audit_log
from core.clock import now
from core.errors import DomainError, PermissionDenied, TransitionNotAllowed
from core.fsm import apply_transition, lock
from core.models import Funder, Role, User
from core.notifications import notify
from core.permissions import funder_id_of, has_role, is_staff_member, scope_of

from ..budget import SUBSIDIES
from ..eligibility import euros
from ..models import (
    DECIDED_PART_STATES,
    ENVELOPE_PART_STATES,
    GRANTED_PART_STATES,
    Application,
    BudgetRevision,
    CommitteeSession,
    FunderPart,
    FunderPartState,
)
from ..selectors import file_members
from .approval import Approval, ApprovalPath, application_grant
from .decision import check_session_open, may_record_decisions
from .workflow import S, decider_of, instructor_of

FP = FunderPartState
COFUNDED = ApprovalPath("cofunded", "approve", "grants.application.approved")

# --------------------------------------------------------------------------- the parts


def funder_parts(application: Application) -> list[FunderPart]:
    return list(application.funder_parts.select_related("funder", "programme").order_by("pk"))


def is_cofunded(application: Application) -> bool:
    """A file asks several funders: its parts are decided one by one, by each funder."""
    return application.funder_parts.count() > 1


def part_programme(application: Application, funder: Funder) -> Programme | None:
    """The programme whose envelope the funder's part draws on: the file's own programme when the
    funder funds it, else the funder's programme of the same fiscal year (None: a funder without a
    programme in Pluriel decides outside any envelope kept here)."""
    programme = application.programme
    line = programme.budget_line
    if programme.funders.filter(pk=funder.pk).exists() or (
        line is not None and line.funder_id == funder.pk
    ):
        return programme
    return (
        Programme.objects.filter(funders=funder, fiscal_year=programme.fiscal_year)
        .order_by("pk")
        .first()
    )


def funder_parts_sync(application: Application) -> list[FunderPart]:
    """Keep the parts equal to the budget: one part per funder named on an account-74 line (the
    lead's and the partners'), asking the sum of its lines. A part already under instruction is
    left as it is. With several parts, the file's amount asked is their sum (not typed twice);
    with one, the part asks what the file asks (the file is decided as before)."""
    asked: dict[int, Decimal] = defaultdict(Decimal)
    for funder_id, amount in application.budget_items.filter(
        account=SUBSIDIES, funder__isnull=False
    ).values_list("funder_id", "amount"):
        asked[funder_id] += amount
    parts = {p.funder_id: p for p in application.funder_parts.all()}
    for funder_id, part in list(parts.items()):
        if funder_id not in asked and part.state == FP.ASKED:
            part.delete()
            del parts[funder_id]
    for funder_id in asked:
        if funder_id not in parts:
            funder = Funder.objects.get(pk=funder_id)
            parts[funder_id] = FunderPart(
                application=application,
                funder=funder,
                programme=part_programme(application, funder),
            )
    current = list(parts.values())
    several = len(current) > 1
    for part in current:
        if part.state != FP.ASKED and part.pk is not None:
            continue
        part.requested_amount = (
            asked.get(part.funder_id, Decimal("0")) if several else application.requested_amount
        )
        part.save()
    if several:
        total = sum((p.requested_amount for p in current), Decimal("0"))
        if application.requested_amount != total:
            application.requested_amount = total
            application.save(update_fields=["requested_amount", "updated_at"])
    return current


# --------------------------------------------------------------------------- who acts on a part


def _funder_allows(actor: User, role: str, part: FunderPart) -> bool:
    funder_id = funder_id_of(actor, role)
    return funder_id is None or funder_id == part.funder_id


def may_review_part(actor: User, part: FunderPart) -> bool:
    """Instruct the part: a programme manager or an instructor of the file, limited to their
    funder's part when their role names a funder."""
    application = part.application
    if has_role(actor, Role.PROGRAMME_MANAGER) and _funder_allows(
        actor, Role.PROGRAMME_MANAGER, part
    ):
        return True
    return (
        scope_of(actor, Role.INSTRUCTOR) is not None
        and instructor_of(actor, application)
        and _funder_allows(actor, Role.INSTRUCTOR, part)
    )


def may_decide_part(actor: User, part: FunderPart) -> bool:
    """Decide the part: a programme manager or a committee member who may decide the file, limited
    to their funder's part when their role names a funder (« a committee member may speak for a
    funder », core.models.RoleAssignment)."""
    application = part.application
    if has_role(actor, Role.PROGRAMME_MANAGER) and _funder_allows(
        actor, Role.PROGRAMME_MANAGER, part
    ):
        return True
    return (
        scope_of(actor, Role.COMMITTEE_MEMBER) is not None
        and decider_of(actor, application)
        and _funder_allows(actor, Role.COMMITTEE_MEMBER, part)
    )


def may_read_private_note(user: User, part: FunderPart) -> bool:
    """A part's private note: staff of that funder, or staff not tied to any funder. Other funders'
    agents see the part's state and decision, not its note; applicants never."""
    if not is_staff_member(user):
        return False
    funders = {
        funder_id_of(user, role)
        for role in (Role.INSTRUCTOR, Role.COMMITTEE_MEMBER, Role.PROGRAMME_MANAGER)
        if scope_of(user, role) is not None or has_role(user, role)
    }
    if not funders:  # finance officers, auditors: not tied to a funder
        return True
    return None in funders or part.funder_id in funders


def _denied() -> PermissionDenied:
    return PermissionDenied(_("Vous n'agissez pas pour le financeur de cette part."))


# --------------------------------------------------------------------------- the envelope


def part_envelope_guard(
    *, part: FunderPart, amount: Decimal, override: str
) -> tuple[Decimal | None, str]:
    """What is proposed or granted on the funder's programme, this amount included, stays within
    its envelope, unless a reason is given (then returned with the overrun, for the audit). The
    programme row is locked so two decisions cannot both squeeze under the limit."""
    if part.programme_id is None:
        return None, ""
    programme = Programme.objects.select_for_update().get(pk=part.programme_id)
    used = (
        FunderPart.objects.filter(programme=programme, state__in=ENVELOPE_PART_STATES)
        .exclude(pk=part.pk)
        .aggregate(
            total=Coalesce(
                Sum(Coalesce("decided_amount", "proposed_amount")),
                Decimal("0"),
            )
        )["total"]
    )
    over = used + amount - programme.envelope
    if over <= 0:
        return None, ""
    override = (override or "").strip()
    if not override:
        raise DomainError(
            _(
                "Cette part dépasse l'enveloppe du programme « %(programme)s » de %(over)s. Un "
                "dépassement doit être motivé."
            )
            % {"programme": programme.name, "over": euros(over)},
            field="envelope_override_reason",
            code="envelope_exceeded",
        )
    return over, override


def _check_amount(amount: Any, part: FunderPart) -> Decimal:
    try:
        value = Decimal(str(amount))
    except Exception:
        raise DomainError(_("Montant invalide."), field="amount")
    if value <= 0:
        raise DomainError(_("Le montant doit être supérieur à zéro."), field="amount")
    if value != value.quantize(Decimal("0.01")):
        raise DomainError(_("Le montant s'exprime au centime près."), field="amount")
    if value > part.requested_amount:
        raise DomainError(
            _(
                "Le montant ne peut pas dépasser le montant sollicité auprès de ce financeur (%(r)s)."
            )
            % {"r": euros(part.requested_amount)},
            field="amount",
        )
    return value


def _lock_part(part: FunderPart) -> FunderPart:
    return (
        FunderPart.objects.select_for_update()
        .select_related("application", "funder")
        .get(pk=part.pk)
    )


def _payload(part: FunderPart, **extra: Any) -> dict[str, Any]:
    return {"funder": part.funder.name, "requested": part.requested_amount, **extra}


# --------------------------------------------------------------------------- instruction


def funder_part_start_review(*, actor: User, part: FunderPart) -> FunderPart:
    """The funder starts instructing its part (the file is under instruction)."""
    with transaction.atomic():
        part = _lock_part(part)
        if part.state == FP.UNDER_REVIEW:
            return part
        if not may_review_part(actor, part):
            raise _denied()
        if part.application.state not in (S.UNDER_REVIEW, S.IN_COMMITTEE):
            raise TransitionNotAllowed(
                _("Le dossier n'est pas en instruction : sa part ne peut pas être instruite."),
                allowed=[],
            )
        return apply_transition(
            part,
            "start_review",
            actor=actor,
            action="grants.funder_part.review_started",
            payload=_payload(part),
            update_fields=["updated_at"],
        )


def funder_part_propose(
    *,
    actor: User,
    part: FunderPart,
    amount: Any,
    note: str = "",
    envelope_override_reason: str = "",
) -> FunderPart:
    """The funder's instruction proposes an amount for its part: positive, at most the amount
    asked of it, within its programme's envelope (or with a reason)."""
    with transaction.atomic():
        part = _lock_part(part)
        if not may_review_part(actor, part):
            raise _denied()
        if part.application.state not in (S.UNDER_REVIEW, S.IN_COMMITTEE):
            raise TransitionNotAllowed(
                _("Le dossier n'est pas en instruction : sa part ne peut pas être proposée."),
                allowed=[],
            )
        value = _check_amount(amount, part)
        over, override = part_envelope_guard(
            part=part, amount=value, override=envelope_override_reason
        )
        part.proposed_amount = value
        part.proposal_note = (note or "").strip()
        part.envelope_override_reason = override
        return apply_transition(
            part,
            "propose",
            actor=actor,
            action="grants.funder_part.proposed",
            payload=_payload(part, amount=value, overrun=over),
            reason=override,
            update_fields=[
                "proposed_amount",
                "proposal_note",
                "envelope_override_reason",
                "updated_at",
            ],
        )


def funder_part_set_note(*, actor: User, part: FunderPart, text: str) -> FunderPart:
    """The funder's private note on its part (other funders' agents do not read it)."""
    with transaction.atomic():
        part = _lock_part(part)
        if not (may_review_part(actor, part) or may_decide_part(actor, part)):
            raise _denied()
        part.private_note = (text or "").strip()
        part.full_clean(exclude=["state"], validate_unique=False, validate_constraints=False)
        part.save(update_fields=["private_note", "updated_at"])
        audit_log(actor=actor, obj=part, action="grants.funder_part.note_updated")
    return part


def funder_part_set_separate_agreement(
    *, actor: User, part: FunderPart, separate: bool
) -> FunderPart:
    """The funder insists on its own agreement rather than a common one (cpo reads the flag)."""
    with transaction.atomic():
        part = _lock_part(part)
        if not may_decide_part(actor, part):
            raise _denied()
        if part.separate_agreement == bool(separate):
            return part
        part.separate_agreement = bool(separate)
        part.save(update_fields=["separate_agreement", "updated_at"])
        audit_log(
            actor=actor,
            obj=part,
            action="grants.funder_part.agreement_choice",
            payload=_payload(part, separate_agreement=part.separate_agreement),
        )
    return part


# --------------------------------------------------------------------------- decision


def funder_part_decide(
    *,
    actor: User,
    part: FunderPart,
    decision: str,
    amount: Any = None,
    conditions: str = "",
    reason: str = "",
    reference: str = "",
    session: CommitteeSession | None = None,
    envelope_override_reason: str = "",
) -> FunderPart:
    """The funder decides its part of a co-funded file on the agenda of a decision (« en comité »):
    « approve » an amount at most the amount asked (less than asked: the part is cut), or
    « refuse » with a reason; with its committee or deliberation reference (or the joint committee
    session it was decided in). Once every part is decided, the file follows (`_settle_file`)."""
    if decision not in ("approve", "refuse"):
        raise DomainError(_("Décision inconnue."), field="decision")
    with transaction.atomic():
        part = _lock_part(part)
        application = lock(part.application)
        part.application = application
        target_done = (decision == "approve" and part.state in GRANTED_PART_STATES) or (
            decision == "refuse" and part.state == FP.REFUSED
        )
        if target_done:
            return part
        if not may_decide_part(actor, part):
            raise _denied()
        if application.funder_parts.count() < 2:
            raise TransitionNotAllowed(
                _(
                    "Ce dossier n'a qu'un financeur : il se décide en comité, comme tout dossier, "
                    "et sa part suit la décision."
                ),
                allowed=[],
            )
        if application.state != S.IN_COMMITTEE:
            raise TransitionNotAllowed(
                _(
                    "Le dossier n'est pas soumis à décision (en comité) : sa part ne peut pas être décidée."
                ),
                allowed=[],
            )
        reference = (reference or "").strip()[:200]
        if session is not None:
            check_session_open(session)
            reference = reference or str(session)
        if not reference:
            raise DomainError(
                _("Indiquez la référence du comité ou de la délibération qui décide cette part."),
                field="reference",
            )
        part.reference = reference
        part.committee_session = session
        part.decided_by = actor
        if decision == "approve":
            value = _check_amount(
                amount if amount not in (None, "") else part.proposed_amount, part
            )
            over, override = part_envelope_guard(
                part=part, amount=value, override=envelope_override_reason
            )
            part.decided_amount = value
            part.conditions = (conditions or "").strip()
            part.refusal_reason = ""
            part.envelope_override_reason = override or part.envelope_override_reason
            name, payload = "grant", _payload(part, amount=value, overrun=over)
        else:
            reason = (reason or "").strip()
            if not reason:
                raise DomainError(_("Le motif du refus est obligatoire."), field="reason")
            part.refusal_reason = reason
            part.conditions = ""
            over, override = None, ""
            name, payload = "refuse", _payload(part)
        part = apply_transition(
            part,
            name,
            actor=actor,
            action="grants.funder_part.decided",
            reason=reason if decision == "refuse" else override,
            payload={**payload, "reference": reference},
            update_fields=[
                "decided_amount",
                "conditions",
                "refusal_reason",
                "reference",
                "committee_session",
                "decided_by",
                "decided_at",
                "envelope_override_reason",
                "updated_at",
            ],
        )
        _settle_file(actor=actor, application=application)
    return part


def _settle_file(*, actor: User, application: Application) -> None:
    """Once every part is decided, the file is decided: approved through the one decision path
    with the sum granted (each part was held to its own funder's envelope, so the file's amount
    does not count again against the file's programme), or refused when every part is. A part
    refused or cut asks the applicant to confirm or revise the budget."""
    parts = funder_parts(application)
    if any(p.state not in DECIDED_PART_STATES for p in parts):
        return
    granted = sum((p.granted_amount for p in parts), Decimal("0"))
    summary = {p.funder.name: p.granted_amount for p in parts}
    if granted > 0:
        conditions = "\n".join(f"{p.funder.name} : {p.conditions}" for p in parts if p.conditions)
        application_grant(
            actor=actor,
            application=application,
            path=COFUNDED,
            approval=Approval(
                amount=granted,
                conditions=conditions[:2000],
                counts_against_envelope=False,
                payload={"parts": summary},
            ),
        )
    else:
        application.decision_reason = "\n".join(
            f"{p.funder.name} : {p.refusal_reason}" for p in parts
        )[:2000]
        application.decided_by = actor
        application.decided_at = now()
        apply_transition(
            application,
            "reject",
            actor=actor,
            action="grants.application.rejected",
            reason=application.decision_reason,
            payload={"parts": summary},
            update_fields=["decision_reason", "decided_at", "decided_by", "updated_at"],
        )
        notify(
            users=file_members(application),
            title=_("Subvention refusée : dossier %(ref)s") % {"ref": application.reference},
            body=application.decision_reason,
            url=f"/dossiers/{application.pk}/",
        )
        return
    if any(p.state in (FP.REFUSED, FP.CUT) for p in parts):
        from .budget_revision import budget_revision_request

        budget_revision_request(actor=actor, application=application, parts=parts)


# --------------------------------------------------------------------------- a single part


def part_follow_file(*, actor: User, application: Application) -> None:
    """The only part of a file follows the file's decision (approved, refused or reopened) — the
    file was decided by the single decision path, as every file was before co-funding. Audited."""
    parts = list(application.funder_parts.select_related("funder"))
    if len(parts) != 1:
        if application.state == S.UNDER_REVIEW:  # a reopened co-funded file: every part reopens
            for part in parts:
                if part.state in DECIDED_PART_STATES:
                    apply_transition(
                        part,
                        "reopen",
                        actor=actor,
                        action="grants.funder_part.reopened",
                        payload=_payload(part),
                        update_fields=["decided_amount", "decided_at", "decided_by", "updated_at"],
                    )
        return
    part = parts[0]
    state = application.state
    if state == S.APPROVED:
        part.decided_amount = application.approved_amount
        if part.decided_amount is not None and part.decided_amount > part.requested_amount:
            part.requested_amount = application.requested_amount
        part.conditions = application.decision_conditions
        part.refusal_reason = ""
        name = "follow_file_approval"
    elif state == S.REJECTED:
        part.refusal_reason = application.decision_reason or "—"
        part.conditions = ""
        name = "follow_file_refusal"
    elif state == S.UNDER_REVIEW and part.state in DECIDED_PART_STATES:
        name = "reopen"
    else:
        return
    part.decided_by = actor if name != "reopen" else None
    part.committee_session_id = application.committee_session_id
    if application.committee_session_id and name != "reopen":
        part.reference = str(application.committee_session)[:200]
    apply_transition(
        part,
        name,
        actor=actor,
        action="grants.funder_part.followed_file",
        payload=_payload(part, amount=part.decided_amount),
        update_fields=[
            "requested_amount",
            "decided_amount",
            "conditions",
            "refusal_reason",
            "decided_by",
            "decided_at",
            "committee_session",
            "reference",
            "updated_at",
        ],
    )


# --------------------------------------------------------------------------- joint committee


def committee_record_part_decisions(
    *, actor: User, session: CommitteeSession, decisions: list[dict[str, Any]]
) -> list[FunderPart]:
    """A joint committee of funders reviews the parts of co-funded files together: during the open
    session, each member present records the decisions of their own funder's parts only (the
    chair or a programme manager, of any part they may decide). All or nothing.

    Each decision: {"part": id, "decision": "approve"|"refuse"|"defer", "amount", "conditions",
    "reason", "envelope_override_reason"}."""
    done: list[FunderPart] = []
    with transaction.atomic():
        session = lock(session)
        check_session_open(session)
        if not (
            may_record_decisions(actor, session) or session.present.filter(pk=actor.pk).exists()
        ):
            raise PermissionDenied(_("Seuls les membres présents à la séance décident des parts."))
        for row in decisions:
            part = (
                FunderPart.objects.select_related("application")
                .filter(
                    Q(application__committee_session=session)
                    | Q(
                        application__committee_session__isnull=True,
                        application__programme_id=session.programme_id,
                        application__state=S.IN_COMMITTEE,
                    )
                )
                .filter(pk=_part_id(row.get("part")))
                .first()
            )
            if part is None:
                raise DomainError(
                    _("Cette part n'est pas à l'ordre du jour de la séance."), field="part"
                )
            if row.get("decision") == "defer":
                continue
            done.append(
                funder_part_decide(
                    actor=actor,
                    part=part,
                    decision=str(row.get("decision", "")),
                    amount=row.get("amount"),
                    conditions=row.get("conditions", ""),
                    reason=row.get("reason", ""),
                    session=session,
                    envelope_override_reason=row.get("envelope_override_reason", ""),
                )
            )
        if done:
            audit_log(
                actor=actor,
                obj=session,
                action="grants.committee.part_decisions_recorded",
                payload={"parts": [p.pk for p in done]},
            )
    return done


def _part_id(value: Any) -> int:
    """A part's id from a decision row (0, matching nothing, when it is not a whole number)."""
    text = str(value if value is not None else "")
    return int(text) if text.isdigit() else 0


def pending_budget_revision(application: Application) -> BudgetRevision | None:
    return application.budget_revisions.filter(state=BudgetRevision.State.REQUESTED).first()
