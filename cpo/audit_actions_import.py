"""Audit action codes of the historical import (cpo.services_import)."""

from django.utils.translation import gettext_lazy as _

from core.audit import register_action

register_action("cpo.agreement.imported", _("Subvention historique importée"))
