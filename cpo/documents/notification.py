"""The notification letter (décision attributive) of an award that needs no written agreement."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from ..models import Agreement
from .agreement import (
    _payment_terms,
)
from .facts import (
    _address,
    _amounts_by_funder,
    _amounts_table,
    _current_objectives,
    _document_date,
    _funders,
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

# --------------------------------------------------------------------------------------------
# The notification letter (décision attributive)
# --------------------------------------------------------------------------------------------


def render_notification(agreement: Agreement, *, compress: bool = True) -> RenderedDocument:
    """The notification letter of an award that needs no written agreement (23 000 € a year or
    less, loi n° 2000-321 art. 10): amount, object, payment terms, obligations, appeal."""
    with translation.override("fr"):
        return _render_notification(agreement, compress=compress)


def _render_notification(agreement: Agreement, *, compress: bool) -> RenderedDocument:
    application = agreement.application
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
    b.para(
        _("Notification d'une subvention — dossier %(ref)s") % {"ref": application.reference},
        bold_prefix=_("Objet :"),
    )
    b.para(_("Madame, Monsieur,"), style="left")
    b.para(
        _(
            "J'ai l'honneur de vous notifier l'attribution à %(name)s (SIRET %(siret)s) d'une "
            "subvention de %(total)s pour le projet « %(title)s », au titre de %(years)s du "
            "programme « %(programme)s »."
        )
        % {
            "name": organisation.name,
            "siret": organisation.siret,
            "total": euros(agreement.total_amount),
            "title": agreement.title,
            "years": _years_label(agreement),
            "programme": agreement.programme.name,
        }
    )
    b.para(
        _(
            "Le montant annuel de cette subvention n'excédant pas %(threshold)s, la présente "
            "décision en fixe les conditions sans qu'une convention soit nécessaire (loi "
            "n° 2000-321 du 12 avril 2000, art. 10 ; décret n° 2001-495 du 6 juin 2001)."
        )
        % {"threshold": euros(Decimal(str(settings.AGREEMENT_THRESHOLD)))}
    )

    b.h2(_("1. Objet de la subvention"))
    if application.summary.strip():
        b.para(application.summary.strip())
    objectives = _current_objectives(agreement)
    if objectives:
        b.para(_("Objectifs :"), style="left")
        b.bullets(objectives)

    b.h2(_("2. Montant"))
    if len(links) > 1 or len(years) > 1:
        _amounts_table(b, years, links, parts)
    else:
        b.para(
            _("%(funder)s : %(amount)s (exercice %(year)s).")
            % {
                "funder": links[0].funder.name if links else BLANK,
                "amount": euros(agreement.total_amount),
                "year": agreement.first_year,
            }
        )
    b.bullets(
        _("%(funder)s : engagement juridique n° %(ej)s")
        % {"funder": link.funder.name, "ej": link.ej_number}
        for link in links
        if link.ej_number
    )

    b.h2(_("3. Modalités de versement"))
    _payment_terms(b, agreement, instalments, links)

    b.h2(_("4. Obligations de l'association"))
    due = list(agreement.evaluations.order_by("fiscal_year"))
    b.bullets(
        [
            _("employer la subvention conformément à l'objet décrit ci-dessus, et à aucun autre ;"),
            _(
                "transmettre, au plus tard le %(date)s, le compte rendu financier conforme à "
                "l'arrêté du 11 octobre 2006 (formulaire CERFA n° 15059), le rapport d'activité "
                "et les comptes annuels approuvés ;"
            )
            % {"date": ", ".join(long_date(e.due_on) for e in due) or BLANK},
            _(
                "mentionner le soutien de %(who)s dans ses supports de communication relatifs au "
                "projet ;"
            )
            % {"who": ", ".join(link.funder.name for link in links)},
            _(
                "informer sans délai de toute modification de ses statuts, de sa représentation "
                "légale, de ses coordonnées bancaires ou du projet, et faciliter le contrôle de "
                "l'emploi de la subvention ;"
            ),
            _(
                "reverser la part de la subvention non consommée ou employée à un autre objet%(surplus)s."
            )
            % {
                "surplus": (
                    _(", au-delà d'un excédent raisonnable de %(percent)s")
                    % {"percent": percent(agreement.surplus_allowance_percent)}
                    if agreement.surplus_allowance_percent > 0
                    else ""
                )
            },
        ]
    )

    b.h2(_("5. Voies et délais de recours"))
    b.para(
        _(
            "La présente décision peut faire l'objet d'un recours gracieux auprès de son auteur ou "
            "d'un recours contentieux devant le tribunal administratif compétent dans un délai de "
            "deux mois à compter de sa notification."
        )
    )
    b.para(
        _("Je vous prie d'agréer, Madame, Monsieur, l'expression de mes salutations distinguées."),
        style="left",
    )
    b.signatures(
        _("Fait à %(place)s, le %(date)s.")
        % {"place": BLANK, "date": long_date(agreement.notified_on or agreement.signed_on)},
        [
            (
                _("Pour %(funder)s") % {"funder": link.funder.name},
                [_("Nom, qualité et signature :")],
            )
            for link in links
        ],
    )
    return b.render(f"{agreement.reference}-decision.pdf", compress=compress)
