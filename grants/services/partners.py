"""Collective files (docs/domain.md §9): the lead invites partner organisations, each accepts from
its own account, edits its own part of the draft (role, actions, budget lines, part of the amount
asked) and may leave it, taking its budget lines.

Rules:
- only the lead (a member of the file's organisation) invites, withdraws an invitation or removes
  a partner; only the partner's own members accept, decline, edit its part or leave;
- the partnership changes only while the file is a draft, or returned for completion (a completion
  request); after the decision, only through an amendment of the agreement;
- a partner leaving (or removed) with budget lines needs an explicit confirmation: its lines leave
  with it;
- every change writes one audit row on the file, so the file's history tells the partnership.
"""

from __future__ import annotations

import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.db.models import Q, Sum
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from core.audit import audit_log
from core.clock import now
from core.errors import DomainError, PermissionDenied, TransitionNotAllowed
from core.fsm import allowed_transition_names, lock
from core.identifiers import validate_siret
from core.models import Organisation, User
from core.notifications import Msg, absolute_url, notify
from core.permissions import is_member, organisation_ids_of

from ..models import (
    CURRENT_PARTNER_STATES,
    PARTNER_INVITATION_DAYS,
    Application,
    ApplicationPartner,
    ApplicationState,
    PartnerState,
    PaymentFlow,
)
from ..selectors import pending_completion_request
from .drafting import application_set_budget_rows
from .workflow import applicant_of

S = ApplicationState
P = PartnerState
#: The states in which the partnership may change: a draft, or a file returned for completion.
PARTNERSHIP_OPEN_STATES = (S.DRAFT, S.RETURNED)


def _url(application: Application) -> str:
    return absolute_url(f"/dossiers/{application.pk}/partenariat/")


def _check_open(application: Application) -> None:
    if application.state not in PARTNERSHIP_OPEN_STATES:
        raise TransitionNotAllowed(
            _(
                "Le partenariat d'un dossier « %(state)s » ne change que par une demande de "
                "compléments ou un avenant à la convention."
            )
            % {"state": application.get_state_display()},
            allowed=allowed_transition_names(application),
        )


def _check_lead(actor: User, application: Application) -> None:
    if not applicant_of(actor, application):
        raise PermissionDenied(_("Seul le chef de file peut modifier le partenariat du dossier."))


def _check_partner_member(actor: User, partner: ApplicationPartner) -> None:
    if partner.organisation is None or not is_member(actor, partner.organisation):
        raise PermissionDenied(_("Vous n'agissez pas pour cette organisation partenaire."))


def _audit(actor: User, partner: ApplicationPartner, action: str, **payload: Any) -> None:
    audit_log(
        actor=actor,
        obj=partner.application,
        action=action,
        payload={"partner": str(partner), **payload},
    )


def application_invite_partner(
    *,
    actor: User,
    application: Application,
    siret: str = "",
    email: str = "",
    role: str = "",
) -> ApplicationPartner:
    """Invite a partner organisation, by SIRET (an organisation already in Pluriel) or by e-mail
    (the person holding the address accepts for one of their organisations)."""
    siret = "".join((siret or "").split())
    email = (email or "").strip().lower()
    if bool(siret) == bool(email):
        raise DomainError(_("Indiquez soit le SIRET, soit l'adresse e-mail du partenaire."))
    organisation = None
    if siret:
        try:
            validate_siret(siret)
        except Exception:
            raise DomainError(_("Ce SIRET n'est pas valide."), field="siret")
        organisation = Organisation.objects.filter(siret=siret).first()
        if organisation is None:
            raise DomainError(
                _(
                    "Aucune organisation de ce SIRET n'est inscrite sur Pluriel : invitez-la par "
                    "e-mail."
                ),
                field="siret",
            )
    elif "@" not in email or len(email) > 254:
        raise DomainError(_("Cette adresse e-mail n'est pas valide."), field="email")
    with transaction.atomic():
        application = lock(application)
        _check_lead(actor, application)
        _check_open(application)
        _close_expired(actor, application, organisation=organisation, email=email)
        if organisation is not None:
            if organisation.pk == application.organisation_id:
                raise DomainError(
                    _("Votre organisation est déjà le chef de file du dossier."), field="siret"
                )
            if application.partners.filter(
                organisation=organisation, state__in=CURRENT_PARTNER_STATES
            ).exists():
                raise DomainError(
                    _("%(org)s est déjà partenaire ou invitée.") % {"org": organisation.name},
                    field="siret",
                )
        elif application.partners.filter(
            organisation__isnull=True, invited_email__iexact=email, state=P.INVITED
        ).exists():
            raise DomainError(_("Cette adresse est déjà invitée."), field="email")
        partner = ApplicationPartner.objects.create(
            application=application,
            organisation=organisation,
            invited_email=email,
            role=(role or "").strip()[:200],
            invited_by=actor,
            expires_at=now() + datetime.timedelta(days=PARTNER_INVITATION_DAYS),
        )
        if organisation is not None:
            recipients = list(organisation.members.all())
        else:
            recipients = list(User.objects.filter(email__iexact=email, is_active=True))
        _audit(
            actor,
            partner,
            "grants.partner.invited",
            role=partner.role,
            expires_at=partner.expires_at.isoformat() if partner.expires_at else None,
            sign_up_invited=organisation is None and not recipients,
        )
        if organisation is None and not recipients:
            _email_sign_up_invitation(partner)
        notify(
            users=recipients,
            title=Msg(
                gettext_noop("%(org)s vous invite à un dossier collectif"),
                org=application.organisation.name,
            ),
            body=Msg(
                gettext_noop(
                    "%(org)s vous propose d'être partenaire du dossier « %(title)s » (%(ref)s). "
                    "Acceptez ou déclinez depuis votre compte Pluriel."
                ),
                org=application.organisation.name,
                title=application.title,
                ref=application.reference,
            ),
            url=_url(application),
        )
    return partner


