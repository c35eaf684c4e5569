from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    default = True
    name = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from . import (
            audit_actions,  # noqa: F401  (registers the action labels)
            twofactor,  # noqa: F401  (its OpenAPI authentication extension)
        )
        from .privacy import export, rules  # noqa: F401  (export registers its job)

        rules.register()  # core's retention rules; upper apps register theirs in their ready()

        from django.db.backends.signals import connection_created

        from .search import register_sqlite_functions

        connection_created.connect(register_sqlite_functions, dispatch_uid="pluriel_fold")

        from django.db.models.signals import post_migrate, pre_migrate

        from .data_version import drop_triggers, install_triggers

        # The triggers of the data versions (core.data_version), for the tables apps track.
        pre_migrate.connect(drop_triggers, sender=self)
        post_migrate.connect(install_triggers, sender=self)


class PlurielAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with a site that requires the second factor (core.twofactor)."""

    default = False
    default_site = "core.twofactor.TwoFactorAdminSite"
