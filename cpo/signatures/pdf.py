"""PAdES signing and validation with pyHanko: load a PKCS#12 signer, check its certificate against
the configured trust roots and revocation lists (never fetched), sign a PDF as an incremental
update with a visible block, an RFC 3161 timestamp and the validation data (PAdES B-LT: the
certificates and CRLs in the document security store), and validate every signature of a signed
PDF again — the signer as of its timestamp, so that it still validates once its certificate has
expired."""

from __future__ import annotations

import datetime
import functools
import hashlib
import io
import json
import logging
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
from pyhanko.sign.general import SigningError
from pyhanko.sign.signers.pdf_signer import PdfSignatureMetadata, PdfSigner
from pyhanko.sign.timestamps import (
    DummyTimeStamper,
    HTTPTimeStamper,
    TimeStamper,
    TimestampRequestError,
)
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.errors import NoDSSFoundError, SignatureValidationError
from pyhanko.sign.validation.generic_cms import extract_tst_data_iter
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import (
    ExpiredError,
    NotYetValidError,
    PathBuildingError,
    PathError,
    PathValidationError,
    RevokedError,
    ValidationError,
)

from core.errors import DomainError

logger = logging.getLogger(__name__)

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


def _roots(paths: Sequence[str]) -> list[asn1_x509.Certificate]:
    return [load_cert_from_pemder(p) for p in paths]  # type: ignore[no-untyped-call]


def trust_context(
    moment: datetime.datetime | None = None,
    *,
    with_tsa: bool = False,
    dss: DocumentSecurityStore | None = None,
) -> ValidationContext:
    """The trust roots and revocation lists of the settings (plus, `with_tsa`, the roots of the
    time-stamping authority, and the certificates and CRLs embedded in a signed PDF's `dss`);
    nothing fetched from the network. A certificate whose revocation status cannot be
    established is refused (hard-fail)."""
    roots = _roots(settings.SIGNATURE_TRUST_ROOTS)
    if with_tsa:
        roots += _roots(settings.SIGNATURE_TSA_TRUST_ROOTS)
    kwargs: dict[str, Any] = {
        "trust_roots": roots,
        "crls": [_read(p) for p in settings.SIGNATURE_CRLS],
        "allow_fetching": False,
        "revocation_mode": "hard-fail",
        "moment": moment,
    }
    if dss is not None:
        return dss.as_validation_context(kwargs)
    return ValidationContext(**kwargs)


@functools.lru_cache(maxsize=4)
def _local_timestamper(path: str, passphrase: str | None) -> TimeStamper:
    """The in-process authority of a local key, loaded once (an RSA key takes ~60 ms to load)."""
    tsa = load_signer(path, passphrase, owner=_("l'autorité d'horodatage"))
    assert tsa.signing_cert is not None  # load_signer refuses a file without one
    return DummyTimeStamper(
        tsa_cert=tsa.signing_cert, tsa_key=tsa.signing_key, certs_to_embed=tsa.cert_registry
    )


def timestamper() -> TimeStamper:
    """The RFC 3161 time-stamping authority that dates every signature: the one at
    `SIGNATURE_TSA_URL` in production; else, for the demo and the tests, pyHanko's in-process
    authority signing with the local key `SIGNATURE_TSA_PKCS12` (a real RFC 3161 token, issued
    by the test PKI). Without either, nothing is signed."""
    if settings.SIGNATURE_TSA_URL:
        return HTTPTimeStamper(settings.SIGNATURE_TSA_URL, timeout=settings.SIGNATURE_TSA_TIMEOUT)
    if settings.SIGNATURE_TSA_PKCS12:
        return _local_timestamper(
            settings.SIGNATURE_TSA_PKCS12, settings.SIGNATURE_PASSPHRASES.get("TSA")
        )
    raise DomainError(
        _("Aucune autorité d'horodatage n'est configurée : la signature est impossible."),
        code="tsa_missing",
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
    long_term: bool = True,
) -> bytes:
    """Add one PAdES signature as an incremental update (earlier signatures stay valid), with a
    visible block on the last page and, for the association's signature, the evidence embedded
    as a JSON file in the same revision. `long_term` (always, but for the benchmark's reference):
    an RFC 3161 timestamp of the signature and, in a further incremental update, the certificates
    and CRLs needed to validate it later (the document security store: PAdES B-LT)."""
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
        embed_validation_info=long_term,
        validation_context=trust_context(with_tsa=True) if long_term else None,
    )
    style = TextStampStyle(
        stamp_text="\n".join(_ascii_safe(line) for line in stamp_lines) + "\n%(ts)s",
        text_box_style=TextBoxStyle(font_size=7),
        border_width=1,
    )
    spec = fields.SigFieldSpec(field_name, on_page=-1, box=block_box(position))
    pdf_signer = PdfSigner(
        meta,
        signer,
        timestamper=timestamper() if long_term else None,
        stamp_style=style,
        new_field_spec=spec,
    )
    try:
        output = pdf_signer.sign_pdf(writer)
    except TimestampRequestError:
        raise DomainError(
            _("L'autorité d'horodatage n'a pas répondu : réessayez dans quelques minutes."),
            code="tsa_unavailable",
        ) from None
    except (SigningError, PathError, ValidationError):
        # pyHanko validates the signer's and the authority's certificates before embedding their
        # validation data: an authority that is not trusted (or revoked) stops the signature.
        logger.warning("Validation data of a signature could not be gathered", exc_info=True)
        raise CertificateRefused(
            _(
                "Les données de validation de la signature n'ont pas pu être réunies : le "
                "certificat de l'autorité d'horodatage ou du signataire n'est pas reconnu par "
                "une autorité de confiance. Signature refusée."
            ),
            code="validation_data_missing",
        ) from None
    return bytes(output.getvalue())


