"""Documents generated from the data, ready to sign (PDF, in French).

- `agreement_pdf(agreement)`: the agreement (convention, or convention pluriannuelle d'objectifs
  over several years) following the structure of the model of the circulaire n° 5811/SG of
  29 September 2015: parties, préambule, object and objectives, duration, amounts per year and per
  funder, payment terms, reports and annual evaluation, amendments, termination, recovery,
  signatures.
- `notification_pdf(agreement)`: the notification letter (décision attributive) of an award that
  needs no written agreement (23 000 € a year or less: loi n° 2000-321 art. 10, décret
  n° 2001-495) — `Agreement.kind == "decision"`.
- `amendment_pdf(amendment)`: the amendment (avenant n° X) and what it changes (before/after).
- `agreement_document(agreement)` picks the right one of the first two; `*_document()` return a
  `RenderedDocument` (bytes, file name, page count and the plain text of every block — the same
  text as the PDF, for tests and search).

Everything is read from the database, nothing is written. The output is deterministic: the same
data gives the same bytes (reportlab's invariant mode; the PDF creation date is the date of the
agreement — signature, else notification, else creation — never the clock). The text is always
French (the language of the legal act), whatever the language of the request.

Amounts are written « 30 000,00 € » and dates « 25 novembre 2026 » (« 1er janvier 2027 »), with
no-break spaces so that an amount is never split across two lines. The PDF uses the standard
Helvetica fonts (no font file to ship); a character they cannot draw (e.g. « Ł ») is replaced by its
unaccented letter, or « ? ».
"""

from __future__ import annotations

import datetime
import io
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    KeepTogether,
    ListFlowable,
    ListItem,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from core.models import Funder, Organisation
from core.money import to_money

from . import schedules
from .models import Agreement, AgreementFunder, Amendment, Instalment, InstalmentState, Profile

NBSP = "\u00a0"
BLANK = "……………………"  # a blank to fill in by hand on the printed copy
CONTENT_TYPE = "application/pdf"

# --------------------------------------------------------------------------------------------
# French formatting
# --------------------------------------------------------------------------------------------


def euros(amount: Decimal | int | str) -> str:
    """« 30 000,00 € »: French grouping and decimal comma, no-break spaces (never split)."""
    value = to_money(amount)
    sign = "-" if value < 0 else ""
    units, cents = f"{abs(value):.2f}".split(".")
    groups = []
    while units:
        groups.insert(0, units[-3:])
        units = units[:-3]
    return f"{sign}{NBSP.join(groups)},{cents}{NBSP}€"


def percent(value: Decimal | int | str, places: int = 2) -> str:
    """« 50 % », « 33,33 % »: trailing zeros dropped."""
    text = f"{Decimal(value).quantize(Decimal(1).scaleb(-places)):f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text.replace('.', ',')}{NBSP}%"


def _months() -> tuple[str, ...]:
    return (
        _("janvier"),
        _("février"),
        _("mars"),
        _("avril"),
        _("mai"),
        _("juin"),
        _("juillet"),
        _("août"),
        _("septembre"),
        _("octobre"),
        _("novembre"),
        _("décembre"),
    )


def long_date(day: datetime.date | None) -> str:
    """« 25 novembre 2026 », « 1er janvier 2027 »; a blank to fill in when there is no date."""
    if day is None:
        return BLANK
    if isinstance(day, datetime.datetime):
        day = timezone.localtime(day).date() if timezone.is_aware(day) else day.date()
    number = _("1er") if day.day == 1 else str(day.day)
    return f"{number}{NBSP}{_months()[day.month - 1]}{NBSP}{day.year}"


_FALLBACK = {"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Ħ": "H", "ħ": "h", "ı": "i"}
_SPACES = {"\u202f": NBSP, "\u2007": NBSP, "\u2009": " ", "\t": " ", "\r": ""}


def pdf_safe(text: Any) -> str:
    """The text, drawable with the standard PDF fonts (Windows-1252 repertoire): narrow spaces
    become no-break spaces, other letters lose their accent (« ă » → « a »), the rest « ? »."""
    out = []
    for char in str(text):
        char = _SPACES.get(char, char)
        try:
            char.encode("cp1252")
        except UnicodeEncodeError:
            base = "".join(
                c
                for c in unicodedata.normalize("NFKD", char)
                if not unicodedata.combining(c) and c.isprintable()
            )
            try:
                base.encode("cp1252")
            except UnicodeEncodeError:
                base = ""
            char = base or _FALLBACK.get(char, "?")
        out.append(char)
    return "".join(out)


_TYPOGRAPHY = (("« ", "«" + NBSP), (" »", NBSP + "»"), (" :", NBSP + ":"), (" ;", NBSP + ";"))
_TYPOGRAPHY += (("n° ", "n°" + NBSP), ("N° ", "N°" + NBSP))


