"""Audit actions of the payment side. Their codes keep the `cpo.` prefix they had before the
payment side left `cpo`: audit rows already written name them, and an audit trail is not rewritten."""

from django.utils.translation import gettext_lazy as _

from core.audit import register_action

register_action("cpo.instalment.approved", _("Service fait certifié (échéance liquidée)"))
register_action("cpo.instalment.unapproved", _("Certification du service fait retirée"))
register_action("cpo.instalment.added_to_run", _("Échéance ajoutée à un lot de paiement"))
register_action("cpo.instalment.removed_from_run", _("Échéance retirée d'un lot de paiement"))
register_action("cpo.instalment.exported", _("Échéance transmise à la comptabilité"))
register_action("cpo.instalment.paid", _("Paiement confirmé par la comptabilité"))
register_action("cpo.instalment.rejected", _("Paiement rejeté par la comptabilité"))
register_action("cpo.instalment.carried", _("Échéance reportée sur l'exercice suivant"))
register_action("cpo.payment_run.created", _("Lot de paiement préparé"))
register_action("cpo.payment_run.items_removed", _("Paiements retirés du lot"))
register_action("cpo.payment_run.approval_given", _("Validation du lot donnée"))
register_action("cpo.payment_run.approved", _("Lot de paiement validé"))
register_action("cpo.payment_run.reopened", _("Lot renvoyé en validation"))
register_action("cpo.payment_run.exported", _("Lot transmis à la comptabilité"))
register_action(
    "cpo.payment_run.missing_ej_confirmed",
    _("Export confirmé malgré des paiements sans numéro d'engagement juridique (EJ)"),
)
register_action("cpo.payment_run.closed", _("Lot soldé"))
register_action("cpo.payment_run.cancelled", _("Lot abandonné"))
register_action("cpo.payment_confirmation.applied", _("Retour de la comptabilité appliqué"))
register_action("cpo.fiscal_year.closed", _("Exercice budgétaire clos"))