def _timestamp_time(embedded: Any) -> datetime.datetime | None:
    """The time written in a signature's timestamp token, not yet checked (None without one)."""
    for token in extract_tst_data_iter(embedded.signer_info, signed=False):
        info = token["encap_content_info"]["content"].parsed
        return info["gen_time"].native  # type: ignore[no-any-return]
    return None


def signature_timestamp(pdf: bytes, field_name: str) -> datetime.datetime | None:
    """The time the authority gave the signature `field_name` of a signed PDF."""
    for embedded in PdfFileReader(io.BytesIO(pdf), strict=False).embedded_signatures:
        if embedded.field_name == field_name:
            return _timestamp_time(embedded)
    return None


@dataclass(frozen=True)
class Expected:
    """What the platform recorded about one signature, to compare with what the PDF says."""

    field_name: str
    certificate_subject: str
    signed_at: datetime.datetime
    # Signed with an RFC 3161 timestamp (every signature since B-LT; older ones have none).
    timestamped: bool = False


@dataclass(frozen=True)
class Checked:
    field_name: str
    signer: str
    signing_time: datetime.datetime | None
    timestamp: datetime.datetime | None = None


# The clock of the signing machine and the recorded time may differ by a few seconds.
TIME_TOLERANCE = datetime.timedelta(minutes=2)


def _broken(reason: str) -> BrokenSignedDocument:
    return BrokenSignedDocument(
        _("Le document signé ne peut pas être validé : %(reason)s. Téléchargement refusé.")
        % {"reason": reason},
        code="signed_document_broken",
    )


def _status(embedded: Any, wanted: Expected, index: int, dss: Any) -> Any:
    """pyHanko's verdict on one signature. A timestamped one is validated as of the time its
    timestamp token proves (ETSI EN 319 102-1's past validation, simplified): the token itself —
    trusted authority, message imprint of the signature, the token's own signature — and the
    signer's certificate, both with the certificates and CRLs embedded in the document at signing
    (and the configured ones), so an expired certificate still validates. An older signature
    without a timestamp: as of the time the platform recorded."""
    if not wanted.timestamped:
        return validate_pdf_signature(
            embedded, signer_validation_context=trust_context(wanted.signed_at)
        )
    stamped_at = _timestamp_time(embedded)
    if stamped_at is None:
        raise _broken(_("la signature n° %(n)s n'est pas horodatée") % {"n": index})
    status = validate_pdf_signature(
        embedded,
        signer_validation_context=trust_context(stamped_at, dss=dss),
        ts_validation_context=trust_context(stamped_at, with_tsa=True, dss=dss),
    )
    stamp = status.timestamp_validity
    if stamp is None or not stamp.intact or not stamp.valid:
        raise _broken(
            _("l'horodatage de la signature n° %(n)s ne correspond pas à la signature")
            % {"n": index}
        )
    if not stamp.trusted:
        raise _broken(
            _("l'horodatage de la signature n° %(n)s ne vient pas d'une autorité de confiance")
            % {"n": index}
        )
    return status


def validate_signed_pdf(pdf: bytes, expected: Sequence[Expected]) -> list[Checked]:
    """Validate every signature again (integrity, timestamp, trusted signer, signing time) with
    pyHanko; refuse the file with the reason at the first fault."""
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        found = list(reader.embedded_signatures)
        try:
            dss = DocumentSecurityStore.read_dss(reader)
        except NoDSSFoundError:
            dss = None
    except Exception:  # noqa: BLE001 — a damaged file can fail anywhere in the parser
        raise _broken(_("le fichier n'est plus un PDF lisible")) from None
    if len(found) != len(expected):
        raise _broken(_("le nombre de signatures ne correspond pas à celles enregistrées"))
    checked: list[Checked] = []
    for index, (embedded, wanted) in enumerate(zip(found, expected, strict=True), start=1):
        if embedded.field_name != wanted.field_name:
            raise _broken(_("la signature n° %(n)s n'est pas celle enregistrée") % {"n": index})
        try:
            status = _status(embedded, wanted, index, dss)
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
        stamp = status.timestamp_validity
        when = stamp.timestamp if stamp is not None else status.signer_reported_dt
        if when is None or abs(when - wanted.signed_at) > TIME_TOLERANCE:
            raise _broken(
                _("l'heure de la signature n° %(n)s ne correspond pas à celle enregistrée")
                % {"n": index}
            )
        level = status.modification_level
        if level is not None and level > ModificationLevel.FORM_FILLING:
            raise _broken(_("le document a été modifié après la signature n° %(n)s") % {"n": index})
        # After the last signature: nothing, or only its validation data (the DSS revision).
        last_ok = status.coverage == SignatureCoverageLevel.ENTIRE_FILE or (
            status.coverage == SignatureCoverageLevel.ENTIRE_REVISION
            and level is not None
            and level <= ModificationLevel.LTA_UPDATES
        )
        if index == len(expected) and not last_ok:
            raise _broken(_("des données ont été ajoutées après la dernière signature"))
        checked.append(
            Checked(wanted.field_name, subject, when, stamp.timestamp if stamp else None)
        )
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
