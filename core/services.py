"""Writes for accounts, organisations, documents, invitations and notifications.

Every service is keyword-only, checks who may act, runs in one transaction, writes its audit row
in that transaction and sends its emails only after commit (docs/style.md).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from .audit import audit_log
from .clock import now, today
from .errors import DomainError, PermissionDenied
from .fsm import lock
from .identifiers import compact, validate_bic, validate_iban, validate_siret
from .models import (
    STAFF_ROLES,
    DocumentKind,
    Invitation,
    Membership,
    Notification,
    Organisation,
    OrganisationDocument,
    Role,
    RoleAssignment,
    User,
)
from .notifications import absolute_url, account_email_html, interface_language
from .permissions import forget_cached_roles, has_role, is_member, is_organisation_admin, roles_of
from .uploads import upload_error

EMAIL_VERIFICATION_SALT = "core.user.verify_email"
EMAIL_VERIFICATION_MAX_AGE = 7 * 24 * 3600
INVITATION_VALIDITY = timedelta(days=14)

# What an applicant may edit on the profile. The SIRET is the organisation's identity: a change
# means another organisation. Bank details have their own service.
ORGANISATION_EDITABLE_FIELDS = [
    "name",
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
]
ORGANISATION_SIGNUP_FIELDS = ["siret", *ORGANISATION_EDITABLE_FIELDS]

# Roles a staff invitation may grant (applicants join through their organisation instead).
INVITABLE_ROLES = [*(r.value for r in Role if r in STAFF_ROLES), Role.PANEL_MEMBER.value]


# --------------------------------------------------------------------------- helpers


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def mask_iban(iban: str) -> str:
    """FR76 **** 0189: enough to recognise an account, useless to a fraudster (audit, emails)."""
    iban = compact(iban)
    if not iban:
        return ""
    return f"{iban[:4]} **** {iban[-4:]}"


def _send_email_on_commit(subject: str, body: str, recipients: list[str]) -> None:
    """Send a plain-text account email and its HTML part, after commit."""
    from .tasks import send_email

    html = account_email_html(subject=subject, text=body)
    transaction.on_commit(lambda: send_email.delay(subject, body, recipients, html))


def _messages(exc: ValidationError) -> list[str]:
    return [str(m) for m in exc.messages]


def _raise_if(errors: dict[str, list[Any]]) -> None:
    if errors:
        raise DomainError(_("Le formulaire contient des erreurs."), errors=errors)


# --------------------------------------------------------------------------- accounts


def email_verification_token(user: User) -> str:
    """A signed, timestamped token naming the user and the address it proves (7 days)."""
    return signing.dumps({"u": user.pk, "e": user.email}, salt=EMAIL_VERIFICATION_SALT)


def _send_verification_email(user: User) -> None:
    link = absolute_url(reverse("core:verify_email", args=[email_verification_token(user)]))
    subject = _("[Pluriel] Confirmez votre adresse e-mail")
    body = _(
        "Bonjour %(name)s,\n\n"
        "Pour activer votre compte Pluriel, confirmez votre adresse e-mail en ouvrant ce lien "
        "(valable 7 jours) :\n%(link)s\n\n"
        "Si vous n'avez pas créé de compte, ignorez ce message."
    ) % {"name": user.get_full_name() or user.email, "link": link}
    _send_email_on_commit(str(subject), str(body), [user.email])


def user_signup(
    *,
    email: str,
    password: str,
    first_name: str,
    last_name: str,
    organisation_data: dict[str, Any],
) -> User:
    """Create an association's first account and the organisation, identified by its SIRET.

    The account stays inactive until the email address is confirmed (user_verify_email): nobody
    acts for an organisation with an address they do not control. A SIRET already registered is
    refused — joining an existing organisation takes an invitation from its administrator,
    otherwise anyone could join any association.
    """
    email = normalise_email(email)
    first_name, last_name = (first_name or "").strip(), (last_name or "").strip()
    errors: dict[str, list[Any]] = {}

    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = [_("Saisissez une adresse e-mail valide.")]
    else:
        if User.objects.filter(email__iexact=email).exists():
            errors["email"] = [
                _(
                    "Un compte existe déjà avec cette adresse. Connectez-vous ou "
                    "réinitialisez votre mot de passe."
                )
            ]
    if not first_name:
        errors["first_name"] = [_("Indiquez votre prénom.")]
    if not last_name:
        errors["last_name"] = [_("Indiquez votre nom.")]
    try:
        validate_password(password, User(email=email, first_name=first_name, last_name=last_name))
    except ValidationError as exc:
        errors["password"] = _messages(exc)

    values = {k: (organisation_data.get(k) or "") for k in ORGANISATION_SIGNUP_FIELDS}
    values = {k: v.strip() if isinstance(v, str) else v for k, v in values.items()}
    values["siret"] = compact(values["siret"])
    values["rna"] = compact(values["rna"])
    values["legal_form"] = values["legal_form"] or Organisation.LegalForm.ASSOCIATION
    try:
        validate_siret(values["siret"])
    except ValidationError as exc:
        errors["siret"] = _messages(exc)
    else:
        if Organisation.objects.filter(siret=values["siret"]).exists():
            errors["siret"] = [
                _(
                    "Cette organisation est déjà inscrite sur Pluriel. Demandez à son administrateur·rice "
                    "de vous inviter depuis la page « Membres » de l'organisation."
                )
            ]
    organisation = Organisation(**values)
    try:
        organisation.full_clean(exclude=["siret", "iban", "bic"], validate_unique=False)
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            errors.setdefault(field, []).extend(messages)
    _raise_if(errors)

    with transaction.atomic():
        try:
            user = User.objects.create_user(
                email,
                password,
                first_name=first_name,
                last_name=last_name,
                is_active=False,
                language=interface_language(),
            )
            organisation.save()
        except IntegrityError:
            # Someone registered the same address or SIRET a moment ago.
            raise DomainError(
                _(
                    "Cette adresse e-mail ou ce SIRET vient d'être enregistré. "
                    "Rechargez la page et réessayez."
                )
            )
        Membership.objects.create(user=user, organisation=organisation, is_admin=True)
        audit_log(
            actor=user,
            obj=user,
            action="core.user.signed_up",
            payload={"organisation": organisation.pk},
        )
        audit_log(
            actor=user,
            obj=organisation,
            action="core.organisation.created",
            payload={"siret": organisation.siret},
        )
        audit_log(
            actor=user,
            obj=organisation,
            action="core.organisation.member_added",
            payload={"user": user.pk, "is_admin": True},
        )
        _send_verification_email(user)
    return user


def user_verify_email(*, token: str) -> User:
    """Confirm the address named by a signup token and activate the account. Safe to run twice."""
    invalid = DomainError(
        _(
            "Ce lien de confirmation est invalide ou a expiré. Demandez un nouveau "
            "lien depuis la page de connexion."
        ),
        code="invalid_token",
    )
    try:
        data = signing.loads(
            token, salt=EMAIL_VERIFICATION_SALT, max_age=EMAIL_VERIFICATION_MAX_AGE
        )
    except signing.BadSignature:  # SignatureExpired is a BadSignature
        raise invalid
    with transaction.atomic():
        user = User.objects.select_for_update().filter(pk=data.get("u")).first()
        if user is None or user.email != data.get("e"):
            raise invalid
        if user.email_verified_at is not None:
            return user
        user.email_verified_at = now()
        user.is_active = True
        user.save(update_fields=["email_verified_at", "is_active"])
        audit_log(actor=user, obj=user, action="core.user.email_verified")
    return user


def user_send_verification(*, email: str) -> None:
    """Send the confirmation link again. Silent when there is nothing to confirm (no account
    enumeration)."""
    user = User.objects.filter(
        email__iexact=normalise_email(email), email_verified_at__isnull=True, is_active=False
    ).first()
    if user is not None:
        with transaction.atomic():
            _send_verification_email(user)


# --------------------------------------------------------------------------- organisations


def organisation_update(
    *, actor: User, organisation: Organisation, data: dict[str, Any]
) -> Organisation:
    """Edit the organisation's profile (typed once, reused by every application).

    Organisation administrators and platform administrators only. The SIRET and bank details are
    not edited here."""
    if not (is_organisation_admin(actor, organisation) or has_role(actor, Role.ADMIN)):
        raise PermissionDenied(
            _("Seul·e un·e administrateur·rice de l'organisation peut modifier son profil.")
        )
    with transaction.atomic():
        organisation = lock(organisation)
        changes: dict[str, list[Any]] = {}
        for field in ORGANISATION_EDITABLE_FIELDS:
            if field not in data:
                continue
            value = data[field]
            value = value.strip() if isinstance(value, str) else value
            if field == "rna":
                value = compact(value or "")
            value = "" if value is None else value
            old = getattr(organisation, field)
            if old != value:
                changes[field] = [old, value]
                setattr(organisation, field, value)
        if not changes:
            return organisation
        try:
            organisation.full_clean(exclude=["siret", "iban", "bic"])
        except ValidationError as exc:
            raise DomainError(_("Le formulaire contient des erreurs."), errors=exc.message_dict)
        organisation.save(update_fields=list(changes))
        audit_log(
            actor=actor,
            obj=organisation,
            action="core.organisation.updated",
            payload={"changes": changes},
        )
    return organisation


def organisation_set_bank_details(
    *, actor: User, organisation: Organisation, iban: str, bic: str
) -> Organisation:
    """Record the organisation's bank account (IBAN and BIC, both checked).

    Organisation administrators only. The audit row keeps a masked IBAN, never the full one, and
    every other member is told, so a hijacked account cannot divert a grant unnoticed."""
    if not is_organisation_admin(actor, organisation):
        raise PermissionDenied(
            _(
                "Seul·e un·e administrateur·rice de l'organisation peut modifier "
                "ses coordonnées bancaires."
            )
        )
    iban, bic = compact(iban), compact(bic)
    errors: dict[str, list[Any]] = {}
    if not iban:
        errors["iban"] = [_("Indiquez l'IBAN.")]
    else:
        try:
            validate_iban(iban)
        except ValidationError as exc:
            errors["iban"] = _messages(exc)
    if not bic:
        errors["bic"] = [_("Indiquez le BIC.")]
    else:
        try:
            validate_bic(bic)
        except ValidationError as exc:
            errors["bic"] = _messages(exc)
    _raise_if(errors)

    with transaction.atomic():
        organisation = lock(organisation)
        if organisation.iban == iban and organisation.bic == bic:
            return organisation
        previous = organisation.iban
        organisation.iban, organisation.bic = iban, bic
        organisation.bank_details_changed_at = now()
        organisation.bank_details_changed_by = actor
        organisation.save(
            update_fields=["iban", "bic", "bank_details_changed_at", "bank_details_changed_by"]
        )
        audit_log(
            actor=actor,
            obj=organisation,
            action="core.organisation.bank_details_changed",
            payload={"iban": mask_iban(iban), "previous_iban": mask_iban(previous), "bic": bic},
        )
        for hook in _BANK_DETAILS_HOOKS:
            hook(organisation, actor)
        from .notifications import Msg, notify

        others = [
            m.user for m in organisation.memberships.select_related("user") if m.user_id != actor.pk
        ]
        notify(
            users=others,
            title=Msg(
                gettext_noop("Coordonnées bancaires de %(org)s modifiées"), org=organisation.name
            ),
            body=Msg(
                gettext_noop(
                    "%(who)s a enregistré un nouveau compte bancaire (%(iban)s). Si vous n'êtes "
                    "pas au courant de ce changement, contactez le service politique de la ville."
                ),
                who=actor.get_full_name() or actor.email,
                iban=mask_iban(iban),
            ),
            url=reverse("core:organisation_bank", args=[organisation.pk]),
        )
    return organisation


# --------------------------------------------------------------------------- documents


def document_upload(
    *,
    actor: User,
    organisation: Organisation,
    kind: str,
    file: Any,
    valid_until: date | None,
    title: str = "",
) -> OrganisationDocument:
    """Keep a document on the organisation's profile (tell us once: every application reuses it).

    Members only. Size at most UPLOAD_MAX_BYTES; the extension must be allowed and the content
    must really be of that type (PDF, PNG, JPEG, OpenDocument or Office Open XML). Stored in
    private storage, served only by the download view that checks who asks."""
    if not is_member(actor, organisation):
        raise PermissionDenied(
            _("Seul·es les membres de l'organisation peuvent déposer ses documents.")
        )
    errors: dict[str, list[Any]] = {}
    if kind not in DocumentKind.values:
        errors["kind"] = [_("Choisissez un type de document.")]
    if valid_until is not None and valid_until < today():
        errors["valid_until"] = [
            _("La date de validité est déjà passée : déposez un document à jour.")
        ]
    if file is None:
        errors["file"] = [_("Choisissez un fichier.")]
    elif problem := upload_error(file):
        errors["file"] = [problem]
    _raise_if(errors)

    original_name = os.path.basename(file.name)[:255]
    document = OrganisationDocument(
        organisation=organisation,
        kind=kind,
        title=(title or "").strip()[:200],
        original_name=original_name,
        size=file.size,
        valid_until=valid_until,
        uploaded_by=actor,
    )
    with transaction.atomic():
        document.file.save(
            original_name, file if isinstance(file, File) else File(file), save=False
        )
        try:
            document.save()
            audit_log(
                actor=actor,
                obj=document,
                action="core.document.uploaded",
                payload={
                    "organisation": organisation.pk,
                    "kind": kind,
                    "name": original_name,
                    "size": file.size,
                    "valid_until": valid_until,
                },
            )
        except Exception:
            default_storage.delete(document.file.name)  # type: ignore[arg-type]
            raise
    return document


def _attached_elsewhere(document: OrganisationDocument) -> bool:
    """True if another object (a filed application…) refers to the document. Checked through the
    model's reverse relations so core stays independent of the apps that reuse documents."""
    for relation in document._meta.related_objects:
        accessor = relation.get_accessor_name()
        if (
            accessor
            and (relation.many_to_many or relation.one_to_many)
            and getattr(document, accessor).exists()
        ):
            return True
    return False


