from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GrantsConfig(AppConfig):
    name = "grants"
    verbose_name = _("Dossiers et décisions")

    def ready(self) -> None:
        from . import (
            audit_actions,  # noqa: F401
            jobs_solutions,  # noqa: F401 - registers the allocation job runner
            privacy,
        )

        privacy.register()  # retention rules and erasure holds (core.privacy)
        privacy.register_export()  # sections of a person's data export
