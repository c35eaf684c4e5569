"""The register of processing activities (RGPD art. 30), generated from the declared rules."""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext as _

from .retention import rules


def register_rows() -> list[dict[str, str]]:
    controller = getattr(settings, "PRIVACY_CONTROLLER", "") or _(
        "L'organisme qui exploite Pluriel"
    )
    return [
        {
            _("Traitement"): _("Pluriel — subventions de la politique de la ville"),
            _("Responsable"): str(controller),
            _("Catégorie de données"): str(rule.data),
            _("Finalité et base légale"): str(rule.legal_basis),
            _("Durée de conservation"): str(rule.duration),
            _("Au terme"): rule.action_label,
            _("Ce qui est gardé"): str(rule.kept),
            _("Module"): rule.app,
            _("Règle"): rule.code,
        }
        for rule in rules()
    ]
