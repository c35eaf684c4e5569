"""The agreement (convention / convention pluriannuelle d'objectifs), article by article."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from django.utils import translation
from django.utils.translation import gettext as _

from grants.models import Application

from ..models import Agreement, AgreementFunder, Instalment
from .clauses import write_clauses
from .facts import (
    _amounts_by_funder,
    _amounts_table,
    _current_objectives,
    _designation,
    _document_date,
    _each_designation,
    _funders,
    _in_words,
    _instalment_table,
    _instalments,
    _masked_iban,
    _of_designation,
    _parties,
    _signature_blocks,
    _signed_at,
    _years_label,
    _years_short,
)
from .rendering import (
    NBSP,
    RenderedDocument,
    _Builder,
    euros,
    long_date,
    percent,
)

AGREEMENT_TEMPLATE = "cpo/documents/agreement.txt"

# --------------------------------------------------------------------------------------------
# The agreement (convention / CPO)
# --------------------------------------------------------------------------------------------


def _agreement_title(agreement: Agreement) -> str:
    if agreement.duration_years > 1:
        return _("Convention pluriannuelle d'objectifs")
    return _("Convention d'objectifs")


def render_agreement(agreement: Agreement, *, compress: bool = True) -> RenderedDocument:
    """The agreement, article by article, following the model of the circulaire n° 5811/SG of
    29 September 2015 (convention pluriannuelle d'objectifs)."""
    with translation.override("fr"):
        return _render_agreement(agreement, compress=compress)


def _render_agreement(agreement: Agreement, *, compress: bool) -> RenderedDocument:
    # Agreements are created from an approved application (cpo.services.creation).
    application = cast(Application, agreement.application)
    links = _funders(agreement)
    instalments = _instalments(agreement)
    years, parts = _amounts_by_funder(agreement, links, instalments)
    title = _agreement_title(agreement)
    b = _Builder(
        title=f"{title} {agreement.reference}",
        footer=f"{agreement.reference} — {title}",
        doc_date=_document_date(agreement),
        author=", ".join(link.funder.name for link in links),
    )
    subtitle = _("N° %(ref)s — %(years)s") % {
        "ref": agreement.reference,
        "years": _years_short(agreement),
    }
    if agreement.version > 1:
        subtitle += _(" — version %(v)s (avenants inclus)") % {"v": agreement.version}
    b.h1(title, subtitle)
    indicators = list(application.indicators.all())
    evaluations = list(agreement.evaluations.order_by("fiscal_year"))
    context: dict[str, Any] = {
        "application_reference": application.reference,
        "decided_on": long_date(application.decided_at),
        "title": agreement.title,
        "programme": agreement.programme.name,
        "summary": application.summary.strip(),
        "objectives": _current_objectives(agreement),
        "has_indicators": bool(indicators),
        "qpvs": ", ".join(f"{q.name} ({q.code})" for q in application.qpvs.order_by("code")),
        "single_funder": len(links) == 1,
        "funders": _designation(links),
        "funders_capitalized": _designation(links).capitalize(),
        "of_funders": _of_designation(links),
        "each_funder": _each_designation(links),
        "each_funder_capitalized": _each_designation(links).capitalize(),
        "years_label": _years_label(agreement),
        "first_year": agreement.first_year,
        "last_year": agreement.last_year,
        "multi_year": agreement.duration_years > 1,
        "total": euros(agreement.total_amount),
        "commitments": [
            {"funder": link.funder.name, "ej": link.ej_number} for link in links if link.ej_number
        ],
        "evaluation_months": _in_words(agreement.evaluation_delay_months),
        "has_evaluations": bool(evaluations),
        "amendments": [
            {
                "number": a.version - 1,
                "effective_on": long_date(a.effective_on),
                "reason": a.reason,
            }
            for a in agreement.amendments.order_by("version")
        ],
        "surplus_percent": (
            percent(agreement.surplus_allowance_percent)
            if agreement.surplus_allowance_percent > 0
            else ""
        ),
        **payment_terms_context(agreement, instalments, links),
    }
    write_clauses(
        b,
        AGREEMENT_TEMPLATE,
        context,
        {
            "parties": lambda: _parties(b, agreement, links),
            "indicators": lambda: b.table(
                [_("Indicateur"), _("Cible")],
                [[i.label, f"{_number(i.target)} {i.unit}".strip()] for i in indicators],
                widths=[12, 4],
                numeric=[1],
            ),
            "amounts": lambda: _amounts_table(b, years, links, parts),
            "instalments": lambda: _instalment_table(b, instalments, funders=len(links)),
            "evaluations": lambda: b.table(
                [_("Exercice évalué"), _("À transmettre au plus tard le"), _("Nature")],
                [
                    [
                        str(e.fiscal_year),
                        long_date(e.due_on),
                        _("évaluation finale") if e.is_final else _("évaluation annuelle"),
                    ]
                    for e in evaluations
                ],
                widths=[3, 5, 5],
            ),
            "signatures": lambda: b.signatures(
                _signed_at(agreement, len(links) + 1), _signature_blocks(agreement, links)
            ),
        },
    )
    return b.render(f"{agreement.reference}-convention.pdf", compress=compress)


def _number(value: Decimal) -> str:
    """A figure (not money): « 1 250 », « 12,5 »."""
    text = euros(value).replace(f"{NBSP}€", "")
    return text[:-3] if text.endswith(",00") else text.rstrip("0")


def payment_terms_context(
    agreement: Agreement, instalments: list[Instalment], links: list[AgreementFunder]
) -> dict[str, Any]:
    """What `cpo/documents/_payment_terms.txt` needs (the agreement's and the letter's terms)."""
    return {
        "funders": _designation(links),
        "masked_iban": _masked_iban(agreement.organisation),
        "has_advance": any(inst.kind == Instalment.Kind.ADVANCE for inst in instalments),
        "advance_cap": percent(agreement.advance_cap_percent),
        "has_instalments": bool(instalments),
    }
