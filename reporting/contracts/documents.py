"""Documents of the city contract: the steering minutes and the annual report, as PDF (reportlab,
the stack cpo's agreements use) and as an editable ODT (odfpy, already pinned for tablib).

A document is first built as a list of blocks (title, heading, paragraph, table), then rendered by
either writer, so the PDF and the ODT always say the same thing."""

from __future__ import annotations

import datetime
import io
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

from django.utils.formats import number_format
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle


def euros(amount: Decimal | None) -> str:
    if amount is None:
        return "—"
    return f"{number_format(amount, decimal_pos=2, use_l10n=True, force_grouping=True)} €"


@dataclass
class Doc:
    title: str
    subtitle: str = ""
    author: str = "Pluriel"
    doc_date: datetime.date = field(default_factory=lambda: datetime.date(2000, 1, 1))
    blocks: list[tuple[str, Any]] = field(default_factory=list)

    def heading(self, text: str) -> None:
        self.blocks.append(("h", text))

    def para(self, text: str) -> None:
        self.blocks.append(("p", text))

    def table(self, header: list[str], rows: list[list[str]]) -> None:
        self.blocks.append(("t", (header, rows)))


STYLES = {
    "title": ParagraphStyle(
        "title", fontName="Helvetica-Bold", fontSize=18, leading=22, spaceAfter=6
    ),
    "subtitle": ParagraphStyle(
        "subtitle",
        fontName="Helvetica",
        fontSize=11,
        leading=14,
        textColor=colors.HexColor("#444444"),
        spaceAfter=12,
    ),
    "h": ParagraphStyle(
        "h", fontName="Helvetica-Bold", fontSize=13, leading=16, spaceBefore=10, spaceAfter=4
    ),
    "p": ParagraphStyle("p", fontName="Helvetica", fontSize=10, leading=13, spaceAfter=4),
    "cell": ParagraphStyle("cell", fontName="Helvetica", fontSize=8, leading=10),
}


def _safe(text: str) -> str:
    """Escape for reportlab's mini-markup; newlines become line breaks."""
    return escape(str(text)).replace("\n", "<br/>")


def render_pdf(doc: Doc) -> bytes:
    buffer = io.BytesIO()
    created = f"D:{doc.doc_date:%Y%m%d}000000+00'00'"

    def on_page(canvas: Any, template: Any) -> None:
        canvas.setDateFormatter(lambda *_a: created)
        canvas.saveState()
        canvas.setFont("Helvetica", 8)
        canvas.drawString(2 * cm, 1.1 * cm, doc.title[:110])
        canvas.drawRightString(A4[0] - 2 * cm, 1.1 * cm, str(canvas.getPageNumber()))
        canvas.restoreState()

    template = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=2 * cm,
        rightMargin=2 * cm,
        topMargin=2 * cm,
        bottomMargin=2 * cm,
        title=doc.title,
        author=doc.author,
        invariant=True,
    )
    story: list[Any] = [Paragraph(_safe(doc.title), STYLES["title"])]
    if doc.subtitle:
        story.append(Paragraph(_safe(doc.subtitle), STYLES["subtitle"]))
    for kind, value in doc.blocks:
        if kind in ("h", "p"):
            story.append(Paragraph(_safe(value), STYLES[kind]))
        else:
            header, rows = value
            data = [[Paragraph(f"<b>{_safe(h)}</b>", STYLES["cell"]) for h in header]]
            data += [[Paragraph(_safe(c), STYLES["cell"]) for c in row] for row in rows]
            table = Table(data, repeatRows=1, hAlign="LEFT")
            table.setStyle(
                TableStyle(
                    [
                        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#999999")),
                        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef5")),
                        ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ]
                )
            )
            story += [table, Spacer(1, 6)]
    template.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return buffer.getvalue()


def render_odt(doc: Doc) -> bytes:
    from odf.opendocument import OpenDocumentText
    from odf.style import ParagraphProperties, Style, TableColumnProperties, TextProperties
    from odf.table import Table as OTable
    from odf.table import TableCell, TableColumn, TableRow
    from odf.text import H, P

    odt = OpenDocumentText()
    bold = Style(name="Bold", family="paragraph")
    bold.addElement(TextProperties(fontweight="bold"))
    title = Style(name="DocTitle", family="paragraph")
    title.addElement(TextProperties(fontsize="18pt", fontweight="bold"))
    title.addElement(ParagraphProperties(marginbottom="0.3cm"))
    heading = Style(name="Heading", family="paragraph")
    heading.addElement(TextProperties(fontsize="13pt", fontweight="bold"))
    heading.addElement(ParagraphProperties(margintop="0.4cm", marginbottom="0.2cm"))
    col = Style(name="Col", family="table-column")
    col.addElement(TableColumnProperties(columnwidth="3cm"))
    for style in (bold, title, heading):
        odt.styles.addElement(style)
    odt.automaticstyles.addElement(col)
    odt.text.addElement(P(stylename=title, text=doc.title))
    if doc.subtitle:
        odt.text.addElement(P(text=doc.subtitle))
    for n, (kind, value) in enumerate(doc.blocks):
        if kind == "h":
            odt.text.addElement(H(outlinelevel=1, stylename=heading, text=value))
        elif kind == "p":
            for line in str(value).split("\n"):
                odt.text.addElement(P(text=line))
        else:
            header, rows = value
            table = OTable(name=f"Tableau{n}")
            for _ in header:
                table.addElement(TableColumn(stylename=col))
            for i, row in enumerate([header, *rows]):
                tr = TableRow()
                for cell in row:
                    tc = TableCell(valuetype="string")
                    tc.addElement(P(stylename=bold if i == 0 else None, text=str(cell)))
                    tr.addElement(tc)
                table.addElement(tr)
            odt.text.addElement(table)
    buffer = io.BytesIO()
    odt.write(buffer)
    return buffer.getvalue()
