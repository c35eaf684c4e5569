"""PAdES signing and validation with pyHanko: load a PKCS#12 signer, check its certificate against
the configured trust roots and revocation lists (never fetched), sign a PDF as an incremental
update with a visible block, and validate every signature of a signed PDF again."""

from __future__ import annotations

import datetime
import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asgiref.sync import async_to_sync
from asn1crypto import x509 as asn1_x509
from django.conf import settings
from django.utils.translation import gettext as _
from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils import embed
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign import fields, signers
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.signers.pdf_signer import PdfSignatureMetadata, PdfSigner
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import (
    ExpiredError,
    NotYetValidError,
    PathBuildingError,
    PathValidationError,
    RevokedError,
)

from core.errors import DomainError

# Where the visible blocks go: the bottom of the last page, two per row (A4: 595 × 842 pt).
BLOCK_WIDTH, BLOCK_HEIGHT, BLOCK_MARGIN = 250, 62, 45


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class CertificateRefused(DomainError):
    """The signer's certificate is expired, revoked or not trusted: nothing is signed."""


class BrokenSignedDocument(DomainError):
    """A stored signed PDF does not validate any more (a modified byte, a foreign signature…)."""

    status_code = 409


def load_signer(path: str, passphrase: str | None, *, owner: str) -> signers.SimpleSigner:
    """The signer of a PKCS#12 file, or a clear refusal naming whose certificate it is."""
    if not path or not Path(path).is_file():
        raise DomainError(
            _("Le certificat de signature de %(owner)s est introuvable sur le serveur.")
            % {"owner": owner},
            code="certificate_missing",
        )
    if passphrase is None:
        raise DomainError(
            _("La phrase de passe du certificat de %(owner)s n'est pas configurée.")
            % {"owner": owner},
            code="certificate_passphrase_missing",
        )
    try:
        signer = signers.SimpleSigner.load_pkcs12(  # type: ignore[no-untyped-call]
            path, passphrase=passphrase.encode()
        )
    except Exception:  # noqa: BLE001 — pyHanko/cryptography raise many kinds for a bad file
        signer = None
    if not isinstance(signer, signers.SimpleSigner) or signer.signing_cert is None:
        raise DomainError(
            _("Le certificat de %(owner)s ne peut pas être ouvert (fichier ou phrase de passe).")
            % {"owner": owner},
            code="certificate_unreadable",
        )
    return signer


def _read(path: str) -> bytes:
    return Path(path).read_bytes()


def trust_context(moment: datetime.datetime | None = None) -> ValidationContext:
    """The trust roots and revocation lists of the settings; nothing fetched from the network.
    A certificate whose revocation status cannot be established is refused (hard-fail)."""
    roots = [
        load_cert_from_pemder(p)  # type: ignore[no-untyped-call]
        for p in settings.SIGNATURE_TRUST_ROOTS
    ]
    crls = [_read(p) for p in settings.SIGNATURE_CRLS]
    return ValidationContext(
        trust_roots=roots,
        crls=crls,
        allow_fetching=False,
        revocation_mode="hard-fail",
        moment=moment,
    )


def check_certificate(
    cert: asn1_x509.Certificate, *, owner: str, others: Sequence[asn1_x509.Certificate] = ()
) -> None:
    """Refuse an expired, not yet valid, revoked or untrusted certificate, with the reason."""
    validator = CertificateValidator(
        cert, intermediate_certs=list(others), validation_context=trust_context()
    )
    try:
        # The key usages are the certificate authority's business; the path, the validity
        # period and the revocation status are ours.
        async_to_sync(validator.async_validate_usage)(set())
    except ExpiredError:
        raise CertificateRefused(
            _("Le certificat de %(owner)s a expiré le %(date)s : signature refusée.")
            % {"owner": owner, "date": cert.not_valid_after.strftime("%d/%m/%Y")},
            code="certificate_expired",
        ) from None
    except NotYetValidError:
        raise CertificateRefused(
            _("Le certificat de %(owner)s n'est pas encore valide : signature refusée.")
            % {"owner": owner},
            code="certificate_not_yet_valid",
        ) from None
    except RevokedError:
        raise CertificateRefused(
            _("Le certificat de %(owner)s a été révoqué : signature refusée.") % {"owner": owner},
            code="certificate_revoked",
        ) from None
    except (PathBuildingError, PathValidationError):
        raise CertificateRefused(
            _(
                "Le certificat de %(owner)s n'est pas reconnu par une autorité de confiance "
                "ou son statut de révocation est inconnu : signature refusée."
            )
            % {"owner": owner},
            code="certificate_untrusted",
        ) from None


def _ascii_safe(text: str) -> str:
    """The standard PDF font of the stamp draws Latin-1 only: no dashes, no euro sign."""
    text = text.replace("—", "-").replace("–", "-").replace("€", "EUR").replace("%", "%%")
    return text.encode("latin-1", "replace").decode("latin-1")


def block_box(position: int) -> tuple[int, int, int, int]:
    """The rectangle of the n-th visible signature block (1-based)."""
    column, row = (position - 1) % 2, (position - 1) // 2
    x = 40 + column * (BLOCK_WIDTH + 15)
    y = BLOCK_MARGIN + row * (BLOCK_HEIGHT + 8)
    return x, y, x + BLOCK_WIDTH, y + BLOCK_HEIGHT


