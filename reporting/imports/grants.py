"""Historical grants from SCDL « Subventions » files (other funders' open data, or a previous
tool's export): read and checked here in one pass, matched with the database once
(cpo.services_import.historical_import_plan), written by cpo.services_import.

What a row becomes (the rules of cpo.services_import apply after):
- the beneficiary's amount is montant × pourcentageSubvention, rounded half-up to the cent (the
  schema's montant is the grant before it is shared between beneficiaries);
- its fiscal year is exerciceBudgetaire when the file has it, else the year payments start
  (datesPeriodeVersement), else the convention's year;
- its identity is idSubvention when the file has it; otherwise
  « referenceDecision|beneficiary|fiscal year|object digest » (the convention date stands in for
  a missing reference; the digest ignores case, accents and spacing), so the same grant read
  again from the same or a later file is recognised;
- rows sharing an idSubvention with different exerciceBudgetaire are the years of one multi-year
  grant (consecutive, 5 at most).
"""

from __future__ import annotations

import datetime
import hashlib
import marshal
import zlib
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any

from django.utils.translation import gettext as _

from core.models import User
from core.services_import import organisations_with_siren
from core.tabular.cleaning import Siren
from core.tabular.reader import Table, normalise_header
from core.tabular.report import Report
from cpo.services_import import (
    HistoricalGrant,
    agreements_import_historical,
    historical_import_plan,
)

from . import scdl
from .columns import read_records
from .mapping import overrides_of

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("9999999999.99")


