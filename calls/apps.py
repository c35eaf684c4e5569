from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CallsConfig(AppConfig):
    name = "calls"
    verbose_name = _("Programmes et appels")

    def ready(self) -> None:
        from core.services import register_invitation_accept_hook

        from . import audit_actions  # noqa: F401
        from .services import panel_seat_invited

        register_invitation_accept_hook(panel_seat_invited)
