"""The partnership annex of a collective file (docs/domain.md §9): the lead receives the whole
subsidy and passes each partner its part; the annex, signed by the lead and every partner, says
who carries which actions, which part each receives, when the lead passes it on, and that each
partner reports to the lead, who files the whole annual evaluation."""

from __future__ import annotations

from decimal import Decimal
from typing import cast

from django.utils import translation
from django.utils.translation import gettext as _

from grants.models import Application, ApplicationPartner, PartnerState, PaymentFlow

from ..models import Agreement
from .facts import _address, _document_date, _representative
from .rendering import RenderedDocument, _Builder, euros, long_date


def accepted_partners(application: Application) -> list[ApplicationPartner]:
    return list(
        application.partners.filter(state=PartnerState.ACCEPTED)
        .select_related("organisation")
        .order_by("pk")
    )


def has_partnership_annex(agreement: Agreement) -> bool:
    """The annex exists for an agreement paid to the lead of a collective file."""
    application = agreement.application
    return (
        application is not None
        and application.payment_flow == PaymentFlow.LEAD
        and application.partners.filter(state=PartnerState.ACCEPTED).exists()
    )


def render_partnership_annex(agreement: Agreement, *, compress: bool = True) -> RenderedDocument:
    """The partnership agreement annexed to the agreement of a collective file paid to the lead."""
    with translation.override("fr"):
        return _render(agreement, compress=compress)


def _render(agreement: Agreement, *, compress: bool) -> RenderedDocument:
    application = cast(Application, agreement.application)
    lead = agreement.organisation
    partners = accepted_partners(application)
    title = _("Convention de partenariat")
    b = _Builder(
        title=f"{title} — {agreement.reference}",
        footer=f"{agreement.reference} — {_('Annexe')} — {title}",
        doc_date=_document_date(agreement),
        author=lead.name,
    )
    b.h1(
        title,
        _("Annexe à la convention %(ref)s — dossier collectif « %(title)s » (%(app)s)")
        % {"ref": agreement.reference, "title": application.title, "app": application.reference},
    )
    b.h2(_("Entre les parties"))
    b.para(
        _(
            "%(org)s, SIRET %(siret)s, %(address)s, représentée par %(rep)s, chef de file du "
            "dossier, bénéficiaire de la subvention,"
        )
        % {
            "org": lead.name,
            "siret": lead.siret,
            "address": _address(lead),
            "rep": _representative(lead),
        }
    )
    for partner in partners:
        org = partner.organisation
        assert org is not None
        b.para(
            _("%(org)s, SIRET %(siret)s, %(address)s, représentée par %(rep)s, partenaire,")
            % {
                "org": org.name,
                "siret": org.siret,
                "address": _address(org),
                "rep": _representative(org),
            }
        )
    b.h2(_("Article 1 — Objet"))
    b.para(
        _(
            "Les parties portent ensemble l'action « %(title)s », subventionnée par la convention "
            "%(ref)s pour un montant total de %(total)s. La subvention est versée au chef de file, "
            "qui reverse à chaque partenaire la part qui lui revient ci-dessous."
        )
        % {
            "title": application.title,
            "ref": agreement.reference,
            "total": euros(agreement.total_amount),
        }
    )
    b.h2(_("Article 2 — Rôle et part de chacun"))
    lead_part = agreement.total_amount - sum(
        (p.approved_amount or Decimal("0") for p in partners), Decimal("0")
    )
    rows = [[lead.name, _("Chef de file"), euros(lead_part)]]
    rows += [
        [str(p.organisation), p.role or "—", euros(p.approved_amount or Decimal("0"))]
        for p in partners
    ]
    rows.append([_("Total"), "", euros(agreement.total_amount)])
    b.table(
        [_("Organisation"), _("Rôle"), _("Part de la subvention")],
        rows,
        widths=[3, 3, 2],
        numeric=[2],
        total_rows=1,
    )
    for p in partners:
        if p.actions:
            b.para(p.actions, bold_prefix=f"{p.organisation} :")
    b.h2(_("Article 3 — Reversement"))
    b.para(
        _(
            "Le chef de file reverse à chaque partenaire sa part, au prorata de chaque versement "
            "reçu, dans un délai de trente jours après sa réception."
        )
    )
    b.h2(_("Article 4 — Compte rendu"))
    b.para(
        _(
            "Chaque partenaire remet au chef de file le compte rendu de sa part (activité, "
            "budget réalisé, indicateurs) ; le chef de file dépose l'évaluation annuelle de "
            "l'ensemble auprès du financeur et répond des sommes reçues."
        )
    )
    b.signatures(
        _("Fait le %(date)s, en %(n)d exemplaires.")
        % {"date": long_date(_document_date(agreement)), "n": len(partners) + 1},
        [
            (lead.name, [_("Chef de file"), _representative(lead)]),
            *[
                (str(p.organisation), [_("Partenaire"), _representative(p.organisation)])
                for p in partners
                if p.organisation is not None
            ],
        ],
    )
    return b.render(f"{agreement.reference}-partenariat.pdf", compress=compress)
