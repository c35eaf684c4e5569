"""The budget structure of CERFA n° 12156*06 (charges 60–68, products 70–78, in-kind 86/87).

The annual financial report (CERFA n° 15059) reuses the same accounts so figures compare.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Account(models.TextChoices):
    # Charges
    C60 = "60", _("60 — Achats")
    C61 = "61", _("61 — Services extérieurs")
    C62 = "62", _("62 — Autres services extérieurs")
    C63 = "63", _("63 — Impôts et taxes")
    C64 = "64", _("64 — Charges de personnel")
    C65 = "65", _("65 — Autres charges de gestion courante")
    C66 = "66", _("66 — Charges financières")
    C67 = "67", _("67 — Charges exceptionnelles")
    C68 = "68", _("68 — Dotations aux amortissements")
    C86 = "86", _("86 — Emplois des contributions volontaires en nature")
    # Products
    P70 = "70", _("70 — Ventes de produits finis, prestations de services")
    P73 = "73", _("73 — Dotations et produits de tarification")
    P74 = "74", _("74 — Subventions d'exploitation")
    P75 = "75", _("75 — Autres produits de gestion courante (cotisations, dons)")
    P76 = "76", _("76 — Produits financiers")
    P77 = "77", _("77 — Produits exceptionnels")
    P78 = "78", _("78 — Reprises sur amortissements et provisions")
    P87 = "87", _("87 — Contributions volontaires en nature")


CHARGE_ACCOUNTS = ["60", "61", "62", "63", "64", "65", "66", "67", "68", "86"]
PRODUCT_ACCOUNTS = ["70", "73", "74", "75", "76", "77", "78", "87"]
IN_KIND_CHARGE, IN_KIND_PRODUCT, SUBSIDIES = "86", "87", "74"


class SubsidySource(models.TextChoices):
    """How account 74 is split by funder on the CERFA form."""

    STATE = "state", pgettext_lazy("funder", "État")
    REGION = "region", _("Région")
    DEPARTEMENT = "departement", _("Département")
    MUNICIPALITY = "municipality", _("Commune ou intercommunalité")
    SOCIAL = "social", _("Organismes sociaux (CAF…)")
    EU = "eu", _("Fonds européens")
    EMPLOYMENT = "employment", _("Aides à l'emploi (ASP)")
    OTHER_PUBLIC = "other_public", _("Autres établissements publics")
    PRIVATE = "private", _("Aides privées (fondations)")
