"""Uploaded files: size and type limits, and a check that the content is what the name says."""

from __future__ import annotations

import os
import uuid
import zipfile
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from .errors import DomainError

# File signatures (first bytes) by extension: a renamed executable never passes.
_PDF, _PNG, _JPEG, _ZIP = b"%PDF-", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"PK\x03\x04"
FILE_SIGNATURES = {
    "pdf": _PDF,
    "png": _PNG,
    "jpg": _JPEG,
    "jpeg": _JPEG,
    "odt": _ZIP,
    "ods": _ZIP,
    "docx": _ZIP,
    "xlsx": _ZIP,
}
ODF_MIMETYPES = {
    "odt": b"application/vnd.oasis.opendocument.text",
    "ods": b"application/vnd.oasis.opendocument.spreadsheet",
}
OOXML_PARTS = {"docx": "word/", "xlsx": "xl/"}


def _extension(name: str) -> str:
    base = os.path.basename(name or "")
    return base.rsplit(".", 1)[-1].lower() if "." in base else ""


def _content_matches(file: Any, ext: str) -> bool:
    """True if the first bytes (and, for office files, the archive's parts) match the extension."""
    file.seek(0)
    head = file.read(16)
    file.seek(0)
    if not head.startswith(FILE_SIGNATURES[ext]):
        return False
    if FILE_SIGNATURES[ext] != _ZIP:
        return True
    try:
        with zipfile.ZipFile(file) as archive:
            names = archive.namelist()
            if ext in ODF_MIMETYPES:
                return (
                    "mimetype" in names and archive.read("mimetype").strip() == ODF_MIMETYPES[ext]
                )
            return "[Content_Types].xml" in names and any(
                n.startswith(OOXML_PARTS[ext]) for n in names
            )
    except (zipfile.BadZipFile, KeyError, OSError):
        return False
    finally:
        file.seek(0)


def private_upload_path(folder: str, owner_id: object, filename: str) -> str:
    """Where an uploaded file is stored: `<folder>/<owner id>/<random name>.<ext>`. The original
    name is kept in the database, never in the path (no guessing, no clashes)."""
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"{folder}/{owner_id}/{uuid.uuid4().hex}.{ext}"


def upload_error(file: Any) -> str | None:
    """The reason a file is refused (too large, type not allowed, content not matching), or None."""
    ext = _extension(file.name)
    allowed = [e.lower() for e in settings.UPLOAD_ALLOWED_EXTENSIONS]
    max_bytes = settings.UPLOAD_MAX_BYTES
    if file.size > max_bytes:
        return _("Le fichier dépasse la taille maximale de %(max)s Mo.") % {
            "max": max_bytes // (1024 * 1024)
        }
    if ext not in allowed or ext not in FILE_SIGNATURES:
        return _("Type de fichier refusé. Formats acceptés : %(list)s.") % {
            "list": ", ".join(allowed)
        }
    if not _content_matches(file, ext):
        return _(
            "Le contenu du fichier ne correspond pas à un fichier %(ext)s : il est peut-être endommagé "
            "ou renommé. Déposez le document d'origine."
        ) % {"ext": ext.upper()}
    return None


def validate_upload(file: Any, *, field: str = "file") -> None:
    """Raise a DomainError on `field` if the file is refused."""
    if problem := upload_error(file):
        raise DomainError(problem, field=field)
