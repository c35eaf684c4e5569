"""Reads of the partners added by amendment (cpo.services_changes.partner_addition)."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from core.errors import DomainError
from core.models import Organisation, User
from core.permissions import organisation_ids_of

from .models_partner_additions import PartnerAddition
from .selectors import agreements_visible_to


def additions_visible_to(user: User) -> QuerySet[PartnerAddition]:
    """Proposals the user may read: those of the agreements they see (staff in scope, the lead's
    members), and those made to their own organisations."""
    return PartnerAddition.objects.filter(
        Q(agreement__in=agreements_visible_to(user))
        | Q(organisation_id__in=organisation_ids_of(user))
    ).select_related("agreement", "agreement__organisation", "organisation", "amendment")


def organisation_by_siret(siret: str) -> Organisation:
    """The organisation known to Pluriel under this SIRET (spaces ignored)."""
    digits = "".join((siret or "").split())
    organisation = Organisation.objects.filter(siret=digits).first() if digits else None
    if organisation is None:
        raise DomainError(
            _("Aucune organisation inscrite sur Pluriel n'a ce SIRET."), field="siret"
        )
    return organisation
