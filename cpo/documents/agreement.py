"""The agreement (convention / convention pluriannuelle d'objectifs), article by article."""

from __future__ import annotations

from decimal import Decimal

from django.utils import translation
from django.utils.translation import gettext as _

from ..models import Agreement, AgreementFunder, Instalment
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
    application = agreement.application
    links = _funders(agreement)
    instalments = _instalments(agreement)
    years, parts = _amounts_by_funder(agreement, links, instalments)
    title = _agreement_title(agreement)
    who = _designation(links)
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
    _parties(b, agreement, links)

    # Préambule
    b.h2(_("Préambule"))
    b.bullets(
        [
            _(
                "Vu la loi n° 2000-321 du 12 avril 2000 relative aux droits des citoyens dans leurs "
                "relations avec les administrations, notamment ses articles 9-1 et 10 ;"
            ),
            _(
                "Vu le décret n° 2001-495 du 6 juin 2001 pris pour l'application de l'article 10 de "
                "la loi n° 2000-321 et relatif à la transparence financière des aides octroyées "
                "par les personnes publiques ;"
            ),
            _(
                "Vu la loi n° 2014-173 du 21 février 2014 de programmation pour la ville et la "
                "cohésion urbaine ;"
            ),
            _(
                "Vu la circulaire n° 5811/SG du Premier ministre du 29 septembre 2015 relative aux "
                "nouvelles relations entre les pouvoirs publics et les associations ;"
            ),
            _(
                "Vu l'arrêté du 11 octobre 2006 relatif au compte rendu financier prévu par "
                "l'article 10 de la loi n° 2000-321 (formulaire CERFA n° 15059) ;"
            ),
            _(
                "Vu la demande de subvention déposée par l'association (dossier %(ref)s) et la "
                "décision d'attribution du %(decided)s ;"
            )
            % {"ref": application.reference, "decided": long_date(application.decided_at)},
        ]
    )
    b.para(
        _(
            "Considérant le projet « %(title)s » initié et conçu par l'association, conforme à son "
            "objet statutaire ;"
        )
        % {"title": agreement.title}
    )
    b.para(
        _(
            "Considérant le programme « %(programme)s » %(who)s, et que ce projet participe de "
            "cette politique publique ;"
        )
        % {"programme": agreement.programme.name, "who": _of_designation(links)}
    )
    b.para(_("Il a été convenu ce qui suit :"), style="left")

    # Article 1
    b.h2(_("Article 1 — Objet de la convention et objectifs"))
    b.para(
        _(
            "Par la présente convention, l'association s'engage, à son initiative et sous sa "
            "responsabilité, à mettre en œuvre, en cohérence avec les orientations de politique "
            "publique mentionnées au préambule, le projet « %(title)s »."
        )
        % {"title": agreement.title}
    )
    if application.summary.strip():
        b.para(application.summary.strip(), bold_prefix=_("Description :"))
    objectives = _current_objectives(agreement)
    if objectives:
        b.para(_("Les objectifs du projet sont les suivants :"), style="left")
        b.bullets(objectives)
    else:
        b.para(
            _("Les objectifs du projet sont ceux décrits dans le dossier %(ref)s.")
            % {"ref": application.reference}
        )
    indicators = list(application.indicators.all())
    if indicators:
        b.para(
            _("Leur réalisation est mesurée chaque année par les indicateurs suivants :"),
            style="left",
        )
        b.table(
            [_("Indicateur"), _("Cible")],
            [[i.label, f"{_number(i.target)} {i.unit}".strip()] for i in indicators],
            widths=[12, 4],
            numeric=[1],
        )
    qpvs = list(application.qpvs.order_by("code"))
    if qpvs:
        b.para(
            ", ".join(f"{q.name} ({q.code})" for q in qpvs),
            bold_prefix=_("Quartiers prioritaires concernés :"),
        )
    b.para(
        _(
            "%(who)s contribue financièrement à ce projet d'intérêt général ; il n'attend aucune "
            "contrepartie directe de cette contribution."
        )
        % {"who": who.capitalize()}
        if len(links) == 1
        else _(
            "Les financeurs contribuent financièrement à ce projet d'intérêt général ; ils "
            "n'attendent aucune contrepartie directe de cette contribution."
        )
    )

    # Article 2
    b.h2(_("Article 2 — Durée de la convention"))
    b.para(
        _(
            "La présente convention est conclue pour %(years)s. Elle prend effet à la date de sa "
            "signature par la dernière des parties et prend fin après l'acceptation de "
            "l'évaluation finale de l'exercice %(last)s et le versement du solde ou, le cas "
            "échéant, le reversement prévu à l'article 8."
        )
        % {"years": _years_label(agreement), "last": agreement.last_year}
    )

    # Article 3
    b.h2(_("Article 3 — Montant de la contribution financière"))
    b.para(
        _(
            "Le montant total de la contribution financière est de %(total)s, réparti par exercice "
            "et par financeur comme suit :"
        )
        % {"total": euros(agreement.total_amount)}
    )
    _amounts_table(b, years, links, parts)
    commitments = [
        _("%(funder)s : engagement juridique n° %(ej)s")
        % {"funder": link.funder.name, "ej": link.ej_number}
        for link in links
        if link.ej_number
    ]
    b.bullets(commitments)
    if agreement.duration_years > 1:
        b.para(
            _(
                "Les contributions des exercices postérieurs à %(first)s sont versées sous réserve "
                "de l'inscription des crédits correspondants au budget %(who)s (principe "
                "d'annualité budgétaire), du respect par l'association de ses obligations et de "
                "l'acceptation des évaluations annuelles prévues à l'article 5."
            )
            % {"first": agreement.first_year, "who": _of_designation(links)}
        )

    # Article 4
    b.h2(_("Article 4 — Modalités de versement"))
    _payment_terms(b, agreement, instalments, links)

    # Article 5
    b.h2(_("Article 5 — Justificatifs et évaluation annuelle"))
    _reports(b, agreement, links)

    # Article 6
    b.h2(_("Article 6 — Avenants"))
    b.para(
        _(
            "Toute modification des montants, de la durée, des objectifs ou de la répartition "
            "entre financeurs fait l'objet d'un avenant écrit signé des parties, qui en précise le "
            "motif et la date d'effet. Les sommes déjà versées ne sont jamais remises en cause : "
            "seules les échéances à venir sont recalculées. La demande de modification est "
            "adressée par lettre recommandée avec accusé de réception ; l'autre partie dispose "
            "d'un délai de deux mois pour y répondre."
        )
    )
    amendments = list(agreement.amendments.order_by("version"))
    if amendments:
        b.para(_("La présente version intègre les avenants suivants :"), style="left")
        b.bullets(
            _("Avenant n° %(n)s, prenant effet le %(date)s : %(reason)s")
            % {"n": a.version - 1, "date": long_date(a.effective_on), "reason": a.reason}
            for a in amendments
        )

    # Article 7
    b.h2(_("Article 7 — Suspension et résiliation"))
    b.para(
        _(
            "En cas de retard dans la transmission des justificatifs, de rejet de l'évaluation "
            "annuelle ou de modification substantielle des conditions d'exécution du projet sans "
            "accord écrit, %(who)s peut suspendre les versements."
        )
        % {"who": _each_designation(links)}
    )
    b.para(
        _(
            "En cas d'inexécution de ses obligations par l'une des parties, la présente convention "
            "peut être résiliée de plein droit par l'autre partie, sans préjudice de tous autres "
            "droits qu'elle pourrait faire valoir, à l'expiration d'un délai de deux mois suivant "
            "l'envoi d'une lettre recommandée avec accusé de réception valant mise en demeure "
            "restée sans effet. La résiliation annule les échéances non encore versées."
        )
    )

    # Article 8
    b.h2(_("Article 8 — Reversement"))
    b.para(
        _(
            "%(who)s peut exiger le reversement de tout ou partie des sommes versées lorsqu'elles "
            "n'ont pas été consommées ou ont été employées à un autre objet que le projet "
            "défini à l'article 1, après avoir mis l'association en mesure de présenter ses "
            "observations."
        )
        % {"who": _each_designation(links).capitalize()}
    )
    if agreement.surplus_allowance_percent > 0:
        b.para(
            _(
                "Conformément à la loi n° 2000-321 modifiée par la loi n° 2021-875 du 1er juillet "
                "2021, l'association peut conserver un excédent raisonnable, dans la limite de "
                "%(percent)s du montant de la contribution de l'exercice concerné ; au-delà, la "
                "part non consommée est reversée."
            )
            % {"percent": percent(agreement.surplus_allowance_percent)}
        )
    else:
        b.para(
            _(
                "La présente convention ne prévoit pas d'excédent raisonnable : toute part non "
                "consommée de la contribution est reversée."
            )
        )
    b.para(
        _(
            "Le reversement est demandé par un titre de recette ou, avec l'accord de "
            "l'association, compensé sur une échéance ultérieure de la présente convention."
        )
    )

    b.signatures(_signed_at(agreement, len(links) + 1), _signature_blocks(agreement, links))
    return b.render(f"{agreement.reference}-convention.pdf", compress=compress)


