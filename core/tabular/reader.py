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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, Any, cast

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


# --------------------------------------------------------------------------- limits

#: What a file may hold, checked before it is loaded (a spreadsheet's declared sizes, a CSV's
#: line lengths as they are read): beyond, the file is refused with the limit in the message.
MAX_COLUMNS = 500
MAX_ROWS = 1_000_000
MAX_LINE_BYTES = 1024 * 1024
#: A cell longer than this is a quote left open (the csv module's default field limit).
MAX_CELL_CHARS = 131_072
#: Lines (or rows) named one by one in a warning; all are counted.
NAMED_LINES = 20


def _too_many_columns(count: int) -> DomainError:
    return DomainError(
        _(
            "Le fichier compte %(n)s colonnes, au-delà de la limite de %(max)s : gardez seulement "
            "les colonnes à importer."
        )
        % {"n": count, "max": MAX_COLUMNS},
        field="file",
    )


def _too_many_rows() -> DomainError:
    return DomainError(
        _("Le fichier dépasse %(max)s lignes : découpez-le en plusieurs fichiers.")
        % {"max": f"{MAX_ROWS:,}".replace(",", " ")},
        field="file",
    )


def line_list(numbers: list[int], count: int) -> str:
    """« 3, 8, 12 » or « 3, 8, 12… (57 en tout) »."""
    text = ", ".join(str(n) for n in numbers[:NAMED_LINES])
    if count > len(numbers[:NAMED_LINES]):
        text += "… " + _("(%(n)s en tout)") % {"n": count}
    return text


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
    sheet: str = ""
    sheets: list[str] = field(default_factory=list)
    decimal: str = ""  # the decimal separator the numbers of the file use, when they show one
    decoder: LineDecoder | None = field(default=None, repr=False)
    #: Data rows whose cell count differs from the header's (CSV): the separator may be wrong.
    ragged_rows: int = 0
    first_row: int = 2  # the number of the first data row (a spreadsheet's title rows skipped)
    title_rows: list[str] = field(default_factory=list)
    formulas_without_value: int = 0
    merged_cells: int = 0

    @property
    def keys(self) -> list[str]:
        return [normalise_header(h) for h in self.headers]

    def describe(self) -> dict[str, Any]:
        """How the file was read, for the report."""
        info: dict[str, Any] = {"format": self.format.upper()}
        if self.encoding:
            info["encoding"] = self.encoding
        if self.delimiter:
            info["delimiter"] = {"\t": "tabulation"}.get(self.delimiter, self.delimiter)
        if self.decimal:
            info["decimal"] = self.decimal
        if self.sheet:
            info["sheet"] = self.sheet
        if len(self.sheets) > 1:
            info["sheets"] = self.sheets
        return info

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """(row number, cells as text) for every non-blank row. Typed spreadsheet cells come back
        as canonical text: dates as YYYY-MM-DD, numbers with a point and no exponent."""
        self.blank_rows = 0
        self.ragged_rows = 0
        typed = self.format != "csv"
        width = len(self.headers)
        for number, raw in enumerate(self._rows(), start=self.first_row):
            if number > MAX_ROWS + self.first_row:
                raise _too_many_rows()
            cells = [_as_text(v) for v in raw] if typed else raw
            if not any(cells) or not "".join(cells).strip():
                self.blank_rows += 1
                continue
            if (
                not typed
                and len(cells) != width
                and (len(cells) < width or any(c.strip() for c in cells[width:]))
            ):
                self.ragged_rows += 1
            yield number, cells
        if self.decoder is not None:
            self.encoding = self.decoder.describe()

    def notes(self, report: Any, row_count: int) -> None:
        """After the rows are read: what the report must say about how the file was read (lines
        in another encoding, invalid bytes, a separator that does not fit)."""
        if self.blank_rows:
            report.file["blank_rows"] = self.blank_rows
        if self.decoder is not None:
            self.decoder.notes(report)
        if self.title_rows:
            report.warning(
                None,
                "",
                " / ".join(self.title_rows)[:200],
                _("Ligne(s) de titre au-dessus du tableau ignorées : l'en-tête est la ligne %(n)s.")
                % {"n": self.first_row - 1},
            )
        if self.merged_cells:
            report.clean(
                "merged",
                "",
                self.merged_cells,
                _("cellules fusionnées : la valeur de la cellule fusionnée est recopiée"),
            )
        if self.formulas_without_value:
            report.warning(
                None,
                "",
                "",
                _(
                    "%(n)s formule(s) enregistrée(s) sans valeur calculée, lues comme vides : "
                    "ouvrez le classeur dans un tableur et enregistrez-le avant de le déposer."
                )
                % {"n": self.formulas_without_value},
            )
        if self.format != "csv":
            return
        others = [d for d in DELIMITERS if d != self.delimiter]
        if len(self.headers) == 1:
            seen = [d for d in others if d in self.headers[0]]
            report.hint(
                _(
                    "Chaque ligne tient dans une seule cellule : le séparateur de colonnes n'a pas "
                    "été reconnu (attendu : point-virgule, virgule, tabulation ou barre "
                    "verticale)."
                )
                + (
                    " "
                    + _("L'en-tête contient « %(seen)s » : est-ce le séparateur ?")
                    % {"seen": " ".join(seen)}
                    if seen
                    else ""
                )
            )
        elif row_count and self.ragged_rows * 2 > row_count:
            hint = _(
                "%(n)s lignes sur %(total)s n'ont pas autant de cellules que l'en-tête (séparateur "
                "« %(sep)s »)."
            ) % {"n": self.ragged_rows, "total": row_count, "sep": self.delimiter}
            if self.delimiter == ",":
                hint += " " + _(
                    "Des nombres écrits avec une virgule décimale (100 000,00) sans guillemets "
                    "coupent les cellules : enregistrez le fichier avec le point-virgule comme "
                    "séparateur, ou mettez ces nombres entre guillemets."
                )
            report.hint(hint)


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
        if value != value:  # NaN: an empty cell read by pandas
            return ""
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return format(Decimal(repr(value)), "f")
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def open_table(file: IO[bytes], *, name: str = "", sheet: str = "") -> Table:
    """Open an uploaded file (binary, seekable). Raises DomainError(field="file") with a French
    message when the file cannot be read as a table. `sheet`: a spreadsheet's sheet, by name or
    position from 1 (the first one otherwise)."""
    file = _binary(file)
    file.seek(0)
    head = file.read(8)
    file.seek(0)
    lower = name.lower()
    if head.startswith(_ZIP):
        from .spreadsheets import open_zip

        return open_zip(file, sheet=sheet)
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
    if lower.endswith((".xlsx", ".ods")):
        raise DomainError(
            _(
                "Ce fichier porte l'extension d'un classeur mais n'en est pas un (archive "
                "absente) : il est endommagé ou mal renommé."
            ),
            field="file",
        )
    return _open_csv(file)


