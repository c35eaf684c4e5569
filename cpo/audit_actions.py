from django.utils.translation import gettext_lazy as _

from core.audit import register_action

register_action("cpo.agreement.created", _("Convention préparée"))
register_action("cpo.agreement.sent_for_signature", _("Convention envoyée pour signature"))
register_action("cpo.agreement.signed", _("Convention signée"))
register_action("cpo.agreement.activated", _("Convention en cours"))
register_action("cpo.agreement.suspended", _("Convention suspendue"))
register_action("cpo.agreement.resumed", _("Convention reprise"))
register_action("cpo.agreement.completed", _("Convention soldée"))
register_action("cpo.agreement.terminated", _("Convention résiliée"))
register_action("cpo.instalment.due", _("Échéance exigible"))
register_action("cpo.instalment.on_hold", _("Échéance suspendue"))
register_action("cpo.instalment.cancelled", _("Échéance annulée"))
register_action("cpo.instalment.late", _("Échéance en retard (règle des 60 jours)"))
register_action("cpo.evaluation.submitted", _("Évaluation annuelle déposée"))
register_action("cpo.evaluation.accepted", _("Évaluation annuelle acceptée"))
register_action(
    "cpo.evaluation.accepted_with_reservations", _("Évaluation annuelle acceptée avec réserves")
)
register_action("cpo.evaluation.rejected", _("Évaluation annuelle rejetée"))
register_action("cpo.evaluation.reminder_sent", _("Relance d'évaluation envoyée"))
register_action("cpo.evaluation.overdue", _("Évaluation en retard"))