def _markup(text: Any) -> str:
    """Plain text → reportlab paragraph markup: escaped, line breaks kept, and the no-break
    spaces of French typography (« x », a : b, n° 5811) so no line starts with « : » or « » »."""
    text = pdf_safe(text)
    for plain, tied in _TYPOGRAPHY:
        text = text.replace(plain, tied)
    return escape(text).replace("\n", "<br/>")


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderedDocument:
    """A generated PDF with what a view needs to serve it and what a test needs to read it."""

    content: bytes
    filename: str
    pages: int
    lines: tuple[str, ...]
    content_type: str = CONTENT_TYPE

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


_BASE = ParagraphStyle(
    "pluriel-body", fontName="Helvetica", fontSize=10, leading=13.5, alignment=TA_JUSTIFY
)
STYLES = {
    "body": _BASE,
    "title": ParagraphStyle(
        "pluriel-title",
        parent=_BASE,
        fontName="Helvetica-Bold",
        fontSize=16,
        leading=20,
        alignment=TA_CENTER,
        spaceAfter=4,
    ),
    "subtitle": ParagraphStyle(
        "pluriel-subtitle", parent=_BASE, fontSize=10.5, alignment=TA_CENTER, spaceAfter=2
    ),
    "heading": ParagraphStyle(
        "pluriel-heading",
        parent=_BASE,
        fontName="Helvetica-Bold",
        fontSize=11.5,
        leading=15,
        spaceBefore=10,
        spaceAfter=4,
        alignment=0,
    ),
    "subheading": ParagraphStyle(
        "pluriel-subheading",
        parent=_BASE,
        fontName="Helvetica-Bold",
        fontSize=10,
        spaceBefore=6,
        spaceAfter=2,
        alignment=0,
    ),
    "cell": ParagraphStyle("pluriel-cell", parent=_BASE, fontSize=8.5, leading=10.5, alignment=0),
    "cell_head": ParagraphStyle(
        "pluriel-cell-head",
        parent=_BASE,
        fontName="Helvetica-Bold",
        fontSize=8.5,
        leading=10.5,
        alignment=0,
    ),
    "cell_num": ParagraphStyle(
        "pluriel-cell-num", parent=_BASE, fontSize=8.5, leading=10.5, alignment=TA_RIGHT
    ),
    "cell_num_head": ParagraphStyle(
        "pluriel-cell-num-head",
        parent=_BASE,
        fontName="Helvetica-Bold",
        fontSize=8.5,
        leading=10.5,
        alignment=TA_RIGHT,
    ),
    "right": ParagraphStyle("pluriel-right", parent=_BASE, alignment=TA_RIGHT),
    "left": ParagraphStyle("pluriel-left", parent=_BASE, alignment=0),
}
PAGE_MARGIN = 2 * cm
FRAME_WIDTH = A4[0] - 2 * PAGE_MARGIN


def _numbered_canvas(footer: str, doc_date: datetime.date, counter: dict[str, int]):
    """A canvas class that writes « page n / total » and the reference at the foot of each page,
    and dates the PDF from the data (`doc_date`), not from the clock."""
    created = f"D:{doc_date:%Y%m%d}000000+00'00'"

    class NumberedCanvas(Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.setDateFormatter(lambda *_args: created)
            self._saved_pages: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._saved_pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._saved_pages)
            counter["pages"] = total
            for state in self._saved_pages:
                self.__dict__.update(state)
                self._footer(total)
                super().showPage()
            super().save()

        def _footer(self, total: int) -> None:
            self.saveState()
            self.setFont("Helvetica", 8)
            self.setFillColor(colors.HexColor("#444444"))
            self.drawString(PAGE_MARGIN, 1.1 * cm, pdf_safe(footer))
            self.drawRightString(
                A4[0] - PAGE_MARGIN,
                1.1 * cm,
                pdf_safe(
                    _("Page %(page)s / %(total)s") % {"page": self._pageNumber, "total": total}
                ),
            )
            self.restoreState()

    return NumberedCanvas


