"""Identifier validators (docs/domain.md §6): SIRET, SIREN, RNA, QPV, INSEE commune, IBAN, BIC, EJ."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.fr import siren as stdnum_siren
from stdnum.fr import siret as stdnum_siret

RNA_RE = re.compile(r"^W\d[A-Z\d]\d{7}$")
QPV_RE = re.compile(r"^(QN\d{5}[A-Z]|QP\d{6})$")
INSEE_RE = re.compile(r"^(\d{5}|2[AB]\d{3})$")
EJ_RE = re.compile(r"^\d{10}$")


def compact(value: str) -> str:
    return re.sub(r"[\s.\-]", "", value or "").upper()


def validate_siret(value: str) -> None:
    """14 digits, Luhn over all 14, La Poste exception (python-stdnum handles both)."""
    try:
        stdnum_siret.validate(compact(value))
    except StdnumError:
        raise ValidationError(
            _("« %(value)s » n'est pas un SIRET valide (14 chiffres, clé de contrôle incorrecte)."),
            code="invalid_siret",
            params={"value": value},
        )


def validate_siren(value: str) -> None:
    try:
        stdnum_siren.validate(compact(value))
    except StdnumError:
        raise ValidationError(
            _("« %(value)s » n'est pas un SIREN valide."),
            code="invalid_siren",
            params={"value": value},
        )


def validate_rna(value: str) -> None:
    if value and not RNA_RE.match(compact(value)):
        raise ValidationError(
            _("« %(value)s » n'est pas un numéro RNA valide (W suivi de 9 caractères)."),
            code="invalid_rna",
            params={"value": value},
        )


def validate_qpv_code(value: str) -> None:
    if not QPV_RE.match(value or ""):
        raise ValidationError(
            _("« %(value)s » n'est pas un code QPV valide (QN00101M ou QP057019)."),
            code="invalid_qpv",
            params={"value": value},
        )


def validate_insee_code(value: str) -> None:
    if value and not INSEE_RE.match(value.upper()):
        raise ValidationError(
            _("« %(value)s » n'est pas un code commune INSEE valide (5 caractères)."),
            code="invalid_insee",
            params={"value": value},
        )


def validate_iban(value: str) -> None:
    if not value:
        return
    try:
        IBAN(value)
    except SchwiftyException:
        raise ValidationError(
            _("« %(value)s » n'est pas un IBAN valide."),
            code="invalid_iban",
            params={"value": value},
        )


def validate_bic(value: str) -> None:
    if not value:
        return
    try:
        BIC(value)
    except SchwiftyException:
        raise ValidationError(
            _("« %(value)s » n'est pas un BIC valide."), code="invalid_bic", params={"value": value}
        )


def validate_ej(value: str) -> None:
    if value and not EJ_RE.match(value):
        raise ValidationError(
            _("Le numéro d'engagement juridique doit compter 10 chiffres."), code="invalid_ej"
        )
