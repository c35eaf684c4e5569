from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CpoConfig(AppConfig):
    """Multi-year agreements (CPO), instalments, evaluations, amendments, recoveries. The payment
    side is the `finance` app, which subscribes to the hooks in cpo.hooks."""

    name = "cpo"
    verbose_name = _("Conventions et paiements")

    def ready(self) -> None:
        from grants.history import register_history_source

        from . import audit_actions, privacy  # noqa: F401
        from .history import signature_history

        privacy.register()  # retention rule of organisations' contacts (core.privacy)
        register_history_source(signature_history)  # the file's history page shows signatures
        register_navigation_fact()


def register_navigation_fact() -> None:
    """« Conventions » in a member's menu: whether their organisations have an agreement, cached
    per user under the "nav" data version (core.user_facts); an agreement never changes hands."""
    from core.data_version import Tracked, track
    from core.user_facts import GROUP, register_fact

    from .selectors import organisations_have_agreements

    track(GROUP, Tracked("cpo_agreement", columns=("organisation_id",)))
    register_fact("agreements", organisations_have_agreements)
