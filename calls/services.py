"""Writes for programmes and calls."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from core.audit import audit_log
from core.clock import now
from core.errors import DomainError, PermissionDenied
from core.fsm import apply_transition, lock
from core.models import Role, RoleAssignment, User
from core.permissions import has_role
from core.services import staff_invite

from .models import Call, CallMode, CallState, Challenge, Need, Panel, PanelInvitation, PanelMember

CALL_TRANSITION_ACTIONS = {
    "publish": "calls.call.published",
    "open": "calls.call.opened",
    "close": "calls.call.closed",
    "deliberate": "calls.call.deliberating",
    "decide": "calls.call.decided",
    "archive": "calls.call.archived",
}


def call_transition_check_permission(actor: User | None) -> None:
    """Programme managers only change a call's state; the scheduler (actor None) may too. The API
    calls it before reading the body, so the answer never depends on the body (issue 11)."""
    if actor is not None and not has_role(actor, Role.PROGRAMME_MANAGER):
        raise PermissionDenied(
            _("Seul·e un·e responsable de programme peut modifier l'état d'un appel.")
        )


def call_transition(*, call: Call, name: str, actor: User | None, reason: str = "") -> Call:
    """Move a call through its life (draft → published → open → closed → deliberating → decided →
    archived). Programme managers only; the scheduler (actor None) may open and close."""
    if name not in CALL_TRANSITION_ACTIONS:
        raise DomainError(_("Action inconnue."))
    call_transition_check_permission(actor)
    with transaction.atomic():
        call = lock(call)
        if name == "publish" and call.closes_at <= call.opens_at:
            raise DomainError(_("La clôture doit suivre l'ouverture."), field="closes_at")
        return apply_transition(
            call, name, actor=actor, action=CALL_TRANSITION_ACTIONS[name], reason=reason
        )


def calls_advance_by_dates() -> dict[str, int]:
    """Open published calls whose opening date has passed; close open calls past their closing
    date. Idempotent: a call already in the target state is left alone."""
    moment = now()
    opened = closed = 0
    for call_id in Call.objects.filter(
        state__in=[CallState.PUBLISHED], opens_at__lte=moment, closes_at__gt=moment
    ).values_list("pk", flat=True):
        with transaction.atomic():
            call = lock(Call(pk=call_id))
            if call.state == CallState.PUBLISHED and call.opens_at <= moment < call.closes_at:
                apply_transition(
                    call,
                    "open",
                    actor=None,
                    action="calls.call.opened",
                    reason=_("Ouverture automatique à la date prévue."),
                )
                opened += 1
    for call_id in Call.objects.filter(
        state__in=[CallState.OPEN, CallState.PUBLISHED], closes_at__lte=moment
    ).values_list("pk", flat=True):
        with transaction.atomic():
            call = lock(Call(pk=call_id))
            if call.state == CallState.PUBLISHED:
                apply_transition(
                    call,
                    "open",
                    actor=None,
                    action="calls.call.opened",
                    reason=_("Ouverture automatique à la date prévue."),
                )
            if call.state == CallState.OPEN and call.closes_at <= moment:
                apply_transition(
                    call,
                    "close",
                    actor=None,
                    action="calls.call.closed",
                    reason=_("Clôture automatique à la date prévue."),
                )
                closed += 1
    return {"opened": opened, "closed": closed}


def programme_set_envelope(*, programme, envelope, actor: User, reason: str = ""):
    if not has_role(actor, Role.PROGRAMME_MANAGER):
        raise PermissionDenied(_("Seul·e un·e responsable de programme peut modifier l'enveloppe."))
    if envelope < 0:
        raise DomainError(_("L'enveloppe ne peut pas être négative."), field="envelope")
    with transaction.atomic():
        programme = lock(programme)
        before = programme.envelope
        programme.envelope = envelope
        programme.save(update_fields=["envelope"])
        audit_log(
            actor=actor,
            obj=programme,
            action="calls.programme.envelope_changed",
            reason=reason,
            payload={"before": before, "after": envelope},
        )
    return programme


# --------------------------------------------------------------------------- anti-call needs


def need_record_check_permission(actor: User) -> None:
    """Partners of the city contract record needs; the API calls it before reading the body."""
    if not has_role(actor, Role.COMMITTEE_MEMBER, Role.INSTRUCTOR, Role.PROGRAMME_MANAGER):
        raise PermissionDenied(
            _("Seuls les partenaires du contrat de ville enregistrent des besoins.")
        )


def need_record(
    *,
    actor: User,
    call: Call,
    qpv,
    title: str,
    description: str,
    raised_by: str,
    evidence: str = "",
):
    """A partner of the city contract records a need seen in a neighbourhood (anti-call only)."""

    need_record_check_permission(actor)
    if call.mode != CallMode.ANTI_CALL:
        raise DomainError(
            _("Les besoins s'enregistrent sur un anti-appel à projets."), field="call"
        )
    errors = {}
    for field, value in (("title", title), ("description", description), ("raised_by", raised_by)):
        if not (value or "").strip():
            errors[field] = [_("Ce champ est obligatoire.")]
    if errors:
        raise DomainError(_("Le besoin est incomplet."), errors=errors)
    with transaction.atomic():
        need = Need.objects.create(
            call=call,
            qpv=qpv,
            title=title.strip(),
            description=description.strip(),
            raised_by=raised_by.strip(),
            evidence=(evidence or "").strip(),
            recorded_by=actor,
        )
        audit_log(actor=actor, obj=need, action="calls.need.recorded", payload={"qpv": qpv.code})
    return need


def need_publish(*, actor: User, need):
    """A programme manager publishes a need on the anti-call. Idempotent."""

    if not has_role(actor, Role.PROGRAMME_MANAGER):
        raise PermissionDenied(_("Seul·e un·e responsable de programme publie les besoins."))
    with transaction.atomic():
        need = lock(need)
        if need.state == Need.State.PUBLISHED:
            return need
        if need.state != Need.State.RECORDED:
            raise DomainError(_("Ce besoin est clos."))
        need.state, need.published_at = Need.State.PUBLISHED, now()
        need.save(update_fields=["state", "published_at"])
        audit_log(
            actor=actor,
            obj=need,
            action="calls.need.published",
            source="recorded",
            target="published",
        )
    return need


# --------------------------------------------------------------------------- call for solutions


def challenge_record(*, actor: User, call: Call, qpv, title: str, description: str):
    """The panel (or staff on its behalf) enters an expected solution: retained at once."""

    if call.mode != CallMode.SOLUTIONS_CALL:
        raise DomainError(
            _("Les solutions attendues s'enregistrent sur un appel à solutions."), field="call"
        )
    if not (
        has_role(actor, Role.PROGRAMME_MANAGER, Role.INSTRUCTOR) or call_panel_member(call, actor)
    ):
        raise PermissionDenied(_("Seul le panel d'habitant·es définit les solutions attendues."))
    _require_text(title=title, description=description)
    with transaction.atomic():
        challenge = Challenge.objects.create(
            call=call,
            qpv=qpv,
            title=title.strip(),
            description=description.strip(),
            source=Challenge.Source.PANEL,
            state=Challenge.State.APPROVED,
            created_by=actor,
            moderated_by=actor,
        )
        audit_log(
            actor=actor,
            obj=challenge,
            action="calls.challenge.recorded",
            target=Challenge.State.APPROVED,
        )
    return challenge


def challenge_propose(*, call: Call, qpv, title: str, description: str, name: str, email: str):
    """A resident proposes an expected solution through the public form; it waits for moderation."""

    if call.mode != CallMode.SOLUTIONS_CALL or call.state not in (
        CallState.PUBLISHED,
        CallState.OPEN,
    ):
        raise DomainError(_("Cet appel ne recueille pas de propositions."), field="call")
    _require_text(title=title, description=description, name=name)
    with transaction.atomic():
        challenge = Challenge.objects.create(
            call=call,
            qpv=qpv,
            title=title.strip(),
            description=description.strip(),
            source=Challenge.Source.PUBLIC,
            proposer_name=name.strip(),
            proposer_email=(email or "").strip(),
        )
        audit_log(
            actor=None,
            obj=challenge,
            action="calls.challenge.proposed",
            target=Challenge.State.PROPOSED,
        )
    return challenge


def challenge_moderate(*, actor: User, challenge, approve: bool, note: str = ""):
    """The panel or staff retains or sets aside a proposed challenge, with a note when set aside."""

    if not (
        has_role(actor, Role.PROGRAMME_MANAGER, Role.INSTRUCTOR)
        or call_panel_member(challenge.call, actor)
    ):
        raise PermissionDenied(_("Vous ne pouvez pas modérer les propositions."))
    if not approve and not (note or "").strip():
        raise DomainError(_("Indiquez pourquoi la proposition est écartée."), field="note")
    target = Challenge.State.APPROVED if approve else Challenge.State.REJECTED
    with transaction.atomic():
        challenge = lock(challenge)
        if challenge.state == target:
            return challenge
        if challenge.state != Challenge.State.PROPOSED:
            raise DomainError(_("Cette proposition a déjà été modérée."))
        source = challenge.state
        challenge.state, challenge.moderated_by, challenge.moderation_note = (
            target,
            actor,
            (note or "").strip(),
        )
        challenge.save(update_fields=["state", "moderated_by", "moderation_note"])
        audit_log(
            actor=actor,
            obj=challenge,
            action=f"calls.challenge.{target}",
            source=source,
            target=target,
            reason=note,
        )
    return challenge


def panel_configure(
    *,
    actor: User,
    call: Call,
    quorum: int,
    voting_opens_at,
    voting_closes_at,
    ballot_kind: str = "approval",
    secret_ballot: bool = True,
    score_criteria=None,
    max_score: int = 5,
):
    """Set the panel's rules for a call for solutions: quorum, voting dates, ballot kind, secrecy."""

    if not has_role(actor, Role.PROGRAMME_MANAGER):
        raise PermissionDenied(_("Seul·e un·e responsable de programme configure le panel."))
    if call.mode != CallMode.SOLUTIONS_CALL:
        raise DomainError(_("Seul un appel à solutions a un panel d'habitant·es."), field="call")
    if voting_closes_at <= voting_opens_at:
        raise DomainError(
            _("La clôture du vote doit suivre son ouverture."), field="voting_closes_at"
        )
    if quorum < 1:
        raise DomainError(_("Le quorum doit être d'au moins une personne."), field="quorum")
    if ballot_kind == Panel.BallotKind.SCORE and not score_criteria:
        raise DomainError(
            _("Un vote par note demande au moins un critère."), field="score_criteria"
        )
    with transaction.atomic():
        panel, _created = Panel.objects.update_or_create(
            call=call,
            defaults={
                "quorum": quorum,
                "voting_opens_at": voting_opens_at,
                "voting_closes_at": voting_closes_at,
                "ballot_kind": ballot_kind,
                "secret_ballot": secret_ballot,
                "score_criteria": score_criteria or [],
                "max_score": max_score,
            },
        )
        audit_log(
            actor=actor,
            obj=call,
            action="calls.panel.configured",
            payload={
                "quorum": quorum,
                "ballot_kind": ballot_kind,
                "secret": secret_ballot,
                "opens": voting_opens_at,
                "closes": voting_closes_at,
            },
        )
    return panel


