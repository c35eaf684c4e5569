from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CpoConfig(AppConfig):
    """Multi-year agreements (CPO), instalments, evaluations, payments — built in a later issue."""

    name = "cpo"
    verbose_name = _("Conventions et paiements")

    def ready(self) -> None:
        from . import audit_actions  # noqa: F401
