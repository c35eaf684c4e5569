from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportingConfig(AppConfig):
    """Analytics, dashboards, open data, imports and exports — built in a later issue."""

    name = "reporting"
    verbose_name = _("Pilotage et données")