def panel_add_member(*, actor: User, panel, user: User, college: str):
    """Seat a resident on the panel (they get the panel member role)."""

    if not has_role(actor, Role.PROGRAMME_MANAGER):
        raise PermissionDenied(_("Seul·e un·e responsable de programme compose le panel."))
    if college not in PanelMember.College.values:
        raise DomainError(_("Collège inconnu."), field="college")
    with transaction.atomic():
        return _seat(panel=panel, user=user, college=college, actor=actor)


def _seat(*, panel: Panel, user: User, college: str, actor: User | None) -> PanelMember:
    member, created = PanelMember.objects.get_or_create(
        panel=panel, user=user, defaults={"college": college}
    )
    RoleAssignment.objects.get_or_create(user=user, role=Role.PANEL_MEMBER)
    if created:
        audit_log(
            actor=actor,
            obj=panel.call,
            action="calls.panel.member_added",
            payload={"user": user.pk, "college": college},
        )
    return member


def panel_invite_member(*, actor: User, panel: Panel, email: str, college: str) -> PanelInvitation:
    """Invite a resident who has no account yet: they are seated on the panel, in their college, as
    soon as they accept the invitation (no second step for the programme manager)."""
    if not has_role(actor, Role.PROGRAMME_MANAGER):
        raise PermissionDenied(_("Seul·e un·e responsable de programme compose le panel."))
    if college not in PanelMember.College.values:
        raise DomainError(_("Collège inconnu."), field="college")
    with transaction.atomic():
        invitation = staff_invite(actor=actor, email=email, role=Role.PANEL_MEMBER)
        return PanelInvitation.objects.create(panel=panel, invitation=invitation, college=college)


def panel_seat_invited(user: User, invitation) -> None:
    """Invitation hook: seat the user on every panel they were invited to with this invitation."""
    pending = PanelInvitation.objects.filter(invitation=invitation, seated_at__isnull=True)
    for row in pending.select_related("panel__call"):
        _seat(panel=row.panel, user=user, college=row.college, actor=invitation.invited_by)
        row.seated_at = now()
        row.save(update_fields=["seated_at"])


def call_panel_member(call: Call, user: User):
    """The user's seat on the call's panel, or None."""

    if not user.is_authenticated:
        return None
    return PanelMember.objects.filter(panel__call=call, user=user).select_related("panel").first()


def _require_text(**fields: str) -> None:
    errors = {
        name: [_("Ce champ est obligatoire.")]
        for name, value in fields.items()
        if not (value or "").strip()
    }
    if errors:
        raise DomainError(_("Des champs obligatoires manquent."), errors=errors)