def document_delete(*, actor: User, document: OrganisationDocument) -> None:
    """Remove a document from the profile. Members only; a document already attached to a filed
    application is kept as evidence of what was filed — upload a new version instead."""
    if not is_member(actor, document.organisation):
        raise PermissionDenied(
            _("Seul·es les membres de l'organisation peuvent supprimer ses documents.")
        )
    if _attached_elsewhere(document):
        raise DomainError(
            _(
                "Ce document est joint à un dossier déposé et doit être conservé. "
                "Déposez plutôt une version à jour."
            ),
            code="document_in_use",
        )
    with transaction.atomic():
        name = document.file.name
        audit_log(
            actor=actor,
            obj=document,
            action="core.document.deleted",
            payload={
                "organisation": document.organisation_id,
                "kind": document.kind,
                "name": document.original_name,
            },
        )
        document.delete()
        transaction.on_commit(lambda: default_storage.delete(name))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- invitations


def _new_invitation(
    *, actor: User, email: str, role: str, organisation: Organisation | None, is_admin: bool = False
) -> Invitation:
    invitation = Invitation.objects.create(
        token=secrets.token_urlsafe(32),
        email=email,
        role=role,
        organisation=organisation,
        is_admin=is_admin,
        invited_by=actor,
        expires_at=now() + INVITATION_VALIDITY,
    )
    audit_log(
        actor=actor,
        obj=invitation,
        action="core.invitation.sent",
        payload={
            "email": email,
            "role": role,
            "organisation": organisation.pk if organisation else None,
        },
    )
    link = absolute_url(reverse("core:invitation_accept", args=[invitation.token]))
    inviter = actor.get_full_name() or actor.email
    if organisation is not None:
        subject = _("[Pluriel] Invitation à rejoindre %(org)s") % {"org": organisation.name}
        what = _("rejoindre l'organisation « %(org)s »") % {"org": organisation.name}
    else:
        subject = _("[Pluriel] Invitation à rejoindre l'équipe")
        what = _("rejoindre Pluriel avec le rôle « %(role)s »") % {"role": Role(role).label}
    body = _(
        "Bonjour,\n\n%(inviter)s vous invite à %(what)s sur Pluriel.\n\n"
        "Pour accepter, ouvrez ce lien (valable 14 jours) :\n%(link)s\n"
    ) % {"inviter": inviter, "what": what, "link": link}
    _send_email_on_commit(str(subject), str(body), [email])
    return invitation


