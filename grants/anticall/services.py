"""Anti-call services: source structures for a published need, invite them, coach them through a
short prototyping phase, then fund the chosen ones directly (docs/domain.md §2.2)."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from calls.models import Call, CallMode, Need
from core.audit import audit_log
from core.clock import now, today
from core.errors import DomainError, PermissionDenied, TransitionNotAllowed
from core.fsm import apply_transition, lock
from core.identifiers import compact, validate_siret
from core.models import Funder, Organisation, Role, User
from core.notifications import Euros, Msg, Text, account_email_html, notify
from core.permissions import has_role, is_member, organisation_ids_of
from core.references import next_reference

from ..models import (
    Application,
    ApplicationKind,
    ApplicationState,
    Candidacy,
    CandidacyState,
    CoachingEntry,
    Objective,
    PrototypeDeliverable,
)
from ..services.approval import PROTOTYPE, Approval, Notice, application_grant

C = CandidacyState
REMINDER_DAYS_BEFORE = 3
ACTIONS = {
    "invite": "grants.candidacy.invited",
    "accept": "grants.candidacy.accepted",
    "decline": "grants.candidacy.declined",
    "start_prototyping": "grants.candidacy.prototyping_started",
    "present": "grants.candidacy.presented",
    "fund": "grants.candidacy.funded",
    "not_fund": "grants.candidacy.not_funded",
    "abandon": "grants.candidacy.abandoned",
}


def _staff(actor: User) -> bool:
    return has_role(actor, Role.INSTRUCTOR, Role.PROGRAMME_MANAGER, Role.COMMITTEE_MEMBER)


def candidacy_source_check_permission(actor: User) -> None:
    """The city-contract team sources structures; the API calls it before the body (issue 11)."""
    _require_staff(actor)


def _require_staff(actor: User) -> None:
    if not _staff(actor):
        raise PermissionDenied(
            _("Réservé à l'équipe de la politique de la ville et aux partenaires.")
        )


def _structure_member(actor: User, candidacy: Candidacy) -> bool:
    return candidacy.organisation_id is not None and is_member(actor, candidacy.organisation)


def _move(
    candidacy: Candidacy,
    name: str,
    *,
    actor: User | None,
    reason: str = "",
    payload: dict[str, Any] | None = None,
    update_fields: list[str] | None = None,
) -> Candidacy:
    return apply_transition(
        candidacy,
        name,
        actor=actor,
        action=ACTIONS[name],
        reason=reason,
        payload=payload,
        update_fields=update_fields,
    )


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Un motif est obligatoire pour cette action."), field="reason")
    return reason


def _notify_structure(candidacy: Candidacy, title: Text, body: Text = "") -> None:
    if candidacy.organisation_id:
        notify(
            users=candidacy.organisation.members.all(),
            title=title,
            body=body,
            url=f"/anti-appels/structures/{candidacy.pk}/",
        )


def candidacy_source(
    *,
    actor: User,
    need: Need,
    organisation: Organisation | None = None,
    name: str = "",
    siret: str = "",
    email: str = "",
    why: str = "",
) -> Candidacy:
    """Record a structure that could answer a published need: an existing organisation, or one known
    only by name, SIRET or email (it need not have applied, nor have an account yet)."""
    _require_staff(actor)
    if need.state != Need.State.PUBLISHED:
        raise DomainError(
            _("Le besoin doit être publié avant le repérage de structures."), field="need"
        )
    siret = compact(siret)
    errors: dict[str, list[str]] = {}
    if siret:
        try:
            validate_siret(siret)
        except ValidationError as exc:
            errors["siret"] = list(exc.messages)
    if email:
        try:
            validate_email(email)
        except ValidationError:
            errors["email"] = [_("Saisissez une adresse e-mail valide.")]
    if organisation is None and not (name.strip() or siret or email.strip()):
        errors["name"] = [
            _("Identifiez la structure : organisation existante, nom, SIRET ou e-mail.")
        ]
    if errors:
        raise DomainError(_("La structure repérée est mal identifiée."), errors=errors)
    if organisation is None and siret:
        organisation = Organisation.objects.filter(siret=siret).first()
    if (
        organisation is not None
        and Candidacy.objects.filter(need=need, organisation=organisation)
        .exclude(state=C.ABANDONED)
        .exists()
    ):
        raise DomainError(
            _("Cette structure est déjà repérée pour ce besoin."), field="organisation"
        )
    with transaction.atomic():
        candidacy = Candidacy.objects.create(
            need=need,
            organisation=organisation,
            prospect_name=name.strip(),
            prospect_siret=siret,
            prospect_email=email.strip().lower(),
            why=(why or "").strip(),
            sourced_by=actor,
        )
        audit_log(
            actor=actor,
            obj=candidacy,
            action="grants.candidacy.sourced",
            target=C.SOURCED,
            payload={"need": need.pk, "organisation": organisation.pk if organisation else None},
        )
    return candidacy


def candidacy_invite(*, actor: User, candidacy: Candidacy, message: str = "") -> Candidacy:
    """Invite the structure to prototype. A structure without an account gets an email with the link
    to create one; it accepts once its organisation exists on Pluriel."""
    _require_staff(actor)
    with transaction.atomic():
        candidacy = lock(candidacy)
        if candidacy.state == C.INVITED:
            return candidacy
        if candidacy.organisation_id is None and not candidacy.prospect_email:
            raise DomainError(_("Indiquez l'e-mail de la structure pour l'inviter."), field="email")
        candidacy = _move(candidacy, "invite", actor=actor, reason=message)
        title = Msg(
            gettext_noop("Invitation à prototyper une réponse : %(need)s"),
            need=candidacy.need.title,
        )
        body = Msg(
            gettext_noop("%(message)s\n\nBesoin repéré dans le quartier %(qpv)s : %(description)s"),
            message=(message or "").strip(),
            qpv=candidacy.need.qpv.name,
            description=candidacy.need.description,
        )
        if candidacy.organisation_id:
            _notify_structure(candidacy, title, body)
        else:
            # A prospect has no account yet, so no language: the e-mail is in the sender's.
            title, body = title.render(), body.render()
            from core.tasks import send_email

            link = f"{settings.SITE_URL}{reverse('core:signup')}"
            text = f"{body}\n\n" + _(
                "Créez le compte de votre structure pour répondre : %(link)s"
            ) % {"link": link}
            email, subject = candidacy.prospect_email, f"[Pluriel] {title}"
            html = account_email_html(subject=subject, text=text)
            transaction.on_commit(lambda: send_email.delay(subject, text, [email], html))
    return candidacy


def candidacy_accept(*, actor: User, candidacy: Candidacy, organisation: Organisation) -> Candidacy:
    """The structure accepts the invitation, acting for its organisation on Pluriel."""
    if not is_member(actor, organisation):
        raise PermissionDenied(_("Vous n'agissez pas pour cette organisation."))
    with transaction.atomic():
        candidacy = lock(candidacy)
        if candidacy.state == C.ACCEPTED:
            return candidacy
        if candidacy.organisation_id and candidacy.organisation_id != organisation.pk:
            raise PermissionDenied(_("Cette invitation s'adresse à une autre structure."))
        if candidacy.organisation_id is None:
            matches = (
                candidacy.prospect_siret and candidacy.prospect_siret == organisation.siret
            ) or (candidacy.prospect_email and candidacy.prospect_email == actor.email.lower())
            if not matches:
                raise PermissionDenied(_("Cette invitation s'adresse à une autre structure."))
            candidacy.organisation = organisation
        return _move(candidacy, "accept", actor=actor, update_fields=["organisation"])


def candidacy_addressed_to(actor: User, candidacy: Candidacy) -> bool:
    """True if a candidacy not yet linked to an organisation names the actor: their email, or the
    SIRET of one of their organisations (the structure was sourced before it joined Pluriel)."""
    if candidacy.organisation_id is not None or not actor.is_authenticated:
        return False
    if candidacy.prospect_email and candidacy.prospect_email == (actor.email or "").lower():
        return True
    return (
        bool(candidacy.prospect_siret)
        and Organisation.objects.filter(
            pk__in=organisation_ids_of(actor), siret=candidacy.prospect_siret
        ).exists()
    )


def candidacy_decline(*, actor: User, candidacy: Candidacy, reason: str = "") -> Candidacy:
    """The structure (or staff on its behalf) declines the invitation."""
    if not (
        _structure_member(actor, candidacy)
        or candidacy_addressed_to(actor, candidacy)
        or _staff(actor)
    ):
        raise PermissionDenied(_("Vous n'agissez pas pour cette structure."))
    with transaction.atomic():
        candidacy = lock(candidacy)
        if candidacy.state == C.DECLINED:
            return candidacy
        candidacy.outcome_reason = (reason or "").strip()
        return _move(
            candidacy, "decline", actor=actor, reason=reason, update_fields=["outcome_reason"]
        )


def candidacy_start_prototyping(
    *,
    actor: User,
    candidacy: Candidacy,
    start: datetime.date | None = None,
    days: int | None = None,
) -> Candidacy:
    """Open the prototyping window: start date and deadline (15 days by default)."""
    _require_staff(actor)
    start = start or today()
    days = candidacy.prototyping_days if days is None else days
    if days < 1 or days > 120:
        raise DomainError(
            _("La durée du prototypage doit être comprise entre 1 et 120 jours."),
            field="prototyping_days",
        )
    with transaction.atomic():
        candidacy = lock(candidacy)
        if candidacy.state == C.PROTOTYPING:
            return candidacy
        candidacy.prototype_start = start
        candidacy.prototyping_days = days
        candidacy.prototype_deadline = start + datetime.timedelta(days=days)
        candidacy = _move(
            candidacy,
            "start_prototyping",
            actor=actor,
            payload={"start": start, "deadline": candidacy.prototype_deadline},
            update_fields=["prototype_start", "prototyping_days", "prototype_deadline"],
        )
        _notify_structure(
            candidacy,
            Msg(gettext_noop("Le prototypage commence")),
            Msg(
                gettext_noop("Fin du prototypage le %(date)s."),
                date=candidacy.prototype_deadline.strftime("%d/%m/%Y"),
            ),
        )
    return candidacy


def coaching_log(
    *,
    actor: User,
    candidacy: Candidacy,
    date: datetime.date,
    kind: str,
    notes: str,
    support: str = "",
    cost: Decimal = Decimal("0"),
) -> CoachingEntry:
    """Log a coaching session, a note or the support given (engineering, networking, communication)."""
    _require_staff(actor)
    if candidacy.state not in (C.ACCEPTED, C.PROTOTYPING, C.PRESENTED):
        raise TransitionNotAllowed(
            _("L'accompagnement se consigne pendant le prototypage."), allowed=[]
        )
    errors: dict[str, list[str]] = {}
    if kind not in CoachingEntry.Kind.values:
        errors["kind"] = [_("Type inconnu.")]
    if support and support not in CoachingEntry.Support.values:
        errors["support"] = [_("Appui inconnu.")]
    if kind == CoachingEntry.Kind.SUPPORT and not support:
        errors["support"] = [_("Précisez l'appui apporté.")]
    if not (notes or "").strip():
        errors["notes"] = [_("Le compte rendu est obligatoire.")]
    if cost is None or cost < 0:
        errors["cost"] = [_("Le coût ne peut pas être négatif.")]
    if errors:
        raise DomainError(_("L'entrée d'accompagnement contient des erreurs."), errors=errors)
    with transaction.atomic():
        entry = CoachingEntry.objects.create(
            candidacy=candidacy,
            date=date,
            kind=kind,
            support=support,
            notes=notes.strip(),
            cost=cost,
            author=actor,
        )
        audit_log(
            actor=actor,
            obj=candidacy,
            action="grants.candidacy.coaching_logged",
            payload={"kind": kind, "support": support, "cost": cost},
        )
    return entry


def deliverable_add(
    *, actor: User, candidacy: Candidacy, title: str, description: str = "", file=None
) -> PrototypeDeliverable:
    """Add a deliverable of the prototype (the structure or its coach)."""
    if not (_structure_member(actor, candidacy) or _staff(actor)):
        raise PermissionDenied(_("Vous n'agissez pas pour cette structure."))
    if candidacy.state not in (C.PROTOTYPING, C.PRESENTED):
        raise TransitionNotAllowed(
            _("Les livrables se déposent pendant le prototypage."), allowed=[]
        )
    if not (title or "").strip():
        raise DomainError(_("Donnez un titre au livrable."), field="title")
    with transaction.atomic():
        deliverable = PrototypeDeliverable(
            candidacy=candidacy,
            title=title.strip(),
            description=(description or "").strip(),
            created_by=actor,
        )
        if file is not None:
            from core.uploads import validate_upload

            validate_upload(file)
            deliverable.file.save(file.name, file, save=False)
        deliverable.save()
        audit_log(
            actor=actor,
            obj=candidacy,
            action="grants.candidacy.deliverable_added",
            payload={"title": deliverable.title},
        )
    return deliverable


def candidacy_present(*, actor: User, candidacy: Candidacy, summary: str = "") -> Candidacy:
    _require_staff(actor)
    with transaction.atomic():
        candidacy = lock(candidacy)
        if candidacy.state == C.PRESENTED:
            return candidacy
        candidacy.presentation_summary = (summary or "").strip()
        return _move(candidacy, "present", actor=actor, update_fields=["presentation_summary"])


def candidacy_fund(
    *,
    actor: User,
    candidacy: Candidacy,
    amount: Decimal,
    cofunder: Funder | None = None,
    is_multi_year: bool = False,
    duration_years: int = 1,
    reason: str = "",
    envelope_override_reason: str = "",
) -> Candidacy:
    """Fund a presented prototype: an approved application is created on the structure's behalf,
    carrying what the prototyping produced (no re-typing). Counts against the anti-call's envelope,
    unless a co-funder (e.g. a foundation with its own fund) pays."""
    if not has_role(actor, Role.PROGRAMME_MANAGER):
        raise PermissionDenied(_("Seul·e un·e responsable de programme décide du financement."))
    if amount is None or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise DomainError(_("Le montant doit être positif, au centime près."), field="amount")
    if not 1 <= duration_years <= 5:
        raise DomainError(
            _("La durée doit être comprise entre 1 et 5 ans."), field="duration_years"
        )
    with transaction.atomic():
        candidacy = lock(candidacy)
        if candidacy.state == C.FUNDED:
            return candidacy
        if candidacy.state != C.PRESENTED:
            raise TransitionNotAllowed(
                _("Seul un prototype présenté peut être financé."),
                allowed=sorted(t.name for t in candidacy.get_available_state_transitions()),
            )
        call: Call = candidacy.need.call
        application = _application_from_candidacy(
            actor=actor,
            candidacy=candidacy,
            call=call,
            amount=amount,
            cofunder=cofunder,
            is_multi_year=is_multi_year,
            duration_years=duration_years,
            reason=reason,
            envelope_override_reason=envelope_override_reason,
        )
        candidacy.funded_amount, candidacy.cofunder, candidacy.application = (
            amount,
            cofunder,
            application,
        )
        candidacy.outcome_reason = (reason or "").strip()
        candidacy = _move(
            candidacy,
            "fund",
            actor=actor,
            reason=reason,
            payload={
                "amount": amount,
                "application": application.reference,
                "cofunder": cofunder.name if cofunder else None,
            },
            update_fields=["funded_amount", "cofunder", "application", "outcome_reason"],
        )
    return candidacy


def _application_from_candidacy(
    *,
    actor: User,
    candidacy: Candidacy,
    call: Call,
    amount: Decimal,
    cofunder: Funder | None,
    is_multi_year: bool,
    duration_years: int,
    reason: str,
    envelope_override_reason: str,
) -> Application:
    """The approved file of a funded prototype, through the one decision path (a new file: the
    amount asked is the amount funded, nothing is pending; a co-funder's own fund is outside the
    anti-call's envelope)."""
    deliverables = list(candidacy.deliverables.all())
    summary_parts = [candidacy.need.description]
    if candidacy.presentation_summary:
        summary_parts.append(
            _("Prototype présenté : %(s)s") % {"s": candidacy.presentation_summary}
        )
    if deliverables:
        summary_parts.append(
            _("Livrables : %(list)s") % {"list": "; ".join(d.title for d in deliverables)}
        )
    moment = now()
    application = Application(
        reference=next_reference(call.reference_prefix, call.programme.fiscal_year),
        kind=ApplicationKind.ANTI_CALL,
        programme=call.programme,
        call=call,
        organisation=candidacy.organisation,
        state=ApplicationState.APPROVED,
        title=candidacy.need.title,
        summary="\n\n".join(summary_parts),
        requested_amount=amount,
        wants_multi_year=is_multi_year,
        duration_years=duration_years,
        cofunder=cofunder,
        submitted_at=moment,
        created_by=actor,
        start_date=candidacy.prototype_deadline or today(),
    )
    application = application_grant(
        actor=actor,
        application=application,
        path=PROTOTYPE,
        approval=Approval(
            amount=amount,
            reason=reason,
            is_multi_year=is_multi_year,
            envelope_override_reason=envelope_override_reason,
            counts_against_envelope=cofunder is None,
            payload={
                "candidacy": candidacy.pk,
                "cofunder": cofunder.name if cofunder else None,
                "envelope_override_reason": (envelope_override_reason or "").strip(),
            },
            notice=Notice(
                Msg(gettext_noop("Votre prototype est financé")),
                Msg(
                    gettext_noop("Montant accordé : %(amount)s. Dossier %(ref)s."),
                    amount=Euros(amount),
                    ref=application.reference,
                ),
                url=f"/anti-appels/structures/{candidacy.pk}/",
            ),
        ),
    )
    application.qpvs.add(candidacy.need.qpv)
    Objective.objects.bulk_create(
        [
            Objective(application=application, text=d.title[:500], position=i)
            for i, d in enumerate(deliverables)
        ]
        or [Objective(application=application, text=candidacy.need.title[:500])]
    )
    return application


def candidacy_not_fund(*, actor: User, candidacy: Candidacy, reason: str) -> Candidacy:
    if not has_role(actor, Role.PROGRAMME_MANAGER):
        raise PermissionDenied(_("Seul·e un·e responsable de programme décide du financement."))
    reason = _reason(reason)
    with transaction.atomic():
        candidacy = lock(candidacy)
        if candidacy.state == C.NOT_FUNDED:
            return candidacy
        candidacy.outcome_reason = reason
        candidacy = _move(
            candidacy, "not_fund", actor=actor, reason=reason, update_fields=["outcome_reason"]
        )
        _notify_structure(candidacy, Msg(gettext_noop("Votre prototype n'est pas retenu")), reason)
    return candidacy


def candidacy_abandon(*, actor: User, candidacy: Candidacy, reason: str) -> Candidacy:
    _require_staff(actor)
    reason = _reason(reason)
    with transaction.atomic():
        candidacy = lock(candidacy)
        if candidacy.state == C.ABANDONED:
            return candidacy
        candidacy.outcome_reason = reason
        return _move(
            candidacy, "abandon", actor=actor, reason=reason, update_fields=["outcome_reason"]
        )


def candidacies_prototyping_deadlines() -> dict[str, int]:
    """Daily: remind the structure 3 days before the prototyping deadline, flag overdue after it.
    Idempotent: a reminder is sent once, the flag set once."""
    day = today()
    reminded = overdue = 0
    due_soon = Candidacy.objects.filter(
        state=C.PROTOTYPING,
        reminder_sent_at__isnull=True,
        prototype_deadline__gt=day,
        prototype_deadline__lte=day + datetime.timedelta(days=REMINDER_DAYS_BEFORE),
    )
    for pk in due_soon.values_list("pk", flat=True):
        with transaction.atomic():
            candidacy = lock(Candidacy(pk=pk))
            if candidacy.reminder_sent_at is not None or candidacy.state != C.PROTOTYPING:
                continue
            candidacy.reminder_sent_at = now()
            candidacy.save(update_fields=["reminder_sent_at"])
            audit_log(actor=None, obj=candidacy, action="grants.candidacy.reminder_sent")
            _notify_structure(
                candidacy,
                Msg(gettext_noop("Fin du prototypage dans %(n)s jours"), n=REMINDER_DAYS_BEFORE),
                Msg(
                    gettext_noop("Date limite : %(date)s."),
                    date=candidacy.prototype_deadline.strftime("%d/%m/%Y"),
                ),
            )
            if candidacy.sourced_by:
                notify(
                    users=[candidacy.sourced_by],
                    title=Msg(
                        gettext_noop("Fin de prototypage proche : %(name)s"),
                        name=candidacy.display_name,
                    ),
                    url=f"/anti-appels/structures/{candidacy.pk}/",
                )
            reminded += 1
    late = Candidacy.objects.filter(
        state=C.PROTOTYPING, is_overdue=False, prototype_deadline__lt=day
    )
    for pk in late.values_list("pk", flat=True):
        with transaction.atomic():
            candidacy = lock(Candidacy(pk=pk))
            if candidacy.is_overdue:
                continue
            candidacy.is_overdue = True
            candidacy.save(update_fields=["is_overdue"])
            audit_log(actor=None, obj=candidacy, action="grants.candidacy.overdue")
            overdue += 1
    return {"reminded": reminded, "overdue": overdue}


def anti_call_check(call: Call) -> None:
    if call.mode != CallMode.ANTI_CALL:
        raise DomainError(_("Cet appel n'est pas un anti-appel à projets."), field="call")


# --------------------------------------------------------------------------- transitions by name


@dataclass(frozen=True)
class CandidacyTransitionSpec:
    """One candidacy transition: its button label, who may run it, and whether a reason is required."""

    name: str
    label: str
    who: Callable[[User, Candidacy], bool]
    needs_reason: bool = False
    style: str = "secondary"


def _structure_side(actor: User, candidacy: Candidacy) -> bool:
    return _structure_member(actor, candidacy) or candidacy_addressed_to(actor, candidacy)


def _manager(actor: User, candidacy: Candidacy) -> bool:
    return has_role(actor, Role.PROGRAMME_MANAGER)


def candidacy_transition_specs() -> dict[str, CandidacyTransitionSpec]:
    """Every candidacy transition, in the order the pages show them."""
    return {
        "invite": CandidacyTransitionSpec(
            "invite", _("Inviter la structure"), lambda a, c: _staff(a), style="primary"
        ),
        "accept": CandidacyTransitionSpec(
            "accept", _("Accepter l'invitation"), _structure_side, style="primary"
        ),
        "decline": CandidacyTransitionSpec(
            "decline",
            _("Décliner l'invitation"),
            lambda a, c: _structure_side(a, c) or _staff(a),
            style="danger",
        ),
        "start_prototyping": CandidacyTransitionSpec(
            "start_prototyping", _("Lancer le prototypage"), lambda a, c: _staff(a), style="primary"
        ),
        "present": CandidacyTransitionSpec(
            "present",
            _("Enregistrer la présentation du prototype"),
            lambda a, c: _staff(a),
            style="primary",
        ),
        "fund": CandidacyTransitionSpec("fund", _("Financer"), _manager, style="primary"),
        "not_fund": CandidacyTransitionSpec(
            "not_fund", _("Ne pas retenir"), _manager, needs_reason=True, style="danger"
        ),
        "abandon": CandidacyTransitionSpec(
            "abandon",
            _("Abandonner le repérage"),
            lambda a, c: _staff(a),
            needs_reason=True,
            style="danger",
        ),
    }


def candidacy_available_transitions(
    *, actor: User, candidacy: Candidacy
) -> list[CandidacyTransitionSpec]:
    """The transitions this actor may run on this candidacy now (pages and API show exactly these)."""
    allowed = {t.name for t in candidacy.get_available_state_transitions()}
    return [
        spec
        for name, spec in candidacy_transition_specs().items()
        if name in allowed and spec.who(actor, candidacy)
    ]


def candidacy_transition_check_permission(*, name: str, actor: User, candidacy: Candidacy) -> None:
    """Whether this actor may ever run this transition on this candidacy (its spec's `who`),
    whatever its state; the API calls it before reading the body (issue 11)."""
    spec = candidacy_transition_specs().get(name)
    if spec is None or not spec.who(actor, candidacy):
        raise PermissionDenied(_("Vous ne pouvez pas effectuer cette action sur cette structure."))


def candidacy_run_transition(
    *, name: str, actor: User, candidacy: Candidacy, data: dict[str, Any]
) -> Candidacy:
    """Dispatch a candidacy transition by name with its inputs (pages and
    POST /api/candidacies/{id}/transitions/{name}/)."""
    runners: dict[str, Callable[[], Candidacy]] = {
        "invite": lambda: candidacy_invite(
            actor=actor, candidacy=candidacy, message=data.get("message", "")
        ),
        "accept": lambda: _accept(actor, candidacy, data.get("organisation")),
        "decline": lambda: candidacy_decline(
            actor=actor, candidacy=candidacy, reason=data.get("reason", "")
        ),
        "start_prototyping": lambda: candidacy_start_prototyping(
            actor=actor,
            candidacy=candidacy,
            start=data.get("start"),
            days=data.get("prototyping_days"),
        ),
        "present": lambda: candidacy_present(
            actor=actor, candidacy=candidacy, summary=data.get("summary", "")
        ),
        "fund": lambda: candidacy_fund(
            actor=actor,
            candidacy=candidacy,
            amount=data.get("amount"),
            cofunder=data.get("cofunder"),
            is_multi_year=bool(data.get("is_multi_year")),
            duration_years=data.get("duration_years") or 1,
            reason=data.get("reason", ""),
            envelope_override_reason=data.get("envelope_override_reason", ""),
        ),
        "not_fund": lambda: candidacy_not_fund(
            actor=actor, candidacy=candidacy, reason=data.get("reason", "")
        ),
        "abandon": lambda: candidacy_abandon(
            actor=actor, candidacy=candidacy, reason=data.get("reason", "")
        ),
    }
    if name not in runners:
        raise TransitionNotAllowed(
            _("Action inconnue : « %(name)s ».") % {"name": name},
            allowed=sorted(t.name for t in candidacy.get_available_state_transitions()),
        )
    return runners[name]()


def _accept(actor: User, candidacy: Candidacy, organisation: Organisation | None) -> Candidacy:
    if organisation is None:
        if candidacy.organisation_id is None:
            raise DomainError(
                _("Choisissez l'organisation qui accepte l'invitation."), field="organisation"
            )
        organisation = candidacy.organisation
    return candidacy_accept(actor=actor, candidacy=candidacy, organisation=organisation)
