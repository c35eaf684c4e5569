"""French formatting (amounts, dates, typography) and the PDF builder: blocks, tables, signature
boxes, numbered pages, and the plain text of every block."""

from __future__ import annotations

import datetime
import io
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

from django.utils import timezone
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

from core.money import to_money

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
    groups: list[str] = []
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


_TYPOGRAPHY: tuple[tuple[str, str], ...] = (
    ("« ", "«" + NBSP),
    (" »", NBSP + "»"),
    (" :", NBSP + ":"),
    (" ;", NBSP + ";"),
)
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


def _numbered_canvas(footer: str, doc_date: datetime.date, counter: dict[str, int]) -> type[Any]:
    """A canvas class that writes « page n / total » and the reference at the foot of each page,
    and dates the PDF from the data (`doc_date`), not from the clock."""
    created = f"D:{doc_date:%Y%m%d}000000+00'00'"

    class NumberedCanvas(Canvas):  # type: ignore[misc]  # reportlab is untyped
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
            cells: list[Any] = []
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