def invitation_is_admin(invitation: Invitation) -> bool:
    """Whether an organisation invitation makes the invitee an organisation administrator."""
    return invitation.organisation_id is not None and invitation.is_admin


def membership_invite(
    *, actor: User, organisation: Organisation, email: str, is_admin: bool = False
) -> Invitation:
    """Invite a person to act for the organisation. Organisation administrators only."""
    if not is_organisation_admin(actor, organisation):
        raise PermissionDenied(
            _("Seul·e un·e administrateur·rice de l'organisation peut inviter des membres.")
        )
    email = normalise_email(email)
    try:
        validate_email(email)
    except ValidationError:
        raise DomainError(_("Saisissez une adresse e-mail valide."), field="email")
    if organisation.memberships.filter(user__email__iexact=email).exists():
        raise DomainError(_("Cette personne est déjà membre de l'organisation."), field="email")
    with transaction.atomic():
        return _new_invitation(
            actor=actor,
            email=email,
            organisation=organisation,
            role=Role.APPLICANT,
            is_admin=is_admin,
        )


def staff_invite(*, actor: User, email: str, role: str) -> Invitation:
    """Invite a staff member or a resident panel member. Programme managers and administrators;
    only an administrator may invite another administrator."""
    if not has_role(actor, Role.PROGRAMME_MANAGER):
        raise PermissionDenied(_("Seul·es les responsables de programme peuvent inviter l'équipe."))
    email = normalise_email(email)
    errors: dict[str, list[Any]] = {}
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = [_("Saisissez une adresse e-mail valide.")]
    if role not in INVITABLE_ROLES:
        errors["role"] = [_("Choisissez un rôle.")]
    elif role == Role.ADMIN and Role.ADMIN not in roles_of(actor):
        errors["role"] = [
            _("Seul·e un·e administrateur·rice peut inviter un·e autre administrateur·rice.")
        ]
    elif RoleAssignment.objects.filter(user__email__iexact=email, role=role).exists():
        errors["email"] = [_("Cette personne a déjà ce rôle.")]
    _raise_if(errors)
    with transaction.atomic():
        return _new_invitation(actor=actor, email=email, role=role, organisation=None)


