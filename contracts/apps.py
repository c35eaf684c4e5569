from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContractsConfig(AppConfig):
    name = "contracts"
    verbose_name = _("Contrats de ville")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import audit_actions  # noqa: F401

        register_navigation_fact()


def register_navigation_fact() -> None:
    """« Contrats de ville » in the menu of a non-staff user: whether they hold a role on a
    contract, cached per user under the "nav" data version (core.user_facts)."""
    from core.data_version import Tracked, track
    from core.user_facts import GROUP, register_fact

    from .models import ContractMember

    track(GROUP, Tracked("contracts_contractmember", columns=("contract_id", "user_id")))
    register_fact("contracts", lambda user: ContractMember.objects.filter(user=user).exists())
