"""Documents of the city contract: the steering minutes and the annual report, as PDF (reportlab,
the stack cpo's agreements use) and as an editable ODT (odfpy, already pinned for tablib).

A document is first built as a list of blocks (title, heading, paragraph, table), then rendered by
either writer, so the PDF and the ODT always say the same thing."""

from __future__ import annotations

import datetime
import io
import zipfile
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


W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
PKG_NS = "http://schemas.openxmlformats.org/package/2006"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
DOCX_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml"
XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
DOCX_STYLES = (
    XML_HEAD + f'<w:styles xmlns:w="{W_NS}">'
    '<w:docDefaults><w:rPrDefault><w:rPr><w:rFonts w:ascii="Calibri" w:hAnsi="Calibri"/>'
    '<w:sz w:val="20"/><w:lang w:val="fr-FR"/></w:rPr></w:rPrDefault></w:docDefaults>'
    '<w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/>'
    '<w:pPr><w:spacing w:after="80"/></w:pPr></w:style>'
    '<w:style w:type="paragraph" w:styleId="Title"><w:name w:val="Title"/>'
    '<w:basedOn w:val="Normal"/><w:rPr><w:b/><w:sz w:val="36"/></w:rPr></w:style>'
    '<w:style w:type="paragraph" w:styleId="Heading1"><w:name w:val="heading 1"/>'
    '<w:basedOn w:val="Normal"/><w:pPr><w:keepNext/><w:spacing w:before="240" w:after="80"/>'
    '<w:outlineLvl w:val="0"/></w:pPr><w:rPr><w:b/><w:sz w:val="26"/></w:rPr></w:style>'
    '<w:style w:type="table" w:styleId="Grid"><w:name w:val="Table Grid"/><w:tblPr><w:tblBorders>'
    + "".join(
        f'<w:{side} w:val="single" w:sz="4" w:space="0" w:color="999999"/>'
        for side in ("top", "left", "bottom", "right", "insideH", "insideV")
    )
    + "</w:tblBorders></w:tblPr></w:style></w:styles>"
)


def _w_text(text: str) -> str:
    """Runs of one paragraph: newlines become line breaks; XML-escaped."""
    lines = str(text).split("\n")
    return "<w:br/>".join(f'<w:t xml:space="preserve">{escape(line)}</w:t>' for line in lines)


def _w_para(text: str, style: str = "", bold: bool = False) -> str:
    ppr = f'<w:pPr><w:pStyle w:val="{style}"/></w:pPr>' if style else ""
    rpr = "<w:rPr><w:b/></w:rPr>" if bold else ""
    return f"<w:p>{ppr}<w:r>{rpr}{_w_text(text)}</w:r></w:p>"


def render_docx(doc: Doc) -> bytes:
    """The same blocks as an editable Word document (Office Open XML, ISO/IEC 29500), written
    directly: python-docx would bring lxml into the shared environment, which changes how openpyxl
    parses the imported spreadsheets (docs/decisions/2026-12-07-annual-report-docx-approval.md)."""
    body = [_w_para(doc.title, "Title")]
    if doc.subtitle:
        body.append(_w_para(doc.subtitle))
    for kind, value in doc.blocks:
        if kind == "h":
            body.append(_w_para(value, "Heading1"))
        elif kind == "p":
            body.append(_w_para(value))
        else:
            header, rows = value
            grid = "".join("<w:gridCol/>" for _ in header)
            trs = [
                "<w:tr><w:trPr><w:tblHeader/></w:trPr>"
                + "".join(f"<w:tc>{_w_para(h, bold=True)}</w:tc>" for h in header)
                + "</w:tr>"
            ]
            trs += [
                "<w:tr>" + "".join(f"<w:tc>{_w_para(c)}</w:tc>" for c in row) + "</w:tr>"
                for row in rows
            ]
            body.append(
                '<w:tbl><w:tblPr><w:tblStyle w:val="Grid"/><w:tblW w:w="5000" w:type="pct"/>'
                f"</w:tblPr><w:tblGrid>{grid}</w:tblGrid>{''.join(trs)}</w:tbl>"
            )
            body.append("<w:p/>")
    document = (
        XML_HEAD + f'<w:document xmlns:w="{W_NS}"><w:body>{"".join(body)}'
        '<w:sectPr><w:pgSz w:w="11906" w:h="16838"/><w:pgMar w:top="1134" w:right="1134" '
        'w:bottom="1134" w:left="1134" w:header="567" w:footer="567" w:gutter="0"/></w:sectPr>'
        "</w:body></w:document>"
    )
    core = (
        XML_HEAD + '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/'
        'metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:title>{escape(doc.title)}</dc:title><dc:creator>{escape(doc.author)}</dc:creator>"
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{doc.doc_date.isoformat()}T00:00:00Z'
        "</dcterms:created></cp:coreProperties>"
    )
    parts = {
        "[Content_Types].xml": XML_HEAD + f'<Types xmlns="{PKG_NS}/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/word/document.xml" ContentType="{DOCX_MAIN}.document.main+xml"/>'
        f'<Override PartName="/word/styles.xml" ContentType="{DOCX_MAIN}.styles+xml"/>'
        '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-'
        'package.core-properties+xml"/></Types>',
        "_rels/.rels": XML_HEAD + f'<Relationships xmlns="{PKG_NS}/relationships">'
        f'<Relationship Id="rId1" Type="{REL_NS}/officeDocument" Target="word/document.xml"/>'
        '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/'
        'relationships/metadata/core-properties" Target="docProps/core.xml"/></Relationships>',
        "word/_rels/document.xml.rels": XML_HEAD + f'<Relationships xmlns="{PKG_NS}/relationships">'
        f'<Relationship Id="rId1" Type="{REL_NS}/styles" Target="styles.xml"/></Relationships>',
        "word/document.xml": document,
        "word/styles.xml": DOCX_STYLES,
        "docProps/core.xml": core,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in parts.items():
            # A fixed date: the same report gives the same bytes.
            info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return buffer.getvalue()


def doc_to_json(doc: Doc) -> dict[str, Any]:
    """A document as JSON (to freeze an approved report); `doc_from_json` gives it back."""
    return {
        "title": doc.title,
        "subtitle": doc.subtitle,
        "author": doc.author,
        "doc_date": doc.doc_date.isoformat(),
        "blocks": [[kind, value] for kind, value in doc.blocks],
    }


def doc_from_json(data: dict[str, Any]) -> Doc:
    blocks: list[tuple[str, Any]] = []
    for kind, value in data.get("blocks", []):
        blocks.append((kind, (value[0], value[1]) if kind == "t" else value))
    return Doc(
        title=data.get("title", ""),
        subtitle=data.get("subtitle", ""),
        author=data.get("author", "Pluriel"),
        doc_date=datetime.date.fromisoformat(data.get("doc_date", "2000-01-01")),
        blocks=blocks,
    )