def read(
    table: Table, options: dict[str, Any], report: Report, progress: Callable[[int], None]
) -> list[HistoricalGrant]:
    """Every row checked against the schema and the import's rules; the grants of the valid
    rows (the caller imports nothing unless the report has no error)."""
    strict = options.get("strict", True)
    cols = scdl.columns(strict=strict)
    mapping = scdl.map_headers(table, cols, report, strict=strict, overrides=overrides_of(options))
    multi_year = "exerciceBudgetaire" in mapping.index
    label = mapping.labels.get
    grants_by_key: dict[tuple[str, str], HistoricalGrant] = {}
    # One string object per distinct funder, beneficiary and object, not one per row.
    one = {}.setdefault
    sirens: dict[str, list[tuple[str, str]]] = {}
    for row, values, bad in read_records(table, cols, mapping, report):
        if row % 5000 == 0:
            progress(report.row_count)
        if (
            values.get("idBeneficiaire") is None
            and values.get("rnaBeneficiaire") is None
            and not bad & {"idBeneficiaire", "rnaBeneficiaire"}
        ):
            report.error(
                row,
                label("idBeneficiaire") or "idBeneficiaire",
                "",
                _(
                    "Renseignez idBeneficiaire (SIRET) ou rnaBeneficiaire (numéro RNA) : les deux "
                    "sont vides."
                ),
            )
            bad.add("idBeneficiaire")
        if values.get("nomAttribuant") and len(values["nomAttribuant"]) > 200:
            report.error(
                row,
                label("nomAttribuant"),
                values["nomAttribuant"],
                _("Le nom de l'attribuant dépasse 200 caractères."),
            )
            bad.add("nomAttribuant")
        if isinstance(values.get("idBeneficiaire"), Siren):
            values["idBeneficiaire"] = _complete_siren(
                values["idBeneficiaire"], row, label("idBeneficiaire"), report, sirens
            )
            if values["idBeneficiaire"] is None:
                bad.add("idBeneficiaire")
        period = values.get("datesPeriodeVersement")
        if period and None in period:
            report.warning(
                row,
                label("datesPeriodeVersement"),
                _raw_period(period, values),
                _("Une date de la période n'existe pas ; l'exercice est pris ailleurs."),
            )
        elif period and len(period) == 2 and period[1] < period[0]:
            report.warning(
                row,
                label("datesPeriodeVersement"),
                "",
                _("La période de versement finit avant de commencer."),
            )
        if bad:
            continue
        part = values.get("pourcentageSubvention") or Decimal("1")
        amount = (values["montant"] * part).quantize(CENT, rounding=ROUND_HALF_UP)
        if not CENT <= amount <= MAX_AMOUNT:
            report.error(
                row,
                label("montant"),
                values["montant"],
                _(
                    "Le montant attribué au bénéficiaire (montant × pourcentageSubvention = "
                    "%(amount)s €) doit être positif et inférieur à 10 milliards d'euros."
                )
                % {"amount": amount},
            )
            continue
        year = (
            values.get("exerciceBudgetaire")
            or _payment_year(period)
            or (values["dateConvention"].year)
        )
        siret = values.get("idBeneficiaire") or ""
        rna = values.get("rnaBeneficiaire") or ""
        external_id = values.get("idSubvention") or external_id_for(
            reference=values.get("referenceDecision") or values["dateConvention"].isoformat(),
            beneficiary=siret or rna,
            year=year,
            title=values["objet"],
        )
        key = (values["idAttribuant"], external_id)
        grant = grants_by_key.get(key)
        if grant is not None and (not multi_year or year in grant.years):
            report.error(
                row,
                label("idSubvention") or label("referenceDecision") or label("objet"),
                external_id,
                _(
                    "Même subvention que la ligne %(row)s (même attribuant, décision, "
                    "bénéficiaire, objet et exercice)."
                )
                % {"row": grant.rows[0]},
            )
            continue
        if grant is not None:  # another fiscal year of a multi-year grant
            if grant.siret != siret or grant.rna != rna:
                report.error(
                    row,
                    label("idBeneficiaire") or "idBeneficiaire",
                    siret or rna,
                    _("La subvention %(id)s a un autre bénéficiaire à la ligne %(row)s.")
                    % {"id": external_id, "row": grant.rows[0]},
                )
                continue
            grant.years[year] = amount
            grant.rows = (*grant.rows, row)
            continue
        grants_by_key[key] = HistoricalGrant(
            rows=(row,),
            funder_name=one(values["nomAttribuant"], values["nomAttribuant"]),
            funder_siret=one(values["idAttribuant"], values["idAttribuant"]),
            external_id=external_id,
            organisation_name=one(values["nomBeneficiaire"], values["nomBeneficiaire"]),
            siret=one(siret, siret),
            rna=rna,
            title=one(values["objet"], values["objet"]),
            signed_on=values["dateConvention"],
            years={year: amount},
            ej_number=values.get("ej") or "",
        )
    grants = list(grants_by_key.values())
    for grant in grants:
        years = sorted(grant.years)
        if years != list(range(years[0], years[0] + len(years))) or len(years) > 5:
            report.error(
                grant.rows[0],
                label("exerciceBudgetaire") or "exerciceBudgetaire",
                ", ".join(str(y) for y in years),
                _(
                    "Les exercices d'une subvention pluriannuelle doivent se suivre, 5 au plus "
                    "(%(years)s)."
                )
                % {"years": ", ".join(str(y) for y in years)},
            )
    return grants


def _complete_siren(
    siren: str, row: int, column: str, report: Report, known: dict[str, list[tuple[str, str]]]
) -> str | None:
    """The SIRET of the one known organisation with this SIREN (warned), or None (error)."""
    if siren not in known:
        known[siren] = organisations_with_siren(siren)
    matches = known[siren]
    if len(matches) == 1:
        siret, name = matches[0]
        report.warning(
            row,
            column,
            siren,
            _("SIREN au lieu du SIRET : l'établissement connu %(siret)s (« %(name)s ») est retenu.")
            % {"siret": siret, "name": name},
        )
        report.clean("siren", column, 1, _("SIREN complété par le SIRET connu"), row=row)
        return siret
    report.error(
        row,
        column,
        siren,
        _(
            "« %(value)s » est un SIREN (9 chiffres) : aucune organisation connue ne le porte, "
            "donnez le SIRET (14 chiffres) de l'établissement."
        )
        % {"value": siren}
        if not matches
        else _(
            "« %(value)s » est un SIREN (9 chiffres) porté par %(n)s établissements connus : "
            "donnez le SIRET (14 chiffres) de celui qui reçoit la subvention."
        )
        % {"value": siren, "n": len(matches)},
    )
    return None


