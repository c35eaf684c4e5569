"""The notification letter (décision attributive) of an award that needs no written agreement."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from grants.models import Application

from ..models import Agreement
from .agreement import (
    payment_terms_context,
)
from .clauses import write_clauses
from .facts import (
    _address,
    _amounts_by_funder,
    _amounts_table,
    _current_objectives,
    _document_date,
    _funders,
    _instalment_table,
    _instalments,
    _representative,
    _years_label,
    _years_short,
)
from .rendering import (
    BLANK,
    RenderedDocument,
    _Builder,
    euros,
    long_date,
    percent,
)

NOTIFICATION_TEMPLATE = "cpo/documents/notification.txt"

# --------------------------------------------------------------------------------------------
# The notification letter (décision attributive)
# --------------------------------------------------------------------------------------------


def render_notification(agreement: Agreement, *, compress: bool = True) -> RenderedDocument:
    """The notification letter of an award that needs no written agreement (23 000 € a year or
    less, loi n° 2000-321 art. 10): amount, object, payment terms, obligations, appeal."""
    with translation.override("fr"):
        return _render_notification(agreement, compress=compress)


def _render_notification(agreement: Agreement, *, compress: bool) -> RenderedDocument:
    # Agreements are created from an approved application (cpo.services.creation).
    application = cast(Application, agreement.application)
    organisation = agreement.organisation
    links = _funders(agreement)
    instalments = _instalments(agreement)
    years, parts = _amounts_by_funder(agreement, links, instalments)
    title = _("Décision attributive de subvention")
    b = _Builder(
        title=f"{title} {agreement.reference}",
        footer=f"{agreement.reference} — {title}",
        doc_date=_document_date(agreement),
        author=", ".join(link.funder.name for link in links),
    )
    b.para("\n".join(link.funder.name for link in links), style="left")
    rep = organisation.legal_rep_name
    recipient = [organisation.name]
    if rep:
        recipient.append(_("À l'attention de %(rep)s") % {"rep": _representative(organisation)})
    recipient.append(_address(organisation))
    b.para("\n".join(recipient), style="right")
    b.para(
        _("Le %(date)s") % {"date": long_date(agreement.notified_on or agreement.signed_on)},
        style="right",
    )
    b.h1(
        title,
        _("N° %(ref)s — %(years)s")
        % {"ref": agreement.reference, "years": _years_short(agreement)},
    )
    due = list(agreement.evaluations.order_by("fiscal_year"))
    context: dict[str, Any] = {
        "application_reference": application.reference,
        "organisation": organisation.name,
        "siret": organisation.siret,
        "total": euros(agreement.total_amount),
        "title": agreement.title,
        "years_label": _years_label(agreement),
        "programme": agreement.programme.name,
        "threshold": euros(Decimal(str(settings.AGREEMENT_THRESHOLD))),
        "summary": application.summary.strip(),
        "objectives": _current_objectives(agreement),
        "amounts_table": len(links) > 1 or len(years) > 1,
        "single_funder": links[0].funder.name if links else BLANK,
        "first_year": agreement.first_year,
        "commitments": [
            {"funder": link.funder.name, "ej": link.ej_number} for link in links if link.ej_number
        ],
        "report_due_on": ", ".join(long_date(e.due_on) for e in due) or BLANK,
        "funder_names": ", ".join(link.funder.name for link in links),
        "surplus_percent": (
            percent(agreement.surplus_allowance_percent)
            if agreement.surplus_allowance_percent > 0
            else ""
        ),
        **payment_terms_context(agreement, instalments, links),
    }
    write_clauses(
        b,
        NOTIFICATION_TEMPLATE,
        context,
        {
            "amounts": lambda: _amounts_table(b, years, links, parts),
            "instalments": lambda: _instalment_table(b, instalments, funders=len(links)),
            "signatures": lambda: b.signatures(
                _("Fait à %(place)s, le %(date)s.")
                % {"place": BLANK, "date": long_date(agreement.notified_on or agreement.signed_on)},
                [
                    (
                        _("Pour %(funder)s") % {"funder": link.funder.name},
                        [_("Nom, qualité et signature :")],
                    )
                    for link in links
                ],
            ),
        },
    )
    return b.render(f"{agreement.reference}-decision.pdf", compress=compress)
