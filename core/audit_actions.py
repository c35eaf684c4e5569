"""Audit action codes of the core app."""

from django.utils.translation import gettext_lazy as _

from .audit import register_action

register_action("core.organisation.created", _("Organisation créée"))
register_action("core.organisation.updated", _("Profil de l'organisation modifié"))
register_action("core.organisation.bank_details_changed", _("Coordonnées bancaires modifiées"))
register_action("core.organisation.member_added", _("Membre ajouté à l'organisation"))
register_action("core.document.uploaded", _("Document déposé"))
register_action("core.document.deleted", _("Document supprimé"))
register_action("core.invitation.sent", _("Invitation envoyée"))
register_action("core.invitation.accepted", _("Invitation acceptée"))
register_action("core.user.signed_up", _("Compte créé"))
register_action("core.user.email_verified", _("Adresse e-mail vérifiée"))
register_action("core.user.role_granted", _("Rôle attribué"))
register_action("core.user.two_factor_enrolled", _("Double authentification activée"))
register_action("core.user.recovery_codes_generated", _("Codes de secours générés"))
register_action("core.user.recovery_code_used", _("Code de secours utilisé"))
register_action("core.user.two_factor_passed", _("Double authentification validée"))
register_action("core.user.two_factor_failed", _("Double authentification refusée"))
register_action("core.user.api_token_created", _("Jeton d'API personnel créé"))
register_action("core.user.api_token_revoked", _("Jeton d'API personnel révoqué"))
register_action("core.user.created_by_sso", _("Compte créé par authentification unique"))

register_action("core.retention.applied", _("Durée de conservation appliquée"))
register_action(
    "core.retention.anonymised", _("Données personnelles anonymisées au terme de leur conservation")
)
register_action(
    "core.retention.deleted", _("Données personnelles supprimées au terme de leur conservation")
)
register_action("core.erasure.requested", _("Demande d'effacement reçue"))
register_action("core.erasure.done", _("Données personnelles effacées"))
register_action("core.erasure.refused", _("Demande d'effacement refusée"))
register_action("core.personal_data.export_requested", _("Export des données personnelles"))
register_action("core.document.downloaded", _("Document téléchargé"))