def external_id_for(*, reference: str, beneficiary: str, year: int, title: str) -> str:
    """The identity of a grant from a file without idSubvention (see the module's docstring)."""
    return f"{reference[:200]}|{beneficiary}|{year}|{title_digest(title)}"


@lru_cache(maxsize=4096)
def title_digest(title: str) -> str:
    """8 hex digits of the object, ignoring case, accents and spacing (objects repeat a lot:
    « Fonctionnement »)."""
    key = " ".join(normalise_header(title).split())
    return hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()[:8]


def _payment_year(period: tuple[Any, ...] | None) -> int | None:
    if period and period[0] is not None:
        return period[0].year
    return None


def _raw_period(period: tuple[Any, ...], values: dict[str, Any]) -> str:
    return "/".join(d.isoformat() if d else "?" for d in period)


def freeze(grants: list[HistoricalGrant], report: Report) -> bytes | None:
    """The checked grants as compressed tuples of text and integers (marshal: the standard
    library's fastest format for them, ~5× quicker than JSON both ways; a string shared by many
    grants — funder, beneficiary, object — is written once and read back as one object), kept
    for the apply (services.keep_rows) so that it does not read and check the file a second
    time. None when a SIREN was completed from the known organisations: that reading depends on
    the database, the apply reads the file again."""
    if any(code == "siren" for code, _column in report.cleaning):
        return None
    data = [
        (
            g.rows,
            g.funder_name,
            g.funder_siret,
            g.external_id,
            g.organisation_name,
            g.siret,
            g.rna,
            g.title,
            g.signed_on.toordinal(),
            tuple((year, str(amount)) for year, amount in g.years.items()),
            g.ej_number,
        )
        for g in grants
    ]
    try:
        return zlib.compress(marshal.dumps(data, MARSHAL_VERSION), 1)
    except ValueError:  # a value marshal does not take (a str subclass): the apply reads again
        return None


#: Fixed so that a newer Python's default cannot change what is kept (services.ROWS_FORMAT).
MARSHAL_VERSION = 4


def thaw(data: bytes) -> list[HistoricalGrant]:
    """The grants `freeze` kept, as `read` returned them."""
    ordinal = datetime.date.fromordinal
    return [
        HistoricalGrant(
            rows,
            funder_name,
            funder_siret,
            external_id,
            organisation_name,
            siret,
            rna,
            title,
            ordinal(signed_on),
            {year: Decimal(amount) for year, amount in years},
            ej_number,
        )
        for (
            rows,
            funder_name,
            funder_siret,
            external_id,
            organisation_name,
            siret,
            rna,
            title,
            signed_on,
            years,
            ej_number,
        ) in marshal.loads(zlib.decompress(data))
    ]


def plan(grants: list[HistoricalGrant], report: Report) -> None:
    """What the import would do, and the rows the database refuses (one query per chunk)."""
    result = historical_import_plan(grants)
    for problem in result.problems:
        for row in problem.rows:
            report.error(row, problem.column, problem.value, problem.message)
    counts = result.summary()
    report.summary = {
        _("Subventions à créer"): counts["grants_to_create"],
        _("Subventions déjà importées (ignorées)"): counts["grants_already_imported"],
        _("Organisations à créer"): counts["organisations_to_create"],
        _("Financeurs à créer"): counts["funders_to_create"],
    }


def apply(*, actor: User, rows: list[HistoricalGrant], source: str) -> dict[str, Any]:
    result = agreements_import_historical(actor=actor, grants=rows, source=source)
    return {
        _("Subventions créées"): result.created,
        _("Subventions déjà importées (ignorées)"): result.already_imported,
        _("Organisations créées"): result.organisations_created,
        _("Financeurs créés"): result.funders_created,
        _("Programmes « Historique » créés"): result.programmes_created,
    }