def _number(value: Decimal) -> str:
    """A figure (not money): « 1 250 », « 12,5 »."""
    text = euros(value).replace(f"{NBSP}€", "")
    return text[:-3] if text.endswith(",00") else text.rstrip("0")


def _payment_terms(
    b: _Builder, agreement: Agreement, instalments: list[Instalment], links: list[AgreementFunder]
) -> None:
    who = _designation(links)
    bank = _masked_iban(agreement.organisation)
    account = (
        _("sur le compte bancaire de l'association (%(iban)s)") % {"iban": bank}
        if bank
        else _("sur le compte bancaire de l'association, dont elle transmet le RIB")
    )
    b.para(
        _("La contribution est versée par %(who)s selon l'échéancier ci-dessous, %(account)s.")
        % {"who": who, "account": account}
    )
    kinds = {inst.kind for inst in instalments}
    if Instalment.Kind.ADVANCE in kinds:
        b.para(
            _(
                "Chaque exercice donne lieu à une avance versée en début d'exercice, qui n'excède "
                "pas %(cap)s du montant de l'exercice, puis à un solde. À partir du deuxième "
                "exercice, le solde n'est versé qu'après l'acceptation de l'évaluation de "
                "l'exercice précédent (article 5)."
            )
            % {"cap": percent(agreement.advance_cap_percent)}
        )
    b.para(
        _(
            "Une échéance n'est versée qu'une fois réunies les conditions indiquées. Sauf date ou "
            "condition fixée ci-dessous, la subvention est versée dans un délai de soixante jours "
            "à compter de la notification de la décision (loi n° 2000-321, art. 10, dans sa "
            "rédaction issue de la loi n° 2021-875 du 1er juillet 2021, art. 2)."
        )
    )
    if instalments:
        _instalment_table(b, instalments, funders=len(links))


