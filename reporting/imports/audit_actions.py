"""Audit action codes of file imports."""

from django.utils.translation import gettext_lazy as _

from core.audit import register_action

register_action("reporting.import.applied", _("Fichier importé"))
register_action(
    "reporting.import.invalidated",
    _("Import refusé à l'application (données modifiées depuis la vérification)"),
)
register_action(
    "reporting.import.profile_saved", _("Profil de correspondance des colonnes enregistré")
)
