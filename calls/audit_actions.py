from django.utils.translation import gettext_lazy as _

from core.audit import register_action

register_action("calls.programme.created", _("Programme créé"))
register_action("calls.programme.envelope_changed", _("Enveloppe du programme modifiée"))
register_action("calls.call.created", _("Appel créé"))
register_action("calls.call.published", _("Appel publié"))
register_action("calls.call.opened", _("Appel ouvert aux candidatures"))
register_action("calls.call.closed", _("Appel clos"))
register_action("calls.call.deliberating", _("Appel en délibération"))
register_action("calls.call.decided", _("Décisions de l'appel rendues"))
register_action("calls.call.archived", _("Appel archivé"))
