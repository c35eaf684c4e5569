"""Reading the tabular files people actually send: CSV in UTF-8 (with or without BOM), UTF-16 or
Latin-1/CP1252, separated by `;`, `,`, tab or `|`; XLSX; ODS.

`open_table(file)` sniffs the format, encoding and separator, normalises the headers and yields the
rows one at a time (CSV and XLSX are streamed; ODS is loaded whole by odfpy). The cell parsers
either return a value or raise `CellError` saying exactly why not, in French; the importer adds the
row and the column.

Row numbers are those a spreadsheet shows: the header is row 1, the first data row is row 2 (a
quoted cell spanning several lines still counts as one row). Blank rows are skipped but counted.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import io
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, Any

from django.utils.translation import gettext as _

from core.errors import DomainError

DELIMITERS = (";", ",", "\t", "|")
SAMPLE_BYTES = 64 * 1024
# Spaces a spreadsheet or a word processor leaves in numbers and names: no-break, narrow no-break,
# thin, figure spaces, and the zero-width ones.
_SPACES = re.compile(r"[\s\u00a0\u2007\u2009\u202f\u200b\ufeff]+")
_ZIP, _OLE = b"PK\x03\x04", b"\xd0\xcf\x11\xe0"


class CellError(ValueError):
    """A cell that cannot be read, and why (French). `row` and `column` are set by the importer."""

    def __init__(
        self, message: str, *, row: int | None = None, column: str = "", value: str = ""
    ) -> None:
        super().__init__(message)
        self.message = message
        self.row = row
        self.column = column
        self.value = value

    def __str__(self) -> str:
        if self.row is None:
            return self.message
        return _("Ligne %(row)s, colonne « %(column)s » : %(message)s") % {
            "row": self.row,
            "column": self.column,
            "message": self.message,
        }


# --------------------------------------------------------------------------- headers


def normalise_header(text: Any) -> str:
    """Header as compared: no BOM, no accents, one space between words, case-folded."""
    text = unicodedata.normalize("NFKD", str(text or "").replace("\ufeff", ""))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return _SPACES.sub(" ", text).strip().casefold()


def loose_header(text: Any) -> str:
    """Header reduced to its letters and digits ("Code_postal", "code postal" → "codepostal")."""
    return re.sub(r"[^0-9a-z]", "", normalise_header(text))


# --------------------------------------------------------------------------- the table


@dataclass
class Table:
    """An opened file: how it was read, its headers, and its rows as strings."""

    format: str  # "csv", "xlsx" or "ods"
    headers: list[str]
    encoding: str = ""
    delimiter: str = ""
    _rows: Callable[[], Iterator[list[Any]]] = field(repr=False, default=lambda: iter(()))
    blank_rows: int = 0

    @property
    def keys(self) -> list[str]:
        return [normalise_header(h) for h in self.headers]

    def describe(self) -> dict[str, str]:
        """How the file was read, for the report."""
        info = {"format": self.format.upper()}
        if self.encoding:
            info["encoding"] = self.encoding
        if self.delimiter:
            info["delimiter"] = {"\t": "tabulation"}.get(self.delimiter, self.delimiter)
        return info

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """(row number, cells as text) for every non-blank row. Typed spreadsheet cells come back
        as canonical text: dates as YYYY-MM-DD, numbers with a point and no exponent."""
        self.blank_rows = 0
        typed = self.format != "csv"
        for number, raw in enumerate(self._rows(), start=2):
            cells = [_as_text(v) for v in raw] if typed else raw
            if not any(cells) or not "".join(cells).strip():
                self.blank_rows += 1
                continue
            yield number, cells


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, datetime.datetime):
        if value.time() == datetime.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return format(Decimal(repr(value)), "f")
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def open_table(file: IO[bytes], *, name: str = "") -> Table:
    """Open an uploaded file (binary, seekable). Raises DomainError(field="file") with a French
    message when the file cannot be read as a table."""
    file = _binary(file)
    file.seek(0)
    head = file.read(8)
    file.seek(0)
    lower = name.lower()
    if head.startswith(_ZIP):
        return _open_zip(file)
    if head.startswith(_OLE) or lower.endswith(".xls"):
        raise DomainError(
            _(
                "Le format Excel 97-2003 (.xls) n'est pas lu : enregistrez le fichier au format "
                "XLSX, ODS ou CSV."
            ),
            field="file",
        )
    if head.startswith(b"%PDF"):
        raise DomainError(
            _("Ce fichier est un PDF : déposez un tableau (CSV, XLSX ou ODS)."), field="file"
        )
    return _open_csv(file)


def _binary(file: Any) -> IO[bytes]:
    """The underlying binary stream of a Django File (uploads, storage files)."""
    from django.core.files.base import File

    while isinstance(file, File) and getattr(file, "file", None) is not None:
        file = file.file
    return file


def _empty_file() -> DomainError:
    return DomainError(_("Le fichier est vide : aucune ligne d'en-tête."), field="file")


# --------------------------------------------------------------------------- CSV


def detect_encoding(file: IO[bytes]) -> str:
    """UTF-8 (BOM or not) when the whole file decodes as UTF-8; UTF-16 with a BOM; otherwise the
    Western single-byte encoding charset-normalizer finds most likely (CP1252 by default, which
    is Latin-1 plus the typographic quotes and € that Excel writes)."""
    file.seek(0)
    head = file.read(4)
    file.seek(0)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        while chunk := file.read(1 << 20):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    finally:
        file.seek(0)
    sample = file.read(SAMPLE_BYTES * 4)
    file.seek(0)
    from charset_normalizer import from_bytes

    best = from_bytes(sample, cp_isolation=["cp1252", "latin_1", "iso8859_15"]).best()
    encoding = best.encoding if best is not None else "cp1252"
    if encoding in ("latin_1", "iso8859_15", "cp1252"):
        # Latin-1 files are read as CP1252 unless they use the 5 bytes CP1252 leaves undefined.
        encoding = "cp1252" if not re.search(rb"[\x81\x8d\x8f\x90\x9d]", sample) else "latin-1"
    return encoding.replace("_", "-")


def sniff_delimiter(sample: str) -> str:
    """The separator that gives the same number of cells (more than one) on the most lines."""
    lines = sample.splitlines(keepends=True)
    if len(lines) > 1 and not sample.endswith(("\n", "\r")):
        lines = lines[:-1]  # the sample may cut the last line
    text = "".join(lines[:50])
    best, best_score = ",", (0, 0)
    for delimiter in DELIMITERS:
        try:
            records = list(csv.reader(io.StringIO(text), delimiter=delimiter))
        except csv.Error:
            continue
        records = [r for r in records if any(c.strip() for c in r)]
        if not records or len(records[0]) < 2:
            continue
        width = len(records[0])
        score = (sum(1 for r in records if len(r) == width), width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


class _BorrowedText(io.TextIOWrapper):
    """A text view of the caller's binary file that never closes it (the upload is saved after
    it is read)."""

    def close(self) -> None:
        pass


def _open_csv(file: IO[bytes]) -> Table:
    encoding = detect_encoding(file)
    file.seek(0)
    raw_sample = file.read(SAMPLE_BYTES)
    file.seek(0)
    sample = raw_sample.decode(encoding, errors="ignore")
    if "\x00" in sample:
        raise DomainError(
            _("Ce fichier n'est pas un tableau lisible (contenu binaire)."), field="file"
        )
    delimiter = sniff_delimiter(sample)
    text = _BorrowedText(file, encoding=encoding, newline="")
    reader = csv.reader(text, delimiter=delimiter)
    try:
        headers = next(reader)
    except StopIteration:
        raise _empty_file()
    except (csv.Error, UnicodeDecodeError) as exc:
        raise DomainError(
            _("La ligne d'en-tête est illisible : %(error)s") % {"error": exc}, field="file"
        )
    if not any(h.strip() for h in headers):
        raise _empty_file()

    def rows() -> Iterator[list[str]]:
        try:
            yield from reader
        except csv.Error as exc:
            raise DomainError(
                _("Ligne %(row)s : le fichier CSV est mal formé (%(error)s).")
                % {"row": reader.line_num, "error": exc},
                field="file",
            )

    return Table(
        format="csv",
        headers=[clean_text(h) for h in headers],
        encoding={"utf-8-sig": "UTF-8 (BOM)"}.get(encoding, encoding.upper()),
        delimiter=delimiter,
        _rows=rows,
    )


# --------------------------------------------------------------------------- XLSX and ODS


def _open_zip(file: IO[bytes]) -> Table:
    try:
        with zipfile.ZipFile(file) as archive:
            names = set(archive.namelist())
            mimetype = archive.read("mimetype").strip() if "mimetype" in names else b""
    except zipfile.BadZipFile:
        raise DomainError(_("Le fichier est endommagé (archive illisible)."), field="file")
    finally:
        file.seek(0)
    if mimetype == b"application/vnd.oasis.opendocument.spreadsheet":
        return _open_ods(file)
    if any(n.startswith("xl/") for n in names):
        return _open_xlsx(file)
    raise DomainError(
        _("Ce fichier compressé n'est ni un classeur XLSX ni un classeur ODS."), field="file"
    )


def _open_xlsx(file: IO[bytes]) -> Table:
    import openpyxl

    try:
        book = openpyxl.load_workbook(file, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds; all mean unreadable
        raise DomainError(
            _("Le classeur XLSX est illisible : %(error)s") % {"error": exc}, field="file"
        )
    sheet = book.worksheets[0]
    iterator = sheet.iter_rows(values_only=True)
    headers = next(iterator, None)
    if headers is None or not any(h not in (None, "") for h in headers):
        raise _empty_file()
    headers = _trim_trailing_blanks([_as_text(h) for h in headers])

    def rows() -> Iterator[list[Any]]:
        yield from iterator

    return Table(format="xlsx", headers=[clean_text(h) for h in headers], _rows=rows)


def _open_ods(file: IO[bytes]) -> Table:
    import tablib

    try:
        data = tablib.Dataset().load(file.read(), format="ods")
    except Exception as exc:  # noqa: BLE001 - odfpy raises many kinds; all mean unreadable
        raise DomainError(
            _("Le classeur ODS est illisible : %(error)s") % {"error": exc}, field="file"
        )
    finally:
        file.seek(0)
    headers = _trim_trailing_blanks([_as_text(h) for h in (data.headers or [])])
    if not any(h.strip() for h in headers):
        raise _empty_file()

    def rows() -> Iterator[list[Any]]:
        for row in data:
            yield list(row)

    return Table(format="ods", headers=[clean_text(h) for h in headers], _rows=rows)


def _trim_trailing_blanks(headers: list[str]) -> list[str]:
    while headers and not headers[-1].strip():
        headers.pop()
    return headers


# --------------------------------------------------------------------------- cell parsers


def clean_text(value: Any) -> str:
    """Text without stray spaces: no-break and narrow spaces become spaces, runs collapse."""
    if value is None:
        return ""
    return _SPACES.sub(" ", str(value)).strip()


_PLAIN_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")
_CURRENCY = re.compile(r"\s*(€|eur|euros?)$", re.IGNORECASE)


def parse_decimal(text: str, *, strict: bool = False) -> Decimal:
    """A number written by a person or a spreadsheet: "1234.56", "1 234,56", "1.234,56",
    "1,234.56", "12 800 €". The decimal separator is the last of `,` and `.` when both appear, a
    lone `,` or `.` otherwise; digits may be grouped by threes with spaces, `'`, or the other sign.
    With `strict` (SCDL), only digits and a decimal point, as the schema says."""
    value = text.strip()
    if _PLAIN_NUMBER.match(value):
        return Decimal(value)
    if strict:
        if re.fullmatch(r"[+-]?\d+,\d+", value):
            raise CellError(
                _("« %(value)s » : le séparateur décimal doit être le point (ex. 1234.56).")
                % {"value": text}
            )
        raise CellError(
            _("« %(value)s » n'est pas un nombre (chiffres et point décimal, ex. 1234.56).")
            % {"value": text}
        )
    value = _SPACES.sub(" ", _CURRENCY.sub("", value)).strip()
    sign = ""
    if value[:1] in ("+", "-"):
        sign, value = value[0].replace("+", ""), value[1:].strip()
    if "," in value and "." in value:
        decimal_sep = "," if value.rfind(",") > value.rfind(".") else "."
    elif value.count(",") == 1:
        decimal_sep = ","
    elif value.count(".") == 1:
        decimal_sep = "."
    else:
        decimal_sep = ""
    integer, decimals = value.rsplit(decimal_sep, 1) if decimal_sep else (value, "")
    if not integer.isdigit():
        group = re.fullmatch(r"\d{1,3}(?:([ ',.])\d{3})(?:\1\d{3})*", integer)
        if not group or group.group(1) == decimal_sep:
            raise CellError(
                _("« %(value)s » n'est pas un nombre (ex. 1234,56 ou 1 234,56).") % {"value": text}
            )
        integer = re.sub(r"[ ',.]", "", integer)
    if decimal_sep and not decimals.isdigit():
        raise CellError(
            _("« %(value)s » n'est pas un nombre (ex. 1234,56 ou 1 234,56).") % {"value": text}
        )
    return Decimal(f"{sign}{integer}.{decimals}" if decimals else f"{sign}{integer}")


def parse_amount(text: str, *, strict: bool = False) -> Decimal:
    """An amount in euros: a number with at most 2 decimals (cents)."""
    value = parse_decimal(text, strict=strict)
    if value != value.quantize(Decimal("0.01")):
        raise CellError(
            _("« %(value)s » : un montant en euros a au plus 2 décimales.") % {"value": text}
        )
    return value.quantize(Decimal("0.01"))


_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_FR_DATE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
_ISO_DATETIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[ T]00:00(:00(\.0+)?)?$")


def parse_date(text: str, *, strict: bool = False) -> datetime.date:
    """A date as YYYY-MM-DD, or (not `strict`) DD/MM/YYYY, DD-MM-YYYY, DD.MM.YYYY and a midnight
    date-time from a spreadsheet."""
    value = text.strip()
    if len(value) == 10 and value[4] == value[7] == "-" and value.replace("-", "").isdigit():
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            raise CellError(_("« %(value)s » : cette date n'existe pas.") % {"value": text})
    match = _ISO_DATE.match(value)
    if match:
        year, month, day = (int(g) for g in match.groups())
    elif strict:
        raise CellError(
            _("« %(value)s » n'est pas une date au format AAAA-MM-JJ (ex. 2017-06-27).")
            % {"value": text}
        )
    elif match := _FR_DATE.match(value):
        day, month, year = (int(g) for g in match.groups())
    elif match := _ISO_DATETIME.match(value):
        year, month, day = (int(g) for g in match.groups()[:3])
    else:
        raise CellError(
            _("« %(value)s » n'est pas une date lisible (AAAA-MM-JJ, JJ/MM/AAAA ou JJ-MM-AAAA).")
            % {"value": text}
        )
    try:
        return datetime.date(year, month, day)
    except ValueError:
        raise CellError(_("« %(value)s » : cette date n'existe pas.") % {"value": text})


def parse_siret(text: str, *, strict: bool = False) -> str:
    """A SIRET: 14 digits whose key is right (python-stdnum: Luhn, La Poste exception). Spaces
    and dots between digit groups are removed unless `strict`."""
    from stdnum.fr import siret as stdnum_siret

    value = text.strip() if strict else re.sub(r"[\s.\u00a0\u202f-]", "", text)
    if not strict and re.fullmatch(r"\d{14}0+", value) and "." in text:
        value = value[:14]  # 52499120500013.0 from a spreadsheet's number cell
    if not re.fullmatch(r"\d{14}", value):
        if re.fullmatch(r"\d{13}", value):
            raise CellError(
                _(
                    "« %(value)s » compte 13 chiffres au lieu de 14 : le tableur a peut-être "
                    "supprimé le zéro initial."
                )
                % {"value": text}
            )
        if re.fullmatch(r"\d{9}", value):
            raise CellError(
                _("« %(value)s » est un SIREN (9 chiffres) : le SIRET en compte 14.")
                % {"value": text}
            )
        raise CellError(
            _("« %(value)s » n'est pas un SIRET (14 chiffres attendus).") % {"value": text}
        )
    if not stdnum_siret.is_valid(value):
        raise CellError(
            _("« %(value)s » n'est pas un SIRET valide (clé de contrôle incorrecte).")
            % {"value": text}
        )
    return value


def parse_year(text: str) -> int:
    value = text.strip()
    if value.endswith(".0"):
        value = value[:-2]
    if not re.fullmatch(r"\d{4}", value) or not 1990 <= int(value) <= 2100:
        raise CellError(
            _("« %(value)s » n'est pas un exercice (une année, ex. 2024).") % {"value": text}
        )
    return int(value)