def _close_expired(
    actor: User, application: Application, *, organisation: Organisation | None, email: str
) -> None:
    """Inviting again the same organisation or address closes its expired invitation first (an
    expired invitation is one no longer valid, never answered)."""
    same = (
        Q(organisation=organisation)
        if organisation is not None
        else Q(organisation__isnull=True, invited_email__iexact=email)
    )
    for partner in application.partners.filter(same, state=P.INVITED, expires_at__lt=now()):
        partner = lock(partner)
        partner.expire()
        partner.save(update_fields=["state"])
        _audit(actor, partner, "grants.partner.invitation_expired")


def _email_sign_up_invitation(partner: ApplicationPartner) -> None:
    """Nobody holds the invited address yet: an e-mail (absolute links, SITE_URL) invites them to
    create their account and organisation; the invitation then waits on « Mes dossiers ». The
    e-mail carries no token: accepting happens from the account that holds the address."""
    from core.tasks import send_email

    application = partner.application
    sign_up = absolute_url(
        reverse("core:signup") + "?" + urlencode({"email": partner.invited_email})
    )
    with translation.override(settings.LANGUAGE_CODE):
        subject = _("%(org)s vous invite à un dossier collectif sur Pluriel") % {
            "org": application.organisation.name
        }
        body = _(
            "Bonjour,\n\n%(org)s vous propose d'être partenaire du dossier « %(title)s » "
            "(%(ref)s) sur Pluriel, la plateforme des subventions de la politique de la ville.\n\n"
            "Pour répondre, créez votre compte et votre organisation avec cette adresse "
            "(%(email)s) :\n%(sign_up)s\n\n"
            "Une fois connecté·e, l'invitation vous attend dans « Mes dossiers » ; vous pourrez "
            "l'accepter ou la décliner. Si vous avez déjà un compte avec cette adresse, "
            "connectez-vous : %(login)s\n\n"
            "Cette invitation expire le %(date)s."
        ) % {
            "org": application.organisation.name,
            "title": application.title,
            "ref": application.reference,
            "email": partner.invited_email,
            "sign_up": sign_up,
            "login": absolute_url(reverse("core:login")),
            "date": timezone.localtime(partner.expires_at).strftime("%d/%m/%Y")
            if partner.expires_at
            else "—",
        }
    recipients = [partner.invited_email]
    transaction.on_commit(lambda: send_email.delay(subject, body, recipients))


def _check_not_expired(partner: ApplicationPartner) -> None:
    if partner.is_expired:
        raise TransitionNotAllowed(
            _(
                "Cette invitation a expiré le %(date)s : demandez au chef de file de vous inviter "
                "de nouveau."
            )
            % {"date": timezone.localtime(partner.expires_at).strftime("%d/%m/%Y")},
            allowed=[],
        )


