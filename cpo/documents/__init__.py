"""Documents generated from the data, ready to sign (PDF, in French).

- `agreement_pdf(agreement)`: the agreement (convention, or convention pluriannuelle d'objectifs
  over several years) following the structure of the model of the circulaire n° 5811/SG of
  29 September 2015: parties, préambule, object and objectives, duration, amounts per year and per
  funder, payment terms, reports and annual evaluation, amendments, termination, recovery,
  signatures.
- `notification_pdf(agreement)`: the notification letter (décision attributive) of an award that
  needs no written agreement (23 000 € a year or less: loi n° 2000-321 art. 10, décret
  n° 2001-495) — `Agreement.kind == "decision"`.
- `render_partnership_annex(agreement)`: the partnership agreement annexed to the agreement of a
  collective file paid to the lead, who passes each partner its part (docs/domain.md §9).
- `amendment_pdf(amendment)`: the amendment (avenant n° X) and what it changes (before/after).
- `agreement_document(agreement)` picks the right one of the first two; `*_document()` return a
  `RenderedDocument` (bytes, file name, page count and the plain text of every block — the same
  text as the PDF, for tests and search).

Modules: `rendering` (French formatting, the PDF builder), `facts` (what the documents say, read
from the data), `agreement`, `notification`, `amendment` (one per document), `pdfs` (the entry
points). The legal clauses are Django templates under `cpo/templates/cpo/documents/`.

Everything is read from the database, nothing is written. The output is deterministic: the same
data gives the same bytes (reportlab's invariant mode; the PDF creation date is the date of the
agreement — signature, else notification, else creation — never the clock). The text is always
French (the language of the legal act), whatever the language of the request.

Amounts are written « 30 000,00 € » and dates « 25 novembre 2026 » (« 1er janvier 2027 »), with
no-break spaces so that an amount is never split across two lines. The PDF uses the standard
Helvetica fonts (no font file to ship); a character they cannot draw (e.g. « Ł ») is replaced by its
unaccented letter, or « ? ».
"""

from .agreement import render_agreement
from .amendment import render_amendment
from .notification import render_notification
from .partnership import has_partnership_annex, render_partnership_annex
from .pdfs import (
    agreement_document,
    agreement_pdf,
    amendment_document,
    amendment_pdf,
    notification_pdf,
)
from .rendering import (
    BLANK,
    CONTENT_TYPE,
    FRAME_WIDTH,
    NBSP,
    PAGE_MARGIN,
    STYLES,
    RenderedDocument,
    euros,
    long_date,
    pdf_safe,
    percent,
)

__all__ = [
    "has_partnership_annex",
    "render_partnership_annex",
    "BLANK",
    "CONTENT_TYPE",
    "FRAME_WIDTH",
    "NBSP",
    "PAGE_MARGIN",
    "RenderedDocument",
    "STYLES",
    "agreement_document",
    "agreement_pdf",
    "amendment_document",
    "amendment_pdf",
    "euros",
    "long_date",
    "notification_pdf",
    "pdf_safe",
    "percent",
    "render_agreement",
    "render_amendment",
    "render_notification",
]
