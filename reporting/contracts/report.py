"""The content of the steering minutes and of the annual report on city policy (CGCT art.
L. 1111-2, décret n° 2015-1118; docs/domain.md §8): built from the data, rendered as PDF or ODT."""

from __future__ import annotations

from django.db.models import Avg, Count, F
from django.utils.translation import gettext as _

from contracts.models import Contract, Decision, Meeting, Opinion
from grants.models import Application

from .documents import Doc, euros
from .observatory import indicator_rows
from .selectors import contract_programme_parts, follow_up


def minutes(meeting: Meeting) -> Doc:
    contract = meeting.contract
    doc = Doc(
        title=_("Relevé de décisions — %(m)s") % {"m": meeting},
        subtitle=str(contract),
        doc_date=meeting.held_on,
    )
    doc.heading(_("Participant·es"))
    names = [u.get_full_name() or u.email for u in meeting.attendees.all()]
    names += [n.strip() for n in meeting.other_attendees.splitlines() if n.strip()]
    doc.para(", ".join(names) or _("Non renseigné"))
    if meeting.agenda:
        doc.heading(_("Ordre du jour"))
        doc.para(meeting.agenda)
    doc.heading(_("Décisions"))
    decisions = meeting.decisions.select_related("part", "from_programme", "to_programme")
    rows = []
    for n, d in enumerate(decisions, start=1):
        detail = d.text
        if d.kind == d.Kind.REORIENTATION:
            assert d.from_programme is not None and d.to_programme is not None
            detail += "\n" + _(
                "Réorientation de %(a)s de « %(f)s » (%(fb)s → %(fa)s) vers « %(t)s » "
                "(%(tb)s → %(ta)s)."
            ) % {
                "a": euros(d.amount),
                "f": d.from_programme,
                "fb": d.before.get(str(d.from_programme_id)),
                "fa": d.after.get(str(d.from_programme_id)),
                "t": d.to_programme,
                "tb": d.before.get(str(d.to_programme_id)),
                "ta": d.after.get(str(d.to_programme_id)),
            }
        rows.append([str(n), d.get_kind_display(), str(d.part or "—"), detail])
    if rows:
        doc.table([_("N°"), _("Nature"), _("Volet"), _("Décision")], rows)
    else:
        doc.para(_("Aucune décision."))
    if meeting.minutes:
        doc.heading(_("Relevé"))
        doc.para(meeting.minutes)
    return doc


def annual_report(contract: Contract, year: int) -> Doc:
    """The year's actions by part and QPV, money by signatory, indicators against targets,
    processing times, and the conseils citoyens' opinions annexed."""
    doc = Doc(
        title=_("Rapport annuel politique de la ville %(y)s") % {"y": year},
        subtitle=_("%(c)s — %(e)s") % {"c": contract.name, "e": contract.epci_name},
        doc_date=contract.signed_on or contract.created_at.date(),
    )
    doc.heading(_("1. Orientations et territoire"))
    doc.para(contract.summary or _("Orientations non renseignées."))
    doc.para(_("Quartiers : %(q)s.") % {"q": ", ".join(q.name for q in contract.qpvs.all())})
    if contract.commune_list():
        doc.para(_("Communes : %(c)s.") % {"c": ", ".join(contract.commune_list())})
    doc.para(
        _("Signataires : %(s)s.") % {"s": ", ".join(s.name for s in contract.signatories.all())}
    )

    parts = contract_programme_parts(contract)
    doc.heading(_("2. Actions de l'année par volet et par quartier"))
    apps = (
        Application.objects.filter(
            programme_id__in=parts.keys(), programme__fiscal_year=year, state="approved"
        )
        .select_related("organisation", "programme")
        .prefetch_related("qpvs")
        .order_by("programme_id", "title")
    )
    rows = [
        [
            parts[a.programme_id].title,
            ", ".join(q.name for q in a.qpvs.all()) or "—",
            a.title,
            a.organisation.name,
            euros(a.approved_amount),
        ]
        for a in apps
    ]
    if rows:
        doc.table([_("Volet"), _("Quartier"), _("Action"), _("Porteur"), _("Accordé")], rows)
    else:
        doc.para(_("Aucune action accordée cette année sur les programmes du contrat."))

    follow = follow_up(contract, year=year)
    doc.heading(_("3. Engagements des signataires et réalisations"))
    rows = [
        [
            sig or _("Autres financeurs"),
            euros(line.promised_specific),
            euros(line.promised_common),
            euros(line.committed),
            euros(line.paid),
            euros(line.declared),
        ]
        for sig, line in sorted(follow.by_signatory.items())
    ]
    t = follow.total
    rows.append(
        [
            _("Total"),
            euros(t.promised_specific),
            euros(t.promised_common),
            euros(t.committed),
            euros(t.paid),
            euros(t.declared),
        ]
    )
    doc.table(
        [
            _("Signataire"),
            _("Promis (spécifique)"),
            _("Promis (droit commun)"),
            _("Engagé"),
            _("Payé"),
            _("Déclaré réalisé"),
        ],
        rows,
    )
    actions = contract.commitments.filter(year=year, kind="action").select_related("signatory")
    if actions:
        doc.table(
            [_("Signataire"), _("Action"), _("Indicateur"), _("Cible"), _("Atteint")],
            [
                [
                    str(c.signatory),
                    c.action,
                    c.indicator,
                    str(c.target or "—"),
                    str(c.realised_value if c.realised_value is not None else "—"),
                ]
                for c in actions
            ],
        )
    if follow.by_qpv:
        doc.table(
            [_("Quartier"), _("Engagé"), _("Payé")],
            [
                [q, euros(line.committed), euros(line.paid)]
                for (q, _y), line in sorted(follow.by_qpv.items())
            ],
        )

    doc.heading(_("4. Indicateurs de l'observatoire"))
    ind = indicator_rows(contract, year)
    if ind:
        doc.table(
            [_("Volet"), _("Indicateur"), _("Territoire"), _("Valeur"), _("Cible"), _("Source")],
            ind,
        )
    else:
        doc.para(_("Aucune valeur d'indicateur pour cette année."))

    doc.heading(_("5. Délais de traitement"))
    decided = Application.objects.filter(
        programme_id__in=parts.keys(),
        programme__fiscal_year=year,
        decided_at__isnull=False,
        submitted_at__isnull=False,
    )
    stats = decided.aggregate(n=Count("id"), avg=Avg(F("decided_at") - F("submitted_at")))
    if stats["n"]:
        days = stats["avg"].days if stats["avg"] is not None else 0
        doc.para(
            _("%(n)s dossier(s) décidé(s), en %(d)s jours en moyenne du dépôt à la décision.")
            % {"n": stats["n"], "d": days}
        )
    else:
        doc.para(_("Aucun dossier décidé cette année."))
    reoriented = Decision.objects.filter(
        meeting__contract=contract, meeting__held_on__year=year, kind=Decision.Kind.REORIENTATION
    ).count()
    doc.para(
        _("%(n)s réorientation(s) de crédits décidée(s) en instance de pilotage.")
        % {"n": reoriented}
    )

    doc.heading(_("Annexe : avis des conseils citoyens"))
    opinions = Opinion.objects.filter(contract=contract, year=year).select_related("qpv", "part")
    if opinions:
        for o in opinions:
            doc.para(f"{o.qpv.name} — {o.part.title} — {o.get_assessment_display()}")
            doc.para(o.text)
    else:
        doc.para(_("Aucun avis reçu (sans réponse sous un mois, l'avis est réputé favorable)."))
    return doc
