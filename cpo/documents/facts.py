"""What the documents say, read from the data: dates, funders and their amounts, objectives,
parties, the instalment and amount tables, the signature blocks.
Also how an amendment's stored before/after reads (years, objectives, funders, duration)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any, cast

from django.utils import timezone
from django.utils.translation import gettext as _

from core.models import Funder, Organisation
from core.money import to_money
from grants.models import Application

from .. import schedules
from ..models import Agreement, AgreementFunder, Instalment, InstalmentState
from .rendering import (
    BLANK,
    _Builder,
    euros,
    long_date,
)

# --------------------------------------------------------------------------------------------
# What the documents say, read from the data
# --------------------------------------------------------------------------------------------


def _document_date(agreement: Agreement) -> datetime.date:
    """The date the PDF carries: signature, else notification, else creation of the agreement."""
    if agreement.signed_on:
        return agreement.signed_on
    if agreement.notified_on:
        return agreement.notified_on
    if agreement.created_at:
        return timezone.localtime(agreement.created_at).date()
    return datetime.date(agreement.first_year, 1, 1)


def _funders(agreement: Agreement) -> list[AgreementFunder]:
    return list(agreement.funders.select_related("funder").order_by("pk"))


def _instalments(agreement: Agreement, *, version: int | None = None) -> list[Instalment]:
    rows = agreement.instalments.exclude(state=InstalmentState.CANCELLED).select_related(
        "year", "funder__funder"
    )
    if version is not None:
        rows = rows.filter(amendment_version=version)
    return sorted(
        rows,
        key=lambda i: (i.year.fiscal_year, i.earliest_date, i.number, i.funder_id, i.pk),
    )


def _amounts_by_funder(
    agreement: Agreement, links: list[AgreementFunder], instalments: list[Instalment]
) -> tuple[list[tuple[int, Decimal]], dict[tuple[int, int], Decimal]]:
    """Each year's amount and each funder's part of it: what the instalments plan when they add up
    to the year (they do, unless the agreement was terminated), else the funders' shares."""
    years = [(y.fiscal_year, y.amount) for y in agreement.years.order_by("fiscal_year")]
    planned: dict[tuple[int, int], Decimal] = {}
    for inst in instalments:
        key = (inst.year.fiscal_year, inst.funder_id)
        planned[key] = planned.get(key, Decimal("0")) + inst.amount
    parts: dict[tuple[int, int], Decimal] = {}
    for fiscal_year, amount in years:
        mine = {link.pk: planned.get((fiscal_year, link.pk), Decimal("0")) for link in links}
        if sum(mine.values()) != amount and links and amount > 0:
            split = schedules.split_between_funders(
                amount, [(str(link.pk), link.share) for link in links]
            )
            mine = {int(pk): part for pk, part in split}
        for pk, part in mine.items():
            parts[(fiscal_year, pk)] = to_money(part)
    return years, parts


def _current_objectives(agreement: Agreement) -> list[str]:
    """The objectives set by the latest amendment that changed them, else the application's."""
    for amendment in agreement.amendments.order_by("-version"):
        objectives = _objectives_of(amendment.after) if isinstance(amendment.after, dict) else None
        if objectives is not None:
            return objectives
    if agreement.application_id is None:
        return []
    return [o.text for o in cast(Application, agreement.application).objectives.all()]


def _address(organisation: Organisation) -> str:
    town = " ".join(x for x in (organisation.postcode, organisation.city) if x)
    return ", ".join(x for x in (organisation.address, town) if x) or BLANK


def _legal_form(organisation: Organisation) -> str:
    if organisation.legal_form == Organisation.LegalForm.ASSOCIATION:
        return _("association régie par la loi du 1er juillet 1901")
    return str(organisation.get_legal_form_display()).lower()


def _representative(organisation: Organisation) -> str:
    if organisation.legal_rep_name:
        role = organisation.legal_rep_role or _("représentant·e légal·e")
        return f"{organisation.legal_rep_name}, {role}"
    return _("%(blank)s, représentant·e légal·e") % {"blank": BLANK}


def _masked_iban(organisation: Organisation) -> str:
    """Bank details are not for every reader of the document: only the last 4 characters."""
    iban = (organisation.iban or "").replace(" ", "")
    if not iban:
        return ""
    return _("IBAN se terminant par %(end)s") % {"end": iban[-4:]}


def _funder_name(funder: Funder) -> str:
    if funder.siret:
        return _("%(name)s (SIRET %(siret)s)") % {"name": funder.name, "siret": funder.siret}
    return funder.name


def _designation(links: list[AgreementFunder]) -> str:
    return _("le financeur") if len(links) == 1 else _("les financeurs")


def _of_designation(links: list[AgreementFunder]) -> str:
    return _("du financeur") if len(links) == 1 else _("des financeurs")


