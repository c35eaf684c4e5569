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
register_action("cpo.agreement.signed_copy_attached", _("Exemplaire signé de la convention déposé"))
register_action("cpo.agreement.amended", _("Avenant à la convention"))
register_action("cpo.instalment.replanned", _("Échéance replanifiée par avenant"))
register_action("cpo.instalment.offset", _("Échéance réduite par compensation d'un reversement"))
register_action("cpo.recovery.issued", _("Reversement demandé (titre de recette émis)"))
register_action("cpo.recovery.collected", _("Reversement recouvré"))
register_action("cpo.recovery.offset", _("Reversement compensé sur une échéance"))
register_action("cpo.recovery.cancelled", _("Reversement annulé"))
register_action(
    "cpo.evaluation.partner_report_filed", _("Part d'un partenaire déposée à l'évaluation")
)
register_action(
    "cpo.evaluation.partner_report_missing", _("Part d'un partenaire déclarée manquante")
)