def _binary(file: Any) -> IO[bytes]:
    """The underlying binary stream of a Django File (uploads, storage files)."""
    from django.core.files.base import File

    while isinstance(file, File) and getattr(file, "file", None) is not None:
        file = file.file
    return cast("IO[bytes]", file)


def empty_file() -> DomainError:
    return DomainError(_("Le fichier est vide : aucune ligne d'en-tête."), field="file")


def check_headers(headers: list[str]) -> list[str]:
    """The header row, cleaned; refused when empty or too wide."""
    headers = trim_trailing_blanks([clean_text(h) for h in headers])
    if not any(headers):
        raise empty_file()
    if len(headers) > MAX_COLUMNS:
        raise _too_many_columns(len(headers))
    return headers


def trim_trailing_blanks(headers: list[str]) -> list[str]:
    while headers and not headers[-1].strip():
        headers.pop()
    return headers


# --------------------------------------------------------------------------- CSV


def _cp1252_for_invalid_utf8(error: UnicodeError) -> tuple[str, int]:
    """Decoding error handler: the bytes that are not UTF-8 read as Windows-1252 (undefined
    bytes become U+FFFD). A line mixing both (a cell pasted from another file) reads right."""
    assert isinstance(error, UnicodeDecodeError)
    chunk = error.object[error.start : error.end]
    return bytes(chunk).decode("cp1252", errors="replace"), error.end


codecs.register_error("pluriel-cp1252", _cp1252_for_invalid_utf8)


