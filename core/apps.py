from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from . import audit_actions  # noqa: F401  (registers the action labels)
        from .privacy import export, rules  # noqa: F401  (export registers its job)

        rules.register()  # core's retention rules; upper apps register theirs in their ready()
