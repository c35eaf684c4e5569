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
register_action("calls.need.recorded", _("Besoin enregistré"))
register_action("calls.need.published", _("Besoin publié sur l'anti-appel"))
register_action("calls.challenge.recorded", _("Solution attendue enregistrée"))
register_action("calls.challenge.proposed", _("Solution attendue proposée par un·e habitant·e"))
register_action("calls.challenge.approved", _("Solution attendue retenue"))
register_action("calls.challenge.rejected", _("Solution attendue écartée"))
register_action("calls.panel.configured", _("Panel d'habitant·es configuré"))
register_action("calls.panel.member_added", _("Membre ajouté au panel"))