def invitation_for_token(token: str) -> Invitation | None:
    return (
        Invitation.objects.select_related("organisation", "invited_by").filter(token=token).first()
    )


def ensure_invitation_usable(invitation: Invitation | None) -> Invitation:
    if invitation is None:
        raise DomainError(
            _("Cette invitation est introuvable. Vérifiez le lien reçu par e-mail."),
            code="invalid_token",
        )
    if invitation.accepted_at is not None:
        raise DomainError(_("Cette invitation a déjà été acceptée."), code="already_accepted")
    if invitation.expires_at < now():
        raise DomainError(
            _(
                "Cette invitation a expiré. Demandez à la personne qui vous a invité·e "
                "de vous en envoyer une nouvelle."
            ),
            code="expired",
        )
    return invitation


# Other apps react to an accepted invitation (e.g. calls seats an invited resident on a panel)
# without core importing them: they register a callable(user, invitation), run in the same transaction.
_INVITATION_ACCEPT_HOOKS: list[Callable[[User, Invitation], None]] = []
_BANK_DETAILS_HOOKS: list[Callable[[Organisation, User | None], None]] = []


def register_bank_details_hook(hook: Callable[[Organisation, User | None], None]) -> None:
    """Run `hook(organisation, actor)` in the transaction that changes bank details (payment runs
    paying the account go back for approval)."""
    if hook not in _BANK_DETAILS_HOOKS:
        _BANK_DETAILS_HOOKS.append(hook)


