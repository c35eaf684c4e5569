from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CpoConfig(AppConfig):
    """Multi-year agreements (CPO), instalments, evaluations, amendments, recoveries, payments."""

    name = "cpo"
    verbose_name = _("Conventions et paiements")

    def ready(self) -> None:
        from core.services import register_bank_details_hook

        from . import audit_actions, confirmations  # noqa: F401
        from .services_finance import bank_details_changed

        register_bank_details_hook(bank_details_changed)