def partner_accept(
    *, actor: User, partner: ApplicationPartner, organisation: Organisation | None = None
) -> ApplicationPartner:
    """The invited organisation joins the file, from its own account (no token by e-mail).

    Invited by e-mail: the holder of the address accepts for one of their organisations."""
    with transaction.atomic():
        partner = lock(partner)
        application = lock(partner.application)
        if partner.state == P.ACCEPTED:
            return partner
        _check_not_expired(partner)
        if partner.organisation_id is None:
            if not actor.email or actor.email.lower() != partner.invited_email.lower():
                raise PermissionDenied(_("Cette invitation ne vous est pas adressée."))
            if organisation is None:
                own = organisation_ids_of(actor) - {application.organisation_id}
                if len(own) != 1:
                    raise DomainError(
                        _("Choisissez l'organisation qui rejoint le dossier."),
                        field="organisation",
                    )
                organisation = Organisation.objects.get(pk=next(iter(own)))
            if not is_member(actor, organisation):
                raise PermissionDenied(_("Vous n'agissez pas pour cette organisation."))
            if organisation.pk == application.organisation_id:
                raise DomainError(
                    _("Votre organisation est déjà le chef de file du dossier."),
                    field="organisation",
                )
            if application.partners.filter(
                organisation=organisation, state__in=CURRENT_PARTNER_STATES
            ).exists():
                raise DomainError(
                    _("%(org)s est déjà partenaire ou invitée.") % {"org": organisation.name},
                    field="organisation",
                )
            partner.organisation = organisation
        else:
            _check_partner_member(actor, partner)
        _check_open(application)
        _answer(partner, "accept", actor)
        partner.save(update_fields=["state", "organisation", "answered_by", "answered_at"])
        _audit(actor, partner, "grants.partner.accepted")
        notify(
            users=application.organisation.members.all(),
            title=Msg(
                gettext_noop("%(org)s a rejoint le dossier %(ref)s"),
                org=str(partner),
                ref=application.reference,
            ),
            url=_url(application),
        )
    return partner


def _answer(partner: ApplicationPartner, transition: str, actor: User) -> None:
    method = getattr(partner, transition)
    from django_fsm import can_proceed

    if not can_proceed(method):
        raise TransitionNotAllowed(
            _("Ce partenariat est « %(state)s ».") % {"state": partner.get_state_display()},
            allowed=allowed_transition_names(partner),
        )
    method()
    partner.answered_by, partner.answered_at = actor, now()


def partner_decline(*, actor: User, partner: ApplicationPartner) -> ApplicationPartner:
    """The invited organisation declines — or the lead withdraws its invitation."""
    with transaction.atomic():
        partner = lock(partner)
        application = partner.application
        if partner.state == P.DECLINED:
            return partner
        is_lead = applicant_of(actor, application)
        if not is_lead:
            if partner.organisation_id is None:
                if not actor.email or actor.email.lower() != partner.invited_email.lower():
                    raise PermissionDenied(_("Cette invitation ne vous est pas adressée."))
            else:
                _check_partner_member(actor, partner)
        _answer(partner, "decline", actor)
        partner.save(update_fields=["state", "answered_by", "answered_at"])
        _audit(actor, partner, "grants.partner.declined", by_lead=is_lead)
        notify(
            users=partner.organisation.members.all()
            if is_lead and partner.organisation
            else application.organisation.members.all(),
            title=Msg(
                gettext_noop("Invitation au dossier %(ref)s déclinée ou retirée"),
                ref=application.reference,
            ),
            url=_url(application),
        )
    return partner


def partner_leave(
    *, actor: User, partner: ApplicationPartner, confirm: bool = False
) -> ApplicationPartner:
    """A partner leaves the file — or the lead removes it. Its budget lines leave with it, once
    confirmed (a DomainError with code « confirm » says what would be lost)."""
    with transaction.atomic():
        partner = lock(partner)
        application = lock(partner.application)
        if partner.state == P.LEFT:
            return partner
        is_lead = applicant_of(actor, application)
        if not is_lead:
            _check_partner_member(actor, partner)
        _check_open(application)
        lines = partner.budget_items.aggregate(total=Sum("amount"))
        count = partner.budget_items.count()
        if count and not confirm:
            raise DomainError(
                _(
                    "%(org)s a %(n)d ligne(s) de budget : elles quitteront le dossier avec lui. "
                    "Confirmez pour continuer."
                )
                % {"org": str(partner), "n": count},
                field="confirm",
                code="confirm",
            )
        removed = [
            {"account": i.account, "label": i.label, "amount": i.amount}
            for i in partner.budget_items.all()
        ]
        partner.budget_items.all().delete()
        _answer(partner, "leave", actor)
        partner.save(update_fields=["state", "answered_by", "answered_at"])
        _audit(
            actor,
            partner,
            "grants.partner.left",
            by_lead=is_lead,
            budget_lines_removed=removed,
            budget_total_removed=lines["total"] or Decimal("0"),
        )
        notify(
            users=[
                *application.organisation.members.all(),
                *(partner.organisation.members.all() if partner.organisation else []),
            ],
            title=Msg(
                gettext_noop("%(org)s a quitté le dossier %(ref)s"),
                org=str(partner),
                ref=application.reference,
            ),
            url=_url(application),
        )
    return partner