def register_invitation_accept_hook(hook: Callable[[User, Invitation], None]) -> None:
    if hook not in _INVITATION_ACCEPT_HOOKS:
        _INVITATION_ACCEPT_HOOKS.append(hook)


def invitation_accept(*, token: str, user_or_new_user_data: User | dict[str, Any]) -> User:
    """Accept an invitation: membership of the organisation, or the staff role.

    Either a signed-in user whose address is the invited one, or the data of a new account
    (first_name, last_name, password) created with the invited address. The link came by email,
    so the address counts as confirmed."""
    with transaction.atomic():
        invitation = ensure_invitation_usable(
            Invitation.objects.select_for_update().filter(token=token).first()
        )
        if isinstance(user_or_new_user_data, User):
            user = user_or_new_user_data
            if normalise_email(user.email) != normalise_email(invitation.email):
                raise DomainError(
                    _(
                        "Cette invitation est adressée à %(email)s. Connectez-vous avec ce compte, ou "
                        "déconnectez-vous pour créer un compte à cette adresse."
                    )
                    % {"email": invitation.email},
                    code="wrong_account",
                )
            if user.email_verified_at is None:
                user.email_verified_at = now()
                user.save(update_fields=["email_verified_at"])
        else:
            user = _account_for_invitation(invitation, user_or_new_user_data)

        if invitation.organisation_id is not None:
            is_admin = invitation_is_admin(invitation)
            membership, created = Membership.objects.get_or_create(
                user=user, organisation=invitation.organisation, defaults={"is_admin": is_admin}
            )
            if not created and is_admin and not membership.is_admin:
                membership.is_admin = True
                membership.save(update_fields=["is_admin"])
            audit_log(
                actor=user,
                obj=invitation.organisation,  # type: ignore[arg-type]  # organisation_id is set
                action="core.organisation.member_added",
                payload={
                    "user": user.pk,
                    "is_admin": membership.is_admin,
                    "invitation": invitation.pk,
                },
            )
        else:
            RoleAssignment.objects.get_or_create(user=user, role=invitation.role)
            audit_log(
                actor=user,
                obj=user,
                action="core.user.role_granted",
                payload={
                    "role": invitation.role,
                    "invitation": invitation.pk,
                    "invited_by": invitation.invited_by_id,
                },
            )
        invitation.accepted_at = now()
        invitation.save(update_fields=["accepted_at"])
        audit_log(actor=user, obj=invitation, action="core.invitation.accepted")
        for hook in _INVITATION_ACCEPT_HOOKS:
            hook(user, invitation)
        forget_cached_roles(user)
    return user