def _each_designation(links: list[AgreementFunder]) -> str:
    """Subject of a verb in the singular: « le financeur » or « chaque financeur »."""
    return _("le financeur") if len(links) == 1 else _("chaque financeur")


def _years_label(agreement: Agreement) -> str:
    if agreement.duration_years == 1:
        return _("l'exercice budgétaire %(year)s") % {"year": agreement.first_year}
    return _("%(n)s exercices budgétaires, de %(first)s à %(last)s") % {
        "n": agreement.duration_years,
        "first": agreement.first_year,
        "last": agreement.last_year,
    }


def _in_words(number: int) -> str:
    """« six » for 6, as the model writes small numbers; figures beyond twelve."""
    words = _("zéro un deux trois quatre cinq six sept huit neuf dix onze douze").split()
    return words[number] if 0 <= number < len(words) else str(number)


def _years_short(agreement: Agreement) -> str:
    if agreement.duration_years == 1:
        return _("exercice %(year)s") % {"year": agreement.first_year}
    return _("exercices %(first)s à %(last)s") % {
        "first": agreement.first_year,
        "last": agreement.last_year,
    }


def _kind_label(inst: Instalment) -> str:
    return str(inst.get_kind_display())


def _conditions(inst: Instalment) -> str:
    parts = []
    if inst.requires_signature:
        parts.append(_("après signature"))
    if inst.requires_evaluation_of:
        parts.append(
            _("après acceptation de l'évaluation %(year)s") % {"year": inst.requires_evaluation_of}
        )
    if inst.requires_valid_documents:
        parts.append(_("pièces administratives à jour"))
    return " ; ".join(parts) or "—"


def _instalment_table(builder: _Builder, instalments: list[Instalment], *, funders: int) -> None:
    with_funder = funders > 1
    header = [_("Exercice"), _("N°"), _("Nature")]
    widths: list[float] = [1.9, 0.8, 2.2]
    if with_funder:
        header.append(_("Financeur"))
        widths.append(3.2)
    header += [_("Montant"), _("Au plus tôt le"), _("Conditions de versement")]
    widths += [2.6, 2.8, 4.6]
    rows = []
    for inst in instalments:
        row = [str(inst.year.fiscal_year), str(inst.number), _kind_label(inst)]
        if with_funder:
            row.append(inst.funder.funder.name)
        row += [euros(inst.amount), long_date(inst.earliest_date), _conditions(inst)]
        rows.append(row)
    total = [_("Total"), "", ""] + ([""] if with_funder else [])
    total += [euros(sum((i.amount for i in instalments), Decimal("0"))), "", ""]
    rows.append(total)
    amount_col = 4 if with_funder else 3
    builder.table(header, rows, widths=widths, numeric=[amount_col], total_rows=1)


def _amounts_table(
    builder: _Builder,
    years: list[tuple[int, Decimal]],
    links: list[AgreementFunder],
    parts: dict[tuple[int, int], Decimal],
) -> None:
    header = [_("Financeur")] + [str(fy) for fy, _amount in years] + [_("Total")]
    widths = [4.2] + [2.4] * len(years) + [2.6]
    rows = []
    for link in links:
        row_parts = [parts.get((fy, link.pk), Decimal("0")) for fy, _amount in years]
        rows.append(
            [link.funder.name] + [euros(p) for p in row_parts] + [euros(sum(row_parts, Decimal(0)))]
        )
    amounts = [amount for _fy, amount in years]
    rows.append([_("Total")] + [euros(a) for a in amounts] + [euros(sum(amounts, Decimal(0)))])
    builder.table(header, rows, widths=widths, numeric=range(1, len(header)), total_rows=1)


def _parties(builder: _Builder, agreement: Agreement, links: list[AgreementFunder]) -> None:
    """Between the funder(s) and the association: names, SIRET, address, representatives."""
    organisation = agreement.organisation
    builder.para(_("Entre :"), style="left")
    for link in links:
        builder.para(
            _(
                "%(funder)s, représenté(e) par %(blank)s, dûment habilité(e) à signer la présente "
                "convention,"
            )
            % {"funder": _funder_name(link.funder), "blank": BLANK}
        )
    builder.para(
        _("ci-après désigné « le financeur »,")
        if len(links) == 1
        else _("ci-après désignés ensemble « les financeurs »,"),
        style="left",
    )
    builder.para(_("d'une part,"), style="left")
    builder.para(_("Et :"), style="left")
    identifiers = _("SIRET %(siret)s") % {"siret": organisation.siret}
    if organisation.rna:
        identifiers += _(", RNA %(rna)s") % {"rna": organisation.rna}
    builder.para(
        _(
            "%(name)s, %(form)s, dont le siège est situé %(address)s, %(ids)s, représentée par "
            "%(rep)s,"
        )
        % {
            "name": organisation.name,
            "form": _legal_form(organisation),
            "address": _address(organisation),
            "ids": identifiers,
            "rep": _representative(organisation),
        }
    )
    builder.para(_("ci-après désignée « l'association »,"), style="left")
    builder.para(_("d'autre part,"), style="left")


