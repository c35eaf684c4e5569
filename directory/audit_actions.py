"""Audit action codes of the directory app."""

from django.utils.translation import gettext_lazy as _

from core.audit import register_action

register_action("directory.profile.updated", _("Fiche publique de l'organisation modifiée"))
register_action("directory.profile.listed", _("Organisation inscrite à l'annuaire public"))
register_action("directory.profile.unlisted", _("Organisation retirée de l'annuaire public"))
register_action("directory.sheet.drafted", _("Fiche expérience rédigée"))
register_action("directory.sheet.updated", _("Fiche expérience modifiée"))
register_action("directory.sheet.submitted", _("Fiche expérience soumise à publication"))
register_action("directory.sheet.published", _("Fiche expérience publiée"))
register_action("directory.sheet.returned", _("Fiche expérience renvoyée pour correction"))
register_action("directory.sheet.withdrawn", _("Fiche expérience dépubliée"))
