"""The retention rules of core's own personal data (registered in CoreConfig.ready)."""

from __future__ import annotations

import datetime

from django.contrib.auth.hashers import make_password
from django.contrib.sessions.models import Session
from django.db.models import Model, Q
from django.utils.translation import gettext_lazy as _

from ..models import (
    STAFF_ROLES,
    BackgroundJob,
    DocumentKind,
    Invitation,
    Membership,
    Notification,
    OrganisationDocument,
    RoleAssignment,
    User,
)
from .retention import RetentionRule, register_rule

ANONYMOUS_DOMAIN = "anonyme.invalid"
ID_DOCUMENT_KINDS = [DocumentKind.BOARD_LIST, DocumentKind.OTHER]


def anonymise_user(user: User) -> int:
    """The account stays (decisions and the audit trail point to it) but says nothing of the
    person any more: no name, an address that reaches nobody, no password, inactive."""
    if user.email.endswith("@" + ANONYMOUS_DOMAIN):
        return 0
    User.objects.filter(pk=user.pk).update(
        first_name="",
        last_name="",
        email=f"personne-{user.pk}@{ANONYMOUS_DOMAIN}",
        password=make_password(None),
        is_active=False,
        email_verified_at=None,
    )
    return 1


def _delete_jobs(queryset: object) -> int:
    count = 0
    for job in queryset:  # type: ignore[attr-defined]
        if job.result_file:
            job.result_file.delete(save=False)
        job.delete()
        count += 1
    return count


def _delete_documents(queryset: object) -> int:
    count = 0
    for document in queryset:  # type: ignore[attr-defined]
        document.file.delete(save=False)
        document.delete()
        count += 1
    return count


def _inactive_accounts(cutoff: datetime.datetime) -> int:
    staff = RoleAssignment.objects.filter(role__in=STAFF_ROLES).values("user_id")
    members = Membership.objects.values("user_id")
    stale = (
        User.objects.filter(Q(last_login__lt=cutoff) | Q(last_login__isnull=True))
        .filter(date_joined__lt=cutoff, is_superuser=False)
        .exclude(pk__in=staff)
        .exclude(pk__in=members)
        .exclude(email__endswith="@" + ANONYMOUS_DOMAIN)
    )
    return sum(anonymise_user(user) for user in stale)


def _staff_hold(user: User) -> str | None:
    if RoleAssignment.objects.filter(user=user, role__in=STAFF_ROLES).exists() or user.is_superuser:
        return str(
            _(
                "Agent·e en fonction : son compte signe des décisions sur des fonds publics, "
                "à archiver (code du patrimoine, art. L212-2). Retirez d'abord ses rôles."
            )
        )
    return None


def _login_models() -> list[type[Model]]:
    """django-axes' records of login attempts (core.auth): lockout counters, failures, successes."""
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog

    return [AccessAttempt, AccessFailureLog, AccessLog]


def _login_records_older_than(cutoff: datetime.datetime) -> int:
    return sum(
        model._default_manager.filter(attempt_time__lt=cutoff).delete()[0]
        for model in _login_models()
    )


def _login_records_of(user: User) -> int:
    return sum(
        model._default_manager.filter(username__iexact=user.email).delete()[0]
        for model in _login_models()
    )


