"""Cleaning rules: values as people and spreadsheets write them, read as what they mean, each
change reported in the dry run with its rule and count (« 1 204 cellules : « NA » lu comme
vide »). A parser that corrects a value returns `Fixed(value, code, message)`; the row reader
(columns.read_records) counts it under its rule and column and keeps the value.

Rules applied to every import and mode (they recognise what a cell means, they do not relax a
format): placeholders read as empty; Excel's scientific notation refused (the digits are lost).
Rules of the tolerant mode (the strict one reports the same cells as errors and suggests the
tolerant mode): identifiers without spaces, non-breaking spaces, dots or apostrophes; a date
given by year or month (first day, the rule named); a date stored as a spreadsheet serial
number; synonyms of the SCDL nature; a SIREN where a SIRET is expected, completed when exactly
one known organisation has that SIREN (grants.read).
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.utils.translation import gettext as _

from .reader import CellError, normalise_header, parse_date, parse_siret


@dataclass(frozen=True, slots=True)
class Fixed:
    """A value read after a correction: `code` groups the count, `message` says the rule."""

    value: Any
    code: str
    message: str


# --------------------------------------------------------------------------- placeholders

#: What people write for « nothing here » (compared without case, accents or spaces).
PLACEHOLDERS = frozenset(
    {
        "na",
        "n/a",
        "n.a.",
        "n.a",
        "#n/a",
        "#n/d",
        "nan",
        "null",
        "none",
        "neant",
        "sans objet",
        "s.o.",
        "s/o",
        "nc",
        "n.c.",
        "non communique",
        "non renseigne",
        "non concerne",
        "inconnu",
        "vide",
    }
)


@lru_cache(maxsize=1 << 16)
def placeholder(text: str) -> bool:
    """True for a cell that means « empty »: a placeholder word, or only punctuation (-, --, .,
    ?, /, "", ''), no letter nor digit."""
    if len(text) > 16:
        return False
    first = text[0]
    if first.isdigit():  # most cells: amounts, identifiers, dates
        return False
    if not first.isalnum() and not any(c.isalnum() for c in text):
        return True
    folded = text.casefold()
    return folded in PLACEHOLDERS or (
        not folded.isascii() and normalise_header(text) in PLACEHOLDERS
    )


# --------------------------------------------------------------------------- numbers

_SCIENTIFIC = re.compile(r"^[+-]?\d+(?:[.,]\d+)?\s?[eE][+-]?\d+$")


def scientific_notation(text: str) -> str | None:
    """Excel shows long numbers as 7,86E+13 and saves them so in CSV: the digits are lost. The
    message saying so, for a cell written that way (None otherwise)."""
    if ("E" not in text and "e" not in text) or not _SCIENTIFIC.match(text):
        return None
    return _(
        "« %(value)s » est en notation scientifique : le tableur a arrondi le nombre et ses "
        "derniers chiffres sont perdus. Formatez la colonne en texte (ou en nombre sans "
        "décimale) dans le fichier d'origine et exportez-le à nouveau."
    ) % {"value": text}


# --------------------------------------------------------------------------- identifiers

_APOSTROPHES = "'’`´"


def siret_cell(text: str, *, strict: bool = False) -> Any:
    """A SIRET; tolerant: spaces, non-breaking spaces, dots, dashes and a spreadsheet's
    apostrophe (« '22490001900015 », « 224 900 019 000 15' ») removed and counted."""
    if strict:
        return parse_siret(text, strict=True)
    stripped = text.strip(_APOSTROPHES + " ")
    value = parse_siret(stripped)
    if stripped != text.strip():
        return Fixed(value, "apostrophe", _("SIRET : apostrophe de tableur retirée"))
    if value != text.strip():
        return Fixed(value, "spaces", _("SIRET : espaces ou points retirés"))
    return value


class Siren(str):
    """Nine digits given where a SIRET is expected (grants.read completes it or refuses)."""


def siret_or_siren_cell(text: str) -> Any:
    """Tolerant SIRET of a beneficiary: a valid SIREN is returned as `Siren`."""
    try:
        return siret_cell(text)
    except CellError:
        value = re.sub(r"[\s.\u00a0\u202f-]", "", text.strip(_APOSTROPHES + " "))
        if re.fullmatch(r"\d{9}", value):
            from stdnum.fr import siren

            if siren.is_valid(value):
                return Siren(value)
        raise


# --------------------------------------------------------------------------- dates

_YEAR = re.compile(r"^(\d{4})$")
_MONTH_YM = re.compile(r"^(\d{4})[-/.](\d{1,2})$")
_MONTH_MY = re.compile(r"^(\d{1,2})[-/.](\d{4})$")
_MONTHS = {
    "janvier": 1,
    "fevrier": 2,
    "mars": 3,
    "avril": 4,
    "mai": 5,
    "juin": 6,
    "juillet": 7,
    "aout": 8,
    "septembre": 9,
    "octobre": 10,
    "novembre": 11,
    "decembre": 12,
}
_MONTH_NAME = re.compile(r"^([a-z]+)\s+(\d{4})$")
#: Spreadsheet day numbers of 1950-01-01 and 2100-12-31 (day 0 is 1899-12-30).
_SERIAL = (18264, 73415)
_EPOCH = datetime.date(1899, 12, 30)


def date_cell(text: str, *, strict: bool = False) -> Any:
    """A date; tolerant: also a year alone (1 January), a month (its first day) and a
    spreadsheet serial number, each returned as `Fixed` naming the rule used."""
    if strict:
        return parse_date(text, strict=True)
    try:
        return parse_date(text)
    except CellError:
        fixed = _partial_date(text.strip())
        if fixed is None:
            raise
        return fixed


def _partial_date(value: str) -> Fixed | None:
    if match := _YEAR.match(value):
        year = int(match.group(1))
        if 1950 <= year <= 2100:
            return Fixed(
                datetime.date(year, 1, 1),
                "year",
                _("date donnée par l'année seule : lue comme le 1er janvier"),
            )
        return None
    if value.isdigit() and _SERIAL[0] <= int(value) <= _SERIAL[1]:
        return Fixed(
            _EPOCH + datetime.timedelta(days=int(value)),
            "serial",
            _("date enregistrée comme un nombre par le tableur (jours depuis 1900) : convertie"),
        )
    month = year = 0
    if match := _MONTH_YM.match(value):
        year, month = int(match.group(1)), int(match.group(2))
    elif match := _MONTH_MY.match(value):
        month, year = int(match.group(1)), int(match.group(2))
    elif match := _MONTH_NAME.match(normalise_header(value)):
        month, year = _MONTHS.get(match.group(1), 0), int(match.group(2))
    if 1 <= month <= 12 and 1950 <= year <= 2100:
        return Fixed(
            datetime.date(year, month, 1),
            "month",
            _("date donnée par le mois : lue comme le 1er du mois"),
        )
    return None


# --------------------------------------------------------------------------- SCDL nature

NATURE_SYNONYMS = {
    "en numeraire": "aide en numéraire",
    "numeraire": "aide en numéraire",
    "aide numeraire": "aide en numéraire",
    "aide financiere": "aide en numéraire",
    "financiere": "aide en numéraire",
    "subvention": "aide en numéraire",
    "subvention en numeraire": "aide en numéraire",
    "subvention de fonctionnement": "aide en numéraire",
    "en nature": "aide en nature",
    "nature": "aide en nature",
    "aide materielle": "aide en nature",
    "mise a disposition": "aide en nature",
    "subvention en nature": "aide en nature",
}


def nature_synonym(text: str) -> Fixed | None:
    value = NATURE_SYNONYMS.get(normalise_header(text))
    if value is None:
        return None
    return Fixed(value, f"nature:{value}", _("« %(value)s » : synonyme lu") % {"value": value})