def _signature_blocks(
    agreement: Agreement, links: list[AgreementFunder]
) -> list[tuple[str, list[str]]]:
    organisation = agreement.organisation
    blocks: list[tuple[str, list[str]]] = [
        (
            _("Pour %(funder)s") % {"funder": link.funder.name},
            [_("Nom, qualité et signature :"), BLANK],
        )
        for link in links
    ]
    blocks.append(
        (
            _("Pour l'association %(name)s") % {"name": organisation.name},
            [_representative(organisation), _("Signature :")],
        )
    )
    return blocks


def _signed_at(agreement: Agreement, copies: int) -> str:
    return _("Fait en %(copies)s exemplaires originaux, à %(place)s, le %(date)s.") % {
        "copies": copies,
        "place": BLANK,
        "date": long_date(agreement.signed_on),
    }


# --------------------------------------------------------------------------------------------
# How an amendment's stored before/after reads
# --------------------------------------------------------------------------------------------


def _as_decimal(value: Any) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


def _years_of(side: dict[str, Any]) -> dict[int, Decimal]:
    """`years` as {"2026": "30000.00"} or [{"fiscal_year": 2026, "amount": "30000.00"}]."""
    raw = side.get("years")
    rows: dict[int, Decimal] = {}
    if isinstance(raw, dict):
        for key, value in raw.items():
            amount = _as_decimal(value)
            if str(key).isdigit() and amount is not None:
                rows[int(key)] = amount
    elif isinstance(raw, list):
        for item in raw:
            if isinstance(item, dict):
                year = item.get("fiscal_year", item.get("year"))
                amount = _as_decimal(item.get("amount"))
                if year is not None and str(year).isdigit() and amount is not None:
                    rows[int(year)] = amount
    return rows


def _objectives_of(side: dict[str, Any]) -> list[str] | None:
    raw = side.get("objectives")
    if raw is None:
        return None
    return [str(o.get("text", "")) if isinstance(o, dict) else str(o) for o in raw]


def _funders_of(side: dict[str, Any]) -> dict[str, tuple[Decimal | None, str]] | None:
    """`funders` as stored by `amendment_create`: a list of {"funder": name, "funder_id": pk,
    "share": "0.6", "ej_number": …}; a bare id in "funder" is looked up. Name → (share, EJ)."""
    raw = side.get("funders")
    if not isinstance(raw, list):
        return None
    rows: list[dict[str, Any]] = [row for row in raw if isinstance(row, dict)]
    ids: list[Any] = [
        row.get("funder_id", row.get("funder"))
        for row in rows
        if isinstance(row.get("funder_id", row.get("funder")), int)
    ]
    names: dict[Any, str] = dict(Funder.objects.filter(pk__in=ids).values_list("pk", "name"))
    out: dict[str, tuple[Decimal | None, str]] = {}
    for row in rows:
        ref = row.get("funder")
        name = row.get("funder_name") or row.get("name")
        if not name:
            name = ref if isinstance(ref, str) else names.get(row.get("funder_id", ref), ref)
        out[str(name)] = (_as_decimal(row.get("share")), str(row.get("ej_number") or ""))
    return out


def _choice_label(choices: Any, value: Any) -> str:
    return str(dict(choices.choices).get(value, value)) if value not in (None, "") else "—"


_KNOWN = {
    "years",
    "objectives",
    "funders",
    "total",
    "total_amount",
    "duration_years",
    "version",
    "kind",
    "profile",
    "partner_parts",
}


def _duration_of(side: dict[str, Any], years: dict[int, Decimal]) -> str:
    value = side.get("duration_years")
    if value is None and not years:
        return ""
    count = int(value) if value is not None else len(years)
    text = _("%(n)s exercice(s)") % {"n": count}
    if years:
        text += f" ({min(years)}–{max(years)})"
    return text


def _total_of(side: dict[str, Any], years: dict[int, Decimal]) -> Decimal | None:
    for key in ("total_amount", "total"):
        value = _as_decimal(side.get(key))
        if value is not None:
            return value
    return sum(years.values(), Decimal("0")) if years else None


def _plain(value: Any) -> str:
    if isinstance(value, list):
        return " ; ".join(_plain(v) for v in value)
    if isinstance(value, dict):
        return " ; ".join(f"{k} : {_plain(v)}" for k, v in sorted(value.items()))
    return "—" if value in (None, "") else str(value)