def register() -> None:
    register_rule(
        RetentionRule(
            code="core.login_failures",
            data=_("Tentatives de connexion (adresse e-mail saisie, adresse IP, navigateur)"),
            duration=_("6 mois après la tentative"),
            days=183,
            legal_basis=_("Intérêt légitime : sécurité du service (RGPD art. 6-1-f)"),
            action="delete",
            kept=_("Rien"),
            app="core",
            apply=_login_records_older_than,
            erase=_login_records_of,
        )
    )
    register_rule(
        RetentionRule(
            code="core.sessions",
            data=_("Sessions de connexion"),
            duration=_("à leur expiration"),
            days=0,
            legal_basis=_("Exécution du service (RGPD art. 6-1-e)"),
            action="delete",
            kept=_("Rien"),
            app="core",
            apply=lambda cutoff: Session.objects.filter(expire_date__lt=cutoff).delete()[0],
        )
    )
    register_rule(
        RetentionRule(
            code="core.notifications",
            data=_("Notifications reçues"),
            duration=_("1 an après leur envoi"),
            days=365,
            legal_basis=_("Exécution du service (RGPD art. 6-1-e)"),
            action="delete",
            kept=_("Rien (les courriels envoyés ne sont pas conservés)"),
            app="core",
            apply=lambda cutoff: Notification.objects.filter(created_at__lt=cutoff).delete()[0],
            erase=lambda user: Notification.objects.filter(user=user).delete()[0],
        )
    )
    register_rule(
        RetentionRule(
            code="core.invitations",
            data=_("Invitations non acceptées (adresse e-mail de la personne invitée)"),
            duration=_("3 mois après leur expiration"),
            days=92,
            legal_basis=_("Exécution du service (RGPD art. 6-1-e)"),
            action="delete",
            kept=_("Rien"),
            app="core",
            apply=lambda cutoff: Invitation.objects.filter(
                accepted_at__isnull=True, expires_at__lt=cutoff
            ).delete()[0],
            erase=lambda user: Invitation.objects.filter(
                email__iexact=user.email, accepted_at__isnull=True
            ).delete()[0],
        )
    )
    register_rule(
        RetentionRule(
            code="core.jobs",
            data=_("Tâches de fond et leurs fichiers (exports, imports)"),
            duration=_("1 an après leur création (le fichier lui-même expire en 48 h)"),
            days=365,
            legal_basis=_("Exécution du service (RGPD art. 6-1-e)"),
            action="delete",
            kept=_("Rien ; le journal d'audit garde la trace des exports"),
            app="core",
            apply=lambda cutoff: _delete_jobs(BackgroundJob.objects.filter(created_at__lt=cutoff)),
            erase=lambda user: _delete_jobs(BackgroundJob.objects.filter(owner=user)),
        )
    )
    register_rule(
        RetentionRule(
            code="core.identity_documents",
            data=_(
                "Pièces déposées portant l'identité de personnes (liste des dirigeants, autres)"
            ),
            duration=_("5 ans après leur dépôt"),
            days=5 * 365,
            legal_basis=_(
                "Mission d'intérêt public : instruction des demandes de subvention "
                "(RGPD art. 6-1-e ; loi n° 2000-321 art. 10)"
            ),
            action="delete",
            kept=_("L'identité légale de l'organisation (nom, SIRET, RNA)"),
            app="core",
            apply=lambda cutoff: _delete_documents(
                OrganisationDocument.objects.filter(
                    kind__in=ID_DOCUMENT_KINDS, uploaded_at__lt=cutoff
                )
            ),
        )
    )
    register_rule(
        RetentionRule(
            code="core.bank_documents",
            data=_("Relevés d'identité bancaire déposés"),
            duration=_("10 ans après leur dépôt"),
            days=10 * 365,
            legal_basis=_(
                "Obligation légale : pièces justificatives de la comptabilité publique "
                "(décret n° 2012-1246 ; code de commerce art. L123-22)"
            ),
            action="delete",
            kept=_("Les montants versés et les décisions"),
            app="core",
            apply=lambda cutoff: _delete_documents(
                OrganisationDocument.objects.filter(
                    kind=DocumentKind.BANK_DETAILS, uploaded_at__lt=cutoff
                )
            ),
        )
    )
    register_rule(
        RetentionRule(
            code="core.inactive_accounts",
            data=_("Comptes sans rôle ni organisation (nom, adresse e-mail)"),
            duration=_("3 ans après la dernière connexion"),
            days=3 * 365,
            legal_basis=_("Exécution du service (RGPD art. 6-1-e) ; recommandation CNIL"),
            action="anonymise",
            kept=_("Le compte anonyme, auquel le journal d'audit et les décisions renvoient"),
            app="core",
            apply=_inactive_accounts,
            erase=anonymise_user,
            hold=_staff_hold,
        )
    )