def _reports(b: _Builder, agreement: Agreement, links: list[AgreementFunder]) -> None:
    delay = agreement.evaluation_delay_months
    b.para(
        _("Dans les %(months)s mois suivant la fin de chaque exercice, l'association transmet :")
        % {"months": _in_words(delay)},
        style="left",
    )
    b.bullets(
        [
            _(
                "le compte rendu financier du projet, conforme à l'arrêté du 11 octobre 2006 "
                "(formulaire CERFA n° 15059), signé par le ou la représentant·e légal·e ;"
            ),
            _("le rapport d'activité de l'exercice ;"),
            _("les valeurs atteintes des indicateurs mentionnés à l'article 1 ;"),
            _(
                "les comptes annuels approuvés et, le cas échéant, le rapport du commissaire aux "
                "comptes."
            ),
        ]
    )
    evaluations = list(agreement.evaluations.order_by("fiscal_year"))
    if evaluations:
        b.table(
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
        )
    b.para(
        _(
            "Ces documents sont examinés par %(who)s ; l'évaluation est acceptée, acceptée avec "
            "réserves ou rejetée. L'acceptation libère les échéances qui en dépendent ; le rejet "
            "les suspend et peut conduire à un avenant (article 6), à la résiliation (article 7) "
            "ou à un reversement (article 8). L'évaluation du dernier exercice porte sur "
            "l'ensemble du projet et clôt la convention."
        )
        % {"who": _designation(links)}
    )
    b.para(
        _(
            "L'association informe sans délai %(who)s de toute modification de ses statuts, de sa "
            "représentation légale ou de ses coordonnées bancaires, et facilite le contrôle sur "
            "pièces et sur place de l'emploi de la contribution."
        )
        % {"who": _designation(links)}
    )
