"""The amendment (avenant n° X) and what it changes, before and after."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils import timezone, translation
from django.utils.translation import gettext as _

from ..models import Agreement, Amendment, Profile
from .agreement import (
    _agreement_title,
)
from .clauses import write_clauses
from .facts import (
    _KNOWN,
    _choice_label,
    _duration_of,
    _funders,
    _funders_of,
    _instalment_table,
    _instalments,
    _objectives_of,
    _parties,
    _plain,
    _signature_blocks,
    _total_of,
    _years_of,
)
from .rendering import (
    BLANK,
    RenderedDocument,
    _Builder,
    euros,
    long_date,
    percent,
)

AMENDMENT_TEMPLATE = "cpo/documents/amendment.txt"


def render_amendment(amendment: Amendment, *, compress: bool = True) -> RenderedDocument:
    """The amendment (avenant n° X): why, from when, and what changes (before/after tables)."""
    with translation.override("fr"):
        return _render_amendment(amendment, compress=compress)


def _render_amendment(amendment: Amendment, *, compress: bool) -> RenderedDocument:
    agreement = amendment.agreement
    links = _funders(agreement)
    number = amendment.version - 1
    kind_title = (
        _agreement_title(agreement)
        if agreement.kind == Agreement.Kind.AGREEMENT
        else _("Décision attributive de subvention")
    )
    title = _("Avenant n° %(n)s") % {"n": number}
    b = _Builder(
        title=f"{title} — {agreement.reference}",
        footer=f"{agreement.reference} — {title}",
        doc_date=(
            timezone.localtime(amendment.created_at).date()
            if amendment.created_at
            else amendment.effective_on
        ),
        author=", ".join(link.funder.name for link in links),
    )
    b.h1(
        title,
        _("à la %(kind)s n° %(ref)s") % {"kind": kind_title.lower(), "ref": agreement.reference},
    )
    before = amendment.before if isinstance(amendment.before, dict) else {}
    after = amendment.after if isinstance(amendment.after, dict) else {}
    # The before/after tables are built aside first: the template says whether there are any.
    changes = _Builder(title="", footer="", doc_date=b.doc_date)
    changed = _changes(changes, before, after)
    new_instalments = _instalments(agreement, version=amendment.version)
    context: dict[str, Any] = {
        "kind": kind_title.lower(),
        "reference": agreement.reference,
        "title": agreement.title,
        "signed_on": long_date(agreement.signed_on) if agreement.signed_on else "",
        "previous_amendments": [
            {"number": a.version - 1, "effective_on": long_date(a.effective_on)}
            for a in agreement.amendments.filter(version__lt=amendment.version).order_by("version")
        ],
        "reason": amendment.reason,
        "changed": changed,
        "has_instalments": bool(new_instalments),
        "effective_on": long_date(amendment.effective_on),
    }

    def add_changes() -> None:
        b.story.extend(changes.story)
        b.lines.extend(changes.lines)

    write_clauses(
        b,
        AMENDMENT_TEMPLATE,
        context,
        {
            "parties": lambda: _parties(b, agreement, links),
            "changes": add_changes,
            "instalments": lambda: _instalment_table(b, new_instalments, funders=len(links)),
            "signatures": lambda: b.signatures(
                _("Fait en %(copies)s exemplaires originaux, à %(place)s, le %(date)s.")
                % {"copies": len(links) + 1, "place": BLANK, "date": BLANK},
                _signature_blocks(agreement, links),
            ),
        },
    )
    return b.render(f"{agreement.reference}-avenant-{number}.pdf", compress=compress)


def _changes(b: _Builder, before: dict[str, Any], after: dict[str, Any]) -> bool:
    """Before/after tables for every part of the agreement the amendment touches."""
    shown = False
    years_before, years_after = _years_of(before), _years_of(after)
    if years_before or years_after:
        shown = True
        b.h3(_("Montants par exercice"))
        rows = []
        for year in sorted(set(years_before) | set(years_after)):
            old, new = years_before.get(year), years_after.get(year)
            gap = (new or Decimal(0)) - (old or Decimal(0))
            rows.append(
                [
                    str(year),
                    euros(old) if old is not None else "—",
                    euros(new) if new is not None else "—",
                    ("+" if gap > 0 else "") + euros(gap),
                ]
            )
        total_before, total_after = _total_of(before, years_before), _total_of(after, years_after)
        if total_before is not None or total_after is not None:
            gap = (total_after or Decimal(0)) - (total_before or Decimal(0))
            rows.append(
                [
                    _("Total"),
                    euros(total_before) if total_before is not None else "—",
                    euros(total_after) if total_after is not None else "—",
                    ("+" if gap > 0 else "") + euros(gap),
                ]
            )
        b.table(
            [_("Exercice"), _("Avant"), _("Après"), _("Écart")],
            rows,
            widths=[3, 4, 4, 4],
            numeric=[1, 2, 3],
            total_rows=1 if rows and rows[-1][0] == _("Total") else 0,
        )
    duration_before = _duration_of(before, years_before)
    duration_after = _duration_of(after, years_after)
    if duration_before != duration_after and (duration_before or duration_after):
        shown = True
        b.h3(_("Durée"))
        b.table(
            [_("Avant"), _("Après")],
            [[duration_before or "—", duration_after or "—"]],
            widths=[1, 1],
        )
    objectives_before, objectives_after = _objectives_of(before), _objectives_of(after)
    if objectives_after is not None and objectives_after != objectives_before:
        shown = True
        b.h3(_("Objectifs"))
        b.table(
            [_("Avant"), _("Après")],
            [
                [
                    "\n".join(f"• {o}" for o in objectives_before or []) or "—",
                    "\n".join(f"• {o}" for o in objectives_after) or "—",
                ]
            ],
            widths=[1, 1],
        )
    funders_before, funders_after = _funders_of(before), _funders_of(after)
    if funders_after is not None and funders_after != funders_before:
        shown = True
        b.h3(_("Répartition entre financeurs"))
        old_rows = funders_before or {}
        names = list(dict.fromkeys([*old_rows, *funders_after]))
        with_ej = any(
            old_rows.get(n, (None, ""))[1] != funders_after.get(n, (None, ""))[1] for n in names
        )
        rows = []
        for name in names:
            old_share, old_ej = old_rows.get(name, (None, ""))
            new_share, new_ej = funders_after.get(name, (None, ""))
            row = [
                name,
                percent(old_share * 100) if old_share is not None else "—",
                percent(new_share * 100) if new_share is not None else "—",
            ]
            if with_ej:
                row += [old_ej or "—", new_ej or "—"]
            rows.append(row)
        header = [_("Financeur"), _("Part avant"), _("Part après")]
        widths: list[float] = [8, 4, 4]
        if with_ej:
            header += [_("N° EJ avant"), _("N° EJ après")]
            widths = [6, 3, 3, 3.5, 3.5]
        b.table(header, rows, widths=widths, numeric=[1, 2])
    if _partner_parts_table(b, before, after):
        shown = True
    labelled = (
        ("kind", _("Forme de l'acte"), Agreement.Kind),
        ("profile", _("Profil des montants"), Profile),
    )
    rows = [
        [label, _choice_label(choices, before.get(key)), _choice_label(choices, after.get(key))]
        for key, label, choices in labelled
        if before.get(key) != after.get(key)
    ]
    others = sorted((set(before) | set(after)) - _KNOWN)
    rows += [
        [key, _plain(before.get(key)), _plain(after.get(key))]
        for key in others
        if before.get(key) != after.get(key)
    ]
    if rows:
        shown = True
        b.h3(_("Autres modifications"))
        b.table([_("Élément"), _("Avant"), _("Après")], rows, widths=[4, 6, 6])
    return shown


def _partner_parts_of(side: dict[str, Any]) -> dict[tuple[str, int], Decimal]:
    """The payees' yearly parts an amendment of an agreement paid to each partner recorded
    (`cpo/services_changes/partner_parts.py`), keyed by (organisation, fiscal year); rows it cannot
    read are left out rather than failing the document."""
    parts: dict[tuple[str, int], Decimal] = {}
    rows = side.get("partner_parts")
    if not isinstance(rows, list):
        return parts
    for row in rows:
        if not isinstance(row, dict):
            continue
        try:
            key = (str(row["organisation"]), int(row["fiscal_year"]))
            parts[key] = Decimal(str(row["amount"]))
        except (KeyError, TypeError, ValueError, ArithmeticError):
            continue
    return parts


def _partner_parts_table(b: _Builder, before: dict[str, Any], after: dict[str, Any]) -> bool:
    """Before/after of each payee's yearly part (docs/domain.md §9: the lead's own part or a
    partner's, each paid directly): organisation, year, old → new amount and the gap."""
    parts_before, parts_after = _partner_parts_of(before), _partner_parts_of(after)
    keys = list(dict.fromkeys([*parts_before, *parts_after]))
    if not keys:
        return False
    b.h3(_("Parts des bénéficiaires (versement à chaque partenaire)"))
    rows = []
    for organisation, fiscal_year in sorted(keys, key=lambda k: (k[1], k[0].lower())):
        old = parts_before.get((organisation, fiscal_year))
        new = parts_after.get((organisation, fiscal_year))
        gap = (new or Decimal(0)) - (old or Decimal(0))
        rows.append(
            [
                organisation,
                str(fiscal_year),
                euros(old) if old is not None else "—",
                euros(new) if new is not None else "—",
                ("+" if gap > 0 else "") + euros(gap),
            ]
        )
    b.table(
        [_("Bénéficiaire"), _("Exercice"), _("Avant"), _("Après"), _("Écart")],
        rows,
        widths=[6, 2.5, 3.5, 3.5, 3.5],
        numeric=[2, 3, 4],
    )
    return True