def _line_too_long(line: int) -> DomainError:
    return DomainError(
        _(
            "La ligne %(line)s dépasse %(max)s Mo : ce n'est pas un tableau lisible (fichier "
            "binaire, ou séparateur de lignes inconnu)."
        )
        % {"line": line, "max": MAX_LINE_BYTES // (1024 * 1024)},
        field="file",
    )


def _limited_lines(text: IO[str]) -> Iterator[str]:
    """The lines of a text stream, refused beyond MAX_LINE_BYTES characters."""
    number = 0
    while line := text.readline(MAX_LINE_BYTES + 1):
        number += 1
        if len(line) > MAX_LINE_BYTES:
            raise _line_too_long(number)
        yield line


class LineDecoder:
    """The lines of a CSV file, each decoded on its own: UTF-8, and the bytes of a line that
    are not UTF-8 as Windows-1252 (Excel's « CSV » in France). Remembers which lines needed
    Windows-1252 and which had bytes neither encoding defines (read as « � »), for the report.
    Physical line numbers: the header is line 1."""

    def __init__(self, file: IO[bytes], *, bom: bool) -> None:
        self.file = file
        self.bom = bom
        self.line = 0
        self.utf8_lines = 0  # lines with non-ASCII characters, all UTF-8
        self.fallback: list[int] = []
        self.fallback_count = 0
        self.invalid: list[int] = []
        self.invalid_count = 0

    def __iter__(self) -> Iterator[str]:
        readline = self.file.readline
        while raw := readline(MAX_LINE_BYTES + 1):
            self.line += 1
            if len(raw) > MAX_LINE_BYTES:
                raise _line_too_long(self.line)
            try:
                text = raw.decode("utf-8")
                if not raw.isascii():
                    self.utf8_lines += 1
            except UnicodeDecodeError:
                text = raw.decode("utf-8", errors="pluriel-cp1252")
                self.fallback_count += 1
                if len(self.fallback) < NAMED_LINES:
                    self.fallback.append(self.line)
                if "\ufffd" in text and b"\xef\xbf\xbd" not in raw:
                    self.invalid_count += 1
                    if len(self.invalid) < NAMED_LINES:
                        self.invalid.append(self.line)
            if self.line == 1 and text.startswith("\ufeff"):
                text = text[1:]
            yield text

    def describe(self) -> str:
        if self.bom:
            base = "UTF-8 (BOM)"
        elif not self.fallback_count:
            return "UTF-8"
        else:
            base = "UTF-8"
        if not self.fallback_count:
            return base
        if not self.utf8_lines:
            return "CP1252"
        return _("%(base)s et CP1252 (mélangés)") % {"base": base}

    def notes(self, report: Any) -> None:
        if self.fallback_count and self.utf8_lines:
            report.warning(
                None,
                "",
                "",
                _(
                    "Encodages mélangés : %(n)s ligne(s) ne sont pas en UTF-8 et ont été lues en "
                    "Windows-1252 (lignes %(lines)s du fichier). Vérifiez leurs accents."
                )
                % {
                    "n": self.fallback_count,
                    "lines": line_list(self.fallback, self.fallback_count),
                },
            )
            report.clean(
                "encoding",
                "",
                self.fallback_count,
                _("lignes lues en Windows-1252 (le reste du fichier est en UTF-8)"),
            )
        if self.invalid_count:
            report.warning(
                None,
                "",
                "",
                _(
                    "%(n)s ligne(s) contiennent des octets qui ne sont des caractères ni en UTF-8 "
                    "ni en Windows-1252, remplacés par « � » (lignes %(lines)s du fichier)."
                )
                % {"n": self.invalid_count, "lines": line_list(self.invalid, self.invalid_count)},
            )


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


_COMMA_DECIMAL = re.compile(r"^[+-]?\d{1,3}(?:[ \u00a0\u202f.]?\d{3})*,\d+$")
_POINT_DECIMAL = re.compile(r"^[+-]?\d{1,3}(?:[ \u00a0\u202f,]?\d{3})*\.\d+$")


def sniff_decimal(sample: str, delimiter: str) -> str:
    """« , » or « . »: the decimal separator most numbers of the sample use ("" if none shows)."""
    comma = point = 0
    try:
        for record in csv.reader(io.StringIO(sample), delimiter=delimiter):
            for cell in record:
                cell = cell.strip()
                if _COMMA_DECIMAL.match(cell):
                    comma += 1
                elif _POINT_DECIMAL.match(cell):
                    point += 1
    except csv.Error:
        pass
    if not comma and not point:
        return ""
    return "," if comma > point else "."


class _BorrowedText(io.TextIOWrapper):
    """A text view of the caller's binary file that never closes it (the upload is saved after
    it is read)."""

    def close(self) -> None:
        pass


def _all_utf8(file: IO[bytes]) -> bool:
    """Whether the whole file is UTF-8 (read once, in chunks; the file is rewound)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        while chunk := file.read(1 << 20):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
        return True
    except UnicodeDecodeError:
        return False
    finally:
        file.seek(0)


def _fast_encoding(utf16: bool, raw_sample: bytes, sample: str) -> str:
    if utf16:
        return "UTF-16"
    if "\r" in sample and "\n" not in sample:
        return "CP1252"
    return "UTF-8 (BOM)" if raw_sample.startswith(codecs.BOM_UTF8) else "UTF-8"


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _open_csv(file: IO[bytes]) -> Table:
    file.seek(0)
    raw_sample = file.read(SAMPLE_BYTES)
    file.seek(0)
    if not raw_sample.strip():
        raise empty_file()
    utf16 = raw_sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    if utf16:
        sample = raw_sample.decode("utf-16", errors="ignore")
    else:
        sample = raw_sample.decode("utf-8", errors="pluriel-cp1252")
    if "\x00" in sample or len(_CONTROL.findall(sample)) > max(8, len(sample) // 100):
        raise DomainError(
            _("Ce fichier n'est pas un tableau lisible (contenu binaire)."), field="file"
        )
    delimiter = sniff_delimiter(sample)
    decoder: LineDecoder | None = None
    lines: Iterator[str]
    if utf16:
        lines = _limited_lines(_BorrowedText(file, encoding="utf-16", errors="replace", newline=""))
    elif "\r" in sample and "\n" not in sample:  # old Mac line endings: one « line » per file
        lines = _limited_lines(_BorrowedText(file, encoding="cp1252", errors="replace", newline=""))
    elif _all_utf8(file):  # the usual case, decoded in C
        bom = raw_sample.startswith(codecs.BOM_UTF8)
        encoding = "utf-8-sig" if bom else "utf-8"
        lines = _limited_lines(_BorrowedText(file, encoding=encoding, newline=""))
    else:
        decoder = LineDecoder(file, bom=raw_sample.startswith(codecs.BOM_UTF8))
        lines = iter(decoder)
    reader = csv.reader(lines, delimiter=delimiter)
    try:
        headers = next(reader)
    except StopIteration:
        raise empty_file()
    except csv.Error as exc:
        raise DomainError(
            _("La ligne d'en-tête est illisible : %(error)s") % {"error": exc}, field="file"
        )

    def malformed(error: object) -> DomainError:
        return DomainError(
            _("Ligne %(row)s : le fichier CSV est mal formé (%(error)s).")
            % {"row": reader.line_num, "error": error},
            field="file",
        )

    def rows() -> Iterator[list[str]]:
        try:
            for record in reader:
                # Our own cell limit: the csv module's is process-wide and other libraries raise
                # it (frictionless sets it to sys.maxsize when imported).
                if record and max(map(len, record)) > MAX_CELL_CHARS:
                    raise malformed(
                        _("une cellule dépasse %(n)s caractères : un guillemet n'est pas refermé ?")
                        % {"n": MAX_CELL_CHARS}
                    )
                yield record
        except csv.Error as exc:
            raise malformed(exc)

    return Table(
        format="csv",
        headers=check_headers(headers),
        encoding=decoder.describe() if decoder else _fast_encoding(utf16, raw_sample, sample),
        delimiter=delimiter,
        decimal=sniff_decimal(sample, delimiter),
        _rows=rows,
        decoder=decoder,
    )


# --------------------------------------------------------------------------- cell parsers


def clean_text(value: Any) -> str:
    """Text without stray spaces: no-break and narrow spaces become spaces, runs collapse."""
    if value is None:
        return ""
    text = str(value)
    if "\x00" in text or _CONTROL.search(text):
        # A database text column cannot hold NUL; other control characters are noise from a
        # binary export. Neither is ever meant by the person who typed the cell.
        text = _CONTROL.sub("", text)
    return _SPACES.sub(" ", text).strip()


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
    if not (_luhn(value[:9]) and _luhn(value) and value[:9] != _LA_POSTE) and (
        not stdnum_siret.is_valid(value)
    ):
        raise CellError(
            _("« %(value)s » n'est pas un SIRET valide (clé de contrôle incorrecte).")
            % {"value": text}
        )
    return value


#: La Poste's establishments share one SIREN: their SIRET key is not Luhn (python-stdnum knows).
_LA_POSTE = "356000000"
_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


def _luhn(digits: str) -> bool:
    """The Luhn key of a string of digits (python-stdnum's check, ~10× faster: a beneficiaries'
    file has tens of thousands of distinct SIRETs)."""
    odd = sum(map(int, digits[-1::-2]))
    even = sum(_DOUBLED[int(c)] for c in digits[-2::-2])
    return (odd + even) % 10 == 0


def parse_year(text: str) -> int:
    value = text.strip()
    if value.endswith(".0"):
        value = value[:-2]
    if not re.fullmatch(r"\d{4}", value) or not 1990 <= int(value) <= 2100:
        raise CellError(
            _("« %(value)s » n'est pas un exercice (une année, ex. 2024).") % {"value": text}
        )
    return int(value)
