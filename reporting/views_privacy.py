"""The register of processing (RGPD art. 30) as ODS and PDF, next to core's CSV: generated from
the declared retention rules (core.privacy.register), written with the project's own ODS writer
(reporting.exports) and PDF builder (reporting.contracts.documents). Public, like the CSV and the
« Vos données » page: it describes processing, it holds nobody's data."""

from __future__ import annotations

import io

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from core.clock import today
from core.privacy.register import register_rows

from .contracts.documents import Doc, render_pdf
from .exports import ODS_MIME, OdsWriter


def _title() -> str:
    return _("Registre des activités de traitement (RGPD art. 30)")


def processing_register_ods(request: HttpRequest) -> HttpResponse:
    rows = register_rows()
    buffer = io.BytesIO()
    writer = OdsWriter(buffer, list(rows[0]), _("Registre des traitements"))
    writer.write_rows([list(row.values()) for row in rows])
    writer.close()
    response = HttpResponse(buffer.getvalue(), content_type=ODS_MIME)
    response["Content-Disposition"] = 'attachment; filename="registre-des-traitements.ods"'
    return response


def processing_register_pdf(request: HttpRequest) -> HttpResponse:
    """One section per kind of personal data (a nine-column table does not fit a page)."""
    rows = register_rows()
    day = today()
    doc = Doc(
        title=_title(),
        subtitle=_("Généré par Pluriel le %(date)s à partir des règles de conservation déclarées")
        % {"date": day.strftime("%d/%m/%Y")},
        doc_date=day,
    )
    heading = _("Catégorie de données")
    for row in rows:
        doc.heading(row[heading])
        doc.table(
            [_("Rubrique"), _("Contenu")],
            [[key, value] for key, value in row.items() if key != heading],
        )
    response = HttpResponse(render_pdf(doc), content_type="application/pdf")
    response["Content-Disposition"] = 'attachment; filename="registre-des-traitements.pdf"'
    return response