def _account_for_invitation(invitation: Invitation, data: dict[str, Any]) -> User:
    email = normalise_email(invitation.email)
    first_name = (data.get("first_name") or "").strip()
    last_name = (data.get("last_name") or "").strip()
    password = data.get("password") or ""
    existing = User.objects.select_for_update().filter(email__iexact=email).first()
    if existing is not None and (existing.is_active or existing.email_verified_at is not None):
        raise DomainError(
            _(
                "Un compte existe déjà pour %(email)s : connectez-vous, puis ouvrez de "
                "nouveau le lien de l'invitation."
            )
            % {"email": email},
            code="account_exists",
        )
    errors: dict[str, list[Any]] = {}
    if not first_name:
        errors["first_name"] = [_("Indiquez votre prénom.")]
    if not last_name:
        errors["last_name"] = [_("Indiquez votre nom.")]
    try:
        validate_password(password, User(email=email, first_name=first_name, last_name=last_name))
    except ValidationError as exc:
        errors["password"] = _messages(exc)
    _raise_if(errors)
    # A signup never confirmed is taken over: the invitation proves the address.
    user = existing or User(email=email)
    user.first_name, user.last_name = first_name, last_name
    user.language = interface_language()
    user.set_password(password)
    user.is_active = True
    user.email_verified_at = now()
    user.save()
    if existing is None:
        audit_log(
            actor=user,
            obj=user,
            action="core.user.signed_up",
            payload={"invitation": invitation.pk},
        )
    return user


def user_set_language(*, user: User, language: str) -> User:
    """Keep the interface language a person chose on their account: their notifications and
    emails are written in it. An unknown code changes nothing."""
    if language in dict(settings.LANGUAGES) and user.language != language:
        user.language = language
        user.save(update_fields=["language"])
    return user


# --------------------------------------------------------------------------- notifications


def notification_mark_read(*, actor: User, notification: Notification) -> Notification:
    """Mark one of the actor's notifications as read (idempotent)."""
    if notification.user_id != actor.pk:
        raise PermissionDenied(_("Cette notification ne vous est pas adressée."))
    if notification.read_at is None:
        notification.read_at = now()
        notification.save(update_fields=["read_at"])
    return notification


def notifications_mark_read(*, actor: User, ids: list[int] | None = None) -> int:
    """Mark the actor's unread notifications as read (all, or those listed). Returns the count."""
    qs = Notification.objects.filter(user=actor, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return qs.update(read_at=now())