@dataclass
class _Builder:
    """Collects the flowables of a document and, alongside, the plain text of every block."""

    title: str
    footer: str
    doc_date: datetime.date
    author: str = ""
    story: list[Any] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    # -- blocks
    def h1(self, text: str, subtitle: str = "") -> None:
        self.story.append(Paragraph(_markup(text), STYLES["title"]))
        self.lines.append(pdf_safe(text))
        if subtitle:
            self.para(subtitle, style="subtitle")
        self.story.append(Spacer(1, 8))

    def h2(self, text: str) -> None:
        self.story.append(Paragraph(_markup(text), STYLES["heading"]))
        self.lines.append(pdf_safe(text))

    def h3(self, text: str) -> None:
        self.story.append(Paragraph(_markup(text), STYLES["subheading"]))
        self.lines.append(pdf_safe(text))

    def para(self, text: str, *, style: str = "body", bold_prefix: str = "") -> None:
        markup = _markup(text)
        plain = pdf_safe(text)
        if bold_prefix:
            markup = f"<b>{_markup(bold_prefix)}</b> {markup}"
            plain = f"{pdf_safe(bold_prefix)} {plain}"
        self.story.append(Paragraph(markup, STYLES[style]))
        self.story.append(Spacer(1, 3))
        self.lines.append(plain)

    def bullets(self, items: Iterable[str]) -> None:
        items = [item for item in items if str(item).strip()]
        if not items:
            return
        self.story.append(
            ListFlowable(
                [ListItem(Paragraph(_markup(item), STYLES["body"]), value="•") for item in items],
                bulletType="bullet",
                start="•",
                leftIndent=14,
                bulletFontName="Helvetica",
                bulletFontSize=9,
            )
        )
        self.story.append(Spacer(1, 3))
        self.lines.extend(f"• {pdf_safe(item)}" for item in items)

    def table(
        self,
        header: Sequence[str],
        rows: Sequence[Sequence[str]],
        *,
        widths: Sequence[float],
        numeric: Iterable[int] = (),
        total_rows: int = 0,
    ) -> None:
        """A table with a header row repeated on each page; `numeric` columns right-aligned;
        the last `total_rows` rows in bold."""
        numeric = set(numeric)
        scale = FRAME_WIDTH / sum(widths)

        def cell(text: str, col: int, head: bool) -> Paragraph:
            key = ("cell_num" if col in numeric else "cell") + ("_head" if head else "")
            markup = _markup(text)
            return Paragraph(markup, STYLES[key])

        data = [[cell(text, col, True) for col, text in enumerate(header)]]
        for index, row in enumerate(rows):
            is_total = index >= len(rows) - total_rows
            data.append([cell(text, col, is_total) for col, text in enumerate(row)])
        table = Table(data, colWidths=[w * scale for w in widths], repeatRows=1, hAlign="LEFT")
        style = [
            ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#777777")),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e6e6e6")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("TOPPADDING", (0, 0), (-1, -1), 3),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ]
        if total_rows:
            style.append(("BACKGROUND", (0, -total_rows), (-1, -1), colors.HexColor("#f2f2f2")))
        table.setStyle(TableStyle(style))
        self.story.append(table)
        self.story.append(Spacer(1, 6))
        self.lines.append(" | ".join(pdf_safe(text) for text in header))
        self.lines.extend(" | ".join(pdf_safe(text) for text in row) for row in rows)

    def signatures(self, intro: str, blocks: Sequence[tuple[str, Sequence[str]]]) -> None:
        """« Fait à … » and one signature box per party, kept on the same page."""
        flowables: list[Any] = [Spacer(1, 6), Paragraph(_markup(intro), STYLES["body"])]
        self.lines.append(pdf_safe(intro))
        per_row = 2
        rows = []
        for start in range(0, len(blocks), per_row):
            chunk = list(blocks[start : start + per_row])
            cells = []
            for heading, details in chunk:
                paragraphs = [Paragraph(f"<b>{_markup(heading)}</b>", STYLES["left"])]
                paragraphs += [Paragraph(_markup(line), STYLES["left"]) for line in details]
                paragraphs.append(Spacer(1, 55))
                cells.append(paragraphs)
                self.lines.append(" — ".join(pdf_safe(x) for x in (heading, *details)))
            while len(cells) < per_row:
                cells.append("")
            rows.append(cells)
        table = Table(rows, colWidths=[FRAME_WIDTH / per_row] * per_row)
        table.setStyle(
            TableStyle(
                [
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("TOPPADDING", (0, 0), (-1, -1), 10),
                ]
            )
        )
        flowables.append(table)
        self.story.append(KeepTogether(flowables))

    # -- output
    def render(self, filename: str, *, compress: bool = True) -> RenderedDocument:
        buffer = io.BytesIO()
        counter: dict[str, int] = {}
        document = SimpleDocTemplate(
            buffer,
            pagesize=A4,
            leftMargin=PAGE_MARGIN,
            rightMargin=PAGE_MARGIN,
            topMargin=PAGE_MARGIN,
            bottomMargin=PAGE_MARGIN,
            title=pdf_safe(self.title),
            author=pdf_safe(self.author),
            subject=pdf_safe(self.title),
            creator="Pluriel",
            lang="fr-FR",
            displayDocTitle=1,
            invariant=1,
            pageCompression=1 if compress else 0,
        )
        document.build(
            self.story,
            canvasmaker=_numbered_canvas(self.footer, self.doc_date, counter),
        )
        return RenderedDocument(
            content=buffer.getvalue(),
            filename=filename,
            pages=counter.get("pages", 0),
            lines=tuple(self.lines),
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
    return [o.text for o in agreement.application.objectives.all()]


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


# --------------------------------------------------------------------------------------------
# The amendment (avenant)
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
    rows = [row for row in raw if isinstance(row, dict)]
    ids = [
        row.get("funder_id", row.get("funder"))
        for row in rows
        if isinstance(row.get("funder_id", row.get("funder")), int)
    ]
    names = dict(Funder.objects.filter(pk__in=ids).values_list("pk", "name"))
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
    _parties(b, agreement, links)

    b.h2(_("Préambule"))
    b.bullets(
        [
            _("Vu la %(kind)s n° %(ref)s relative au projet « %(title)s »%(signed)s ;")
            % {
                "kind": kind_title.lower(),
                "ref": agreement.reference,
                "title": agreement.title,
                "signed": (
                    _(", signée le %(date)s") % {"date": long_date(agreement.signed_on)}
                    if agreement.signed_on
                    else ""
                ),
            },
            *[
                _("Vu l'avenant n° %(n)s prenant effet le %(date)s ;")
                % {"n": a.version - 1, "date": long_date(a.effective_on)}
                for a in agreement.amendments.filter(version__lt=amendment.version).order_by(
                    "version"
                )
            ],
        ]
    )
    b.para(_("Considérant le motif suivant : %(reason)s") % {"reason": amendment.reason})
    b.para(_("Il a été convenu ce qui suit :"), style="left")

    b.h2(_("Article 1 — Objet de l'avenant"))
    b.para(
        _(
            "Le présent avenant modifie la %(kind)s n° %(ref)s dans les conditions prévues à son "
            "article relatif aux avenants. Les sommes déjà versées ne sont pas remises en cause."
        )
        % {"kind": kind_title.lower(), "ref": agreement.reference}
    )

    b.h2(_("Article 2 — Modifications"))
    before = amendment.before if isinstance(amendment.before, dict) else {}
    after = amendment.after if isinstance(amendment.after, dict) else {}
    if not _changes(b, before, after):
        b.para(_("Le présent avenant ne modifie aucun montant ni aucune durée."))

    new_instalments = _instalments(agreement, version=amendment.version)
    b.h2(_("Article 3 — Échéancier"))
    if new_instalments:
        b.para(
            _(
                "Les échéances déjà versées ou exigibles sont maintenues. Les échéances à venir "
                "sont remplacées par les suivantes :"
            )
        )
        _instalment_table(b, new_instalments, funders=len(links))
    else:
        b.para(_("L'échéancier de la convention n'est pas modifié."))

    b.h2(_("Article 4 — Date d'effet"))
    b.para(
        _(
            "Le présent avenant prend effet le %(date)s. Toutes les autres stipulations de la "
            "%(kind)s demeurent inchangées."
        )
        % {"date": long_date(amendment.effective_on), "kind": kind_title.lower()}
    )
    b.signatures(
        _("Fait en %(copies)s exemplaires originaux, à %(place)s, le %(date)s.")
        % {"copies": len(links) + 1, "place": BLANK, "date": BLANK},
        _signature_blocks(agreement, links),
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
        widths = [8, 4, 4]
        if with_ej:
            header += [_("N° EJ avant"), _("N° EJ après")]
            widths = [6, 3, 3, 3.5, 3.5]
        b.table(header, rows, widths=widths, numeric=[1, 2])
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


# --------------------------------------------------------------------------------------------
# Public entry points (the views of Engineer N call these)
# --------------------------------------------------------------------------------------------


def agreement_document(agreement: Agreement) -> RenderedDocument:
    """The document to sign or notify for this agreement: the convention (written agreement,
    mandatory above 23 000 € a year) or, for a decision, the notification letter."""
    if agreement.kind == Agreement.Kind.DECISION:
        return render_notification(agreement)
    return render_agreement(agreement)


def amendment_document(amendment: Amendment) -> RenderedDocument:
    return render_amendment(amendment)


def agreement_pdf(agreement: Agreement) -> bytes:
    """The convention (or convention pluriannuelle d'objectifs), as PDF bytes."""
    return render_agreement(agreement).content


def notification_pdf(agreement: Agreement) -> bytes:
    """The notification letter (décision attributive), as PDF bytes."""
    return render_notification(agreement).content


def amendment_pdf(amendment: Amendment) -> bytes:
    """The amendment (avenant n° X), as PDF bytes."""
    return render_amendment(amendment).content