def sign_pdf(
    pdf: bytes,
    signer: signers.SimpleSigner,
    *,
    position: int,
    field_name: str,
    stamp_lines: Sequence[str],
    reason: str,
    name: str,
    evidence: dict[str, Any] | None = None,
) -> bytes:
    """Add one PAdES signature as an incremental update (earlier signatures stay valid), with a
    visible block on the last page and, for the association's signature, the evidence embedded
    as a JSON file in the same revision."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    if evidence is not None:
        data = json.dumps(evidence, ensure_ascii=False, indent=2, sort_keys=True).encode()
        embed.embed_file(
            writer,
            embed.FileSpec(
                file_spec_string=f"preuve-{field_name.lower()}.json",
                embedded_data=embed.EmbeddedFileObject.from_file_data(
                    writer, data=data, mime_type="application/json"
                ),
                description="Preuve de la signature électronique simple",
            ),
        )
    meta = PdfSignatureMetadata(
        field_name=field_name,
        reason=reason[:500],
        location="Pluriel",
        name=name[:200],
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
    )
    style = TextStampStyle(
        stamp_text="\n".join(_ascii_safe(line) for line in stamp_lines) + "\n%(ts)s",
        text_box_style=TextBoxStyle(font_size=7),
        border_width=1,
    )
    spec = fields.SigFieldSpec(field_name, on_page=-1, box=block_box(position))
    output = PdfSigner(meta, signer, stamp_style=style, new_field_spec=spec).sign_pdf(writer)
    return bytes(output.getvalue())


@dataclass(frozen=True)
class Expected:
    """What the platform recorded about one signature, to compare with what the PDF says."""

    field_name: str
    certificate_subject: str
    signed_at: datetime.datetime


@dataclass(frozen=True)
class Checked:
    field_name: str
    signer: str
    signing_time: datetime.datetime | None


# The clock of the signing machine and the recorded time may differ by a few seconds.
TIME_TOLERANCE = datetime.timedelta(minutes=2)


def _broken(reason: str) -> BrokenSignedDocument:
    return BrokenSignedDocument(
        _("Le document signé ne peut pas être validé : %(reason)s. Téléchargement refusé.")
        % {"reason": reason},
        code="signed_document_broken",
    )


def validate_signed_pdf(pdf: bytes, expected: Sequence[Expected]) -> list[Checked]:
    """Validate every signature again (integrity, trusted signer, signing time) with pyHanko, as
    of the time each was recorded; refuse the file with the reason at the first fault."""
    try:
        found = list(PdfFileReader(io.BytesIO(pdf), strict=False).embedded_signatures)
    except Exception:  # noqa: BLE001 — a damaged file can fail anywhere in the parser
        raise _broken(_("le fichier n'est plus un PDF lisible")) from None
    if len(found) != len(expected):
        raise _broken(_("le nombre de signatures ne correspond pas à celles enregistrées"))
    checked: list[Checked] = []
    for index, (embedded, wanted) in enumerate(zip(found, expected, strict=True), start=1):
        if embedded.field_name != wanted.field_name:
            raise _broken(_("la signature n° %(n)s n'est pas celle enregistrée") % {"n": index})
        try:
            status = validate_pdf_signature(
                embedded, signer_validation_context=trust_context(wanted.signed_at)
            )
        except (SignatureValidationError, ValueError, KeyError):
            raise _broken(_("la signature n° %(n)s est illisible") % {"n": index}) from None
        if not status.intact:
            raise _broken(
                _("le contenu couvert par la signature n° %(n)s a été modifié") % {"n": index}
            )
        if not status.valid:
            raise _broken(_("la signature n° %(n)s n'est pas valide") % {"n": index})
        if not status.trusted:
            raise _broken(
                _("le certificat de la signature n° %(n)s n'est pas de confiance") % {"n": index}
            )
        subject = status.signing_cert.subject.human_friendly
        if subject != wanted.certificate_subject:
            raise _broken(
                _("la signature n° %(n)s n'est pas du signataire enregistré") % {"n": index}
            )
        when = status.signer_reported_dt
        if when is None or abs(when - wanted.signed_at) > TIME_TOLERANCE:
            raise _broken(
                _("l'heure de la signature n° %(n)s ne correspond pas à celle enregistrée")
                % {"n": index}
            )
        level = status.modification_level
        if level is not None and level > ModificationLevel.FORM_FILLING:
            raise _broken(_("le document a été modifié après la signature n° %(n)s") % {"n": index})
        if index == len(expected) and status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
            raise _broken(_("des données ont été ajoutées après la dernière signature"))
        checked.append(Checked(wanted.field_name, subject, when))
    return checked


def embedded_evidence(pdf: bytes) -> dict[str, Any]:
    """The evidence files embedded in a signed PDF, by name (for checks and support)."""
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    out: dict[str, Any] = {}
    root = reader.root
    if "/Names" not in root:
        return out
    names = root["/Names"]
    if "/EmbeddedFiles" not in names:
        return out
    array = names["/EmbeddedFiles"]["/Names"]
    for i in range(0, len(array), 2):
        spec = array[i + 1]
        stream = spec["/EF"]["/F"]
        out[str(array[i])] = json.loads(stream.data)
    return out