def _money(value: Any, field: str) -> Decimal:
    try:
        amount = Decimal(str(value if value not in (None, "") else "0").replace(",", "."))
    except (InvalidOperation, ValueError):
        raise DomainError(_("Montant invalide."), field=field)
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise DomainError(_("Le montant doit être positif, au centime près."), field=field)
    return amount


def partner_update_part(
    *, actor: User, partner: ApplicationPartner, data: dict[str, Any]
) -> ApplicationPartner:
    """A partner edits its own part of the draft: its role, its actions, its part of the amount
    asked and its budget lines (never the lead's or another partner's)."""
    with transaction.atomic():
        partner = lock(partner)
        application = lock(partner.application)
        _check_partner_member(actor, partner)
        if partner.state != P.ACCEPTED:
            raise TransitionNotAllowed(
                _("Acceptez d'abord l'invitation."), allowed=allowed_transition_names(partner)
            )
        if not application.is_editable_by_applicant:
            raise TransitionNotAllowed(
                _("Le dossier n'est plus modifiable dans l'état « %(state)s ».")
                % {"state": application.get_state_display()},
                allowed=allowed_transition_names(application),
            )
        changed: list[str] = []
        for name in ("role", "actions"):
            if name in data:
                value = (data[name] or "").strip()
                if name == "role":
                    value = value[:200]
                if value != getattr(partner, name):
                    setattr(partner, name, value)
                    changed.append(name)
        if "requested_amount" in data:
            amount = _money(data["requested_amount"], "requested_amount")
            if amount != partner.requested_amount:
                partner.requested_amount = amount
                changed.append("requested_amount")
        partner.save(update_fields=["role", "actions", "requested_amount"])
        if "budget" in data:
            application_set_budget_rows(application, data["budget"], partner=partner)
            changed.append("budget")
        if changed:
            _audit(actor, partner, "grants.partner.part_updated", fields=changed)
    return partner


def partner_draft_completion_answer(
    *, actor: User, partner: ApplicationPartner, text: str
) -> ApplicationPartner:
    """A partner drafts the answer to the pending completion request for its part; the lead
    answers for the file (docs/domain.md §9)."""
    with transaction.atomic():
        partner = lock(partner)
        application = partner.application
        _check_partner_member(actor, partner)
        if partner.state != P.ACCEPTED:
            raise PermissionDenied(_("Acceptez d'abord l'invitation."))
        if application.state != S.RETURNED or pending_completion_request(application) is None:
            raise TransitionNotAllowed(
                _("Aucune demande de compléments n'attend de réponse."),
                allowed=allowed_transition_names(application),
            )
        partner.completion_draft = (text or "").strip()
        partner.save(update_fields=["completion_draft"])
        _audit(actor, partner, "grants.partner.completion_drafted")
        notify(
            users=application.organisation.members.all(),
            title=Msg(
                gettext_noop("%(org)s a préparé sa réponse aux compléments du dossier %(ref)s"),
                org=str(partner),
                ref=application.reference,
            ),
            url=absolute_url(f"/dossiers/{application.pk}/"),
        )
    return partner


def application_set_payment_flow(
    *, actor: User, application: Application, payment_flow: str
) -> Application:
    """The lead says how the money should flow (all to the lead, or each partner its part); the
    decision confirms or changes it."""
    if payment_flow not in PaymentFlow.values:
        raise DomainError(_("Mode de versement inconnu."), field="payment_flow")
    with transaction.atomic():
        application = lock(application)
        _check_lead(actor, application)
        _check_open(application)
        if application.payment_flow != payment_flow:
            application.payment_flow = payment_flow
            application.save(update_fields=["payment_flow", "updated_at"])
            audit_log(
                actor=actor,
                obj=application,
                action="grants.application.payment_flow_set",
                payload={"payment_flow": payment_flow},
            )
    return application
