"""Audit action codes of the contracts app."""

from django.utils.translation import gettext_lazy as _

from core.audit import register_action

register_action("contracts.contract.created", _("Contrat de ville créé"))
register_action("contracts.contract.signed", _("Contrat de ville signé"))
register_action("contracts.contract.amended", _("Avenant au contrat de ville"))
register_action("contracts.contract.ended", _("Contrat de ville échu"))
register_action("contracts.part.added", _("Volet ajouté au contrat"))
register_action("contracts.part.programme_attached", _("Programme rattaché à un volet"))
register_action("contracts.signatory.added", _("Signataire ajouté au contrat"))
register_action("contracts.member.granted", _("Rôle attribué sur le contrat"))
register_action("contracts.commitment.recorded", _("Engagement d'un signataire enregistré"))
register_action("contracts.commitment.reported", _("Réalisation d'un engagement déclarée"))
register_action("contracts.meeting.planned", _("Instance de pilotage programmée"))
register_action("contracts.meeting.held", _("Instance de pilotage tenue"))
register_action("contracts.decision.recorded", _("Décision de pilotage enregistrée"))
register_action("contracts.decision.reoriented", _("Réorientation de crédits décidée"))
register_action("contracts.indicator.defined", _("Indicateur de l'observatoire défini"))
register_action("contracts.indicator.value_set", _("Valeur d'indicateur enregistrée"))
register_action("contracts.opinion.given", _("Avis du conseil citoyen donné"))
register_action("contracts.annual_report.submitted", _("Rapport annuel soumis pour avis"))
register_action("contracts.annual_report.approved", _("Rapport annuel approuvé"))
